"""A contact sheet: synthetic plates of each type beside real crops of the same colour, for people
to compare at a glance (``python -m platesynth sheet --out sheet.png --real DIR``)."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ccpd.plates import PLATE_TYPES
from ccpd.sources import read_sources
from lprcore.fonts import load_font
from lprcore.imageio import imread, imwrite
from platesynth.generate import background_photos, synth_crop

#: Size (height, width) of each tile of the sheet.
TILE = (48, 188)


def _tile(img: np.ndarray, bbox=None) -> np.ndarray:
    if bbox is not None:
        x1, y1, x2, y2 = (int(round(v)) for v in bbox)
        mx, my = int((x2 - x1) * 0.05), int((y2 - y1) * 0.1)
        img = img[max(0, y1 - my):y2 + my, max(0, x1 - mx):x2 + mx]
    h = TILE[0] * (2 if img.shape[0] / max(img.shape[1], 1) > 0.4 else 1)
    return cv2.resize(img, (TILE[1], h), interpolation=cv2.INTER_AREA)


def _label(text: str, width: int) -> np.ndarray:
    pil = Image.new("RGB", (width, 22), (255, 255, 255))
    ImageDraw.Draw(pil).text((4, 2), text, font=load_font(15), fill=(0, 0, 0))
    return cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR)


def _row(tiles: Sequence[np.ndarray], count: int) -> np.ndarray:
    h = max([t.shape[0] for t in tiles] + [TILE[0]])
    cells = [np.pad(t, ((0, h - t.shape[0]), (2, 2), (0, 0)), constant_values=255) for t in tiles]
    cells += [np.full((h, TILE[1] + 4, 3), 230, np.uint8)] * (count - len(cells))
    return np.concatenate(cells, 1)


def contact_sheet(out: str, real_sources: Sequence[str], per_type: int = 4, seed: int = 0,
                  photos: Sequence[str] = (), use: str | None = None) -> np.ndarray:
    """Write (and return) a BGR sheet: one row per plate type, ``per_type`` synthetic crops on the
    left, ``per_type`` real crops of the type's colour (and layout when known) on the right; ``use``
    keeps only real rows of that ``use`` column (``"train"``: the sources with an open licence).

    Raises:
        FileNotFoundError: a real source folder is missing.
    """
    real = [s for s in read_sources(real_sources, use).samples if s.colour] if real_sources else []
    bg = background_photos(photos) if photos else ()
    rng = np.random.default_rng(seed)
    width = 2 * per_type * (TILE[1] + 4) + 12
    rows = [_label("synthetic (platesynth)  |  real crops of the same colour", width)]
    for k, name in enumerate(PLATE_TYPES):
        t = PLATE_TYPES[name]
        synth = [_tile(*(lambda im, s: (im, s.bbox))(*synth_crop(1000 * k + i, seed, {name: 1.0}, bg)))
                 for i in range(per_type)]
        pool = [s for s in real if s.colour == t.colour and s.layout in (None, t.layout)]
        picks = [pool[i] for i in rng.permutation(len(pool))[:per_type]] if pool else []
        reals = [_tile(imread(s.path), s.bbox) for s in picks]
        left, right = _row(synth, per_type), _row(reals, per_type)
        h = max(left.shape[0], right.shape[0])
        pad = lambda a: np.pad(a, ((0, h - a.shape[0]), (0, 0), (0, 0)), constant_values=255)
        rows.append(_label(f"{name} ({t.colour}, {t.layout}): {len(pool)} real crops of this colour", width))
        rows.append(np.concatenate([pad(left), np.full((h, 12, 3), 255, np.uint8), pad(right)], 1))
    sheet = np.concatenate(rows, 0)
    imwrite(out, sheet)
    return sheet
