"""Benchmark helpers: Markdown tables (subsets as columns, as the CCPD papers report), the runtime
options every inference script shares, and reading sample images with a progress bar."""
from __future__ import annotations

import logging
import sys
from typing import Dict, Sequence

import torch
from tqdm import tqdm

from lprcore.imageio import ImageReadError, imread


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


def add_runtime_args(parser, weights_help: str) -> None:
    """Add the options every benchmark shares: ``--weights-dir``, ``--threads``, ``--device``."""
    parser.add_argument("--weights-dir", help=weights_help)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")


def setup_runtime(args) -> None:
    """Logging to stderr and the torch thread count from ``args.threads``."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)


def read_samples(samples, desc: str):
    """Yield ``(sample, BGR image)`` for the readable images of ``samples`` with a progress bar on
    stderr; unreadable files are logged and skipped."""
    for s in tqdm(samples, desc=desc, leave=False, file=sys.stderr):
        try:
            yield s, imread(s.path)
        except (ImageReadError, FileNotFoundError) as e:
            logging.getLogger(__name__).warning("skipped %s", e)
