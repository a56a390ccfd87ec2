"""Synthetic plate crops and composited scenes, with labels every stage reads (:mod:`ccpd.sources`).

* :func:`synth_crop`: a rendered plate seen through a random camera on a patch of a real photo (or a
  random texture), with context around it like a detector's crop; labelled with the plate's bbox
  and 4 corners inside the crop.
* :func:`random_scene`: a random texture, the background where no photo is given.
* :func:`synth_scene`: a whole photo with synthetic plates composited in: (a) over the real plate
  of a photo with 4 annotated corners (CCPD training photos), through those corners; (b) over each
  boxed plate of a photo with boxes only (``scenes_train``); (c) on a random texture when no photo
  is given. The synthetic plate's brightness, contrast, blur and noise are matched to the real
  plate it covers, and its edge is feathered, so the seam does not show.

Every image is deterministic in ``(seed, index)``: the same arguments write the same bytes, whatever
``--workers`` is. Output: ``OUT/*.jpg`` and ``OUT/labels.tsv`` (columns of
:data:`ccpd.sources.LABEL_COLUMNS`, one row per plate, the file repeated for several plates).
"""
from __future__ import annotations

import functools
import os
from dataclasses import replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ccpd.plates import DEFAULT_TYPE_WEIGHTS, PLATE_TYPES, PROVINCES, random_text
from ccpd.sources import LABELS_FILE, PlateSample, read_labels, read_sources, write_labels
from lprcore.imageio import imwrite, list_images
from lprcore.parallel import imap_progress
from platesynth.camera import camera, perspective_quad
from platesynth.render import load_glyphs, render_plate

#: Context kept around a crop's plate, as a fraction of the plate's width / height on each side
#: (more than ``LPRNet.prepare``'s margin, so training can still jitter the box outwards).
CROP_MARGIN = (0.2, 0.45)
#: Render resolution of plates, pixels per millimetre (a 440 mm plate is 264 pixels wide).
RENDER_SCALE = 0.6
#: Default scene size (height, width) in pixels: that of CCPD2019 photos.
SCENE_SIZE = (1160, 720)


def choose_type(rng: np.random.Generator, weights: Dict[str, float]) -> str:
    """A plate type drawn by ``weights`` (type name -> weight)."""
    names = sorted(weights)
    p = np.asarray([weights[n] for n in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


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


@functools.lru_cache(maxsize=48)
def _photo(path: str) -> np.ndarray:
    """A photo decoded at half size (cached per process)."""
    data = np.fromfile(path, np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_2)
    if img is None:
        raise ValueError(f"{path}: not a readable image")
    return img


Photo = Tuple[str, Tuple[Tuple[float, float, float, float], ...]]


def background_photos(folders: Sequence[str]) -> Tuple[Photo, ...]:
    """``(path, plate boxes)`` of every photo in ``folders``: labelled sources (CCPD names,
    ``labels.tsv`` + ``boxes.tsv``) give their plates' boxes, to keep real plates out of the context;
    other folders give every image with no box."""
    out: Dict[str, list] = {}
    for folder in folders:
        scan = read_sources([folder])
        boxed = [s for s in scan.samples if s.bbox is not None]
        if boxed:
            for s in boxed:
                out.setdefault(s.path, []).extend([s.bbox, *s.other_boxes])
        else:
            for p in list_images(folder):
                out.setdefault(p, [])
    return tuple((p, tuple(b)) for p, b in sorted(out.items()))


def background_patch(size: Tuple[int, int], rng: np.random.Generator, photos: Sequence[Photo]) -> np.ndarray:
    """A ``size = (h, w)`` BGR patch: a random region of a random photo (rescaled) that overlaps none
    of its plates, or a texture when there is no photo or no free region was found."""
    h, w = size
    for _ in range(8 if photos else 0):
        path, boxes = photos[int(rng.integers(len(photos)))]
        img = _photo(path)  # half size: boxes / 2
        ih, iw = img.shape[:2]
        zoom = rng.uniform(0.5, 2.0)
        ph, pw = min(ih, max(4, int(h * zoom))), min(iw, max(4, int(w * zoom)))
        y, x = int(rng.integers(0, ih - ph + 1)), int(rng.integers(0, iw - pw + 1))
        if any(x < b[2] / 2 and b[0] / 2 < x + pw and y < b[3] / 2 and b[1] / 2 < y + ph for b in boxes):
            continue
        return cv2.resize(img[y:y + ph, x:x + pw], (w, h), interpolation=cv2.INTER_LINEAR)
    return random_scene((h, w), rng)


def paste(canvas: np.ndarray, plate: np.ndarray, quad: np.ndarray, feather: float = 0.7) -> np.ndarray:
    """Warp ``plate`` onto ``quad`` (TL, TR, BR, BL pixels) of ``canvas``, edge feathered; returns a new
    image. Only the quadrilateral's bounding region is touched."""
    h, w = canvas.shape[:2]
    x1, y1 = np.floor(quad.min(0)).astype(int) - 2
    x2, y2 = np.ceil(quad.max(0)).astype(int) + 3
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    out = canvas.copy()
    if x2 <= x1 or y2 <= y1:
        return out
    ph, pw = plate.shape[:2]
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    m = cv2.getPerspectiveTransform(src, (quad - [x1, y1]).astype(np.float32))
    roi = (x2 - x1, y2 - y1)
    warped = cv2.warpPerspective(plate, m, roi, flags=cv2.INTER_AREA if pw > roi[0] else cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, roi, flags=cv2.INTER_LINEAR)
    alpha = mask.astype(np.float32) / 255.0
    if feather > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather) * (alpha > 0)
    region = out[y1:y2, x1:x2].astype(np.float32)
    out[y1:y2, x1:x2] = (region * (1 - alpha[:, :, None]) + warped * alpha[:, :, None]).clip(0, 255).astype(np.uint8)
    return out


def match_appearance(plate: np.ndarray, reference: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bring a rendered plate's brightness, contrast and sharpness to those of ``reference`` (the
    real plate region it will cover, BGR uint8), keeping its colours."""
    ref = cv2.cvtColor(reference, cv2.COLOR_BGR2GRAY).astype(np.float32)
    g = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY).astype(np.float32)
    gain = (ref.std() + 1) / (g.std() + 1) * rng.uniform(0.9, 1.1)
    out = (plate.astype(np.float32) - g.mean()) * np.clip(gain, 0.3, 1.5) + ref.mean()
    out = out.clip(0, 255).astype(np.uint8)
    # sharpness: blur until the plate is no sharper than the reference at the reference's scale
    small = cv2.resize(out, (reference.shape[1], reference.shape[0]), interpolation=cv2.INTER_AREA)
    target = cv2.Laplacian(ref, cv2.CV_32F).var()
    f = out.shape[1] / max(reference.shape[1], 1)
    for sigma in (0.0, 0.6, 1.0, 1.5, 2.2, 3.0):
        cand = cv2.GaussianBlur(small, (0, 0), sigma) if sigma else small
        if cv2.Laplacian(cv2.cvtColor(cand, cv2.COLOR_BGR2GRAY).astype(np.float32), cv2.CV_32F).var() <= target * 1.2:
            return cv2.GaussianBlur(out, (0, 0), sigma * f) if sigma else out
    return cv2.GaussianBlur(out, (0, 0), 3.0 * f)


def plate_text(plate_type: str, rng: np.random.Generator, province_weights=None) -> str:
    """:func:`ccpd.plates.random_text` for a type name."""
    return random_text(PLATE_TYPES[plate_type], rng, province_weights)


def synth_crop(index: int, seed: int, type_weights: Dict[str, float], photos: Sequence[Photo] = (),
               province_weights=None, assets: Optional[str] = None) -> Tuple[np.ndarray, PlateSample]:
    """Make synthetic crop number ``index`` (deterministic in ``seed`` and ``index``).

    Returns:
        ``(image ndarray[h, w, 3] uint8 BGR, sample)``; the sample's bbox and vertices are where the
        plate lies in the image (its ``path`` is the bare file name).
    """
    rng = np.random.default_rng([seed, index, 1])
    kind = choose_type(rng, type_weights)
    text = plate_text(kind, rng, province_weights)
    plate = render_plate(text, kind, rng, RENDER_SCALE * rng.uniform(0.8, 1.2), load_glyphs(assets))
    ph, pw = plate.shape[:2]
    width = rng.uniform(80, 240)
    quad = perspective_quad(width, width * ph / pw, rng, max_rotate_deg=12)
    lo, hi = quad.min(0), quad.max(0)
    mx = width * CROP_MARGIN[0] * rng.uniform(0.7, 1.3)
    my = (hi[1] - lo[1]) * CROP_MARGIN[1] * rng.uniform(0.7, 1.3)
    quad = quad - lo + [mx, my]
    h, w = int(np.ceil(hi[1] - lo[1] + 2 * my)), int(np.ceil(hi[0] - lo[0] + 2 * mx))
    canvas = paste(background_patch((h, w), rng, photos), plate, quad)
    image = camera(canvas, rng, plate_width=width)
    x1, y1 = quad.min(0)
    x2, y2 = quad.max(0)
    sample = PlateSample(f"{index:07d}.jpg", text, PLATE_TYPES[kind].colour, PLATE_TYPES[kind].layout,
                         (float(x1), float(y1), float(x2), float(y2)),
                         tuple((float(x), float(y)) for x, y in quad), "platesynth", plate_type=kind)
    return image, sample


def _cover_quad(sample: PlateSample, aspect: float) -> np.ndarray:
    """Corners (TL, TR, BR, BL) of a plate of width/height ``aspect`` that covers the sample's plate:
    from its 4 corners (grown upwards and rightwards to the new plate's proportions) or its box."""
    if sample.vertices is not None:
        tl, tr, br, bl = (np.float32(p) for p in sample.vertices)
        w_old = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
        h_old = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
        up = max(1.0, (w_old / aspect) / max(h_old, 1e-6))   # taller plate: grow the top edge up
        right = max(1.0, (h_old * aspect) / max(w_old, 1e-6))  # wider plate: grow the right edge
        tl2, tr2 = bl + (tl - bl) * up, br + (tr - br) * up
        return np.float32([tl2, tl2 + (tr2 - tl2) * right, bl + (br - bl) * right, bl])
    x1, y1, x2, y2 = sample.bbox
    bw, bh = x2 - x1, y2 - y1
    w = max(bw, bh * aspect)
    h = w / aspect
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return np.float32([[cx - w / 2, cy - h / 2], [cx + w / 2, cy - h / 2], [cx + w / 2, cy + h / 2],
                       [cx - w / 2, cy + h / 2]])


def synth_scene(index: int, seed: int, type_weights: Dict[str, float], photos: Sequence[PlateSample] = (),
                province_weights=None, assets: Optional[str] = None,
                size: Tuple[int, int] = SCENE_SIZE,
                squeeze: Optional[Tuple[float, float]] = None,
                inset: Optional[Tuple[int, int, float, float]] = None,
                text_fn: Optional[Callable[[str, np.random.Generator], str]] = None,
                glyphs=None) -> Tuple[np.ndarray, List[PlateSample]]:
    """Make synthetic scene number ``index`` (deterministic in ``seed`` and ``index``).

    Args:
        photos: labelled photos to composite into (each with ``bbox``, ideally ``vertices``); several
            samples of one file are several plates. Empty: a random texture of ``size = (h, w)``.
        squeeze: ``(lo, hi)``, 0 < lo <= hi <= 1: the finished scene is resized along x by a factor
            drawn from U(lo, hi) (its own random stream: the scene is otherwise the one made
            without it), boxes and vertices with it, so its plates are narrower than plates are, as
            seen from the side or through non-square pixels. ``None``: as made.
        inset: ``(height, width, lo, hi)``: the finished scene is resized so that its first plate is
            U(lo, hi) pixels wide (its own random stream; smaller if it would not fit) and set at a
            random place in a random-texture photo of ``height x width`` pixels, labels with it: small
            plates in large photos, for recall by plate width. ``None``: as made.
        text_fn: ``text_fn(plate_type, rng) -> text`` for each plate (default: a random text of
            its type, :func:`plate_text`), e.g. a series the usual texts never hold.
        glyphs: the glyph source :func:`platesynth.render.render_plate` draws with (default:
            ``load_glyphs(assets)``).

    Returns:
        ``(image ndarray[H, W, 3] uint8 BGR, samples)``, one sample per plate in the image.
    """
    rng = np.random.default_rng([seed, index, 2])
    glyphs = glyphs if glyphs is not None else load_glyphs(assets)
    if photos:
        base = photos[int(rng.integers(len(photos)))]
        image = cv2.imdecode(np.fromfile(base.path, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{base.path}: not a readable image")
        targets = [base] + [PlateSample(base.path, "", bbox=b) for b in base.other_boxes]
    else:
        image = random_scene(size, rng)
        w = rng.uniform(0.1, 0.5) * size[1]
        quad = perspective_quad(w, w / 3.14, rng) + [rng.uniform(w, size[1] - w), rng.uniform(size[0] * 0.3, size[0] * 0.9)]
        targets = [PlateSample("", "", bbox=(*quad.min(0), *quad.max(0)), vertices=tuple(map(tuple, quad)))]
    samples = []
    for t in targets:
        kind = choose_type(rng, type_weights)
        text = text_fn(kind, rng) if text_fn is not None else plate_text(kind, rng, province_weights)
        plate = render_plate(text, kind, rng, RENDER_SCALE, glyphs)
        ph, pw = plate.shape[:2]
        quad = _cover_quad(t, pw / ph)
        x1, y1 = np.floor(quad.min(0)).astype(int)
        x2, y2 = np.ceil(quad.max(0)).astype(int)
        ref = image[max(y1, 0):max(y2, 1), max(x1, 0):max(x2, 1)]
        if ref.size and photos:
            plate = match_appearance(plate, ref, rng)
        image = paste(image, plate, quad, feather=rng.uniform(0.5, 1.2))
        h, w = image.shape[:2]
        box = (max(0.0, float(quad[:, 0].min())), max(0.0, float(quad[:, 1].min())),
               min(float(w), float(quad[:, 0].max())), min(float(h), float(quad[:, 1].max())))
        samples.append(PlateSample("", text, PLATE_TYPES[kind].colour, PLATE_TYPES[kind].layout, box,
                                   tuple((float(x), float(y)) for x, y in quad), "platesynth", plate_type=kind))
    if rng.random() < 0.7:  # scene-wide sensor noise and compression (the plates' own blur is matched)
        noise = rng.normal(0, rng.uniform(1, 4), image.shape[:2])[:, :, None].astype(np.float32)
        image = (image + noise).clip(0, 255).astype(np.uint8)
    k = 1.0
    if squeeze is not None:
        h, w = image.shape[:2]
        width = max(1, int(round(w * np.random.default_rng([seed, index, 4]).uniform(*squeeze))))
        image = cv2.resize(image, (width, h), interpolation=cv2.INTER_AREA)
        k = width / w  # the factor the rounded width gives
    samples = [PlateSample("", s.text, s.colour, s.layout, (s.bbox[0] * k, s.bbox[1], s.bbox[2] * k, s.bbox[3]),
                           tuple((x * k, y) for x, y in s.vertices), s.source, None, s.plate_type) for s in samples]
    if inset is not None:
        image, samples = _inset(image, samples, inset, np.random.default_rng([seed, index, 5]))
    name = f"{index:07d}.jpg"
    return image, [replace(s, path=name) for s in samples]


def _inset(image: np.ndarray, samples: List[PlateSample], inset: Tuple[int, int, float, float],
           rng: np.random.Generator) -> Tuple[np.ndarray, List[PlateSample]]:
    """``image`` resized so its first plate is U(lo, hi) pixels wide (at most the size that fits) and
    set into a random-texture canvas of ``inset = (height, width, lo, hi)``; the samples moved with it."""
    ch, cw, lo, hi = inset
    h, w = image.shape[:2]
    plate_w = max(samples[0].bbox[2] - samples[0].bbox[0], 1.0)
    k = min(rng.uniform(lo, hi) / plate_w, ch / h, cw / w)
    nw, nh = max(1, int(round(w * k))), max(1, int(round(h * k)))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    kx, ky = nw / w, nh / h
    canvas = random_scene((ch, cw), rng)
    ox, oy = int(rng.integers(0, cw - nw + 1)), int(rng.integers(0, ch - nh + 1))
    canvas[oy:oy + nh, ox:ox + nw] = small
    return canvas, [replace(s, bbox=(s.bbox[0] * kx + ox, s.bbox[1] * ky + oy, s.bbox[2] * kx + ox, s.bbox[3] * ky + oy),
                            vertices=tuple((x * kx + ox, y * ky + oy) for x, y in s.vertices)) for s in samples]


def _write_crop(index: int, out: str, **kw) -> PlateSample:
    image, sample = synth_crop(index, **kw)
    imwrite(os.path.join(out, sample.path), image)
    return sample


def _write_scene(index: int, out: str, **kw) -> List[PlateSample]:
    image, samples = synth_scene(index, **kw)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(np.random.default_rng([kw["seed"], index, 3]).integers(60, 96))])
    from lprcore.files import write_bytes_atomic
    write_bytes_atomic(os.path.join(out, samples[0].path), buf.tobytes())
    return samples


def generate(kind: str, out: str, count: int, seed: int = 0, type_weights: Optional[Dict[str, float]] = None,
             photos: Sequence[str] = (), province_weights=None, assets: Optional[str] = None,
             workers: int = 1, start: int = 0, squeeze: Optional[Tuple[float, float]] = None,
             inset: Optional[Tuple[int, int, float, float]] = None) -> List[PlateSample]:
    """Write ``count`` crops (``kind="crops"``) or scenes (``kind="scenes"``) and ``OUT/labels.tsv``.

    Args:
        photos: crops: folders of photos for the context around plates; scenes: label sources
            (:func:`ccpd.sources.read_source`) whose plates have boxes.
        type_weights: plate type -> weight (default :data:`ccpd.plates.DEFAULT_TYPE_WEIGHTS`).
        squeeze, inset: scenes only: see :func:`synth_scene`.

    Returns:
        The samples written, paths relative to ``out``.

    Raises:
        ValueError: unknown ``kind``, scenes asked from photos of which none has a box, or a
            ``squeeze`` outside 0 < lo <= hi <= 1, an ``inset`` without 0 < lo <= hi or a
            canvas under 64 pixels, or either given for crops.
    """
    if inset is not None and (kind != "scenes" or not 0 < inset[2] <= inset[3] or min(inset[:2]) < 64):
        raise ValueError(f"inset is for scenes, (height >= 64, width >= 64, 0 < lo <= hi); got {inset} for {kind}")
    if squeeze is not None and (kind != "scenes" or not 0 < squeeze[0] <= squeeze[1] <= 1):
        raise ValueError(f"squeeze is for scenes, with 0 < lo <= hi <= 1; got {squeeze} for {kind}")
    os.makedirs(out, exist_ok=True)
    weights = dict(type_weights or DEFAULT_TYPE_WEIGHTS)
    common = dict(seed=seed, type_weights=weights, province_weights=province_weights, assets=assets)
    items = range(start, start + count)
    if kind == "crops":
        paths = background_photos(photos)
        samples = list(imap_progress(functools.partial(_write_crop, out=out, photos=paths, **common),
                                     items, workers, "synthetic crops", chunksize=16))
    elif kind == "scenes":
        labelled = [s for s in read_sources(photos).samples if s.bbox is not None] if photos else []
        if photos and not labelled:
            raise ValueError(f"no plate with a box in {list(photos)}: scenes need labelled photos")
        samples = [s for group in imap_progress(functools.partial(_write_scene, out=out, photos=tuple(labelled),
                                                                  squeeze=squeeze, inset=inset, **common),
                                                items, workers, "synthetic scenes", chunksize=4) for s in group]
    else:
        raise ValueError(f"kind must be 'crops' or 'scenes', got {kind!r}")
    rows = [PlateSample(os.path.join(out, s.path), s.text, s.colour, s.layout, s.bbox, s.vertices,
                        s.source, s.use, s.plate_type) for s in samples]
    if start > 0 and os.path.isfile(os.path.join(out, LABELS_FILE)):  # adding to a set: keep its rows
        mine = {r.path for r in rows}
        rows = [r for r in read_labels(out).samples if r.path not in mine] + rows
    write_labels(out, rows)
    return samples


def parse_province_weights(text: str) -> List[float]:
    """``"皖=5,苏=2"`` -> 31 weights in :data:`ccpd.plates.PROVINCES` order (others 1).

    Raises:
        ValueError: an unknown province or a non-numeric weight.
    """
    weights = {p: 1.0 for p in PROVINCES}
    for part in filter(None, (t.strip() for t in text.split(","))):
        name, _, value = part.partition("=")
        if name not in weights:
            raise ValueError(f"unknown province {name!r} in {text!r}")
        weights[name] = float(value)
    return [weights[p] for p in PROVINCES]
