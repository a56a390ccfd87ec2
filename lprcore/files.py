"""Atomic file writes: the one place that writes a file through a temporary name and a rename.

A reader (or a crash) never sees half a file: the data go to a hidden temporary file in the same
folder (``.START.RANDOM.tmp``, at most 150 bytes however long ``PATH``'s name is), which
is renamed onto ``PATH`` with :func:`os.replace` (atomic on POSIX and Windows when both names are on
one file system). On an error or an interrupt (``KeyboardInterrupt``, or SIGTERM where the program
turns it into an exception, as :mod:`lpr.cli` does) the temporary file is removed and ``PATH`` keeps
its old content; only a process killed outright (SIGKILL, power loss) leaves one behind.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
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
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    fh, tmp = _create_temp(folder, os.path.basename(path), mode, encoding)
    try:
        with fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


#: Characters of the final name that start a temporary name (at most 4 UTF-8 bytes each).
TEMP_NAME_CHARS = 32


def _create_temp(folder: str, name: str, mode: str, encoding: str | None) -> tuple:
    """Create a new hidden file ``.START.RANDOM.tmp`` in ``folder`` for :func:`atomic_write`; returns
    ``(open file, path)``.

    ``START`` is the first :data:`TEMP_NAME_CHARS` characters of ``name`` (which file it was for) and
    ``RANDOM`` 16 hex digits, so the name stays under 150 bytes, far below NAME_MAX (255), however
    long ``name`` is. The file is created exclusively (never someone else's) with the usual
    permissions (0666 less the umask, as ``open`` gives; ``tempfile.mkstemp`` would give 0600).

    Raises:
        OSError: the file cannot be created.
    """
    for _ in range(100):
        tmp = os.path.join(folder, f".{name[:TEMP_NAME_CHARS]}.{secrets.token_hex(8)}.tmp")
        try:
            return open(tmp, mode.replace("w", "x"), encoding=encoding), tmp
        except FileExistsError:  # 2^-64 per try
            continue
    raise FileExistsError(f"{folder}: no free temporary file name")


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


class Journal:
    """The per-item results of a long preparation run, appended and flushed as each item finishes,
    so that a run killed part-way resumes where it stopped and memory stays bounded however many
    items there are.

    Each item's lines are written as ``index<TAB>line`` followed by ``index<TAB>`` + :data:`END`; an
    item whose end mark is missing (the run was killed while writing it) does not count and is done
    again. :meth:`write_list` streams the lines of the finished items, by index, into the final list.

    Args:
        path: the journal file (e.g. ``OUT/NAME.journal``).
        resume: keep what an earlier run wrote (else start afresh).
        fingerprint: what the items are (e.g. a hash of the options and the item list); a journal
            written for another fingerprint is not resumed but started afresh, with a warning,
            since its indices mean other items.

    Attributes:
        done: indices of the items already finished.
    """

    END = "\x00end"
    FINGERPRINT = "\x00fingerprint"

    def __init__(self, path: str | os.PathLike, resume: bool, fingerprint: str = ""):
        self.path = os.fspath(path)
        self.done = set()
        header = f"{self.FINGERPRINT}\t{fingerprint}"
        if resume and os.path.isfile(self.path):
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                first = fh.readline().rstrip("\n")
                if first == header:
                    for line in fh:
                        index, _, rest = line.rstrip("\n").partition("\t")
                        if rest == self.END and index.isdigit():
                            self.done.add(int(index))
                else:
                    logging.getLogger(__name__).warning(
                        "%s was written for other options or inputs: starting afresh", self.path)
                    resume = False
        if not (resume and os.path.isfile(self.path)):
            with open(self.path, "w", encoding="utf-8") as fh:
                fh.write(header + "\n")
        self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write("\n")  # a run boundary: an item cut short before it is a separate occurrence

    def add(self, index: int, lines) -> None:
        """Record the finished item ``index`` with its list ``lines`` (strings without newlines)."""
        for line in lines:
            self._fh.write(f"{index}\t{line}\n")
        self._fh.write(f"{index}\t{self.END}\n")
        self._fh.flush()
        self.done.add(index)

    def _records(self):
        """Yield ``(index, occurrence, line)`` for every journal line after the fingerprint; ``line``
        is ``None`` for an item's end mark. ``occurrence`` counts the times the item was started (an
        item cut short and done again later has two)."""
        seen: dict = {}
        prev = None
        with open(self.path, encoding="utf-8", errors="replace") as fh:
            fh.readline()  # the fingerprint
            for raw in fh:
                index, _, rest = raw.rstrip("\n").partition("\t")
                if index != prev:
                    seen[index] = seen.get(index, 0) + 1
                    prev = index
                if rest == self.END:
                    prev = None
                    yield index, seen[index], None
                else:
                    yield index, seen[index], rest

    def write_list(self, path: str | os.PathLike) -> int:
        """Write the lines of every finished item, by index, to ``path`` atomically; returns how many
        lines. The journal stays (delete it with :meth:`remove`)."""
        self._fh.flush()
        # index -> the occurrence that was finished
        complete = {index: k for index, k, line in self._records() if line is None}
        n = 0
        # items were done in index order (an interrupted item is done again later): stream once
        with atomic_write(os.fspath(path), "w") as out:
            for index, k, line in self._records():
                if line is not None and complete.get(index) == k:
                    out.write(line + "\n")
                    n += 1
        return n

    def close(self) -> None:
        """Close the journal file (again: nothing)."""
        self._fh.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        """Close the file, also when the run stops with an error or an interrupt (the journal stays)."""
        self.close()

    def remove(self) -> None:
        """Close and delete the journal (after the list is written)."""
        self.close()
        if os.path.exists(self.path):
            os.remove(self.path)


def fingerprint(*parts) -> str:
    """A short SHA-256 of the ``repr`` of ``parts`` (options and item lists), for :class:`Journal`."""
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]
