"""File changes applied all or nothing, also when SIGINT or SIGTERM arrives in the middle.

An operation is prepared in memory first; ``commit()`` changes the disk (and fsyncs); ``undo()`` restores the state
before ``commit()`` whether or not ``commit()`` got to its end, and may run more than once. :func:`apply_all`
commits a list of them, or none: an exception or a signal during the commits undoes those already (or partly)
committed, newest first. Used by :mod:`genmol.io.trajectory_writer` to append trajectory chunks.

A SIGKILL or power loss in the middle cannot be undone; :class:`NewFile` at least never leaves a half-written file
under the final name (only a hidden temporary sibling).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

__all__ = ["Operation", "MakeFolders", "NewFile", "AppendBytes", "SignalStop", "apply_all"]


class Operation(Protocol):
    def commit(self) -> None: ...

    def undo(self) -> None: ...


def fsync_folder(folder: Path) -> None:
    """Makes a rename in ``folder`` durable (best effort: not every file system can open a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


class MakeFolders:
    """Creates the missing folders of ``folder``; undo removes those it created (if still empty)."""

    def __init__(self, folder: Path):
        self.folder, self.created = Path(folder), []

    def commit(self) -> None:
        missing = []
        for p in [self.folder, *self.folder.parents]:
            if p.exists():
                break
            missing.append(p)
        for p in reversed(missing):
            p.mkdir()
            self.created.append(p)

    def undo(self) -> None:
        for p in reversed(self.created):
            with contextlib.suppress(OSError):
                p.rmdir()
        self.created = []


class NewFile:
    """A new file: written to a hidden temporary sibling by ``write(tmp_path)`` (or given as ``bytes``), fsynced and
    renamed over ``path``; undo removes the temporary file or, once renamed, the file (recognised by its inode).

    Args:
        overwrite: replace an existing ``path``; otherwise commit raises :class:`FileExistsError` if one appeared.
    """

    def __init__(self, path: Path, write: Callable[[Path], None] | bytes, overwrite: bool):
        self.path, self.overwrite = Path(path), overwrite
        self.write = (lambda tmp: tmp.write_bytes(write)) if isinstance(write, bytes) else write
        self.tmp: Path | None = None
        self.inode: int | None = None

    def commit(self) -> None:
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self.tmp = Path(name)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(name, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
        self.write(self.tmp)
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())
            self.inode = os.fstat(f.fileno()).st_ino
        if not self.overwrite and self.path.exists():
            raise FileExistsError(17, "appeared while it was being written", str(self.path))
        os.replace(self.tmp, self.path)
        fsync_folder(self.path.parent)

    def undo(self) -> None:
        if self.tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()
        with contextlib.suppress(FileNotFoundError):
            if self.inode is not None and self.path.stat().st_ino == self.inode:
                self.path.unlink()


class AppendBytes:
    """Replaces the bytes from ``cut`` to the end of ``path`` by ``data`` (``cut`` = the size: a plain append) and
    overwrites the small ``patches`` ``(offset, bytes)`` (e.g. a header's frame count); undo truncates to the old
    size and writes the saved old bytes back, so the file is byte for byte what it was."""

    def __init__(self, path: Path, cut: int, data: bytes, patches: Sequence[tuple[int, bytes]] = ()):
        self.path, self.cut, self.data, self.patches = Path(path), cut, data, list(patches)
        self.size: int | None = None
        self.saved: list[tuple[int, bytes]] = []

    def commit(self) -> None:
        with open(self.path, "r+b") as f:
            saved, size = [], f.seek(0, os.SEEK_END)
            for offset, length in [(self.cut, size - self.cut), *((o, len(b)) for o, b in self.patches)]:
                f.seek(offset)
                saved.append((offset, f.read(length)))
            self.saved, self.size = saved, size
            f.seek(self.cut)
            f.write(self.data)
            f.truncate()
            for offset, new in self.patches:
                f.seek(offset)
                f.write(new)
            f.flush()
            os.fsync(f.fileno())

    def undo(self) -> None:
        if self.size is None:
            return
        with open(self.path, "r+b") as f:
            f.truncate(self.size)
            for offset, old in self.saved:
                f.seek(offset)
                f.write(old)
            f.flush()
            os.fsync(f.fileno())


class SignalStop(BaseException):
    """SIGINT or SIGTERM stopped :func:`apply_all` (everything was undone) and the handler that was in place before
    did not raise or end the process (e.g. it only set a flag)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class _SignalGuard:
    """While active (main thread only), the first SIGINT or SIGTERM raises :class:`SignalStop`; later ones, and any
    after :meth:`disarm`, are only recorded. On exit the old handlers come back and the first signal is sent again,
    so that it acts as it would have (KeyboardInterrupt, termination, the caller's own handler)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self) -> _SignalGuard:
        self.received: int | None = None
        self.armed = True
        self.old = {}
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                if signal.getsignal(s) not in (signal.SIG_IGN, None):  # None: a handler not set from Python
                    self.old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.received is None:
            self.received = signum
        if self.armed:
            self.armed = False
            raise SignalStop(signum)

    def disarm(self) -> None:
        self.armed = False

    def __exit__(self, *exc) -> None:
        for s, old in self.old.items():
            signal.signal(s, old)
        if self.received is not None:
            signal.raise_signal(self.received)


def apply_all(prepare: Callable[[], Iterable[Operation]], on_commit: Callable[[], None] = lambda: None) -> None:
    """Commits the operations ``prepare()`` returns, in order, or none of them.

    ``prepare`` runs inside the guard too (a signal while preparing stops before any change). ``on_commit`` runs
    once everything is committed, before any signal that arrived meanwhile acts: the place to record the new state.
    Signals are guarded only in the main thread.

    Raises:
        SignalStop: SIGINT/SIGTERM arrived before the end; everything was undone; the previous handler ran and
            neither raised nor ended the process.
        Exception: whatever a commit raised; everything was undone.
    """
    with _SignalGuard() as guard:
        done: list[Operation] = []
        ok = False
        try:
            for op in prepare():
                done.append(op)
                op.commit()
            guard.disarm()  # from here on a signal waits for the exit of the guard
            ok = True
            on_commit()
        finally:
            if not ok:
                _undo(done, guard)


def _undo(done: list[Operation], guard: _SignalGuard) -> None:
    """Undoes the committed operations, newest first; a signal arriving now restarts it (undo is repeatable)."""
    while True:
        try:
            guard.disarm()
            for op in reversed(done):
                op.undo()
            return
        except SignalStop:
            continue
