"""Benchmark plate detection on a CCPD root: recall and precision at IoU 0.5 per subset, ms/image.

A detection is a true positive when its IoU with the annotated bbox is >= 0.5 (one match per plate);
``ccpd_np`` images have no plate, so every detection there is a false positive. Example::

    python -m MTCNN.evaluate ../shared/data/ccpd_sample/val
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from ccpd.subsets import scan_root
from lprcore.report import add_runtime_args, format_table, pct, read_samples, setup_runtime
from MTCNN.boxes import box_iou
from MTCNN.detector import DetectorConfig, PlateDetector

#: IoU for a detection to count as finding the plate.
MATCH_IOU = 0.5


def match(boxes: np.ndarray, gts: np.ndarray, iou: float = MATCH_IOU) -> int:
    """Number of ground-truth boxes matched one-to-one by ``boxes`` (greedy by score) at ``iou``."""
    if len(boxes) == 0 or len(gts) == 0:
        return 0
    overlaps = box_iou(boxes[:, :4], gts)
    used = np.zeros(len(gts), bool)
    hits = 0
    for row in overlaps:  # boxes come sorted by score
        row = np.where(used, -1, row)
        j = int(row.argmax())
        if row[j] >= iou:
            used[j] = True
            hits += 1
    return hits


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m MTCNN.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("root", help="CCPD root (see ccpd/README.md)")
    add_runtime_args(p, "folder with pnet.pth and onet.pth (default: shipped)")
    DetectorConfig.add_arguments(p)
    args = p.parse_args(argv)
    setup_runtime(args)
    config = DetectorConfig.from_args(args, p)
    detector = PlateDetector(args.weights_dir, config, args.device)
    scan = scan_root(args.root)
    recall, precision, ms = {}, {}, {}
    tot = {"tp": 0, "gt": 0, "det": 0, "sec": 0.0, "n": 0}
    for subset, samples in scan.by_subset().items():
        tp = gt = det = n = 0
        sec = 0.0
        for s, image in read_samples(samples, subset):
            t0 = time.perf_counter()
            boxes = detector.detect(image)
            sec += time.perf_counter() - t0
            gts = np.asarray([s.record.bbox], np.float32) if s.record else np.zeros((0, 4), np.float32)
            tp += match(boxes, gts)
            gt += len(gts)
            det += len(boxes)
            n += 1
        recall[subset], precision[subset] = pct(tp, gt), pct(tp, det)
        ms[subset] = f"{1000 * sec / max(n, 1):.0f}"
        for k, v in (("tp", tp), ("gt", gt), ("det", det), ("sec", sec), ("n", n)):
            tot[k] += v
    recall["all"], precision["all"] = pct(tot["tp"], tot["gt"]), pct(tot["tp"], tot["det"])
    ms["all"] = f"{1000 * tot['sec'] / max(tot['n'], 1):.0f}"
    print(f"PNet+ONet detection at IoU {MATCH_IOU}, {args.root} (min plate {config.min_plate_size})")
    print(format_table({"recall %": recall, "precision %": precision, "ms/image": ms}, list(recall)))
    if scan.skipped:
        print(f"{len(scan.skipped)} files with malformed names skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
