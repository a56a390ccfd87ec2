"""Prepare PNet (12x47) and ONet (24x94) training samples from photos with plate boxes (CCPD names,
``labels.tsv`` + ``boxes.tsv`` folders, ``python -m platesynth scenes`` output; see :mod:`ccpd.sources`).

Labels follow MTCNN (arXiv:1604.02878, Sec. 2.3) by IoU of a crop with the nearest plate:
positive ``IoU >= 0.65`` (label 1), part ``0.4 <= IoU < 0.65`` (label -1), negative ``IoU < 0.3``
(label 0); crops with IoU in [0.3, 0.4) are not used. Positives and parts carry bbox regression
targets (see :func:`MTCNN.boxes.regression_targets`).

* ``--net pnet``: random crops around each plate (positives, parts, near negatives) and anywhere in
  the image (negatives), of the plate's aspect ratio.
* ``--net onet``: the same, plus hard samples mined by running a trained PNet over each image
  (``--pnet-weights``): its proposals labelled by IoU (MTCNN's stage-2 recipe).

* ``--onet-weights`` (with ``--pnet-weights``): hard negatives: the cascade's own false boxes (ONet
  score above :data:`HARD_NEGATIVE_SCORE`, IoU < 0.3 with every plate) in images whose plates are all
  annotated (CCPD and ``platesynth`` scenes; photos with unannotated plates would teach ONet that a
  real plate is background).

Positives and parts of plates with known corners (CCPD vertices, ``platesynth`` quadrilaterals)
also carry the targets of ONet's vertex branch (:func:`MTCNN.boxes.vertex_targets`).

* ``--net vnet``: no crops; one region around each plate with known corners and the corners in it
  (:func:`plate_region`), all in ``OUT/NAME.npz`` (:func:`prepare_vnet`), from which
  :class:`MTCNN.dataset.QuadSampleDataset` draws VNet's samples.

Output: ``OUT/NAME/*.png`` and ``OUT/NAME.txt`` with lines ``relative/path.png label dx1 dy1 dx2 dy2``
followed, when the corners are known, by ``vx1 vy1 ... vx4 vy4``; the list is written last and
atomically. Example::

    python -m MTCNN.prepare --net pnet --ccpd ../shared/data/ccpd_sample/train --out data/pnet --name train
"""
from __future__ import annotations

import argparse
import logging
import os
from functools import partial
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from ccpd.sources import read_sources
from lprcore.files import Journal, atomic_write, fingerprint
from lprcore.imageio import ImageReadError, imread, imwrite
from lprcore.parallel import imap_progress
from lprcore.weights import load_weights
from MTCNN.boxes import box_iou, regression_targets, vertex_targets
from MTCNN.cascade import ONET_INPUT, PNET_CELL, DetectorConfig, crop_boxes
from MTCNN.detector import load_onet, run_onet, run_pnet
from MTCNN.nets import ONet, PNet

log = logging.getLogger(__name__)

#: IoU thresholds of the labels (MTCNN paper, Sec. 2.3).
POS_IOU, PART_IOU, NEG_IOU = 0.65, 0.4, 0.3
POSITIVE, NEGATIVE, PART = 1, 0, -1
#: Crop size (height, width) per net: PNet's cell, ONet's input (one home: MTCNN.nets).
CROP_SIZE = {"pnet": PNET_CELL, "onet": ONET_INPUT}
#: Samples drawn per image: positives, parts, negatives near the plate, negatives anywhere.
COUNTS = {"pos": 8, "part": 8, "near_neg": 6, "neg": 24}

#: PNet settings for ONet hard-sample mining: a lower threshold and more proposals than detection,
#: to mine more (the ONet data of the shipped weights was mined with these).
MINING_CONFIG = DetectorConfig(min_plate_size=(16, 60), pnet_threshold=0.5, max_proposals=300)
#: ONet score above which a box of the cascade that is no plate becomes a hard negative (below the
#: detection threshold, 0.8, so near-misses are mined too).
HARD_NEGATIVE_SCORE = 0.3
#: At most this many hard negatives per image.
HARD_NEGATIVES_PER_IMAGE = 12
#: Sources whose images have every plate annotated (hard negatives are mined only there).
COMPLETE_SOURCES = ("ccpd", "platesynth")

#: One sample: relative path, label, bbox offsets (4), vertex targets (8) or None.
Entry = Tuple[str, int, Tuple[float, ...], Optional[Tuple[float, ...]]]


def label_boxes(boxes: np.ndarray, gts: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Label candidate boxes against ground-truth plates.

    Args:
        boxes: ``ndarray[N, >=4]`` candidates, pixels.
        gts: ``ndarray[G, 4]`` plates, pixels.

    Returns:
        ``labels ndarray[N]`` int (1 positive, -1 part, 0 negative, 2 unused) and
        ``offsets ndarray[N, 4]`` float32 regression targets to the best-matching plate (0 for negatives).
    """
    labels, offsets, _ = label_boxes_vertices(boxes, gts, None)
    return labels, offsets


def label_boxes_vertices(boxes: np.ndarray, gts: np.ndarray, quads: Optional[np.ndarray]
                         ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`label_boxes` plus vertex targets.

    Args:
        quads: ``ndarray[G, 4, 2]`` corners of the plates (pixels, TL, TR, BR, BL; NaN where unknown),
            or ``None``.

    Returns:
        ``(labels[N], offsets[N, 4], vertices[N, 8])``: vertices are the best-matching plate's corners
        as fractions of each box (:func:`MTCNN.boxes.vertex_targets`), NaN for negatives and where the
        corners are unknown.
    """
    n = len(boxes)
    nan_vertices = np.full((n, 8), np.nan, np.float32)
    if len(gts) == 0:
        return np.zeros(n, dtype=np.int64), np.zeros((n, 4), dtype=np.float32), nan_vertices
    iou = box_iou(boxes[:, :4], gts)
    best = iou.argmax(axis=1)
    top = iou[np.arange(n), best]
    labels = np.full(n, 2, dtype=np.int64)
    labels[top < NEG_IOU] = NEGATIVE
    labels[(top >= PART_IOU) & (top < POS_IOU)] = PART
    labels[top >= POS_IOU] = POSITIVE
    offsets = regression_targets(boxes[:, :4], gts[best])
    offsets[labels == NEGATIVE] = 0
    vertices = nan_vertices
    if quads is not None and n:
        vertices = vertex_targets(boxes[:, :4], np.asarray(quads, np.float32)[best])
        vertices[labels == NEGATIVE] = np.nan
    return labels, offsets.astype(np.float32), vertices


def random_boxes_near(gt: np.ndarray, n: int, rng: np.random.Generator, spread: float) -> np.ndarray:
    """``n`` boxes around plate ``gt`` (x1, y1, x2, y2): size x [0.75, 1.3], centre moved by up to
    ``spread`` of the plate's width / height, aspect ratio changed by up to 20%."""
    w, h = gt[2] - gt[0], gt[3] - gt[1]
    cx, cy = gt[0] + w / 2, gt[1] + h / 2
    s = rng.uniform(0.75, 1.3, n)
    a = rng.uniform(0.8, 1.2, n)
    bw, bh = w * s * np.sqrt(a), h * s / np.sqrt(a)
    ncx = cx + rng.uniform(-spread, spread, n) * w
    ncy = cy + rng.uniform(-spread, spread, n) * h
    return np.stack([ncx - bw / 2, ncy - bh / 2, ncx + bw / 2, ncy + bh / 2], axis=1).astype(np.float32)


def random_boxes(size: Tuple[int, int], n: int, rng: np.random.Generator, aspect: float,
                 min_w: float = 40) -> np.ndarray:
    """``n`` boxes of width/height ``aspect`` (jittered) anywhere inside an image of ``size = (h, w)``."""
    h, w = size
    max_w = max(min_w + 1, min(w, h * aspect) * 0.9)
    bw = np.exp(rng.uniform(np.log(min_w), np.log(max_w), n))
    bh = bw / (aspect * rng.uniform(0.8, 1.25, n))
    x1 = rng.uniform(0, np.maximum(w - bw, 1))
    y1 = rng.uniform(0, np.maximum(h - bh, 1))
    return np.stack([x1, y1, x1 + bw, y1 + bh], axis=1).astype(np.float32)


def sample_image(image: np.ndarray, gts: np.ndarray, rng: np.random.Generator,
                 proposals: Optional[np.ndarray] = None, counts=COUNTS, quads: Optional[np.ndarray] = None,
                 hard_negatives: Optional[np.ndarray] = None):
    """Pick labelled boxes for one image.

    Args:
        gts: ``ndarray[G, 4]`` plate boxes, pixels.
        proposals: PNet proposals ``[P, >=4]`` to label by IoU (ONet's stage-2 samples).
        quads: ``ndarray[G, 4, 2]`` plate corners (NaN where unknown) or ``None``.
        hard_negatives: boxes ``[Q, >=4]`` to add as negatives (the cascade's false boxes).

    Returns:
        ``(boxes[K, 4], labels[K], offsets[K, 4], vertices[K, 8])`` (vertices NaN where unknown).
    """
    aspect = PNET_CELL[1] / PNET_CELL[0]
    chosen: List[Tuple[np.ndarray, ...]] = []

    def take(boxes, want_label, limit):
        labels, offsets, vertices = label_boxes_vertices(boxes, gts, quads)
        idx = np.nonzero(labels == want_label)[0][:limit]
        chosen.append((boxes[idx, :4], labels[idx], offsets[idx], vertices[idx]))

    for gt in gts:
        take(random_boxes_near(gt, 60, rng, 0.12), POSITIVE, counts["pos"])
        take(random_boxes_near(gt, 60, rng, 0.35), PART, counts["part"])
        take(random_boxes_near(gt, 60, rng, 0.9), NEGATIVE, counts["near_neg"])
    take(random_boxes(image.shape[:2], counts["neg"] * 3, rng, aspect), NEGATIVE, counts["neg"])
    if proposals is not None and len(proposals):
        labels, offsets, vertices = label_boxes_vertices(proposals, gts, quads)
        for lab, limit in ((POSITIVE, 20), (PART, 20), (NEGATIVE, 30)):
            idx = np.nonzero(labels == lab)[0]
            idx = rng.permutation(idx)[:limit]
            chosen.append((proposals[idx, :4], labels[idx], offsets[idx], vertices[idx]))
    if hard_negatives is not None and len(hard_negatives):
        take(np.asarray(hard_negatives, np.float32)[:, :4], NEGATIVE, HARD_NEGATIVES_PER_IMAGE)
    if not chosen:
        return (np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros((0, 4), np.float32),
                np.zeros((0, 8), np.float32))
    return tuple(np.concatenate([c[k] for c in chosen]) for k in range(4))


_PNET: Optional[PNet] = None
_ONET: Optional[ONet] = None


def plate_boxes(boxes: Sequence[Tuple[float, float, float, float]], size: Tuple[int, int],
                path: str) -> np.ndarray:
    """Annotated plate boxes clipped to an image of ``size = (h, w)``, as ``ndarray[G, 4]`` float32.

    Raises:
        ValueError: a box lies mostly (more than half its area) outside the image or is empty: the
            annotation does not fit the image, and sampling around it could allocate without bound.
    """
    h, w = size
    out = []
    for b in boxes:
        x1, y1, x2, y2 = (float(v) for v in b)
        area = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
        cx1, cy1, cx2, cy2 = max(x1, 0.0), max(y1, 0.0), min(x2, float(w)), min(y2, float(h))
        inside = max(cx2 - cx1, 0.0) * max(cy2 - cy1, 0.0)
        if area <= 0 or inside < 0.5 * area:
            raise ValueError(f"{path}: plate box {tuple(b)} does not fit the {w}x{h} (width x height) image")
        out.append((cx1, cy1, cx2, cy2))
    return np.asarray(out, np.float32).reshape(-1, 4)


def _job(item, net: str, out_dir: str, seed: int, pnet_weights: Optional[str],
         onet_weights: Optional[str]) -> Tuple[List[Entry], Optional[str], int]:
    global _PNET, _ONET
    index, path, boxes, quads, complete = item
    try:
        image = imread(path)
        gts = plate_boxes(boxes, image.shape[:2], path)
    except (ImageReadError, FileNotFoundError, ValueError) as e:
        return [], str(e), 0
    rng = np.random.default_rng([seed, index])
    proposals = hard = None
    if net == "onet" and pnet_weights:
        if _PNET is None:
            torch.set_num_threads(1)
            _PNET = load_weights(PNet(), pnet_weights, "PNet").eval()
        with torch.inference_mode():
            proposals = run_pnet(_PNET, image, MINING_CONFIG, torch.device("cpu"))
            if onet_weights and complete and len(proposals):
                if _ONET is None:
                    _ONET = load_onet(onet_weights)
                found, _ = run_onet(_ONET, image, proposals, MINING_CONFIG, torch.device("cpu"),
                                    threshold=HARD_NEGATIVE_SCORE)
                if len(found):
                    top = box_iou(found[:, :4], gts).max(axis=1) if len(gts) else np.zeros(len(found))
                    hard = found[top < NEG_IOU]
    boxes, labels, offsets, vertices = sample_image(image, gts, rng, proposals, quads=quads, hard_negatives=hard)
    crops = crop_boxes(image, boxes, CROP_SIZE[net])  # stored BGR, like every image file
    entries = []
    for k, (crop, lab, off, ver) in enumerate(zip(crops, labels, offsets, vertices)):
        rel = f"{index:06d}_{k:03d}.png"
        imwrite(os.path.join(out_dir, rel), crop)
        entries.append((rel, int(lab), tuple(float(v) for v in off),
                        None if np.isnan(ver).any() else tuple(float(v) for v in ver)))
    return entries, None, 0 if hard is None else min(len(hard), HARD_NEGATIVES_PER_IMAGE)


#: VNet samples: a region of this size (height, width) around each plate, its quad's bounds grown by
#: ``VNET_REGION_PAD`` (fractions of width, height, each side): room for the corner noise of MTCNN.dataset.
VNET_REGION_SIZE: Tuple[int, int] = (96, 256)
VNET_REGION_PAD: Tuple[float, float] = (0.3, 0.6)


def plate_region(image: np.ndarray, quad: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Cut the region of :data:`VNET_REGION_SIZE` around one plate (each side that shrinks is
    area-averaged, each that grows interpolated linearly; parts outside the image black).

    Args:
        image: ``ndarray[H, W, 3]`` uint8, BGR.
        quad: ``ndarray[4, 2]`` the plate's corners (TL, TR, BR, BL; x, y pixels).

    Returns:
        ``(region, quad)``: ``ndarray[96, 256, 3]`` uint8 and the corners in region pixels
        ``ndarray[4, 2]`` float32.
    """
    quad = np.asarray(quad, np.float64)
    (rh, rw), (px, py) = VNET_REGION_SIZE, VNET_REGION_PAD
    lo, hi = quad.min(axis=0), quad.max(axis=0)
    bw, bh = max(hi[0] - lo[0], 1.0), max(hi[1] - lo[1], 1.0)
    x1, y1 = int(np.floor(lo[0] - px * bw)), int(np.floor(lo[1] - py * bh))
    x2, y2 = int(np.ceil(hi[0] + px * bw)), int(np.ceil(hi[1] + py * bh))
    patch = crop_boxes(image, np.float32([[x1, y1, x2, y2]]), (y2 - y1, x2 - x1))[0]
    # OpenCV's INTER_AREA averages only when both sides shrink (else it interpolates): shrink the
    # sides that shrink by area averaging first, then enlarge the others linearly
    mid = (min(x2 - x1, rw), min(y2 - y1, rh))
    region = patch if mid == (x2 - x1, y2 - y1) else cv2.resize(patch, mid, interpolation=cv2.INTER_AREA)
    if mid != (rw, rh):
        region = cv2.resize(region, (rw, rh), interpolation=cv2.INTER_LINEAR)
    sx, sy = rw / (x2 - x1), rh / (y2 - y1)
    inside = np.stack([(quad[:, 0] - x1 + 0.5) * sx - 0.5, (quad[:, 1] - y1 + 0.5) * sy - 0.5], axis=1)
    return region, inside.astype(np.float32)


def _vnet_job(item) -> Tuple[List[Tuple[np.ndarray, np.ndarray]], Optional[str]]:
    index, path, boxes, quads, complete = item
    try:
        image = imread(path)
    except (ImageReadError, FileNotFoundError) as e:
        return [], str(e)
    return [plate_region(image, q) for q in quads if not np.isnan(q).any()], None


def prepare_vnet(sources: List[str], out: str, name: str, workers: int = 1) -> int:
    """Write ``OUT/NAME.npz`` for VNet: ``regions`` ``uint8[N, 96, 256, 3]`` (BGR) around every plate
    with known corners under ``sources`` and their corners ``quads`` ``float32[N, 4, 2]`` (region
    pixels, TL, TR, BR, BL); written atomically; returns N."""
    images, failures = images_with_boxes(sources)
    items = [(i, p, b, q, c) for i, (p, b, q, c) in enumerate(images)]
    regions, quads = [], []
    for got, err in imap_progress(_vnet_job, items, workers, "vnet regions", chunksize=4):
        for r, q in got:
            regions.append(r)
            quads.append(q)
        if err:
            failures.append(err)
    for f in failures[:10]:
        log.warning("skipped %s", f)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{name}.npz")
    with atomic_write(path, "wb") as fh:
        np.savez(fh, regions=np.asarray(regions, np.uint8).reshape(-1, *VNET_REGION_SIZE, 3),
                 quads=np.asarray(quads, np.float32).reshape(-1, 4, 2))
    log.info("wrote %d plate regions with corners to %s; %d images skipped", len(regions), path, len(failures))
    return len(regions)


def format_entry(entry: Entry) -> str:
    """One list line (no newline): ``path label dx1 dy1 dx2 dy2 [vx1 vy1 ... vx4 vy4]``."""
    rel, lab, off, ver = entry
    fields = list(off) + (list(ver) if ver is not None else [])
    return f"{rel} {lab} " + " ".join(f"{v:.5f}" for v in fields)


def write_list(path: str, entries: List[Entry]) -> None:
    """Write a sample list atomically (lines of :func:`format_entry`)."""
    with atomic_write(path, "w") as fh:
        for entry in entries:
            fh.write(format_entry(entry) + "\n")


def read_list(path: str) -> List[Tuple[str, int, Tuple[float, ...], Optional[Tuple[float, ...]]]]:
    """Read a list written by :func:`write_list`; paths come back absolute.

    Returns:
        ``[(path, label, offsets (4 floats), vertices (8 floats) or None)]``.

    Raises:
        ValueError: a malformed line (the message names file and line).
    """
    base = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.split()
            if len(parts) not in (6, 14):
                raise ValueError(f"{path}:{n}: expected 'path label dx1 dy1 dx2 dy2 [vx1 vy1 ... vx4 vy4]'")
            try:
                values = [float(v) for v in parts[2:]]
                label = int(parts[1])
            except ValueError:
                raise ValueError(f"{path}:{n}: label and offsets must be numbers") from None
            out.append((os.path.join(base, parts[0]), label, tuple(values[:4]),
                        tuple(values[4:]) if len(values) == 12 else None))
    return out


def images_with_boxes(sources: Sequence[str]) -> Tuple[List[Tuple[str, Tuple, np.ndarray, bool]], List[str]]:
    """Every image of ``sources`` (any format of :mod:`ccpd.sources`) whose plates have boxes.

    Returns:
        ``[(image path, plate boxes, corners ndarray[G, 4, 2] (NaN where unknown), complete)]`` with
        all plates of an image together (``complete``: every plate of the image is annotated, see
        :data:`COMPLETE_SOURCES`), and the skipped entries with reasons.
    """
    scan = read_sources(sources)
    by_path: dict = {}
    for s in scan.samples:
        if s.bbox is None:
            continue
        boxes, quads, complete = by_path.setdefault(s.path, ([], [], [True]))
        boxes.append(s.bbox)
        quads.append(s.vertices if s.vertices is not None else [[np.nan, np.nan]] * 4)
        for b in s.other_boxes:
            boxes.append(b)
            quads.append([[np.nan, np.nan]] * 4)
        complete[0] = complete[0] and s.source in COMPLETE_SOURCES
    skipped = [f"{p}: {why}" for p, why in scan.skipped]
    skipped += [f"{s.path}: no plate box" for s in scan.samples if s.bbox is None]
    return [(p, tuple(b), np.asarray(q, np.float32).reshape(-1, 4, 2), c[0]) for p, (b, q, c) in by_path.items()], skipped


def prepare(net: str, sources: List[str], out: str, name: str, workers: int = 1, seed: int = 0,
            pnet_weights: Optional[str] = None, onet_weights: Optional[str] = None, resume: bool = False) -> int:
    """Write samples for ``net`` from every image with plate boxes under ``sources`` (CCPD folders,
    ``labels.tsv`` + ``boxes.tsv`` folders, ``python -m platesynth scenes`` output); returns how many.

    Each image's samples are journaled as they are written (``OUT/NAME.journal``, see
    :class:`lprcore.files.Journal`), so memory stays bounded and ``resume`` continues a run that
    was killed, skipping the images already done; the list is written last, atomically, and is the
    same as an uninterrupted run's (each image's samples are seeded by its index).
    """
    image_dir = os.path.join(out, name)
    os.makedirs(image_dir, exist_ok=True)
    images, failures = images_with_boxes(sources)
    with Journal(os.path.join(out, f"{name}.journal"), resume,
                 fingerprint(net, seed, pnet_weights, onet_weights, [(p, b) for p, b, _, _ in images])) as journal:
        if journal.done:
            log.info("resuming: %d of %d images already done", len(journal.done), len(images))
        job = partial(_job, net=net, out_dir=image_dir, seed=seed, pnet_weights=pnet_weights,
                      onet_weights=onet_weights)
        hard = 0
        counts = {POSITIVE: 0, PART: 0, NEGATIVE: 0, "corners": 0}
        items = [(i, p, b, q, c) for i, (p, b, q, c) in enumerate(images) if i not in journal.done]
        for item, (got, err, n_hard) in zip(items, imap_progress(job, items, workers, f"{net} samples", chunksize=4)):
            entries = [(os.path.join(name, rel), lab, off, ver) for rel, lab, off, ver in got]
            journal.add(item[0], [format_entry(e) for e in entries])
            hard += n_hard
            for e in entries:
                counts[e[1]] += 1
                counts["corners"] += e[3] is not None
            if err:
                failures.append(err)
        for f in failures[:10]:
            log.warning("skipped %s", f)
        n = journal.write_list(os.path.join(out, f"{name}.txt"))
        journal.remove()
    log.info("wrote %d samples (this run: positive %d, part %d, negative %d of which %d hard, with corners %d) "
             "to %s; %d images skipped", n, counts[POSITIVE], counts[PART], counts[NEGATIVE], hard,
             counts["corners"], os.path.join(out, f"{name}.txt"), len(failures))
    return n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m MTCNN.prepare", description=__doc__.split("\n\n")[0])
    p.add_argument("--net", choices=("pnet", "onet", "vnet"), required=True,
                   help="vnet: one region per plate with known corners, in OUT/NAME.npz")
    p.add_argument("--ccpd", nargs="*", default=[], help="folders of CCPD-named images (recursive)")
    p.add_argument("--source", nargs="*", default=[],
                   help="folders in any annotation format with plate boxes (labels.tsv + boxes.tsv as in "
                        "../shared/data/scenes_train, python -m platesynth scenes output, CCPD names)")
    p.add_argument("--out", required=True, help="output folder (never inside a source folder)")
    p.add_argument("--name", default="train",
                   help="writes OUT/NAME.txt and OUT/NAME/ (vnet: OUT/NAME.npz) (default: train)")
    p.add_argument("--pnet-weights", help="onet only: trained PNet weights for hard-sample mining")
    p.add_argument("--onet-weights", help="onet only, with --pnet-weights: trained ONet weights to mine the "
                                          "cascade's false boxes as hard negatives")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run (OUT/NAME.journal): images already done are skipped")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if not args.ccpd and not args.source:
        p.error("give at least one --ccpd or --source folder")
    for d in args.ccpd + args.source:
        if not os.path.isdir(d):
            p.error(f"{d}: not a folder")
        if os.path.abspath(args.out).startswith(os.path.abspath(d) + os.sep):
            p.error(f"--out {args.out} lies inside the source folder {d}")
    if args.pnet_weights and not os.path.isfile(args.pnet_weights):
        p.error(f"--pnet-weights {args.pnet_weights}: no such file")
    if args.onet_weights and not (args.net == "onet" and args.pnet_weights):
        p.error("--onet-weights needs --net onet and --pnet-weights")
    if args.onet_weights and not os.path.isfile(args.onet_weights):
        p.error(f"--onet-weights {args.onet_weights}: no such file")
    if args.net == "vnet":
        if args.pnet_weights or args.onet_weights or args.resume:
            p.error("--pnet-weights, --onet-weights and --resume are for --net pnet / onet")
        return 0 if prepare_vnet(args.ccpd + args.source, args.out, args.name, args.workers) else 1
    if args.net == "onet" and not args.pnet_weights:
        log.warning("no --pnet-weights: ONet samples without PNet hard-sample mining")
    n = prepare(args.net, args.ccpd + args.source, args.out, args.name, args.workers, args.seed,
                args.pnet_weights, args.onet_weights, args.resume)
    return 0 if n else 1


if __name__ == "__main__":
    raise SystemExit(main())
