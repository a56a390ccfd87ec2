"""Atomic file writes: the one place that writes a file through a temporary name and a rename.

A reader (or a crash) never sees half a file: the data go to ``PATH.tmp<pid>`` in the same folder,
and the temporary file is renamed onto ``PATH`` with :func:`os.replace` (atomic on POSIX
and Windows when both names are on one file system). On an error the temporary file is removed and
``PATH`` keeps its old content.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file for writing that replaces ``path`` when the ``with`` block ends.

    Args:
        path: destination file; its folder is created when missing.
        mode: ``"wb"`` (bytes) or ``"w"`` (text).
        encoding: text encoding for ``mode="w"`` (default UTF-8).

    Yields:
        The open temporary file.

    Raises:
        ValueError: ``mode`` is not a write mode.
        OSError: the folder cannot be created or the file written; ``path`` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    try:
        with open(tmp, mode, encoding=encoding) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_write`."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_write`."""
    with atomic_write(path, "w") as fh:
        fh.write(text)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes.

    Raises:
        FileNotFoundError: no such file.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def prepare_output_dir(path: str | os.PathLike) -> None:
    """Create the folder ``path`` (and its parents) if needed and check that files can be written in
    it, by creating and removing a temporary file: call it before a batch, so that an unusable
    output folder is found once, up front, not image by image.

    Raises:
        OSError: ``path`` is a file (or below one), cannot be created, or is not writable; the message
            names the path and the reason.
    """
    path = os.fspath(path)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        reason = ("it is a file, not a folder" if os.path.exists(path) and not os.path.isdir(path)
                  else e.strerror or str(e))
        raise OSError(f"{path}: cannot write there: {reason}") from None
