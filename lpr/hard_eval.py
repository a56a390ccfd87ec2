"""Today's figures on the synthetic hard sets (``python -m platesynth hard``), one row per set.

For each folder with a ``labels.tsv`` (one main plate per photo, its box in the labels): image
accuracy end to end (the main plate's text exactly among the reads the reader reports:
:func:`lpr.evaluate.count_scenes`), the same counting every read (``--all-reads``: invalid texts
too), detection recall (a box of the reader's,
read or not, at IoU >= 0.5 with the main plate's box), extra reads per photo and milliseconds per
photo. The reader takes the options of ``python -m lpr`` (:func:`lpr.options.add_reader_arguments`).

Example::

    python -m lpr.hard_eval data/hard_rotated data/hard_night data/hard_side data/hard_oseries \\
        data/hard_green data/hard_plain --threads 1
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ccpd.sources import LABELS_FILE, read_source
from lpr.evaluate import SceneRead, count_scenes, every_read_reader, read_scenes
from lpr.options import add_reader_arguments, reader_config
from lpr.pipeline import PlateReader
from lprcore.cli import setup_runtime
from lprcore.report import format_table, pct
from MTCNN.boxes import box_iou
from MTCNN.evaluate import MATCH_IOU


@dataclass
class HardCounts:
    """Figures of one hard set.

    Attributes:
        kind: the set's kind (its ``source`` column without ``hard-``, else the folder's name).
        n: photos read. right: main plate read exactly (reads as the options report them).
        right_all: main plate among every read (invalid texts and repeats too).
        found: photos with a box at IoU >= :data:`MTCNN.evaluate.MATCH_IOU` with the main plate's.
        extra: reads beyond the main plate (reads as the options report them).
        seconds: time in the reader.
        misses: ``(file name, true text, every text read, best box first, "?" for a box without
            one)`` per photo not right.
    """

    kind: str
    n: int = 0
    right: int = 0
    right_all: int = 0
    found: int = 0
    extra: int = 0
    seconds: float = 0.0
    misses: List[Tuple[str, str, List[str]]] = field(default_factory=list)


def set_kind(root: str) -> str:
    """The kind of a hard set: its labels' ``source`` column (``hard-KIND`` -> ``KIND``) when every
    row agrees, else the folder's name."""
    sources = {s.source for s in read_source(root).samples}
    if len(sources) == 1:
        src = sources.pop()
        return src[5:] if src.startswith("hard-") else src
    return os.path.basename(os.path.normpath(root))


def count_hard(reads: Sequence[SceneRead], boxes: Dict[str, Tuple[float, float, float, float]], kind: str,
               min_confidence: float = 0.0, all_reads: bool = False) -> HardCounts:
    """:class:`HardCounts` of one set's reads (from a reader that returns every read: ``all_reads=True``).

    Args:
        boxes: path -> the main plate's box (x1, y1, x2, y2) pixels; photos without one count as not found.
        min_confidence, all_reads: which reads are reported (:func:`lpr.pipeline.keep_plates`).
    """
    c = HardCounts(kind)
    scenes = count_scenes(reads, min_confidence, all_reads)["all"]
    every = count_scenes(reads, all_reads=True)["all"]
    c.n, c.right, c.right_all, c.extra, c.seconds = scenes.n, scenes.right, every.right, scenes.extra_reads, scenes.seconds
    for r in reads:
        gt = boxes.get(r.path)
        if gt is not None and r.plates:
            iou = box_iou(np.asarray([p.box for p in r.plates], np.float32), np.asarray([gt], np.float32))
            c.found += bool((iou >= MATCH_IOU).any())
    missed = {path for path, _, _ in scenes.errors}
    c.misses = [(os.path.basename(r.path), r.text, [p.text or "?" for p in r.plates]) for r in reads if r.path in missed]
    return c


def evaluate_hard(reader: PlateReader, root: str, min_confidence: float = 0.0, all_reads: bool = False) -> HardCounts:
    """Read every photo of the hard set ``root`` with ``reader`` (build it with ``all_reads=True``
    and no confidence floor, so detection and the all-reads column see every box) and count.

    Raises:
        FileNotFoundError: ``root`` is not a folder or has no ``labels.tsv``.
        ccpd.sources.LabelError: a malformed labels file.
    """
    if not os.path.isfile(os.path.join(root, LABELS_FILE)):
        raise FileNotFoundError(f"{root}: no {LABELS_FILE}")
    boxes: Dict[str, Tuple[float, float, float, float]] = {}
    for s in read_source(root).samples:  # the first row of a file is its main plate
        if s.bbox is not None:
            boxes.setdefault(s.path, s.bbox)
    return count_hard(read_scenes(reader, root), boxes, set_kind(root), min_confidence, all_reads)


def hard_table(counts: Sequence[HardCounts]) -> str:
    """The Markdown table of :func:`evaluate_hard`'s counts: one row per set, then ``all``."""
    total = HardCounts("all")
    for c in counts:
        for k in ("n", "right", "right_all", "found", "extra", "seconds"):
            setattr(total, k, getattr(total, k) + getattr(c, k))
    rows = list(counts) + ([total] if len(counts) > 1 else [])
    cols = ["photos", "image accuracy %", "all reads %", "detection recall %", "extra reads / photo", "ms / photo"]
    table = {c.kind: {"photos": str(c.n), "image accuracy %": pct(c.right, c.n), "all reads %": pct(c.right_all, c.n),
                      "detection recall %": pct(c.found, c.n), "extra reads / photo": f"{c.extra / max(c.n, 1):.2f}",
                      "ms / photo": f"{1000 * c.seconds / max(c.n, 1):.0f}"} for c in rows}
    return format_table(table, cols, corner="kind")


def main(argv=None) -> int:
    """Print the per-set table; exit status 0, or 2 for bad options, folders or weights."""
    p = argparse.ArgumentParser(prog="python -m lpr.hard_eval", description=__doc__.split("\n\n")[0])
    p.add_argument("roots", nargs="+", help="hard sets: folders with labels.tsv (python -m platesynth hard)")
    p.add_argument("--show-errors", type=int, default=0, metavar="N",
                   help="list up to N photos per set whose main plate was not read, with what was read")
    add_reader_arguments(p, "folder with the weights of both stages (default: shipped)")
    args = p.parse_args(argv)
    setup_runtime(args)
    config = reader_config(args, p)
    for root in args.roots:
        if not os.path.isfile(os.path.join(root, LABELS_FILE)):
            p.error(f"{root}: not a folder with {LABELS_FILE}")
    if args.show_errors < 0:
        p.error("--show-errors must be >= 0")
    reader = every_read_reader(config, args)
    if reader is None:
        return 2
    counts = [evaluate_hard(reader, root, config.reading.min_confidence, config.reading.all_reads)
              for root in args.roots]
    r = config.reading
    print(f"Hard sets: image accuracy end to end (main plate exact), detection recall at IoU >= {MATCH_IOU}; "
          f"reader: min confidence {r.min_confidence:g}{', all reads' if r.all_reads else ''}, "
          f"rotated retry {'on' if r.rotated_retry else 'off'}, stretched retry {'on' if r.stretched_retry else 'off'}, "
          f"fine retry {'on' if r.fine_retry else 'off'}, second look {'on' if r.second_look else 'off'}")
    print(hard_table(counts))
    if args.show_errors:
        for c in counts:
            print(f"\nMisses of {c.kind} (true text, every box's text, invalid ones too):")
            for name, truth, got in c.misses[:args.show_errors]:
                print(f"{truth}\t{'/'.join(got) or '(nothing read)'}\t{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
