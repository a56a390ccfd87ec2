"""Render front-on plates of every GA 36-2018 type from glyph and template images.

The assets are the MIT-licensed glyph masks and plate templates of Pengfei8324's generator, read in
place from ``../shared/data/plate_assets/pengfei8324`` beside the checkout (LICENSE and SOURCE.txt
there; ``LPR_PLATE_ASSETS`` or ``--assets`` names another folder): per character a black-on-white
mask (``140_X`` single-row, ``220_X`` / ``220_up_X`` / ``220_down_X`` double-row, ``green_X``
new-energy) and per colour an RGBA template with rim and rivet holes. Any folder of the same layout
can replace them (``--assets``). Without usable assets :class:`FontGlyphs` draws characters with the CJK
font (a warning says so); plates then look flat.

A plate is drawn at ``scale`` pixels per millimetre on its template; characters sit in the boxes of
:func:`ccpd.plates.char_boxes`. Realism on the plate itself (all random, per plate): background and ink
shade, embossing (raised characters lit from one side), rivets, paint wear, dirt and fading.
Camera and scene effects are :mod:`platesynth.camera`'s job.
"""
from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from ccpd.plates import PLATE_TYPES, PlateType, char_boxes
from lprcore.imageio import ImageReadError, imread

log = logging.getLogger(__name__)

#: The asset folder (Pengfei8324/chinese_license_plate_generator, MIT): ``LPR_PLATE_ASSETS`` when set,
#: else the shared data beside the checkout.
DEFAULT_ASSETS = Path(os.environ.get("LPR_PLATE_ASSETS") or Path(__file__).resolve().parents[2] / "shared" / "data"
                      / "plate_assets" / "pengfei8324")

#: Template file (in ``plate_model/``) of each plate type.
TEMPLATES = {
    "blue": "blue_140.PNG", "yellow": "yellow_140.PNG", "coach": "yellow_140.PNG",
    "yellow_double": "yellow_220.PNG", "trailer": "yellow_220.PNG",
    "green_small": "green_car_140.PNG", "green_large": "green_truck_140.PNG",
    "police": "white_140.PNG", "black": "black_140.PNG", "hk_macau": "black_140.PNG",
}
#: Flat background colour (BGR) of each type for the font fallback.
FLAT_COLOURS = {
    "blue": (140, 40, 10), "yellow": (0, 190, 250), "coach": (0, 190, 250), "yellow_double": (0, 190, 250),
    "trailer": (0, 190, 250), "green_small": (120, 220, 140), "green_large": (110, 210, 140),
    "police": (240, 240, 240), "black": (20, 20, 20), "hk_macau": (20, 20, 20),
}


class AssetError(FileNotFoundError):
    """A missing or unreadable asset folder or file; the message names it."""


def glyph_file(plate: PlateType, index: int, ch: str) -> str:
    """Name of the glyph mask (in ``font_model/``) for character ``ch`` at position ``index`` of a plate."""
    if plate.colour == "green":
        return f"green_{ch}.jpg"
    if plate.layout == "double":
        if index == 0:
            return f"220_{ch}.jpg"
        if index == 1:
            return f"220_up_{ch}.jpg"
        return f"220_{ch}.jpg" if (ch.isdigit() or not ch.isascii()) else f"220_down_{ch}.jpg"
    return f"140_{ch}.jpg"


class AssetGlyphs:
    """Glyph masks and templates read from an asset folder (``font_model/``, ``plate_model/``).

    Args:
        folder: the asset folder (default: :data:`DEFAULT_ASSETS`).

    Raises:
        AssetError: the folder, ``font_model/`` or ``plate_model/`` is missing, or a template named
            in :data:`TEMPLATES` is absent or unreadable.
    """

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder else DEFAULT_ASSETS
        for sub in ("", "font_model", "plate_model"):
            if not (self.folder / sub).is_dir():
                raise AssetError(f"asset folder {self.folder / sub} is missing")
        self.templates: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
        for name in sorted(set(TEMPLATES.values())):
            self.templates[name] = self._read_template(self.folder / "plate_model" / name)

    @staticmethod
    def _read_template(path: Path) -> Tuple[np.ndarray, np.ndarray]:
        if not path.is_file():
            raise AssetError(f"plate template {path} is missing")
        data = np.fromfile(path, np.uint8)
        im = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
        if im is None or im.ndim != 3:
            raise AssetError(f"plate template {path} is not a readable colour image")
        if im.shape[2] == 4:
            return np.ascontiguousarray(im[:, :, :3]), im[:, :, 3].astype(np.float32) / 255.0
        return im, np.ones(im.shape[:2], np.float32)

    def template(self, plate: PlateType, size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
        """``(BGR uint8 [h, w, 3], alpha float32 [h, w])`` of the plate's template at ``size = (h, w)``."""
        return _resized_template(self, TEMPLATES[plate.name], size)

    @functools.lru_cache(maxsize=4096)
    def mask(self, name: str, size: Tuple[int, int]) -> np.ndarray:
        """Ink mask float32 ``[h, w]`` in [0, 1] of glyph file ``name`` resized to ``size = (h, w)``.

        Raises:
            AssetError: the glyph file is missing or unreadable.
        """
        path = self.folder / "font_model" / name
        try:
            grey = cv2.cvtColor(imread(path), cv2.COLOR_BGR2GRAY)
        except (ImageReadError, FileNotFoundError) as e:
            raise AssetError(f"glyph {path}: {e}") from None
        ink = 1.0 - cv2.resize(grey, (size[1], size[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        return np.clip((ink - 0.15) / 0.7, 0.0, 1.0)

    def glyph(self, plate: PlateType, index: int, ch: str, size: Tuple[int, int]) -> np.ndarray:
        """Ink mask of character ``ch`` at position ``index`` of ``plate``, resized to ``size = (h, w)``."""
        return self.mask(glyph_file(plate, index, ch), size)


@functools.lru_cache(maxsize=256)
def _resized_template(glyphs: AssetGlyphs, name: str, size: Tuple[int, int]):
    bgr, alpha = glyphs.templates[name]
    return (cv2.resize(bgr, (size[1], size[0]), interpolation=cv2.INTER_AREA),
            cv2.resize(alpha, (size[1], size[0]), interpolation=cv2.INTER_AREA))


class FontGlyphs:
    """Fallback without assets: characters from the CJK font (:mod:`lprcore.fonts`), flat templates."""

    @functools.lru_cache(maxsize=4096)
    def glyph(self, plate: PlateType, index: int, ch: str, size: Tuple[int, int]) -> np.ndarray:
        from PIL import Image, ImageDraw

        from lprcore.fonts import load_font

        h, w = size
        font = load_font(128)
        img = Image.new("L", (160, 160), 0)
        draw = ImageDraw.Draw(img)
        draw.text((10, 0), ch, font=font, fill=255)
        ink = np.asarray(img)
        ys, xs = np.nonzero(ink > 40)
        if len(ys) == 0:
            return np.zeros(size, np.float32)
        crop = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        return cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0

    def template(self, plate: PlateType, size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
        h, w = size
        img = np.empty((h, w, 3), np.uint8)
        img[:] = FLAT_COLOURS[plate.name]
        rim = max(1, int(round(min(h, w) * 0.03)))
        cv2.rectangle(img, (rim, rim), (w - 1 - rim, h - 1 - rim), tuple(int(c) for c in plate.ink), rim)
        return img, np.ones((h, w), np.float32)


@functools.lru_cache(maxsize=8)
def load_glyphs(folder: Optional[str] = None):
    """:class:`AssetGlyphs` of ``folder`` (default: :data:`DEFAULT_ASSETS`), or :class:`FontGlyphs` with a warning
    when the default folder is unusable.

    Raises:
        AssetError: an explicitly given ``folder`` is missing or malformed.
    """
    if folder:
        return AssetGlyphs(folder)
    try:
        return AssetGlyphs()
    except AssetError as e:
        log.warning("%s: falling back to the CJK font renderer (flat plates)", e)
        return FontGlyphs()


def _field(shape: Tuple[int, int], rng: np.random.Generator, cells: int) -> np.ndarray:
    """Smooth random field float32 in [0, 1] of ``shape = (h, w)``."""
    small = rng.random((max(2, cells * shape[0] // max(shape[1], 1) + 1), cells + 1)).astype(np.float32)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def render_plate(text: str, plate_type: str, rng: np.random.Generator, scale: float = 0.6,
                 glyphs=None) -> np.ndarray:
    """Draw a front-on plate.

    Args:
        text: the plate text, ``plate.length`` characters, valid for the type
            (see :func:`ccpd.plates.random_text`).
        plate_type: a key of :data:`ccpd.plates.PLATE_TYPES`.
        rng: random generator (all randomness of the plate's look).
        scale: pixels per millimetre (0.6: a 440 mm plate is 264 pixels wide).
        glyphs: :class:`AssetGlyphs` or :class:`FontGlyphs` (default: :func:`load_glyphs`).

    Returns:
        ``ndarray[round(H_mm * scale), round(W_mm * scale), 3]`` uint8 BGR, the plate filling it.

    Raises:
        KeyError: unknown ``plate_type``.
        ValueError: ``text`` has the wrong length for the type.
        AssetError: a glyph is missing from the asset folder.
    """
    plate = PLATE_TYPES[plate_type]
    if len(text) != plate.length:
        raise ValueError(f"plate type {plate_type!r} holds {plate.length} characters, got {text!r}")
    glyphs = glyphs or load_glyphs()
    h, w = (int(round(v * scale)) for v in plate.size_mm)
    bg, _ = glyphs.template(plate, (h, w))
    img = bg.astype(np.float32)
    # background shade: plates of one colour differ in tone, age and paint
    img = img * rng.uniform(0.8, 1.1) + rng.uniform(-15, 15, 3)
    ink_mask = np.zeros((h, w), np.float32)
    mark_mask = np.zeros((h, w), np.float32)
    for k, (ch, (x1, y1, x2, y2)) in enumerate(zip(text, char_boxes(plate))):
        bx1, by1 = int(round(x1 * scale)), int(round(y1 * scale))
        bx2, by2 = max(bx1 + 1, int(round(x2 * scale))), max(by1 + 1, int(round(y2 * scale)))
        m = glyphs.glyph(plate, k, ch, (by2 - by1, bx2 - bx1))
        target = mark_mask if (plate.mark_ink and k == len(text) - 1) else ink_mask
        target[by1:by2, bx1:bx2] = np.maximum(target[by1:by2, bx1:bx2], m)
    if rng.random() < 0.35:  # paint wear on the characters
        wear = _field((h, w), rng, int(rng.integers(8, 30)))
        ink_mask *= np.clip(1.0 - (wear - rng.uniform(0.55, 0.8)) * 4, 0.25, 1.0)
    # embossing: characters are pressed out of the plate and lit from one side
    d = max(1, int(round(scale * rng.uniform(0.8, 2.0))))
    dx, dy = int(rng.choice([-d, d])), int(rng.choice([-d, 0, d]))
    both = np.maximum(ink_mask, mark_mask)
    shifted = np.roll(np.roll(both, dy, axis=0), dx, axis=1)
    relief = (both - shifted)[:, :, None] * rng.uniform(15, 45)
    ink = np.float32(plate.ink) * rng.uniform(0.8, 1.05) + rng.uniform(-10, 10, 3)
    img = img * (1 - ink_mask[:, :, None]) + ink * ink_mask[:, :, None]
    if plate.mark_ink:
        img = img * (1 - mark_mask[:, :, None]) + np.float32(plate.mark_ink) * mark_mask[:, :, None]
    img += relief
    if rng.random() < 0.6:  # rivets in the two upper holes
        r = max(1, int(round(4.5 * scale)))
        for cx in (0.25, 0.75):
            c = (int(w * cx + rng.normal(0, scale)), int(10 * scale + rng.normal(0, scale)))
            tone = rng.uniform(120, 230)
            cv2.circle(img, c, r, (tone, tone, tone), -1, cv2.LINE_AA)
            cv2.circle(img, (c[0] - r // 3, c[1] - r // 3), max(1, r // 3), (255, 255, 255), -1, cv2.LINE_AA)
    if rng.random() < 0.3:  # dirt: brownish blotches
        dirt = _field((h, w), rng, int(rng.integers(4, 16)))
        a = np.clip((dirt - rng.uniform(0.5, 0.8)) * 3, 0, 1)[:, :, None] * rng.uniform(0.3, 0.8)
        img = img * (1 - a) + np.float32([40, 60, 80]) * rng.uniform(0.6, 1.4) * a
    if rng.random() < 0.2:  # fading: washed out towards grey-white
        f = rng.uniform(0.1, 0.35)
        img = img * (1 - f) + 210 * f
    return np.clip(img, 0, 255).astype(np.uint8)
