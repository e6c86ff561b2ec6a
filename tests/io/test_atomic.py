"""Atomic outputs: a file or folder appears whole, with the usual permissions, or not at all."""

import os
import stat

import pytest

from genmol.io.atomic import atomic_directory, atomic_open, atomic_write_text


def test_atomic_directory_appears_whole_with_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_directory(tmp_path / "out") as staging:
            (staging / "a.txt").write_text("a")
            assert not (tmp_path / "out").exists()
        atomic_write_text(tmp_path / "f.txt", "f")
    finally:
        os.umask(umask)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert (tmp_path / "out" / "a.txt").read_text() == "a"
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o644


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_directory_leaves_nothing_on_an_error(tmp_path, error):
    with pytest.raises(error):
        with atomic_directory(tmp_path / "out") as staging:
            (staging / "a.txt").write_text("a")
            raise error()
    assert list(tmp_path.iterdir()) == []


def test_missing_parent_folders_are_made_and_removed_again_on_an_error(tmp_path):
    with atomic_directory(tmp_path / "a" / "b" / "out") as staging:
        (staging / "x.txt").write_text("x")
    atomic_write_text(tmp_path / "c" / "d" / "f.txt", "f")
    assert (tmp_path / "a" / "b" / "out" / "x.txt").read_text() == "x"
    assert (tmp_path / "c" / "d" / "f.txt").read_text() == "f"
    (tmp_path / "keep").mkdir()
    for make in (atomic_directory, atomic_open):
        with pytest.raises(RuntimeError):
            with make(tmp_path / "keep" / "e" / "f" / "out"):
                raise RuntimeError()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "c", "keep"]
    assert list((tmp_path / "keep").iterdir()) == []
