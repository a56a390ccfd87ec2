"""Benchmark helpers: Markdown tables (subsets as columns, as the CCPD papers report), the runtime
options every inference script shares, argparse value types that turn a bad number into a usage
error (exit status 2), and reading sample images with a progress bar."""
from __future__ import annotations

import argparse
import logging
import math
import sys
from typing import Callable, Dict, Sequence

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


def _number_type(kind: Callable, test: Callable[[float], bool], what: str) -> Callable[[str], float]:
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    parse.__name__ = what.replace(" ", "_")
    return parse


#: argparse ``type=`` for an ``int >= 0``; anything else is a usage error (exit status 2).
nonnegative_int = _number_type(int, lambda v: v >= 0, "an integer >= 0")
#: argparse ``type=`` for an ``int >= 1``.
positive_int = _number_type(int, lambda v: v >= 1, "an integer >= 1")
#: argparse ``type=`` for a finite ``float > 0``.
positive_float = _number_type(float, lambda v: v > 0, "a number > 0")
#: argparse ``type=`` for a finite ``float >= 0``.
nonnegative_float = _number_type(float, lambda v: v >= 0, "a number >= 0")
#: argparse ``type=`` for a probability, a ``float`` in [0, 1].
probability = _number_type(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")


def add_runtime_args(parser, weights_help: str) -> None:
    """Add the options every benchmark shares: ``--weights-dir``, ``--threads`` (an int >= 0),
    ``--device``."""
    parser.add_argument("--weights-dir", help=weights_help)
    parser.add_argument("--threads", type=nonnegative_int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")


def setup_runtime(args) -> None:
    """Logging to stderr and the torch thread count from ``args.threads`` (torch is imported only
    when it is already loaded: an ONNX Runtime backend takes its thread count from ``args.threads``
    itself)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    torch = sys.modules.get("torch")
    if args.threads and torch is not None:
        torch.set_num_threads(args.threads)


def read_samples(samples, desc: str):
    """Yield ``(sample, BGR image)`` for the readable images of ``samples`` with a progress bar on
    stderr (:func:`lprcore.parallel.progress`); unreadable or over-limit files are logged and skipped."""
    for s in progress(samples, desc=desc, leave=False):
        try:
            yield s, imread(s.path)
        except (ImageReadError, OSError) as e:
            logging.getLogger(__name__).warning("skipped %s", e)
