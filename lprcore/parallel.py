"""Run a data-preparation job over many items with worker processes, and progress bars and messages
on stderr that never stop a run.

A progress bar is drawn only when stderr is a terminal; stderr closed (``2>&-``, a daemon), full
(``2>/dev/full``) or gone (a hung-up terminal) silently drops the bar and the messages instead of
raising into the job.
"""
from __future__ import annotations

import queue
import sys
import threading
from multiprocessing import Pool
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

from tqdm import tqdm

T = TypeVar("T")
R = TypeVar("R")


def stderr_is_terminal() -> bool:
    """True when ``sys.stderr`` is open and a terminal (where a progress bar is useful)."""
    try:
        return sys.stderr is not None and not sys.stderr.closed and sys.stderr.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class SafeStream:
    """A text stream wrapper whose ``write``/``flush`` never raise: after the first ``OSError`` or
    ``ValueError`` (closed, full, broken pipe) it drops everything. Wraps ``sys.stderr`` by default,
    looked up at each call (so a test's or a caller's replacement is honoured)."""

    def __init__(self, stream=None):
        self._stream = stream
        self.broken = False

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stderr

    def write(self, text: str) -> int:
        if not self.broken and self.stream is not None:
            try:
                self.stream.write(text)
            except (OSError, ValueError, AttributeError):
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken and self.stream is not None:
            try:
                self.stream.flush()
            except (OSError, ValueError, AttributeError):
                self.broken = True

    def isatty(self) -> bool:
        return stderr_is_terminal() if self._stream is None else False


def print_stderr(message: str) -> None:
    """Print one line on stderr when it can be written; never raises (a closed or full stderr drops it).

    Unlike ``print(..., file=sys.stderr)``, a closed stderr (``sys.stderr is None``) does not send the
    line to stdout.
    """
    out = SafeStream()
    out.write(message + "\n")
    out.flush()


def progress(iterable: Iterable[T], disable: bool = False, **tqdm_kwargs) -> Iterable[T]:
    """``tqdm(iterable, **tqdm_kwargs)`` on stderr that cannot stop the run.

    The bar is disabled when ``disable`` is true or stderr is not a terminal (closed, a file, a pipe);
    writes that fail later are dropped (see :class:`SafeStream`).
    """
    tqdm_kwargs.pop("file", None)
    return tqdm(iterable, file=SafeStream(), disable=disable or not stderr_is_terminal(), **tqdm_kwargs)


def imap_progress(fn: Callable[[T], R], items: Sequence[T], workers: int, desc: str,
                  chunksize: int = 8) -> Iterator[R]:
    """Yield ``fn(item)`` for each item, in order, with a progress bar on stderr (see :func:`progress`).

    ``workers > 1`` uses that many processes (``fn`` must be picklable, e.g. a ``functools.partial``
    of a module-level function); otherwise it runs in this process.
    """
    if workers > 1:
        with Pool(workers) as pool:
            results: Iterable[R] = pool.imap(fn, items, chunksize=chunksize)
            yield from progress(results, total=len(items), desc=desc)
    else:
        yield from progress(map(fn, items), total=len(items), desc=desc)


def prefetch(items: Iterable[T], fn: Callable[[T], R], depth: int = 4) -> Iterator[tuple]:
    """Yield ``(item, fn(item))`` in order, computing ``fn`` on a background thread up to ``depth``
    items ahead (a bounded queue), so that loading the next input overlaps the work on this one.

    ``fn`` should return its failures rather than raise them; an exception it raises anyway is
    re-raised here, at its item. Leaving the loop early stops the thread.
    """
    q: "queue.Queue" = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    done = object()

    def put(result) -> None:
        while not stop.is_set():
            try:
                q.put(result, timeout=0.1)
                return
            except queue.Full:
                continue

    def work():
        try:
            for item in items:
                if stop.is_set():
                    return
                try:
                    result = (item, fn(item), None)
                except BaseException as e:  # handed to the consumer
                    result = (item, None, e)
                put(result)
        except BaseException as e:  # iterating ``items`` failed: the consumer raises it
            put((None, None, e))
        finally:
            put(done)

    thread = threading.Thread(target=work, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            got = q.get()
            if got is done:
                return
            item, value, error = got
            if error is not None:
                raise error
            yield item, value
    finally:
        stop.set()
        thread.join(timeout=5)
