"""Synthetic CCPD: scenes with one blue or green plate, saved under CCPD names.

Each plate is drawn by :func:`platesynth.render.render_plate` (blue, small green new-energy, or
large yellow-green new-energy plate), warped into a random-texture scene on a car-like body by
:func:`platesynth.camera.perspective_quad`, and the scene goes through fog and rain
(:func:`platesynth.camera.weather`) and the camera (:func:`platesynth.camera.camera`). The image is
written under a CCPD name whose bbox and 4 vertices are where the plate really is, so the rest of the
toolkit reads it like real CCPD (no ``labels.tsv``: the name is the label). Example::

    python -m platesynth ccpd --out data/synth --count 2000 --green-ratio 0.2 --seed 0
"""
from __future__ import annotations

import os
from functools import partial
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ccpd.annotations import CCPDRecord, format_name
from ccpd.plates import PLATE_TYPES, random_text
from lprcore.imageio import imwrite
from lprcore.parallel import imap_progress
from platesynth.camera import camera, perspective_quad, weather
from platesynth.generate import RENDER_SCALE, SCENE_SIZE, choose_type, paste, random_scene
from platesynth.render import load_glyphs, render_plate

#: Plate types of green plates (CCPD2020's 8 characters), with their shares: small cars and large ones.
GREEN_TYPES = {"green_small": 0.7, "green_large": 0.3}


def place_quad(size: Tuple[int, int], plate_w: float, aspect: float, rng: np.random.Generator) -> np.ndarray:
    """4 corners (TL, TR, BR, BL) of a plate ``plate_w`` pixels wide and ``aspect`` = width / height,
    seen by a camera (rotation up to 22 degrees, yaw, pitch, shear), inside a scene of ``size = (h, w)``
    and in its lower 70 % where it fits."""
    h, w = size
    quad = perspective_quad(plate_w, plate_w / aspect, rng, max_rotate_deg=22.0)
    span = quad.max(0) - quad.min(0)
    margin = 4
    cx = rng.uniform(span[0] / 2 + margin, max(span[0] / 2 + margin + 1, w - span[0] / 2 - margin))
    cy = rng.uniform(max(span[1] / 2 + margin, h * 0.3), max(span[1] / 2 + margin + 1, h - span[1] / 2 - margin))
    return quad + np.float32([cx, cy])


def synth_image(index: int, seed: int = 0, green_ratio: float = 0.2, size: Tuple[int, int] = SCENE_SIZE,
                province_weights: Optional[Sequence[float]] = None,
                assets: Optional[str] = None) -> Tuple[np.ndarray, CCPDRecord]:
    """Make synthetic CCPD image number ``index`` (deterministic in ``seed`` and ``index``).

    Args:
        green_ratio: share of green 8-character plates (the others are blue).
        size: scene (height, width) in pixels.
        province_weights: 31 weights in :data:`ccpd.plates.PROVINCES` order (default: uniform).
        assets: glyph/template folder (default: :func:`platesynth.render.load_glyphs`'s).

    Returns:
        ``(image ndarray[h, w, 3] uint8 BGR, record)``; the record's bbox and vertices are where the
        plate was drawn (vertices in CCPD order: BR, BL, TL, TR).
    """
    rng = np.random.default_rng([seed, index])
    h, w = size
    kind = choose_type(rng, GREEN_TYPES) if rng.random() < green_ratio else "blue"
    plate_type = PLATE_TYPES[kind]
    text = random_text(plate_type, rng, province_weights)
    plate_w = float(np.exp(rng.uniform(np.log(max(30, w * 0.08)), np.log(w * 0.55))))
    # rendered at least as wide as it will be seen (in steps of 0.05 px/mm, which the glyph caches reuse)
    scale = min(1.0, max(RENDER_SCALE, np.ceil(plate_w / plate_type.size_mm[1] * 20) / 20))
    plate = render_plate(text, kind, rng, scale, load_glyphs(assets))
    ph, pw = plate.shape[:2]
    quad = place_quad(size, plate_w, pw / ph, rng)
    scene = random_scene(size, rng)
    # a car-like body around the plate
    body = np.int32([quad.min(0) - [plate_w * 1.5, plate_w * 0.8], quad.max(0) + [plate_w * 1.5, plate_w * 0.5]])
    cv2.rectangle(scene, tuple(int(v) for v in body[0]), tuple(int(v) for v in body[1]),
                  tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
    scene = paste(scene, plate, quad, feather=rng.uniform(0.5, 1.2))
    image = camera(weather(scene, rng), rng, plate_width=plate_w)
    return image, ccpd_record(image, text, quad, index)


def ccpd_record(image: np.ndarray, text: str, quad: np.ndarray, index: int) -> CCPDRecord:
    """The CCPD record of a plate at ``quad`` (TL, TR, BR, BL pixels) in ``image``: box and vertices
    clipped to the image, tilt from the quad's edges, brightness and blur (Laplacian variance) of the
    box, and ``index`` in the area field so that names never collide."""
    h, w = image.shape[:2]
    tl, tr, br, bl = quad
    x1, y1 = np.floor(quad.min(0)).astype(int)
    x2, y2 = np.ceil(quad.max(0)).astype(int)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w - 1, x2), min(h - 1, y2)
    area = (x2 - x1) * (y2 - y1) / (w * h)
    tilt_h = int(round(90 + np.degrees(np.arctan2(tr[1] - tl[1], tr[0] - tl[0]))))
    tilt_v = int(round(90 + np.degrees(np.arctan2(bl[0] - tl[0], bl[1] - tl[1]))))
    gray = cv2.cvtColor(image[y1:y2 + 1, x1:x2 + 1], cv2.COLOR_BGR2GRAY)
    verts = [(min(max(int(round(x)), 0), w - 1), min(max(int(round(y)), 0), h - 1)) for x, y in (br, bl, tl, tr)]
    return CCPDRecord.from_text(text, (x1, y1, x2, y2), verts, area=f"{int(area * 1000):03d}{index:07d}",
                                tilt=(tilt_h, tilt_v), brightness=int(gray.mean()),
                                blur=int(min(999, cv2.Laplacian(gray, cv2.CV_64F).var())))


def _write_one(index: int, out: str, **kw) -> str:
    image, record = synth_image(index, **kw)
    name = format_name(record)
    imwrite(os.path.join(out, name), image)
    return name


def generate(out: str, count: int, seed: int = 0, green_ratio: float = 0.2,
             size: Tuple[int, int] = SCENE_SIZE, workers: int = 1, start: int = 0,
             province_weights: Optional[Sequence[float]] = None, assets: Optional[str] = None) -> List[str]:
    """Write images ``start .. start+count-1`` (:func:`synth_image`) into ``out``; returns their file names.

    Images are written whole (temp file + rename); a re-run with the same arguments rewrites the same
    files, whatever ``workers`` is. The index is part of the area field, so names never collide.
    """
    os.makedirs(out, exist_ok=True)
    job = partial(_write_one, out=out, seed=seed, green_ratio=green_ratio, size=tuple(size),
                  province_weights=province_weights, assets=assets)
    return list(imap_progress(job, range(start, start + count), workers, "synthetic CCPD"))
