"""Run a data-preparation job over many items with worker processes and a progress bar."""
from __future__ import annotations

import sys
from multiprocessing import Pool
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

from tqdm import tqdm

T = TypeVar("T")
R = TypeVar("R")


def imap_progress(fn: Callable[[T], R], items: Sequence[T], workers: int, desc: str,
                  chunksize: int = 8) -> Iterator[R]:
    """Yield ``fn(item)`` for each item, in order, with a tqdm bar on stderr.

    ``workers > 1`` uses that many processes (``fn`` must be picklable, e.g. a ``functools.partial``
    of a module-level function); otherwise it runs in this process.
    """
    if workers > 1:
        with Pool(workers) as pool:
            results: Iterable[R] = pool.imap(fn, items, chunksize=chunksize)
            yield from tqdm(results, total=len(items), desc=desc, file=sys.stderr)
    else:
        yield from tqdm(map(fn, items), total=len(items), desc=desc, file=sys.stderr)
