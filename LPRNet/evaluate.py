"""Benchmark plate reading: exact-match accuracy per subset and per character position, crops/s.

Input: a folder of plate crops named by their text (``皖A12345.jpg``), or a CCPD root (crops are cut
from each image's annotated bbox; see ``ccpd/README.md``). Example::

    python -m LPRNet.evaluate ../shared/data/ccpd_sample/val
    python -m LPRNet.evaluate ../shared/data/plate_crops --crops
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Dict, List, Tuple

import numpy as np
import torch
from tqdm import tqdm

from ccpd.subsets import scan_root
from lprcore.imageio import ImageReadError, imread, list_images
from lprcore.report import add_runtime_args, format_table, pct, read_samples, setup_runtime
from LPRNet.crops import crop_plates
from LPRNet.recognizer import RecognitionPredictor

log = logging.getLogger(__name__)


def load_crops(root: str, crops: bool) -> Tuple[Dict[str, List[Tuple[np.ndarray, str]]], List[str]]:
    """``{subset: [(BGR crop, text)]}`` and a list of skipped files with reasons."""
    groups: Dict[str, List[Tuple[np.ndarray, str]]] = {}
    skipped: List[str] = []
    if crops:
        for p in list_images(root):
            text = os.path.splitext(os.path.basename(p))[0].split("_")[0]
            try:
                groups.setdefault(os.path.basename(root.rstrip("/")), []).append((imread(p), text))
            except (ImageReadError, FileNotFoundError) as e:
                skipped.append(str(e))
        return groups, skipped
    scan = scan_root(root)
    skipped += [f"{p}: {why}" for p, why in scan.skipped]
    for subset, samples in scan.by_subset().items():
        for s, image in read_samples([s for s in samples if s.record is not None], subset):
            groups.setdefault(subset, []).append((crop_plates(image, np.asarray([s.record.bbox]))[0], s.record.text))
    return groups, skipped


def evaluate(recognizer: RecognitionPredictor, groups, batch_size: int = 64):
    """Returns (per-subset rows, per-position rows, crops per second)."""
    rows, pos_hits, pos_total = {}, {}, {}
    n_all = hit_all = 0
    seconds = 0.0
    for subset, items in groups.items():
        hit = 0
        for i in tqdm(range(0, len(items), batch_size), desc=subset, leave=False, file=sys.stderr):
            batch = items[i:i + batch_size]
            t0 = time.perf_counter()
            reads = recognizer([c for c, _ in batch])
            seconds += time.perf_counter() - t0
            for r, (_, truth) in zip(reads, batch):
                hit += r.text == truth
                for k, ch in enumerate(truth):
                    pos_total[k] = pos_total.get(k, 0) + 1
                    pos_hits[k] = pos_hits.get(k, 0) + (k < len(r.text) and r.text[k] == ch and len(r.text) == len(truth))
        rows[subset] = (hit, len(items))
        n_all += len(items)
        hit_all += hit
    rows["all"] = (hit_all, n_all)
    positions = {str(k + 1): pct(pos_hits[k], pos_total[k]) for k in sorted(pos_total)}
    return rows, positions, (n_all / seconds if seconds else 0.0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m LPRNet.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("root", help="CCPD root (or folder of crops with --crops)")
    p.add_argument("--crops", action="store_true", help="ROOT holds plate crops named by their text")
    add_runtime_args(p, "folder with stn.pth and lprnet.pth (default: shipped)")
    p.add_argument("--batch-size", type=int, default=64, help="crops per forward pass")
    args = p.parse_args(argv)
    setup_runtime(args)
    if not os.path.isdir(args.root):
        p.error(f"{args.root}: not a folder")
    recognizer = RecognitionPredictor(args.weights_dir, args.device)
    groups, skipped = load_crops(args.root, args.crops)
    for s in skipped[:5]:
        log.warning("skipped %s", s)
    rows, positions, speed = evaluate(recognizer, groups, args.batch_size)
    print(f"LPRNet+STN exact-match accuracy (%), {args.root}")
    print(format_table({"accuracy %": {k: pct(h, n) for k, (h, n) in rows.items()},
                        "plates": {k: str(n) for k, (h, n) in rows.items()}}, list(rows)))
    print("\nper character position (%, plates of the right length)")
    print(format_table({"accuracy %": positions}, list(positions), "position"))
    print(f"\nspeed: {speed:.1f} crops/s (batch {args.batch_size}, {torch.get_num_threads()} threads, {args.device})"
          + (f"; {len(skipped)} files skipped" if skipped else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
