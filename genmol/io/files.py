"""Opening user files for reading: one clear :class:`GenmolError` for a missing path, a directory,
an unreadable file or bytes that are not UTF-8 text (naming the file and the line)."""

from __future__ import annotations

import os
from pathlib import Path

from genmol.errors import GenmolError

__all__ = ["check_input_file", "read_user_bytes", "decode_user_text", "read_user_text"]


def check_input_file(path: str | os.PathLike, what: str = "molecule file") -> Path:
    """``path`` as a :class:`Path` if it names an existing file.

    Raises:
        GenmolError: ``path`` does not exist, or is a directory (``what`` names the expected kind of file).
    """
    path = Path(path)
    if path.is_dir():
        raise GenmolError(f"{path} is a directory, not a {what}")
    if not path.exists():
        raise GenmolError(f"{path} does not exist")
    return path


def read_user_bytes(path: str | os.PathLike, what: str = "molecule file") -> bytes:
    """All bytes of a user file (see :func:`check_input_file`); an OS error (permissions, ...) becomes a GenmolError."""
    path = check_input_file(path, what)
    try:
        return path.read_bytes()
    except OSError as e:
        raise GenmolError(f"{path} cannot be read ({e.strerror or e})") from None


def decode_user_text(data: bytes, where: str) -> str:
    """``data`` decoded as UTF-8 (a leading byte-order mark is dropped).

    Raises:
        GenmolError: naming ``where``, the line and the first byte that is not UTF-8 text.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise GenmolError(f"{where}:{line}: byte 0x{data[e.start]:02x} is not UTF-8 text "
                          "(a binary file, or a text encoding other than UTF-8)") from None


def read_user_text(path: str | os.PathLike, what: str = "molecule file") -> str:
    """A user text file as ``str`` (see :func:`read_user_bytes` and :func:`decode_user_text`)."""
    return decode_user_text(read_user_bytes(path, what), str(path))
