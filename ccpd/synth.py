"""Synthetic CCPD: plates drawn to the Chinese standard, placed in scenes, saved under CCPD names.

Plates follow the layout of GA 36-2018 (the national plate standard):

* blue plate, 440 x 140 mm, 7 white characters 45 x 90 mm, 12 mm apart, with a separator dot in a
  34 mm gap after the second character (province + issuing-office letter);
* green new-energy plate, 480 x 140 mm, 8 black characters 43 x 90 mm, 9 mm apart, 49 mm gap after the
  second, on a white-to-green gradient.

Each plate is warped into a scene (random textures and a car-like body) with perspective, scale,
rotation, blur, noise, brightness and weather-like effects (fog, rain, night), and the image is
written under a CCPD name whose bbox and 4 vertices are where the plate really is, so the rest of the
toolkit reads it like real CCPD. Example::

    python -m ccpd.synth --out data/synth --count 2000 --green-ratio 0.2 --seed 0
"""
from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass
from functools import partial
from typing import Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ccpd.annotations import ADS, ALPHABETS, PROVINCES, CCPDRecord, format_name
from lprcore.fonts import load_font
from lprcore.imageio import imwrite
from lprcore.parallel import imap_progress

log = logging.getLogger(__name__)

#: Provinces drawn (the real ones; CCPD's ``警``, ``学`` and ``O`` are left out).
SYNTH_PROVINCES = PROVINCES[:31]
LETTERS = "".join(ALPHABETS[:-1])
DIGITS = "0123456789"
ALNUM = "".join(ADS[:-1])
#: Default scene size (height, width) in pixels: that of CCPD2019 photos.
SCENE_SIZE = (1160, 720)


@dataclass(frozen=True)
class PlateLayout:
    """Plate geometry in millimetres (GA 36-2018): size, character box, gaps."""

    width: float
    height: float
    char_w: float
    char_h: float
    gap: float          # between characters
    group_gap: float    # after the second character
    n_chars: int


BLUE = PlateLayout(440, 140, 45, 90, 12, 34, 7)
GREEN = PlateLayout(480, 140, 43, 90, 9, 49, 8)


def random_text(rng: np.random.Generator, green: bool = False) -> str:
    """A valid plate text: province + letter + 5 (blue) or 6 (green, new-energy pattern) characters."""
    head = rng.choice(list(SYNTH_PROVINCES)) + rng.choice(list(LETTERS))
    if green:
        if rng.random() < 0.7:  # small car: D/F, one letter or digit, 4 digits
            tail = rng.choice(["D", "F"]) + rng.choice(list(ALNUM)) + "".join(rng.choice(list(DIGITS), 4))
        else:                   # large car: 5 digits, then D/F
            tail = "".join(rng.choice(list(DIGITS), 5)) + rng.choice(["D", "F"])
        return head + tail
    n_letters = int(rng.choice([0, 1, 2, 3], p=[0.45, 0.3, 0.18, 0.07]))
    pos = set(rng.choice(5, n_letters, replace=False).tolist())
    return head + "".join(rng.choice(list(LETTERS)) if i in pos else rng.choice(list(DIGITS)) for i in range(5))


def _glyph(ch: str, w: int, h: int, color) -> Image.Image:
    """One character stretched to fill a ``w x h`` box, as an RGBA image."""
    font = load_font(h * 2)
    box = font.getbbox(ch)
    img = Image.new("L", (box[2] - box[0] + 4, box[3] - box[1] + 4), 0)
    ImageDraw.Draw(img).text((2 - box[0], 2 - box[1]), ch, font=font, fill=255)
    ink = img.getbbox() or (0, 0, img.width, img.height)
    mask = img.crop(ink).resize((w, h), Image.Resampling.LANCZOS)
    out = Image.new("RGBA", (w, h), tuple(color) + (0,))
    out.putalpha(mask)
    return out


def render_plate(text: str, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Draw a plate at ``scale`` pixels per millimetre.

    Args:
        text: 7 characters (blue plate) or 8 (green new-energy plate).

    Returns:
        ``ndarray[140*scale, 440*scale or 480*scale, 3]`` uint8, BGR.

    Raises:
        ValueError: ``text`` is not 7 or 8 characters.
    """
    if len(text) not in (7, 8):
        raise ValueError(f"plate text {text!r}: expected 7 or 8 characters")
    green = len(text) == 8
    lay = GREEN if green else BLUE
    W, H = int(round(lay.width * scale)), int(round(lay.height * scale))
    if green:
        top = np.array([rng.integers(225, 250), rng.integers(240, 255), rng.integers(225, 250)])
        bottom = np.array([rng.integers(60, 110), rng.integers(170, 215), rng.integers(80, 130)])
        t = np.linspace(0, 1, H)[:, None, None] ** 0.8
        bg = (top * (1 - t) + bottom * t) * np.ones((1, W, 1))
        ink = (10, 10, 10)
    else:
        base = np.array([rng.integers(0, 40), rng.integers(40, 90), rng.integers(130, 200)])
        bg = np.ones((H, W, 1)) * base
        ink = (245, 245, 245)
    plate = Image.fromarray(bg.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(plate)
    rim = max(1, int(round(3 * scale)))
    rim_color = (20, 20, 20) if green else (235, 235, 235)
    draw.rounded_rectangle([rim, rim, W - 1 - rim, H - 1 - rim], radius=int(8 * scale), outline=rim_color,
                           width=max(1, int(round(1.5 * scale))))
    total = lay.n_chars * lay.char_w + (lay.n_chars - 2) * lay.gap + lay.group_gap
    x = (lay.width - total) / 2
    y = (lay.height - lay.char_h) / 2
    cw, ch = int(round(lay.char_w * scale)), int(round(lay.char_h * scale))
    for i, c in enumerate(text):
        glyph = _glyph(c, cw, ch, ink)
        plate.paste(glyph, (int(round(x * scale)), int(round(y * scale))), glyph)
        x += lay.char_w
        if i == 1:
            cx = x + lay.group_gap / 2
            r = 5 * scale
            draw.ellipse([cx * scale - r, lay.height / 2 * scale - r, cx * scale + r, lay.height / 2 * scale + r],
                         fill=ink)
            x += lay.group_gap
        else:
            x += lay.gap
    return cv2.cvtColor(np.asarray(plate), cv2.COLOR_RGB2BGR)


def random_scene(size: Tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Background ``ndarray[h, w, 3]`` BGR for ``size = (h, w)``: gradient, blobs, lines, noise."""
    h, w = size
    c1, c2 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    img = (c1 * (1 - t) + c2 * t) * np.ones((1, w, 1))
    small = rng.normal(0, 1, (max(2, h // 40), max(2, w // 40), 3))
    img += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * rng.uniform(10, 50)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 12))):
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.rectangle(img, p1, p2, color, -1 if rng.random() < 0.6 else int(rng.integers(1, 6)))
        else:
            cv2.circle(img, p1, int(rng.integers(5, max(6, w // 4))), color, -1)
    for _ in range(int(rng.integers(0, 8))):
        cv2.line(img, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                 (int(rng.integers(0, w)), int(rng.integers(0, h))),
                 tuple(int(v) for v in rng.integers(0, 256, 3)), int(rng.integers(1, 4)))
    return img


def plate_quad(size: Tuple[int, int], plate_w: float, aspect: float, rng: np.random.Generator) -> np.ndarray:
    """4 destination corners (TL, TR, BR, BL) of a plate ``plate_w`` pixels wide in a scene of ``size = (h, w)``:
    rotation up to about 20 degrees, perspective (one side shorter), position inside the scene."""
    h, w = size
    ph = plate_w / aspect
    quad = np.float32([[-plate_w / 2, -ph / 2], [plate_w / 2, -ph / 2], [plate_w / 2, ph / 2], [-plate_w / 2, ph / 2]])
    yaw = rng.uniform(-0.35, 0.35)       # one vertical side shorter than the other
    pitch = rng.uniform(-0.2, 0.2)       # top or bottom shorter
    quad[[1, 2], 1] *= 1 + yaw / 2
    quad[[0, 3], 1] *= 1 - yaw / 2
    quad[[0, 1], 0] *= 1 + pitch / 2
    quad[[2, 3], 0] *= 1 - pitch / 2
    quad[:, 0] *= np.cos(yaw * 0.8)
    angle = np.deg2rad(rng.normal(0, 7) if rng.random() < 0.8 else rng.uniform(-22, 22))
    shear = rng.uniform(-0.15, 0.15)
    rot = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    quad = quad @ np.float32([[1, 0], [shear, 1]]).T @ rot.T
    span = quad.max(0) - quad.min(0)
    margin = 4
    cx = rng.uniform(span[0] / 2 + margin, max(span[0] / 2 + margin + 1, w - span[0] / 2 - margin))
    cy = rng.uniform(max(span[1] / 2 + margin, h * 0.3), max(span[1] / 2 + margin + 1, h - span[1] / 2 - margin))
    return quad + np.float32([cx, cy])


def degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scene-wide effects: brightness/night, fog, rain, blur, noise, JPEG."""
    out = img.astype(np.float32)
    r = rng.random()
    if r < 0.15:    # night: dark, with a warm cast
        out = 255 * (out / 255) ** rng.uniform(1.5, 2.5) * rng.uniform(0.4, 0.8) * np.float32([0.8, 0.9, 1.0])
    elif r < 0.3:   # glare / overexposure
        out = out * rng.uniform(1.2, 1.6) + rng.uniform(10, 50)
    else:
        out = out * rng.uniform(0.7, 1.2) + rng.uniform(-25, 25)
    if rng.random() < 0.12:  # fog
        a = rng.uniform(0.2, 0.55)
        out = out * (1 - a) + rng.uniform(170, 230) * a
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.1:   # rain streaks
        h, w = out.shape[:2]
        layer = np.zeros_like(out)
        dx = int(rng.integers(-8, 9))
        for _ in range(int(rng.integers(150, 500))):
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            length = int(rng.integers(8, 25))
            cv2.line(layer, (x, y), (x + dx, y + length), (200, 200, 200), 1)
        out = cv2.addWeighted(out, 1.0, layer, 0.5, 0)
    r = rng.random()
    if r < 0.25:
        k = int(rng.choice([3, 5, 7]))
        out = cv2.GaussianBlur(out, (k, k), 0)
    elif r < 0.35:
        k = int(rng.integers(5, 13))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2] = 1.0 / k
        out = cv2.filter2D(out, -1, kernel)
    if rng.random() < 0.4:
        out = np.clip(out + rng.normal(0, rng.uniform(2, 10), out.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


def synth_image(index: int, seed: int = 0, green_ratio: float = 0.2,
                size: Tuple[int, int] = SCENE_SIZE) -> Tuple[np.ndarray, CCPDRecord]:
    """Make synthetic CCPD image number ``index`` (deterministic in ``seed`` and ``index``).

    Args:
        size: scene (height, width) in pixels.

    Returns:
        ``(image ndarray[h, w, 3] uint8 BGR, record)``; the record's bbox and vertices are where the
        plate was drawn (vertices in CCPD order: BR, BL, TL, TR).
    """
    rng = np.random.default_rng([seed, index])
    h, w = size
    green = rng.random() < green_ratio
    text = random_text(rng, green)
    plate = render_plate(text, rng, scale=rng.uniform(0.6, 1.0))
    ph, pw = plate.shape[:2]
    scene = random_scene(size, rng)
    # a car-like body around the plate
    plate_w = float(np.exp(rng.uniform(np.log(max(30, w * 0.08)), np.log(w * 0.55))))
    quad = plate_quad(size, plate_w, pw / ph, rng)
    body = np.int32([quad.min(0) - [plate_w * 1.5, plate_w * 0.8], quad.max(0) + [plate_w * 1.5, plate_w * 0.5]])
    cv2.rectangle(scene, tuple(int(v) for v in body[0]), tuple(int(v) for v in body[1]),
                  tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    m = cv2.getPerspectiveTransform(src, quad)
    warped = cv2.warpPerspective(plate, m, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, (w, h), flags=cv2.INTER_LINEAR)
    alpha = (mask.astype(np.float32) / 255)[:, :, None]
    scene = (scene * (1 - alpha) + warped * alpha).astype(np.uint8)
    image = degrade(scene, rng)
    tl, tr, br, bl = quad
    x1, y1 = np.floor(quad.min(0)).astype(int)
    x2, y2 = np.ceil(quad.max(0)).astype(int)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w - 1, x2), min(h - 1, y2)
    area = (x2 - x1) * (y2 - y1) / (w * h)
    tilt_h = int(round(90 + np.degrees(np.arctan2(tr[1] - tl[1], tr[0] - tl[0]))))
    tilt_v = int(round(90 + np.degrees(np.arctan2(bl[0] - tl[0], bl[1] - tl[1]))))
    region = image[y1:y2 + 1, x1:x2 + 1]
    gray = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
    brightness = int(gray.mean())
    blur = int(min(999, cv2.Laplacian(gray, cv2.CV_64F).var()))
    verts = [br, bl, tl, tr]
    verts = [(min(max(int(round(x)), 0), w - 1), min(max(int(round(y)), 0), h - 1)) for x, y in verts]
    record = CCPDRecord.from_text(text, (x1, y1, x2, y2), verts, area=f"{int(area * 1000):03d}{index:07d}",
                                  tilt=(tilt_h, tilt_v), brightness=brightness, blur=blur)
    return image, record


def _write_one(index: int, out: str, seed: int, green_ratio: float, size) -> str:
    image, record = synth_image(index, seed, green_ratio, size)
    name = format_name(record)
    imwrite(os.path.join(out, name), image)
    return name


def generate(out: str, count: int, seed: int = 0, green_ratio: float = 0.2,
             size: Tuple[int, int] = SCENE_SIZE, workers: int = 1, start: int = 0) -> list:
    """Write images ``start .. start+count-1`` into ``out``; returns their file names.

    ``size`` is the scene's (height, width) in pixels.

    Images are written whole (temp file + rename); a re-run with the same arguments rewrites the same
    files. The index is part of the area field, so names never collide.
    """
    os.makedirs(out, exist_ok=True)
    job = partial(_write_one, out=out, seed=seed, green_ratio=green_ratio, size=size)
    return list(imap_progress(job, range(start, start + count), workers, "synth"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ccpd.synth", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--count", type=int, required=True, help="number of images")
    p.add_argument("--green-ratio", type=float, default=0.2, help="share of green 8-character plates (0..1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=int, default=0, help="first image index (to add to a set)")
    p.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), default=list(SCENE_SIZE),
                   help=f"scene height and width, pixels (default: {SCENE_SIZE[0]} {SCENE_SIZE[1]})")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    if not 0 <= args.green_ratio <= 1:
        p.error("--green-ratio must be in [0, 1]")
    if args.count < 0:
        p.error("--count must be >= 0")
    if min(args.size) < 64:
        p.error("--size must be at least 64 64")
    generate(args.out, args.count, args.seed, args.green_ratio, tuple(args.size), args.workers, args.start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
