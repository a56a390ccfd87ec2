"""Benchmark plate detection: recall and precision at IoU 0.5 and 0.7, false boxes per image, mean
corner error and ms/image, per CCPD subset and per source.

Each argument is a CCPD root (one row per subset; ``ccpd_np`` images have no plate, so every
detection there is a false box) or a folder with ``labels.tsv`` (+ ``boxes.tsv``) or ``python -m
platesynth scenes`` output (one row per ``source``; images whose plates have no box are left out and
counted). A detection is a true positive when its IoU with an annotated plate box is at least the
threshold, one detection per plate, greedy by score. The corner error of a plate found at IoU 0.5
with known corners is the mean distance of the 4 predicted corners to the annotated ones, as a
fraction of the plate's width (mean length of its top and bottom edges). A second table gives the
recall by plate width (:data:`WIDTH_BANDS`). Example::

    python -m MTCNN.evaluate ../shared/data/ccpd_sample/val
    python -m MTCNN.evaluate ../shared/data/ccpd_sample/val data/synth_scenes_val
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from ccpd.sources import LABELS_FILE, read_source
from ccpd.subsets import scan_root
from lprcore.cli import add_runtime_args, setup_runtime
from lprcore.report import format_table, pct, read_samples
from MTCNN.boxes import box_iou, quad_size
from MTCNN.detector import TorchDetector
from MTCNN.options import add_detector_arguments, detector_config

#: IoU for a detection to count as finding the plate (and the stricter one also reported).
MATCH_IOU = 0.5
STRICT_IOU = 0.7
#: Edges of the plate-width bands (pixels of the photo) of the recall-by-width table: what a
#: smaller search resolution or a larger smallest plate costs shows in the narrow bands.
WIDTH_BANDS = (20, 40, 60, 100)


def width_band(width: float) -> str:
    """The :data:`WIDTH_BANDS` band of a plate ``width`` in pixels, e.g. ``"40-60"``, ``"100+"`` or ``"<20"``."""
    if width < WIDTH_BANDS[0]:
        return f"<{WIDTH_BANDS[0]}"
    for lo, hi in zip(WIDTH_BANDS, WIDTH_BANDS[1:]):
        if width < hi:
            return f"{lo}-{hi}"
    return f"{WIDTH_BANDS[-1]}+"


def recall_by_width(boxes: np.ndarray, gts: np.ndarray, bands: Dict[str, List[int]]) -> None:
    """Add one image's plates to ``bands`` (band -> ``[found, plates]``, :func:`width_band` of each
    annotated box ``gts[G, 4]``; found: matched at :data:`MATCH_IOU` by ``boxes[K, >=4]``)."""
    found = {j for _, j in match_pairs(boxes, gts, MATCH_IOU)}
    for j, g in enumerate(np.asarray(gts, np.float64).reshape(-1, 4)):
        counts = bands.setdefault(width_band(g[2] - g[0]), [0, 0])
        counts[0] += j in found
        counts[1] += 1


def match_pairs(boxes: np.ndarray, gts: np.ndarray, iou: float = MATCH_IOU) -> List[Tuple[int, int]]:
    """One-to-one matches ``[(detection index, plate index)]`` of ``boxes[N, >=4]`` (sorted by score)
    to ``gts[G, 4]``, greedy by score, at overlap ``>= iou``."""
    if len(boxes) == 0 or len(gts) == 0:
        return []
    overlaps = box_iou(boxes[:, :4], gts)
    used = np.zeros(len(gts), bool)
    pairs = []
    for i, row in enumerate(overlaps):
        row = np.where(used, -1, row)
        j = int(row.argmax())
        if row[j] >= iou:
            used[j] = True
            pairs.append((i, j))
    return pairs


def match(boxes: np.ndarray, gts: np.ndarray, iou: float = MATCH_IOU) -> int:
    """Number of ground-truth boxes matched one-to-one by ``boxes`` (greedy by score) at ``iou``."""
    return len(match_pairs(boxes, gts, iou))


def corner_error(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean distance of 4 predicted corners ``[4, 2]`` to the true ones ``[4, 2]`` (TL, TR, BR, BL
    pixels), as a fraction of the true plate's width (mean length of its top and bottom edges)."""
    true = np.asarray(true, np.float64)
    width = float(quad_size(true)[0][0])
    return float(np.linalg.norm(np.asarray(pred, np.float64) - true, axis=1).mean() / max(width, 1e-6))


@dataclass
class Image:
    """One evaluated image: path, plate boxes ``[G, 4]``, corners ``[G, 4, 2]`` (NaN when unknown)."""

    path: str
    boxes: np.ndarray
    corners: np.ndarray


@dataclass
class Counts:
    """Detection counts of one row of the table."""

    images: int = 0
    plates: int = 0
    detections: int = 0
    tp: int = 0
    tp_strict: int = 0
    false_boxes: int = 0
    corner_sum: float = 0.0
    corner_n: int = 0
    seconds: float = 0.0

    def add(self, other: "Counts") -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def row(self) -> Dict[str, str]:
        return {"images": str(self.images), "plates": str(self.plates),
                "recall@0.5 %": pct(self.tp, self.plates), "precision@0.5 %": pct(self.tp, self.detections),
                "recall@0.7 %": pct(self.tp_strict, self.plates),
                "precision@0.7 %": pct(self.tp_strict, self.detections),
                "false boxes/img": f"{self.false_boxes / max(self.images, 1):.3f}",
                "corner error %": f"{100 * self.corner_sum / self.corner_n:.2f}" if self.corner_n else "-",
                "ms/image": f"{1000 * self.seconds / max(self.images, 1):.0f}"}


def score_image(boxes: np.ndarray, corners: Optional[np.ndarray], image: Image, seconds: float) -> Counts:
    """The counts of one image's detections (``boxes[K, >=4]``, ``corners[K, 4, 2]`` or ``None``)."""
    pairs = match_pairs(boxes, image.boxes, MATCH_IOU)
    c = Counts(images=1, plates=len(image.boxes), detections=len(boxes), tp=len(pairs),
               tp_strict=match(boxes, image.boxes, STRICT_IOU), false_boxes=len(boxes) - len(pairs),
               seconds=seconds)
    if corners is not None:
        for i, j in pairs:
            if not np.isnan(image.corners[j]).any():
                c.corner_sum += corner_error(corners[i], image.corners[j])
                c.corner_n += 1
    return c


def read_groups(folder: str) -> Tuple[Dict[str, List[Image]], int]:
    """Images to evaluate in ``folder``, grouped by CCPD subset or by source; and how many images were
    left out for having no plate box."""
    groups: Dict[str, List[Image]] = {}
    if os.path.isfile(os.path.join(folder, LABELS_FILE)):
        by_path: Dict[str, Tuple[str, list, list]] = {}
        no_box = set()
        for s in read_source(folder).samples:
            if s.bbox is None:
                no_box.add(s.path)
                continue
            _, boxes, quads = by_path.setdefault(s.path, (s.source, [], []))
            boxes += [s.bbox, *s.other_boxes]
            quads += [s.vertices if s.vertices is not None else [[np.nan] * 2] * 4]
            quads += [[[np.nan] * 2] * 4] * len(s.other_boxes)
        for path, (source, boxes, quads) in by_path.items():
            groups.setdefault(source, []).append(Image(path, np.asarray(boxes, np.float32).reshape(-1, 4),
                                                       np.asarray(quads, np.float32).reshape(-1, 4, 2)))
        return groups, len(no_box - set(by_path))
    scan = scan_root(folder)
    for subset, samples in scan.by_subset().items():
        for s in samples:
            if s.record is None:
                boxes, corners = np.zeros((0, 4), np.float32), np.zeros((0, 4, 2), np.float32)
            else:
                boxes = np.asarray([s.record.bbox], np.float32)
                corners = np.asarray([s.record.corners], np.float32)
            groups.setdefault(subset, []).append(Image(s.path, boxes, corners))
    return groups, 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m MTCNN.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("sources", nargs="+", help="CCPD roots and/or folders with labels.tsv (+ boxes.tsv)")
    add_runtime_args(p, "folder with pnet.pth and onet.pth (default: shipped)")
    add_detector_arguments(p.add_argument_group("detector", "the PNet/ONet cascade's thresholds"))
    args = p.parse_args(argv)
    setup_runtime(args)
    for folder in args.sources:
        if not os.path.isdir(folder):
            p.error(f"{folder}: not a folder")
    config = detector_config(args, p)
    detector = TorchDetector(args.weights_dir, config, args.device)
    rows: Dict[str, Counts] = {}
    total = Counts()
    bands: Dict[str, List[int]] = {}
    left_out = 0
    for folder in args.sources:
        groups, no_box = read_groups(folder)
        left_out += no_box
        for name, images in groups.items():
            key = name if name not in rows else f"{os.path.basename(os.path.normpath(folder))}/{name}"
            counts = rows.setdefault(key, Counts())
            by_path = {im.path: im for im in images}
            for im, pixels in read_samples(images, key):
                t0 = time.perf_counter()
                found = detector.detect(pixels)
                c = score_image(found.boxes, found.corners, by_path[im.path], time.perf_counter() - t0)
                recall_by_width(found.boxes, by_path[im.path].boxes, bands)
                counts.add(c)
                total.add(c)
    table = {k: c.row() for k, c in rows.items()}
    if len(rows) > 1:
        table["all"] = total.row()
    columns = list(Counts().row())
    print(f"PNet+ONet detection, {' '.join(args.sources)} (min plate {config.min_plate_size}); corner error: "
          f"fraction of plate width{'' if detector.has_vertices else ' (ONet has no vertex branch)'}")
    print(format_table({c: {k: r[c] for k, r in table.items()} for c in columns}, list(table)))
    order = [width_band(WIDTH_BANDS[0] - 1)] + [width_band(w) for w in WIDTH_BANDS]
    order = [b for b in order if b in bands]
    print("\nRecall@0.5 by plate width (pixels of the photo), all sources")
    print(format_table({"recall@0.5 %": {b: pct(*bands[b]) for b in order},
                        "plates": {b: str(bands[b][1]) for b in order}}, order, corner="plate width px"))
    if left_out:
        print(f"{left_out} images without a plate box left out")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
