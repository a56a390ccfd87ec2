"""Vectorised box operations for the detector (NumPy), in the style of ``torchvision.ops.boxes``.

Boxes are ``ndarray[N, 4]`` (or ``[N, 5]`` with a score last) of float ``(x1, y1, x2, y2)`` in pixels,
``0 <= x1 <= x2`` and ``0 <= y1 <= y2``; width is ``x2 - x1`` (continuous coordinates, no +1).
"""
from __future__ import annotations

from typing import Literal, Optional, Tuple

import numpy as np

NmsMode = Literal["union", "min"]


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas ``ndarray[N]`` of ``boxes[N, >=4]``; degenerate boxes have area 0."""
    w = np.maximum(boxes[:, 2] - boxes[:, 0], 0)
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    return w * h


def _overlap(a: np.ndarray, b: np.ndarray, mode: NmsMode, area_a: np.ndarray | None = None,
             area_b: np.ndarray | None = None) -> np.ndarray:
    """Overlaps ``[N, M]`` of float64 ``a[N, >=4]`` and ``b[M, >=4]``; ``area_a`` / ``area_b``:
    their :func:`box_area` when the caller has them already."""
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.maximum(ix2 - ix1, 0) * np.maximum(iy2 - iy1, 0)
    area_a = (box_area(a) if area_a is None else area_a)[:, None]
    area_b = (box_area(b) if area_b is None else area_b)[None, :]
    if mode == "union":
        denom = area_a + area_b - inter
    elif mode == "min":
        denom = np.minimum(area_a, area_b)
    else:
        raise ValueError(f"mode must be 'union' or 'min', got {mode!r}")
    return np.divide(inter, denom, out=np.zeros_like(inter), where=denom > 0)


def box_iou(a: np.ndarray, b: np.ndarray, mode: NmsMode = "union") -> np.ndarray:
    """Pairwise overlap ``ndarray[N, M]`` of ``a[N, >=4]`` and ``b[M, >=4]``.

    Args:
        mode: ``"union"``: intersection over union (IoU); ``"min"``: intersection over the smaller
            area (MTCNN's final-stage NMS, arXiv:1604.02878 code).

    Raises:
        ValueError: unknown ``mode``.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, np.shape(a)[-1] if np.ndim(a) else 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, np.shape(b)[-1] if np.ndim(b) else 4)
    return _overlap(a, b, mode)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, mode: NmsMode = "union") -> np.ndarray:
    """Greedy non-maximum suppression.

    Visits boxes by decreasing score (ties: lower index first) and drops every later box whose
    overlap with a kept box is **greater than** ``iou_threshold`` (a box exactly at the threshold is
    kept, as in ``torchvision.ops.nms``).

    Args:
        boxes: ``ndarray[N, >=4]`` pixels.
        scores: ``ndarray[N]``.
        iou_threshold: in [0, 1].
        mode: ``"union"`` (IoU) or ``"min"``, see :func:`box_iou`.

    Returns:
        ``ndarray[K]`` int64 indices of the kept boxes, by decreasing score.

    Raises:
        ValueError: unknown ``mode``.
    """
    if mode not in ("union", "min"):
        raise ValueError(f"mode must be 'union' or 'min', got {mode!r}")
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    area = box_area(boxes)  # taken once: the detector runs this on up to DetectorConfig.pnet_pre_nms boxes
    order = np.argsort(-scores, kind="stable")
    keep = []
    while len(order):  # one row of overlaps at a time: memory O(N), not O(N^2)
        i = order[0]
        keep.append(i)
        rest = order[1:]
        overlap = _overlap(boxes[i:i + 1], boxes[rest], mode, area[i:i + 1], area[rest])[0]
        order = rest[overlap <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def calibrate_boxes(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply bbox regression: ``x1 + dx1 * w, y1 + dy1 * h, x2 + dx2 * w, y2 + dy2 * h``.

    Args:
        boxes: ``ndarray[N, 4]`` or ``[N, 5]`` (score kept as is).
        offsets: ``ndarray[N, 4]`` (dx1, dy1, dx2, dy2), fractions of the box width/height.

    Returns:
        New boxes, same shape as ``boxes``.
    """
    out = np.array(boxes, dtype=np.float32, copy=True)
    w = (out[:, 2] - out[:, 0])[:, None]
    h = (out[:, 3] - out[:, 1])[:, None]
    scale = np.concatenate([w, h, w, h], axis=1)
    out[:, :4] += offsets[:, :4] * scale
    return out


def regression_targets(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Inverse of :func:`calibrate_boxes`: offsets that move ``boxes[N, 4]`` onto ``gt[N, 4]``."""
    boxes = np.asarray(boxes, dtype=np.float32)
    gt = np.asarray(gt, dtype=np.float32)
    w = np.maximum(boxes[:, 2] - boxes[:, 0], 1e-6)
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-6)
    return np.stack([(gt[:, 0] - boxes[:, 0]) / w, (gt[:, 1] - boxes[:, 1]) / h,
                     (gt[:, 2] - boxes[:, 2]) / w, (gt[:, 3] - boxes[:, 3]) / h], axis=1)


def clip_boxes(boxes: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Clip boxes to an image of ``size = (height, width)`` pixels: ``0 <= x <= W``, ``0 <= y <= H``."""
    out = np.array(boxes, dtype=np.float32, copy=True)
    h, w = size
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, w)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, h)
    return out


def remove_small_boxes(boxes: np.ndarray, min_size: float) -> np.ndarray:
    """Indices ``ndarray[K]`` of boxes whose width and height are both >= ``min_size`` pixels."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    return np.nonzero((w >= min_size) & (h >= min_size))[0]


def vertex_targets(boxes: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Plate corners as fractions of boxes: the targets of ONet's vertex branch.

    Args:
        boxes: ``ndarray[N, >=4]`` (x1, y1, x2, y2) pixels.
        quads: ``ndarray[N, 4, 2]`` corners (x, y) pixels, TL, TR, BR, BL.

    Returns:
        ``ndarray[N, 8]`` float32: ``(x - x1) / w, (y - y1) / h`` per corner, TL first (0 = the box's
        left / top edge, 1 = its right / bottom edge; outside [0, 1] when a corner lies outside).
    """
    boxes = np.asarray(boxes, np.float32)
    quads = np.asarray(quads, np.float32).reshape(-1, 4, 2)
    w = np.maximum(boxes[:, 2] - boxes[:, 0], 1e-6)[:, None]
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-6)[:, None]
    xs = (quads[:, :, 0] - boxes[:, :1]) / w
    ys = (quads[:, :, 1] - boxes[:, 1:2]) / h
    return np.stack([xs, ys], axis=2).reshape(-1, 8).astype(np.float32)


def vertices_to_corners(boxes: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Inverse of :func:`vertex_targets`: ``ndarray[N, 8]`` fractions of ``boxes[N, >=4]`` ->
    corners ``ndarray[N, 4, 2]`` float32 pixels (TL, TR, BR, BL)."""
    boxes = np.asarray(boxes, np.float32)
    v = np.asarray(vertices, np.float32).reshape(-1, 4, 2)
    w = (boxes[:, 2] - boxes[:, 0])[:, None]
    h = (boxes[:, 3] - boxes[:, 1])[:, None]
    return np.stack([boxes[:, :1] + v[:, :, 0] * w, boxes[:, 1:2] + v[:, :, 1] * h], axis=2).astype(np.float32)


def quad_size(quads: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Width and height of plate quadrilaterals: the mean length of the top and bottom edges, and of
    the left and right edges.

    Args:
        quads: ``ndarray[N, 4, 2]`` (or ``[4, 2]``) corners, pixels, TL, TR, BR, BL.

    Returns:
        ``(widths, heights)``: ``ndarray[N]`` float64 each, pixels.
    """
    q = np.asarray(quads, np.float64).reshape(-1, 4, 2)
    width = (np.linalg.norm(q[:, 1] - q[:, 0], axis=1) + np.linalg.norm(q[:, 2] - q[:, 3], axis=1)) / 2
    height = (np.linalg.norm(q[:, 3] - q[:, 0], axis=1) + np.linalg.norm(q[:, 2] - q[:, 1], axis=1)) / 2
    return width, height


def plausible_corners(corners: np.ndarray, boxes: Optional[np.ndarray], min_iou: float = 0.5) -> np.ndarray:
    """Which predicted plate quadrilaterals can be trusted to cut the plate.

    A quadrilateral is plausible when it is convex with its corners in clockwise order from the
    top-left (image coordinates, y down), and its bounding box overlaps the detection box with IoU
    >= ``min_iou``. Otherwise a caller falls back to the box. Corners that are not finite are never
    plausible.

    Args:
        corners: ``ndarray[N, 4, 2]`` pixels, TL, TR, BR, BL.
        boxes: ``ndarray[N, >=4]`` pixels, or ``None`` to check only the shape and order.

    Returns:
        ``ndarray[N]`` bool.
    """
    q = np.asarray(corners, np.float64).reshape(-1, 4, 2)
    if len(q) == 0:
        return np.zeros(0, bool)
    with np.errstate(invalid="ignore"):  # NaN or infinite corners: comparisons below are False
        edges = np.roll(q, -1, axis=1) - q
        nxt = np.roll(edges, -1, axis=1)
        cross = edges[:, :, 0] * nxt[:, :, 1] - edges[:, :, 1] * nxt[:, :, 0]
    convex_cw = (cross > 0).all(axis=1)  # clockwise on screen (y down) = positive cross products; False for NaN
    ordered = (q[:, 1, 0] > q[:, 0, 0]) & (q[:, 2, 0] > q[:, 3, 0]) & (q[:, 3, 1] > q[:, 0, 1]) & (q[:, 2, 1] > q[:, 1, 1])
    if boxes is None:
        return convex_cw & ordered
    hull = np.concatenate([q.min(axis=1), q.max(axis=1)], axis=1)
    b = np.asarray(boxes, np.float64)[:, :4]
    overlap = np.diag(box_iou(hull, b)) if len(b) else np.zeros(0)
    return convex_cw & ordered & (overlap >= min_iou)
