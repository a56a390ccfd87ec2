"""Synthetic hard photos: the kinds of photo the reader still misses, each from one generator.

``python -m platesynth hard --kind KIND --out DIR --count N --seed S --photos ../shared/data/ccpd_sample/train``

Every kind starts from a synthetic scene (:func:`platesynth.generate.synth_scene`: a real photo with a
rendered plate over its real plate, appearance matched; a random texture without ``--photos``), then
applies the kind's change to the finished scene, labels following:

* ``rotated``: the whole scene rotated by 30-45 degrees (either way) about the plate's centre
  (:data:`ROTATED_DEGREES`); beyond the rotated photo's edge, an out-of-focus copy of it.
* ``night``: dark (gamma and gain, a sodium or cold cast), one or two headlights with bloom near
  the plate, part of the plate over-exposed, motion blur along a 5-15 pixel line, high-ISO noise
  (:data:`NIGHT`); blue and yellow plates, yellow as often as blue.
* ``side``: a steep side view: the scene warped by the homography that makes the plate's far end
  0.4-0.7 of its near end's height and the plate 0.5-0.85 as wide (:data:`SIDE_HEIGHT_RATIO`,
  :data:`SIDE_WIDTH`); the scene beyond the plate plane's horizon is an out-of-focus copy.
* ``oseries``: public-security plates, province + ``O`` + 5 letters/digits on a blue plate
  (:func:`oseries_text`); the asset set has no ``O`` glyph, so the ``0`` glyph is drawn (the plate
  font's ``O`` and ``0`` are the same shape: zheng-yuwei's ``platechar.ttf`` draws them alike).
* ``green``: new-energy plates (8 characters; small green and large yellow-green) on the photos.
* ``plain``: the same scenes unchanged (blue and yellow plates), the control the others compare with.

Every kind's parameters are the module constants below. Every image is deterministic in
``(kind, seed, index)``; the kind's own randomness is a stream separate from the scene's, so a scene
of ``rotated`` is the ``plain`` scene of the same plate type mix, rotated. Output as
``python -m platesynth scenes`` writes it (:data:`ccpd.sources.LABEL_COLUMNS`), ``source`` column
``hard-KIND``: ``python -m lpr.evaluate DIR``, ``python -m MTCNN.evaluate DIR`` and
``python -m lpr.hard_eval DIR ...`` read it.
"""
from __future__ import annotations

import functools
import os
from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ccpd.plates import PLATE_TYPES, random_text
from ccpd.sources import LABELS_FILE, PlateSample, read_labels, read_sources, write_labels
from lprcore.files import write_bytes_atomic
from lprcore.parallel import imap_progress
from platesynth.camera import motion_blur
from platesynth.generate import SCENE_SIZE, synth_scene
from platesynth.render import AssetGlyphs, glyph_file, load_glyphs

#: The kinds of hard photo, in the order tables list them.
KINDS = ("rotated", "night", "side", "oseries", "green", "plain")

#: Plate type mix (type -> weight, :data:`ccpd.plates.PLATE_TYPES`) of each kind: single-row plates
#: the reader reads well on ordinary photos, so that the kind's change is what is measured; yellow
#: as often as blue at night; the two new-energy types for ``green``.
KIND_TYPES: Dict[str, Dict[str, float]] = {
    "rotated": {"blue": 0.8, "yellow": 0.2},
    "night": {"blue": 0.5, "yellow": 0.5},
    "side": {"blue": 0.8, "yellow": 0.2},
    "oseries": {"blue": 1.0},
    "green": {"green_small": 0.75, "green_large": 0.25},
    "plain": {"blue": 0.8, "yellow": 0.2},
}

#: rotated: the rotation about the plate's centre, degrees, drawn from U(lo, hi), sign at random
#: (beyond the reader's own rotated retry, which tries +-15 degrees).
ROTATED_DEGREES = (30.0, 45.0)

#: night: every parameter of :func:`night`, each drawn from U(lo, hi) per photo.
#: ``gamma``, ``gain``: the scene's darkening, ``255 * (v / 255) ** gamma * gain``;
#: ``lights``: probability of two headlights (else one); ``light_dx``, ``light_dy``: a headlight's
#: offset from the plate's centre in plate widths (sideways either way; up is negative);
#: ``core``: headlight core radius and ``bloom``: its halo's sigma, plate widths; ``bloom_gain``: the
#: halo's peak, grey levels; ``glare_sigma``: the over-exposed spot on the plate, plate widths, at a
#: point along the plate drawn from ``glare_at`` (fraction of its width), ``glare_gain`` grey levels;
#: ``blur``: motion blur length, pixels, at an angle in ``blur_deg`` degrees from horizontal;
#: ``noise``: sensor noise sigma, grey levels.
NIGHT = {
    "gamma": (1.8, 2.8), "gain": (0.2, 0.45), "lights": 0.75, "light_dx": (0.9, 1.8), "light_dy": (-0.9, 0.1),
    "core": (0.08, 0.2), "bloom": (0.25, 0.6), "bloom_gain": (60.0, 180.0), "glare_at": (0.1, 0.9),
    "glare_sigma": (0.12, 0.3), "glare_gain": (80.0, 200.0), "blur": (5, 15), "blur_deg": (-15.0, 15.0),
    "noise": (3.0, 10.0),
}

#: side: the far end's height over the near end's, U(lo, hi) (a steep side view).
SIDE_HEIGHT_RATIO = (0.4, 0.7)
#: side: the plate's width after the warp over its width before, U(lo, hi) (foreshortening).
SIDE_WIDTH = (0.5, 0.85)
#: side: the near end's height after the warp over the plate's height before, U(lo, hi).
SIDE_NEAR_HEIGHT = (1.0, 1.15)
#: side and rotated: where the warped scene's scale falls below this fraction of the plate's (near
#: the plate plane's horizon), the out-of-focus copy is shown instead.
MIN_SCALE = 0.25
#: Gaussian sigma, as a fraction of the image's longer side, of the out-of-focus copy shown where a
#: warp leaves the photo.
FILL_BLUR = 0.03

#: The letter of the public-security series, second on the plate.
OSERIES_LETTER = "O"


class LetterOGlyphs:
    """Glyphs of an asset set, with the letter ``O`` drawn with the ``0`` glyph where the set has no
    ``O`` (the plate font draws both alike); other characters and templates unchanged.

    Args:
        inner: :class:`platesynth.render.AssetGlyphs` or :class:`platesynth.render.FontGlyphs`.
    """

    def __init__(self, inner):
        self.inner = inner

    def template(self, plate, size):
        """The inner glyphs' template (BGR uint8 ``[h, w, 3]``, alpha float32 ``[h, w]``)."""
        return self.inner.template(plate, size)

    def glyph(self, plate, index: int, ch: str, size: Tuple[int, int]) -> np.ndarray:
        """Ink mask float32 ``[h, w]`` in [0, 1] of ``ch`` at position ``index``; ``O`` falls back to ``0``."""
        if ch == OSERIES_LETTER and isinstance(self.inner, AssetGlyphs) and \
                not (self.inner.folder / "font_model" / glyph_file(plate, index, ch)).is_file():
            ch = "0"
        return self.inner.glyph(plate, index, ch, size)


def oseries_text(rng: np.random.Generator, province_weights=None) -> str:
    """A public-security plate text: province + ``O`` + 5 letters/digits (at most 2 letters, no I or
    O in the serial), e.g. ``"粤O12345"`` (valid: :data:`ccpd.plates.OFFICE_O`)."""
    text = random_text(PLATE_TYPES["blue"], rng, province_weights)
    return text[0] + OSERIES_LETTER + text[2:]


def _oseries_scene(index: int, seed: int, photos: Sequence[PlateSample], province_weights, assets,
                   size: Tuple[int, int]) -> Tuple[np.ndarray, List[PlateSample]]:
    """:func:`synth_scene` with blue O-series plates (:func:`oseries_text`), their O drawn by
    :class:`LetterOGlyphs`."""
    return synth_scene(index, seed, KIND_TYPES["oseries"], photos, province_weights, assets, size,
                       text_fn=lambda kind, rng: oseries_text(rng, province_weights),
                       glyphs=LetterOGlyphs(load_glyphs(assets)))


def _project(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Points ``float[n, 2]`` through the 3x3 homography ``m``."""
    p = np.c_[np.asarray(pts, np.float64), np.ones(len(pts))] @ m.T
    return p[:, :2] / p[:, 2:3]


def warp_scene(image: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Warp a BGR uint8 scene ``ndarray[H, W, 3]`` by the 3x3 homography ``m`` (scene pixels to scene
    pixels), same size. Where the warp has no photo (beyond its edge, or towards the plate plane's
    horizon where the linear scale falls under :data:`MIN_SCALE` of the median pixel's), an
    out-of-focus copy of the photo shows (:data:`FILL_BLUR`), so no sharp copy of a plate appears twice."""
    h, w = image.shape[:2]
    inv = np.linalg.inv(m)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    den = inv[2, 0] * xx + inv[2, 1] * yy + inv[2, 2]
    sx = (inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2]) / np.where(den == 0, 1e-12, den)
    sy = (inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]) / np.where(den == 0, 1e-12, den)
    ref = np.median(den)  # the warp's linear scale goes as den ** 1.5 (Jacobian det / den ** 3)
    valid = (den * ref > 0) & ((np.abs(den) / abs(ref)) ** 1.5 >= MIN_SCALE) & \
            (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
    warped = cv2.remap(image, sx.astype(np.float32), sy.astype(np.float32), cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REFLECT_101)
    fill = cv2.GaussianBlur(image, (0, 0), FILL_BLUR * max(h, w))
    alpha = cv2.GaussianBlur(valid.astype(np.float32), (0, 0), 1.5)[:, :, None] * valid[:, :, None]
    return (warped * alpha + fill * (1 - alpha)).clip(0, 255).astype(np.uint8)


def _move_samples(samples: List[PlateSample], m: np.ndarray, size: Tuple[int, int]) -> List[PlateSample]:
    """Samples' corners through ``m``, boxes from the corners clipped to ``size = (h, w)``; plates
    other than the first whose centre leaves the image are dropped."""
    h, w = size
    out = []
    for k, s in enumerate(samples):
        q = _project(m, np.asarray(s.vertices))
        c = q.mean(0)
        if k and not (0 <= c[0] < w and 0 <= c[1] < h):
            continue
        box = (max(0.0, float(q[:, 0].min())), max(0.0, float(q[:, 1].min())),
               min(float(w), float(q[:, 0].max())), min(float(h), float(q[:, 1].max())))
        out.append(replace(s, bbox=box, vertices=tuple((float(x), float(y)) for x, y in q)))
    return out


def _keep_inside(m: np.ndarray, quad: np.ndarray, size: Tuple[int, int], margin: float = 4.0) -> np.ndarray:
    """``m`` followed by the smallest shift that brings ``quad`` (through ``m``) inside the image."""
    h, w = size
    q = _project(m, quad)
    lo, hi = q.min(0), q.max(0)
    dx = max(0.0, margin - lo[0]) - max(0.0, hi[0] - (w - margin))
    dy = max(0.0, margin - lo[1]) - max(0.0, hi[1] - (h - margin))
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64) @ m


def rotated(image: np.ndarray, samples: List[PlateSample], rng: np.random.Generator
            ) -> Tuple[np.ndarray, List[PlateSample]]:
    """The scene rotated by :data:`ROTATED_DEGREES` (either sign) about the first plate's centre,
    same size (shifted where the plate would leave it); labels follow."""
    quad = np.asarray(samples[0].vertices, np.float64)
    angle = rng.uniform(*ROTATED_DEGREES) * rng.choice([-1.0, 1.0])
    m = np.vstack([cv2.getRotationMatrix2D(tuple(quad.mean(0)), angle, 1.0), [0, 0, 1]])
    m = _keep_inside(m, quad, image.shape[:2])
    return warp_scene(image, m), _move_samples(samples, m, image.shape[:2])


def side_homography(quad: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The 3x3 homography (scene pixels to scene pixels) that turns the plate with corners ``quad``
    (TL, TR, BR, BL) into a steep side view of itself about its centre: far end
    :data:`SIDE_HEIGHT_RATIO` of the near end's height, width :data:`SIDE_WIDTH` of its own, near end
    :data:`SIDE_NEAR_HEIGHT` of its height; the near end left or right at random."""
    quad = np.asarray(quad, np.float64)
    wr = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    hr = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    rect = np.float32([[0, 0], [wr, 0], [wr, hr], [0, hr]])
    a = cv2.getPerspectiveTransform(rect, quad.astype(np.float32)).astype(np.float64)  # plate frame -> scene
    ratio, width = rng.uniform(*SIDE_HEIGHT_RATIO), rng.uniform(*SIDE_WIDTH)
    near = hr * rng.uniform(*SIDE_NEAR_HEIGHT)
    far = near * ratio
    skew = rng.uniform(-0.1, 0.1) * hr  # the far end a little higher or lower
    x1, x2 = wr / 2 - width * wr / 2, wr / 2 + width * wr / 2
    cy = hr / 2
    if rng.random() < 0.5:  # near end on the left
        target = [[x1, cy - near / 2], [x2, cy - far / 2 + skew], [x2, cy + far / 2 + skew], [x1, cy + near / 2]]
    else:
        target = [[x1, cy - far / 2 + skew], [x2, cy - near / 2], [x2, cy + near / 2], [x1, cy + far / 2 + skew]]
    s = cv2.getPerspectiveTransform(rect, np.float32(target)).astype(np.float64)
    return a @ s @ np.linalg.inv(a)


def side(image: np.ndarray, samples: List[PlateSample], rng: np.random.Generator
         ) -> Tuple[np.ndarray, List[PlateSample]]:
    """The scene warped by :func:`side_homography` of its first plate (shifted where the plate would
    leave the image); labels follow."""
    quad = np.asarray(samples[0].vertices, np.float64)
    m = _keep_inside(side_homography(quad, rng), quad, image.shape[:2])
    return warp_scene(image, m), _move_samples(samples, m, image.shape[:2])


def _blob(size: Tuple[int, int], centre, sigma: float) -> np.ndarray:
    """A Gaussian ``float32[h, w]`` peaking at 1 at ``centre`` (x, y) with ``sigma`` pixels."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma * sigma))


def night(image: np.ndarray, samples: List[PlateSample], rng: np.random.Generator
          ) -> Tuple[np.ndarray, List[PlateSample]]:
    """The scene at night (parameters :data:`NIGHT`): darkened with a cast, one or two headlights
    beside the first plate with bloom, part of that plate over-exposed, motion blur and noise; labels
    unchanged."""
    p = NIGHT
    h, w = image.shape[:2]
    quad = np.asarray(samples[0].vertices, np.float32)
    centre = quad.mean(0)
    along = (quad[1] + quad[2] - quad[0] - quad[3]) / 2  # the plate's width vector
    pw = max(float(np.linalg.norm(along)), 1.0)
    ux = along / pw
    uy = np.float32([-ux[1], ux[0]])  # down the plate
    out = 255 * (image.astype(np.float32) / 255) ** rng.uniform(*p["gamma"]) * rng.uniform(*p["gain"])
    out *= np.float32([0.75, 0.95, 1.15]) if rng.random() < 0.6 else np.float32([1.15, 1.0, 0.85])  # sodium / cold
    light = np.zeros((h, w), np.float32)
    sides = [-1.0, 1.0] if rng.random() < p["lights"] else [float(rng.choice([-1.0, 1.0]))]
    dy = rng.uniform(*p["light_dy"])
    for sgn in sides:
        c = centre + ux * sgn * rng.uniform(*p["light_dx"]) * pw + uy * dy * pw
        core = rng.uniform(*p["core"]) * pw
        light += _blob((h, w), c, core) * 400 + _blob((h, w), c, rng.uniform(*p["bloom"]) * pw) * rng.uniform(*p["bloom_gain"])
    g = quad[0] + (quad[3] - quad[0]) / 2 + along * 2 * rng.uniform(*p["glare_at"])  # a point on the plate's midline
    light += _blob((h, w), g, rng.uniform(*p["glare_sigma"]) * pw) * rng.uniform(*p["glare_gain"])
    tint = np.float32([0.85, 0.97, 1.0])  # headlights: white, a little warm
    out = out + light[:, :, None] * tint
    out = motion_blur(out.clip(0, 255).astype(np.uint8), int(rng.integers(p["blur"][0], p["blur"][1] + 1)),
                      rng.uniform(*p["blur_deg"]))
    noise = rng.normal(0, rng.uniform(*p["noise"]), (h, w, 1)).astype(np.float32)
    return (out + noise).clip(0, 255).astype(np.uint8), samples


#: The change each kind applies to the finished scene (``None``: none).
TRANSFORMS = {"rotated": rotated, "night": night, "side": side, "oseries": None, "green": None, "plain": None}


def hard_scene(kind: str, index: int, seed: int, photos: Sequence[PlateSample] = (), province_weights=None,
               assets: Optional[str] = None, size: Tuple[int, int] = SCENE_SIZE
               ) -> Tuple[np.ndarray, List[PlateSample]]:
    """Make hard scene number ``index`` of ``kind`` (deterministic in ``kind``, ``seed`` and ``index``).

    Args:
        kind: one of :data:`KINDS`.
        photos: labelled photos to composite into (see :func:`synth_scene`); empty: a random texture
            of ``size = (h, w)`` pixels.
        province_weights: 31 weights in :data:`ccpd.plates.PROVINCES` order (default: uniform).
        assets: glyph/template folder (default: :data:`platesynth.render.DEFAULT_ASSETS`).

    Returns:
        ``(image ndarray[H, W, 3] uint8 BGR, samples)``: the first sample is the changed plate; paths
        are the bare file name ``NNNNNNN.jpg``, source ``hard-KIND``, corners TL, TR, BR, BL as the
        plate reads.

    Raises:
        ValueError: unknown ``kind`` or an unreadable photo. platesynth.render.AssetError: assets.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "oseries":
        image, samples = _oseries_scene(index, seed, photos, province_weights, assets, size)
    else:
        image, samples = synth_scene(index, seed, KIND_TYPES[kind], photos, province_weights, assets, size)
    change = TRANSFORMS[kind]
    if change is not None:
        image, samples = change(image, samples, np.random.default_rng([seed, index, 7, KINDS.index(kind)]))
    name = f"{index:07d}.jpg"
    return image, [replace(s, path=name, source=f"hard-{kind}") for s in samples]


def _write(index: int, out: str, kind: str, seed: int, **kw) -> List[PlateSample]:
    image, samples = hard_scene(kind, index, seed, **kw)
    quality = int(np.random.default_rng([seed, index, 3]).integers(60, 96))
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    write_bytes_atomic(os.path.join(out, samples[0].path), buf.tobytes())
    return samples


def generate_hard(kind: str, out: str, count: int, seed: int = 0, photos: Sequence[str] = (),
                  province_weights=None, assets: Optional[str] = None, workers: int = 1, start: int = 0,
                  size: Tuple[int, int] = SCENE_SIZE) -> List[PlateSample]:
    """Write ``count`` hard scenes of ``kind`` (:func:`hard_scene`) and ``OUT/labels.tsv``.

    Args:
        photos: label sources (:func:`ccpd.sources.read_source`) whose plates have boxes, e.g.
            ``../shared/data/ccpd_sample/train``; empty: random textures of ``size``.
        workers: processes (the same bytes whatever the number).
        start: first image index (to add to a set: the labels of other images are kept).

    Returns:
        The samples written, paths relative to ``out``.

    Raises:
        ValueError: unknown ``kind``, ``count < 0``, or photos of which none has a box.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    labelled = [s for s in read_sources(photos).samples if s.bbox is not None] if photos else []
    if photos and not labelled:
        raise ValueError(f"no plate with a box in {list(photos)}: hard scenes need labelled photos")
    os.makedirs(out, exist_ok=True)
    fn = functools.partial(_write, out=out, kind=kind, seed=seed, photos=tuple(labelled),
                           province_weights=province_weights, assets=assets, size=tuple(size))
    samples = [s for group in imap_progress(fn, range(start, start + count), workers, f"hard {kind} scenes",
                                            chunksize=4) for s in group]
    rows = [replace(s, path=os.path.join(out, s.path)) for s in samples]
    if start > 0 and os.path.isfile(os.path.join(out, LABELS_FILE)):
        mine = {r.path for r in rows}
        rows = [r for r in read_labels(out).samples if r.path not in mine] + rows
    write_labels(out, rows)
    return samples
