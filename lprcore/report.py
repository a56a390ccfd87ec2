"""Benchmark helpers: Markdown tables (subsets as columns, as the CCPD papers report), percentages,
and reading sample images with a progress bar. The command-line options the scripts share are in
:mod:`lprcore.cli`."""
from __future__ import annotations

import logging
import time
from typing import Dict, Optional, Sequence

from lprcore.compat import moved_names
from lprcore.imageio import ImageReadError, imread
from lprcore.parallel import progress


def format_table(rows: Dict[str, Dict[str, str]], columns: Sequence[str], corner: str = "") -> str:
    """A Markdown table: one row per ``rows`` key, one column per name in ``columns``.

    Args:
        rows: row label -> {column -> cell text}; missing cells print as ``-``.
        columns: column order.
        corner: label of the first column.
    """
    header = [corner] + list(columns)
    body = [[label] + [cells.get(c, "-") for c in columns] for label, cells in rows.items()]
    widths = [max(len(str(r[i])) for r in [header] + body) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in body])


def pct(num: int, den: int) -> str:
    """``num / den`` as a percentage with one decimal, or ``-`` when ``den`` is 0."""
    return f"{100.0 * num / den:.1f}" if den else "-"


def add_time(timings: Optional[Dict[str, float]], key: str, since: float) -> float:
    """Add the milliseconds since ``since`` (a ``time.perf_counter()`` value) to ``timings[key]``
    when ``timings`` is a dict (a stage profile, as ``python -m lpr.bench`` prints); returns the
    current ``time.perf_counter()``, the start of the next stage."""
    now = time.perf_counter()
    if timings is not None:
        timings[key] = timings.get(key, 0.0) + 1000.0 * (now - since)
    return now


def read_samples(samples, desc: str):
    """Yield ``(sample, BGR image)`` for the readable images of ``samples`` with a progress bar on
    stderr (:func:`lprcore.parallel.progress`); unreadable or over-limit files are logged and skipped."""
    for s in progress(samples, desc=desc, leave=False):
        try:
            yield s, imread(s.path)
        except (ImageReadError, OSError) as e:
            logging.getLogger(__name__).warning("skipped %s", e)


__getattr__ = moved_names(__name__)
