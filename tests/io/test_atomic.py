"""Atomic outputs: a file or folder appears whole, with the usual permissions, or not at all."""

import os
import stat

import pytest

from genmol.io.atomic import atomic_directory, atomic_write_text


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
