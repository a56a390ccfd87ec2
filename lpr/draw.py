"""Draw detected plates on an image: boxes with the plate text (Chinese characters need a CJK font,
which ``cv2.putText`` cannot render, so the text is drawn with Pillow)."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw

from lprcore.fonts import load_font


def draw_plates(image: np.ndarray, plates: Sequence, color=(0, 255, 0)) -> np.ndarray:
    """Return a copy of ``image`` with each plate's box, corners (when known) and ``text``
    (confidence) drawn.

    Args:
        image: ``ndarray[H, W, 3]`` uint8, BGR.
        plates: objects with ``box`` (x1, y1, x2, y2 pixels), ``text`` and ``confidence``, and
            optionally ``corners`` (4 (x, y) pixels, drawn as a closed polygon; :class:`lpr.pipeline.Plate`).
        color: BGR colour of boxes and labels.

    Returns:
        Annotated ``ndarray[H, W, 3]`` uint8, BGR.
    """
    out = image.copy()
    thick = max(1, round(min(image.shape[:2]) / 300))
    for p in plates:
        x1, y1, x2, y2 = (int(round(v)) for v in p.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thick)
        corners = getattr(p, "corners", None)
        if corners is not None:
            poly = np.round(np.asarray(corners, np.float32)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(out, [poly], True, (0, 0, 255), thick)
    if not plates:
        return out
    pil = Image.fromarray(cv2.cvtColor(out, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(pil)
    size = max(12, min(image.shape[:2]) // 30)
    font = load_font(size)
    rgb = tuple(int(c) for c in color[::-1])
    for p in plates:
        x1, y1 = int(round(p.box[0])), int(round(p.box[1]))
        label = f"{p.text} {p.confidence:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        ty = y1 - (bottom - top) - 6 if y1 - (bottom - top) - 6 >= 0 else int(round(p.box[3])) + 2
        draw.rectangle([x1, ty, x1 + right - left + 6, ty + bottom - top + 6], fill=rgb)
        draw.text((x1 + 3 - left, ty + 3 - top), label, font=font, fill=(0, 0, 0))
    return cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR)
