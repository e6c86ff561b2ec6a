"""Atomic file and directory writes: write to a temporary sibling in the same directory, then rename.

A reader (or a process killed mid-write) never sees a half-written output file or a half-filled output folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator

__all__ = ["atomic_open", "atomic_write_text", "atomic_write_bytes", "atomic_directory"]


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _make_parents(path: Path) -> list[Path]:
    """Creates the missing ancestors of ``path``; returns them, deepest first (for :func:`_remove_empty`)."""
    missing = []
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Removes the folders :func:`_make_parents` created, if nothing else was put in them."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Opens a temporary sibling of ``path`` for writing; renames it over ``path`` on success.

    Missing parent folders are created. On an exception the temporary file and the parent folders this call
    created are removed, and ``path`` is left untouched.
    """
    path = Path(path)
    created = _make_parents(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        _remove_empty(created)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a hidden temporary sibling folder of ``path`` to fill; renames it to ``path`` on success.

    The folder gets the usual permissions (``0777`` less the umask). On an exception (including
    ``KeyboardInterrupt``) it is deleted with everything in it and ``path`` is never created. ``path`` must not
    exist (check it, with a user-facing message, before long work); missing parent folders are created, and removed
    again on an exception.
    """
    path = Path(path)
    created = _make_parents(path)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes 0700
        yield staging
        staging.rename(path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise
