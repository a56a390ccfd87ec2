"""Cutting plates out of images for STN + LPRNet: the one home of how a recognizer crop is made.

Every crop the recognizer sees, in training (:mod:`LPRNet.dataset`), evaluation and the pipeline,
is a perspective warp of a quadrilateral of a BGR image onto the ``INPUT_SIZE`` (24 x 94) grid with
the quadrilateral's corners on the crop's outer corners. Cutting the same plate another way (for
example ``cv2.resize`` of a box, whose half-pixel convention shifts the crop by about 2 pixels) cost 3
points of exact-match accuracy on real CCPD crops.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import cv2
import numpy as np

from LPRNet.inputs import INPUT_SIZE


def warp_to_input(image: np.ndarray, quad: np.ndarray, size: Tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """Warp a quadrilateral of an image onto a recognizer crop, bilinear.

    Args:
        image: ``ndarray[H, W, 3]`` uint8, BGR.
        quad: ``[4, 2]`` float corners (x, y) in pixels, clockwise from the top-left (TL, TR, BR, BL);
            parts outside the image repeat the edge pixels.
        size: (height, width) of the crop (default: the recognizer's input, 24 x 94).

    Returns:
        ``ndarray[size[0], size[1], 3]`` uint8, BGR.
    """
    h, w = size
    dst = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    m = cv2.getPerspectiveTransform(np.asarray(quad, np.float32), dst)
    return cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


#: Double-row plates (GA 36-2018, 220 x 440 mm) are read as one line: the top row (province + letter)
#: then the bottom row, each cut from these parts of the plate (x1, y1, x2, y2 as fractions of the
#: plate's width and height) and set side by side on the 24 x 94 input.
DOUBLE_ROW_PARTS = ((95 / 440, 8 / 220, 345 / 440, 82 / 220), (15 / 440, 84 / 220, 425 / 440, 212 / 220))


def sub_quad(quad: np.ndarray, part) -> np.ndarray:
    """Corners (TL, TR, BR, BL) of the part ``(u1, v1, u2, v2)`` (fractions of the plate) of a plate
    quadrilateral, through the plate's homography (exact under perspective)."""
    h = cv2.getPerspectiveTransform(np.float32([[0, 0], [1, 0], [1, 1], [0, 1]]), np.asarray(quad, np.float32))
    u1, v1, u2, v2 = part
    pts = np.float32([[[u1, v1], [u2, v1], [u2, v2], [u1, v2]]])
    return cv2.perspectiveTransform(pts, h)[0]


def warp_double_row(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Recognizer crop of a double-row plate: its top row then its bottom row, side by side.

    Args:
        image: ``ndarray[H, W, 3]`` uint8, BGR.
        quad: the whole plate's corners ``[4, 2]`` (TL, TR, BR, BL), pixels.

    Returns:
        ``ndarray[24, 94, 3]`` uint8, BGR: the top row in the left part (width in proportion to its
        aspect), the bottom row in the rest.
    """
    h, w = INPUT_SIZE
    aspects = [(p[2] - p[0]) * 2.0 / (p[3] - p[1]) for p in DOUBLE_ROW_PARTS]  # plate is 2:1
    left = int(round(w * aspects[0] / sum(aspects)))
    out = []
    for part, width in zip(DOUBLE_ROW_PARTS, (left, w - left)):
        dst = np.float32([[0, 0], [width, 0], [width, h], [0, h]])
        m = cv2.getPerspectiveTransform(sub_quad(quad, part), dst)
        out.append(cv2.warpPerspective(image, m, (width, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return np.concatenate(out, axis=1)


#: Margin (fractions of the plate's width, height; each side) around the detector's corners before a cut:
#: a character cut off at an edge is lost, a little context is not. Measured: docs/tuning.md#corner_margin
CORNER_MARGIN = (0.03, 0.08)


def expand_quad(quad: np.ndarray, margin: Tuple[float, float] = CORNER_MARGIN) -> np.ndarray:
    """A plate quadrilateral grown outwards along its own edges.

    Args:
        quad: ``[4, 2]`` corners (x, y) pixels, TL, TR, BR, BL.
        margin: (horizontal, vertical) growth on each side, as fractions of the plate's width (top
            edge) and height (left edge).

    Returns:
        ``ndarray[4, 2]`` float32, TL, TR, BR, BL.
    """
    q = np.asarray(quad, np.float32).reshape(4, 2)
    along = q[1] - q[0]                      # top edge: the plate's horizontal direction
    down = q[3] - q[0]                       # left edge: its vertical direction
    sx = np.float32([-1, 1, 1, -1])[:, None]
    sy = np.float32([-1, -1, 1, 1])[:, None]
    return (q + sx * along * margin[0] + sy * down * margin[1]).astype(np.float32)


#: (x, y) factors of the second look's extra cuts (:func:`scale_quad`; they vote on the text): a cut a
#: little too large or small drops or adds an edge character. Measured: docs/tuning.md#second_look_scales
SECOND_LOOK_SCALES = ((0.92, 0.9), (1.06, 1.1), (0.96, 1.0), (1.0, 0.85))

#: Second look, which plates: those read invalidly or with a confidence below this (1: every plate; 0: only
#: invalid reads), since a confident valid read rarely changes. Measured: docs/tuning.md#second_look_below
SECOND_LOOK_BELOW = 0.98


def scale_quad(quad: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """A quadrilateral scaled about its centre (the mean of its corners) by ``sx`` along the image's x
    axis and ``sy`` along its y axis.

    Args:
        quad: ``[4, 2]`` corners (x, y) pixels, TL, TR, BR, BL.
        sx, sy: scale factors, > 0.

    Returns:
        ``ndarray[4, 2]`` float32, TL, TR, BR, BL.

    Raises:
        ValueError: a factor is not positive.
    """
    if not (sx > 0 and sy > 0):
        raise ValueError(f"scale factors must be positive, got ({sx}, {sy})")
    q = np.asarray(quad, np.float32).reshape(4, 2)
    c = q.mean(0)
    return (c + (q - c) * np.float32([sx, sy])).astype(np.float32)


def box_to_quad(box) -> np.ndarray:
    """Corners ``[4, 2]`` float32 (TL, TR, BR, BL) of a box (x1, y1, x2, y2) pixels, at least 1 pixel wide and high."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    return np.float32([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])


def crop_plates(image: np.ndarray, boxes: np.ndarray, layouts: Sequence[str] | None = None) -> List[np.ndarray]:
    """Recognizer crops of the boxes of an image: :func:`crop_quads` of each box's corners.

    Args:
        image: ``ndarray[H, W, 3]`` uint8, BGR.
        boxes: ``ndarray[N, >=4]`` (x1, y1, x2, y2) pixels; parts outside the image repeat the edge.
        layouts: ``"single"`` / ``"double"`` per box (default: all single).

    Returns:
        ``N`` crops ``ndarray[24, 94, 3]`` uint8, BGR.
    """
    boxes = np.asarray(boxes, np.float32)
    return crop_quads(image, [box_to_quad(b) for b in boxes], layouts)


def crop_quads(image: np.ndarray, quads: Sequence[np.ndarray], layouts: Sequence[str] | None = None) -> List[np.ndarray]:
    """Recognizer crops of plate quadrilaterals of an image (a perspective warp of each).

    Args:
        image: ``ndarray[H, W, 3]`` uint8, BGR.
        quads: ``N`` corner arrays ``[4, 2]`` (x, y pixels, TL, TR, BR, BL); parts outside the image
            repeat the edge.
        layouts: ``"single"`` / ``"double"`` per plate (default: all single); double-row plates are cut
            with :func:`warp_double_row`.

    Returns:
        ``N`` crops ``ndarray[24, 94, 3]`` uint8, BGR.
    """
    layouts = layouts if layouts is not None else ["single"] * len(quads)
    return [(warp_double_row if lay == "double" else warp_to_input)(image, np.asarray(q, np.float32))
            for q, lay in zip(quads, layouts)]


def resize_crop(crop: np.ndarray) -> np.ndarray:
    """Fit a whole plate crop ``ndarray[h, w, 3]`` uint8 BGR to ``ndarray[24, 94, 3]`` with
    :func:`warp_to_input` (the sampling of the training crops); a crop of that size is returned as is.

    Raises:
        ValueError: the crop is empty or not ``[h, w, 3]``.
    """
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] == 0 or crop.shape[1] == 0:
        raise ValueError(f"expected a non-empty [h, w, 3] BGR plate crop, got shape {crop.shape}")
    h, w = crop.shape[:2]
    if (h, w) == INPUT_SIZE:
        return crop
    return warp_to_input(crop, np.float32([[0, 0], [w, 0], [w, h], [0, h]]))
