"""Benchmark plate reading: exact-plate and character accuracy per source, subset, colour, layout and
province, the most frequent confusions, accuracy at confidence thresholds, and crops/s.

Input: any source of :mod:`ccpd.sources` (a CCPD root, whose subsets are its folders; a folder of
crops named by their text; a ``labels.tsv`` folder such as ``../shared/data/plate_crops_more`` with
``--use val``). Plates with a box are cut at that box exactly as the pipeline cuts a detection
(:func:`LPRNet.crops.crop_plates`), double-row plates (labelled ``layout`` = double) row by row as the
pipeline cuts them; crops without a box are read whole (row by row when labelled double-row).
``--cut-offset LEFT RIGHT`` moves every cut's side edges, to measure how much a reader loses when
the detector's corners cut into a plate or sit beside it; ``--cut-sweep`` adds a table of several
such cuts (:data:`CUT_SWEEP`). Example::

    python -m LPRNet.evaluate ../shared/data/ccpd_sample/val
    python -m LPRNet.evaluate ../shared/data/plate_crops_more --use val
    python -m LPRNet.evaluate data/realism/new_val --cut-offset 0.06 0     # 6 % of the width cut off the left
    python -m LPRNet.evaluate data/realism/new_val --cut-sweep             # the CUT_SWEEP table
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm import tqdm

from ccpd.sources import PlateSample, read_source
from ccpd.subsets import discover_subsets
from lprcore.imageio import ImageReadError, imread
from lprcore.cli import add_runtime_args, setup_runtime
from lprcore.report import format_table, pct
from LPRNet.crops import crop_plates
from LPRNet.recognizer import TorchRecognizer

log = logging.getLogger(__name__)

#: Confidence thresholds of the rejection table.
THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


@dataclass
class Read:
    """One plate read: the sample, its group name, the text read and its confidence."""

    sample: PlateSample
    group: str
    text: str
    confidence: float

    @property
    def exact(self) -> bool:
        return self.text == self.sample.text


def load_samples(roots: Sequence[str], use: Optional[str] = None) -> Tuple[List[Tuple[PlateSample, str]], List[str]]:
    """``[(sample, group)]`` of every source and the skipped entries. The group is the subset (the
    folder holding the image) for CCPD roots and the source folder's name otherwise."""
    out, skipped = [], []
    for root in roots:
        name = os.path.basename(os.path.normpath(root))
        if os.path.isfile(os.path.join(root, "labels.tsv")):
            scan = read_source(root, use)
            out += [(s, name) for s in scan.samples]
            skipped += [f"{p}: {why}" for p, why in scan.skipped]
            continue
        for subset, folder in discover_subsets(root).items():
            scan = read_source(folder)
            scan.samples = [s for s in scan.samples if os.path.dirname(s.path) == os.path.normpath(folder)]
            out += [(s, subset if s.source == "ccpd" else name) for s in scan.samples]
            skipped += [f"{p}: {why}" for p, why in scan.skipped if os.path.dirname(p) == os.path.normpath(folder)]
    return out, skipped


def offset_box(box, offset: Tuple[float, float]) -> Tuple[float, float, float, float]:
    """``box`` (x1, y1, x2, y2 pixels) with x1 and x2 moved right by ``offset`` (left, right) times
    its width: ``(0.06, 0)`` cuts 6 % of the width off its left side, ``(0, -0.06)`` off its right,
    ``(0.06, 0.06)`` shifts it right by 6 %. Edges that would cross leave a cut 1 pixel wide at the
    new left edge (``--cut-offset`` keeps each value in [-0.5, 0.5], so they never cross there)."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w = x2 - x1
    nx1, nx2 = x1 + offset[0] * w, x2 + offset[1] * w
    return nx1, y1, max(nx2, nx1 + 1.0), y2


#: The cuts of ``--cut-sweep``, (label, (left, right) offset of :func:`offset_box`): a reader's tolerance of
#: corners that cut into a plate; 9 % off a side removes more than half of a GA 36 plate's end character.
CUT_SWEEP = (("box", (0.0, 0.0)), ("left 6%", (0.06, 0.0)), ("left 9%", (0.09, 0.0)),
             ("right 6%", (0.0, -0.06)), ("right 9%", (0.0, -0.09)), ("shift 6%", (0.06, 0.06)))


def cut_sweep_rows(recognizer, items: Sequence[Tuple[PlateSample, str]], batch_size: int = 64,
                   sweep=CUT_SWEEP) -> Dict[str, Dict[str, str]]:
    """Table rows of ``--cut-sweep``: exact % and province-right % of every sample read at each cut
    of ``sweep`` (:func:`read_all` once per cut), and their means over the moved cuts (every cut but
    an unmoved ``(0, 0)``) in the column ``"mean moved"``."""
    rows: Dict[str, Dict[str, str]] = {"exact %": {}, "province right %": {}}
    moved = [0, 0, 0]  # exact, province right, reads: over the moved cuts
    for label, offset in sweep:
        reads, _, _ = read_all(recognizer, items, batch_size, offset)
        exact = sum(r.exact for r in reads)
        province = sum(r.text[:1] == r.sample.text[:1] for r in reads)
        rows["exact %"][label], rows["province right %"][label] = pct(exact, len(reads)), pct(province, len(reads))
        if tuple(offset) != (0.0, 0.0):
            moved = [moved[0] + exact, moved[1] + province, moved[2] + len(reads)]
    if moved[2]:  # every cut reads the same samples, so this is the mean of the moved cuts' percentages
        rows["exact %"]["mean moved"] = pct(moved[0], moved[2])
        rows["province right %"]["mean moved"] = pct(moved[1], moved[2])
    return rows


def sample_crop(image: np.ndarray, sample: PlateSample, offset: Tuple[float, float] | None = None) -> np.ndarray:
    """The recognizer crop of a labelled plate: cut at its box as the pipeline cuts a detection
    (:func:`LPRNet.crops.crop_plates`), row by row when it is labelled double-row; a crop without a
    box is the plate itself (read whole, or cut row by row when double-row).

    Args:
        image: ``ndarray[H, W, 3]`` uint8, BGR: the sample's image.
        sample: its label (``bbox`` in pixels or ``None``; ``layout`` ``"double"`` or anything else).
        offset: (left, right) fractions of the box's width by which its left and right edges are
            moved right (:func:`offset_box`), to measure reading when the detector cuts a plate's
            edge; the box of a crop without one is the whole image.

    Returns:
        ``ndarray[24, 94, 3]`` uint8 BGR, or the image itself for a crop without a box not labelled
        double-row (and no ``offset``).
    """
    double = sample.layout == "double"
    if sample.bbox is None and not double and offset is None:
        return image
    box = sample.bbox if sample.bbox is not None else (0, 0, image.shape[1], image.shape[0])
    if offset is not None:
        box = offset_box(box, offset)
    return crop_plates(image, np.asarray([box], np.float32), ["double" if double else "single"])[0]


def read_all(recognizer: TorchRecognizer, items: Sequence[Tuple[PlateSample, str]],
             batch_size: int = 64, offset: Tuple[float, float] | None = None) -> Tuple[List[Read], float, List[str]]:
    """Read every sample (cut as :func:`sample_crop` with ``offset``); returns the reads, crops per
    second, and unreadable files."""
    reads, failed = [], []
    seconds = 0.0
    for i in tqdm(range(0, len(items), batch_size), desc="reading", leave=False, file=sys.stderr):
        batch, crops = [], []
        for s, group in items[i:i + batch_size]:
            try:
                image = imread(s.path)
            except (ImageReadError, FileNotFoundError) as e:
                failed.append(str(e))
                continue
            crops.append(sample_crop(image, s, offset))
            batch.append((s, group))
        t0 = time.perf_counter()
        decoded = recognizer.recognize_crops(crops)
        seconds += time.perf_counter() - t0
        reads += [Read(s, g, d.text, d.confidence) for (s, g), d in zip(batch, decoded)]
    return reads, (len(reads) / seconds if seconds else 0.0), failed


def _by(reads: Sequence[Read], key) -> Dict[str, List[Read]]:
    groups: Dict[str, List[Read]] = {}
    for r in reads:
        groups.setdefault(key(r), []).append(r)
    return groups


def accuracy_rows(groups: Dict[str, List[Read]]) -> Dict[str, Dict[str, str]]:
    """Table rows: exact %, province-ignored exact %, character accuracy %, plates, per group."""
    rows: Dict[str, Dict[str, str]] = {"exact %": {}, "exact, province ignored %": {}, "characters %": {}, "plates": {}}
    for name, rs in groups.items():
        rows["exact %"][name] = pct(sum(r.exact for r in rs), len(rs))
        rows["exact, province ignored %"][name] = pct(sum(r.text[1:] == r.sample.text[1:] for r in rs), len(rs))
        chars = sum(len(r.sample.text) for r in rs)
        right = sum(sum(a == b for a, b in zip(r.text, r.sample.text)) for r in rs if len(r.text) == len(r.sample.text))
        rows["characters %"][name] = pct(right, chars)
        rows["plates"][name] = str(len(rs))
    return rows


def confusions(reads: Sequence[Read], top: int = 10) -> List[Tuple[str, str, int]]:
    """The ``top`` most frequent (true, read) character pairs among reads of the right length."""
    c: Counter = Counter()
    for r in reads:
        if len(r.text) == len(r.sample.text):
            c.update((a, b) for a, b in zip(r.sample.text, r.text) if a != b)
    return [(a, b, n) for (a, b), n in c.most_common(top)]


def threshold_rows(reads: Sequence[Read]) -> Dict[str, Dict[str, str]]:
    """Per confidence threshold: share of plates kept and exact accuracy among them."""
    rows: Dict[str, Dict[str, str]] = {"kept %": {}, "exact among kept %": {}}
    for t in THRESHOLDS:
        kept = [r for r in reads if r.confidence >= t]
        rows["kept %"][f"{t:g}"] = pct(len(kept), len(reads))
        rows["exact among kept %"][f"{t:g}"] = pct(sum(r.exact for r in kept), len(kept))
    return rows


def print_report(reads: Sequence[Read], title: str, speed: float, batch_size: int, device: str,
                 min_province: int = 10) -> None:
    """Print every table of the module docstring to stdout."""
    print(title)
    by_group = _by(reads, lambda r: r.group)
    by_group["all"] = list(reads)
    print(format_table(accuracy_rows(by_group), list(by_group), "by source"))
    for label, key in (("colour", lambda r: r.sample.colour or "unknown"),
                       ("layout", lambda r: r.sample.layout or "unknown")):
        groups = _by(reads, key)
        if len(groups) > 1 or "unknown" not in groups:
            print()
            print(format_table(accuracy_rows(groups), sorted(groups), f"by {label}"))
    provinces = {k: v for k, v in sorted(_by(reads, lambda r: r.sample.province).items(), key=lambda kv: -len(kv[1]))
                 if len(v) >= min_province}
    if provinces:
        print(f"\nby province (>= {min_province} plates)")
        rows = accuracy_rows(provinces)
        print(format_table({k: rows[k] for k in ("exact %", "plates")}, list(provinces), "province"))
    conf = confusions(reads)
    if conf:
        print("\nmost frequent confusions (true -> read: count)")
        print(", ".join(f"{a}->{b}: {n}" for a, b, n in conf))
    print("\naccuracy at confidence thresholds (reject reads below the threshold)")
    print(format_table(threshold_rows(reads), [f"{t:g}" for t in THRESHOLDS], "threshold"))
    print(f"\nspeed: {speed:.1f} crops/s (batch {batch_size}, {torch.get_num_threads()} threads, {device})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m LPRNet.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("roots", nargs="+", help="source folders: CCPD roots, crops named by text, labels.tsv folders")
    p.add_argument("--use", choices=("train", "val"), help="labels.tsv sources: keep only rows of this use")
    p.add_argument("--crops", action="store_true", help=argparse.SUPPRESS)  # formats are detected now
    add_runtime_args(p, "folder with stn.pth and lprnet.pth (default: shipped)")
    p.add_argument("--batch-size", type=int, default=64, help="crops per forward pass")
    p.add_argument("--show-errors", action="store_true", help="list the plates not read exactly")
    p.add_argument("--cut-offset", nargs=2, type=float, metavar=("LEFT", "RIGHT"),
                   help="move each plate's cut: its left and right edges right by these fractions of its "
                        "width (0.06 0: 6%% cut off the left; 0 -0.06: off the right; 0.06 0.06: shifted right), "
                        "as a detector's corners may be off; each in [-0.5, 0.5]")
    p.add_argument("--cut-sweep", action="store_true",
                   help="also read every plate at the cuts of LPRNet.evaluate.CUT_SWEEP (6 and 9%% of the width "
                        "off the left, off the right, shifted 6%% right) and print exact and province "
                        "accuracy per cut: the reader's tolerance of corner errors")
    args = p.parse_args(argv)
    if args.cut_offset is not None and not all(-0.5 <= v <= 0.5 for v in args.cut_offset):
        p.error(f"--cut-offset values must be in [-0.5, 0.5], got {args.cut_offset}")
    setup_runtime(args)
    for root in args.roots:
        if not os.path.isdir(root):
            p.error(f"{root}: not a folder")
    recognizer = TorchRecognizer(args.weights_dir, args.device)
    items, skipped = load_samples(args.roots, args.use)
    reads, speed, failed = read_all(recognizer, items, args.batch_size,
                                    tuple(args.cut_offset) if args.cut_offset is not None else None)
    for s in (skipped + failed)[:5]:
        log.warning("skipped %s", s)
    title = f"STN+LPRNet reading, {' '.join(args.roots)}" + (f" (use={args.use})" if args.use else "")
    if args.cut_offset is not None:
        title += f" (cuts moved: left edge {args.cut_offset[0]:+g}, right edge {args.cut_offset[1]:+g} of the width)"
    print_report(reads, title,
                 speed, args.batch_size, args.device)
    if args.cut_sweep:
        print("\nreading with moved cuts (LPRNet.evaluate.CUT_SWEEP: edges moved by % of the plate's width)")
        columns = [label for label, _ in CUT_SWEEP] + ["mean moved"]
        print(format_table(cut_sweep_rows(recognizer, items, args.batch_size), columns, "cut"))
    if skipped or failed:
        print(f"{len(skipped) + len(failed)} files skipped")
    if args.show_errors:
        for r in reads:
            if not r.exact:
                print(f"{r.sample.text}\t{r.text}\t{r.confidence:.3f}\t{r.sample.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
