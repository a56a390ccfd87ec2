"""A synthetic test video with known plate tracks: ``python -m platesynth video --out DIR --seed S``.

Platesynth plates (:func:`platesynth.render.render_plate`) ride on simple car shapes across a
background (a random texture, :func:`platesynth.generate.random_scene`, with a little camera shake,
flicker and sensor noise) and leave the picture again. Two kinds of motion:

* ``approach`` (a gate camera): the car comes down a lane from far (its plate small, about 40-60
  pixels wide, under what the detector searches for) and grows until it leaves at the bottom;
* ``cross`` (a street camera): the car drives across the picture at a constant size.

Tracks overlap in time, but no car hides another's plate (a start time is drawn again until each
car stays clear of the plates of the cars seen with it; a car for which none is found is left out),
a run of each track's frames is blurred (motion or defocus) and a pole in front of the scene hides
part of the plates that pass behind it. The same arguments write the same video and ground truth.

Output (``OUT/``): ``clip.mp4`` (``cv2.VideoWriter``, fourcc ``mp4v``) and ``tracks.json``, the
ground truth::

    {"video": "clip.mp4", "fps": 15.0, "frames": 240, "size": [360, 640], "seed": 1, "pole": [x1, x2],
     "tracks": [{"id": 0, "text": "皖A12345", "plate_type": "blue", "colour": "blue", "layout": "single",
                 "motion": "approach", "frames": [k, ...], "boxes": [[x1, y1, x2, y2], ...],
                 "corners": [[[x, y] x 4], ...], "blurred": [k, ...], "occluded": [k, ...]}, ...]}

``frames`` are the indices of the frames where some of the plate is inside the picture, ``boxes``
(pixels, clipped to the picture) and ``corners`` (TL, TR, BR, BL, not clipped) one per frame of
``frames``; ``blurred`` and ``occluded`` the frames where the plate was blurred or partly hidden by
the pole (which covers columns ``x1 <= x < x2`` of every frame). Sizes are (height, width) in pixels,
as everywhere in the project.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ccpd.plates import PLATE_TYPES
from lprcore.files import write_text_atomic
from platesynth.camera import motion_blur, perspective_quad
from platesynth.generate import RENDER_SCALE, choose_type, paste, plate_text, random_scene
from platesynth.render import load_glyphs, render_plate

#: (height, width) of the video in pixels.
VIDEO_SIZE = (360, 640)
#: Frames per second of the video.
VIDEO_FPS = 15.0
#: Frames of the video (16 s at 15 fps).
VIDEO_FRAMES = 240
#: File names in the output folder.
VIDEO_NAME, TRACKS_NAME = "clip.mp4", "tracks.json"
#: Plate types of the video's cars and their weights: mostly the blue plates the detector learned
#: best, and every other common colour and layout.
VIDEO_TYPE_WEIGHTS: Dict[str, float] = {"blue": 0.45, "yellow": 0.15, "green_small": 0.15, "yellow_double": 0.1,
                                        "police": 0.05, "green_large": 0.05, "black": 0.05}
#: Share of a track's frames that are blurred (in one run of frames).
BLUR_SHARE = (0.1, 0.25)


@dataclass
class _Track:
    """One car: its plate and how it moves (all in the video's pixels and frame indices)."""

    id: int
    text: str
    plate_type: str
    motion: str
    start: int
    length: int
    plate: np.ndarray                    # rendered plate, BGR uint8
    shape: np.ndarray                    # [4, 2] corners of the plate at width 1, centred on (0, 0)
    centre: Tuple[np.ndarray, np.ndarray]  # (from, to) centre positions
    width: Tuple[float, float]           # (from, to) plate widths
    body: Tuple[int, int, int]           # car colour, BGR
    blur: Tuple[int, int] = (0, 0)       # blurred frames [from, to)
    blur_kind: str = "motion"
    frames: List[int] = field(default_factory=list)
    boxes: List[List[float]] = field(default_factory=list)
    corners: List[List[List[float]]] = field(default_factory=list)
    blurred: List[int] = field(default_factory=list)
    occluded: List[int] = field(default_factory=list)

    def at(self, k: int) -> Tuple[np.ndarray, float]:
        """The plate's corners ``float32[4, 2]`` and width (pixels) at frame ``k``."""
        t = (k - self.start) / max(self.length - 1, 1)
        if self.motion == "approach":
            t = t ** 1.6  # far cars move slowly on the screen, near ones fast
        centre = self.centre[0] + (self.centre[1] - self.centre[0]) * t
        width = self.width[0] + (self.width[1] - self.width[0]) * t
        return (self.shape * width + centre).astype(np.float32), width

    def car_box(self, k: int) -> np.ndarray:
        """The car's box (x1, y1, x2, y2 pixels) at frame ``k``: the plate sits low in its middle."""
        quad, width = self.at(k)
        cx, cy = quad.mean(0)
        return np.float32([cx - 1.25 * width, cy - 1.2 * width, cx + 1.25 * width, cy + 0.3 * width])

    def plate_box(self, k: int) -> np.ndarray:
        """The plate's box (x1, y1, x2, y2 pixels, not clipped) at frame ``k``."""
        quad, _ = self.at(k)
        return np.float32([*quad.min(0), *quad.max(0)])


def _overlap(a: np.ndarray, b: np.ndarray, gap: float = 6.0) -> bool:
    """Whether boxes ``a`` and ``b`` (x1, y1, x2, y2) come closer than ``gap`` pixels."""
    return bool(a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap)


def _plan(seed: int, frames: int, fps: float, size: Tuple[int, int], count: int, assets: Optional[str],
          type_weights: Dict[str, float]) -> List[_Track]:
    """Draw ``count`` tracks whose cars never overlap while both are in the picture."""
    h, w = size
    glyphs = load_glyphs(assets)
    tracks: List[_Track] = []
    lanes = (0.25, 0.5, 0.75)
    for i in range(count):
        rng = np.random.default_rng([seed, i, 7])
        kind = choose_type(rng, type_weights)
        text = plate_text(kind, rng)
        plate = render_plate(text, kind, rng, RENDER_SCALE, glyphs)
        ph, pw = plate.shape[:2]
        shape = perspective_quad(1.0, ph / pw, rng, max_rotate_deg=6, max_yaw=0.25, max_pitch=0.15)
        length = int(round(rng.uniform(2.5, 5.5) * fps))
        length = max(4, min(length, frames))
        body = tuple(int(v) for v in rng.integers(30, 230, 3))
        for _ in range(400):
            start = int(rng.integers(-length // 4, max(1, frames - length // 2)))
            if rng.random() < 0.6:
                side = lanes[int(rng.integers(len(lanes)))]
                lane = side * w + rng.uniform(-0.04, 0.04) * w
                w0, w1 = rng.uniform(0.06, 0.09) * w, rng.uniform(0.17, 0.21) * w
                c0 = np.float32([lane, 0.2 * h])
                drift = (rng.uniform(-0.05, 0.05) if side == 0.5 else rng.uniform(0, 0.08) * np.sign(0.5 - side)) * w
                c1 = np.float32([lane + drift, h + 0.5 * w1])  # side lanes drift inwards, off the picture's edge
                track = _Track(i, text, kind, "approach", start, length, plate, shape, (c0, c1), (w0, w1), body)
            else:
                wd = rng.uniform(0.14, 0.2) * w
                y = rng.uniform(0.45, 0.8) * h
                x0, x1 = -2.0 * wd, w + 2.0 * wd
                if rng.random() < 0.5:
                    x0, x1 = x1, x0
                track = _Track(i, text, kind, "cross", start, length, plate, shape,
                               (np.float32([x0, y]), np.float32([x1, y + rng.uniform(-0.05, 0.05) * h])), (wd, wd), body)
            clash = any(_overlap(track.car_box(k), other.plate_box(k)) or _overlap(track.plate_box(k), other.car_box(k))
                        for other in tracks
                        for k in range(max(track.start, other.start),
                                       min(track.start + track.length, other.start + other.length)))
            if not clash:
                break
        else:
            continue  # no free time for this car: leave it out
        n_blur = int(round(rng.uniform(*BLUR_SHARE) * length))
        b0 = int(rng.integers(0, max(1, length - n_blur)))
        track.blur = (start + b0, start + b0 + n_blur)
        track.blur_kind = "motion" if rng.random() < 0.6 else "defocus"
        tracks.append(track)
    return tracks


def _draw_car(frame: np.ndarray, box: np.ndarray, colour: Tuple[int, int, int]) -> None:
    """A simple car front in ``box`` (x1, y1, x2, y2): body, windscreen and lights, drawn in place."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    bw, bh = x2 - x1, y2 - y1
    cv2.rectangle(frame, (x1, y1 + bh // 3), (x2, y2), colour, -1)
    dark = tuple(max(0, c - 60) for c in colour)
    cv2.rectangle(frame, (x1 + bw // 8, y1), (x2 - bw // 8, y1 + bh // 3), dark, -1)
    cv2.rectangle(frame, (x1 + bw // 6, y1 + bh // 20), (x2 - bw // 6, y1 + bh // 3), (90, 80, 70), -1)
    r = max(2, bw // 14)
    for cx in (x1 + bw // 7, x2 - bw // 7):
        cv2.circle(frame, (cx, y1 + bh // 2), r, (220, 230, 240), -1)


def _frame(k: int, background: np.ndarray, tracks: Sequence[_Track], size: Tuple[int, int],
           pole: Tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Draw frame ``k`` and append each visible track's ground truth for it."""
    h, w = size
    bh, bw = background.shape[:2]
    dx = int(round((bw - w) / 2 + 2 * np.sin(k / 7.0)))
    dy = int(round((bh - h) / 2 + 1.5 * np.cos(k / 11.0)))
    frame = background[dy:dy + h, dx:dx + w].copy()
    visible = [t for t in tracks if t.start <= k < t.start + t.length]
    for t in sorted(visible, key=lambda t: t.at(k)[1]):  # far (small) cars first
        quad, width = t.at(k)
        _draw_car(frame, t.car_box(k), t.body)
        plate = t.plate
        blurred = t.blur[0] <= k < t.blur[1]
        if blurred:
            f = plate.shape[1] / max(width, 1.0)  # rendered pixels per video pixel
            if t.blur_kind == "motion":
                plate = motion_blur(plate, int(round(rng.uniform(4, 8) * f)), rng.uniform(-20, 20))
            else:
                plate = cv2.GaussianBlur(plate, (0, 0), rng.uniform(1.0, 1.8) * f)
        frame = paste(frame, plate, quad, feather=0.6)
        x1, y1 = np.maximum(quad.min(0), 0)
        x2, y2 = np.minimum(quad.max(0), [w, h])
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        t.frames.append(k)
        t.boxes.append([round(float(v), 1) for v in (x1, y1, x2, y2)])
        t.corners.append([[round(float(x), 1), round(float(y), 1)] for x, y in quad])
        if blurred:
            t.blurred.append(k)
        if x1 < pole[1] and pole[0] < x2:
            t.occluded.append(k)
    cv2.rectangle(frame, (pole[0], 0), (pole[1] - 1, h), (60, 60, 70), -1)
    cv2.rectangle(frame, (pole[0] + 2, 0), (pole[0] + 4, h), (110, 110, 120), -1)
    gain = 1.0 + 0.04 * np.sin(k / 5.0)
    noise = rng.normal(0, 2.5, frame.shape[:2])[:, :, None]
    return np.clip(frame.astype(np.float32) * gain + noise, 0, 255).astype(np.uint8)


def make_video(out: str | os.PathLike, seed: int = 0, frames: int = VIDEO_FRAMES,
               size: Tuple[int, int] = VIDEO_SIZE, fps: float = VIDEO_FPS, tracks: Optional[int] = None,
               assets: Optional[str] = None, type_weights: Optional[Dict[str, float]] = None) -> dict:
    """Write ``OUT/clip.mp4`` and its ground truth ``OUT/tracks.json`` (see the module docstring).

    Args:
        out: output folder (created when missing).
        seed: everything random is drawn from it.
        frames: number of frames, >= 1.
        size: (height, width) in pixels, each >= 64 (even numbers suit the codec).
        fps: frames per second of the video, > 0.
        tracks: number of cars (default: one per 1.6 s of video); a car for which no free time is
            found is left out.
        assets: plate glyph folder (default: :func:`platesynth.render.load_glyphs`'s).
        type_weights: plate type -> weight (default :data:`VIDEO_TYPE_WEIGHTS`).

    Returns:
        The ground truth written to ``tracks.json`` (tracks with no frame in the picture left out).

    Raises:
        ValueError: ``frames``, ``size`` or ``fps`` out of range.
        OSError: the video cannot be written (OpenCV without an mp4v encoder, an unwritable folder).
        platesynth.render.AssetError: an asset folder given but unusable.
    """
    h, w = (int(v) for v in size)
    if frames < 1 or min(h, w) < 64 or not fps > 0:
        raise ValueError(f"need frames >= 1, size >= 64 x 64 and fps > 0; got {frames}, {h} x {w}, {fps}")
    count = tracks if tracks is not None else max(1, int(round(frames / fps / 1.6)))
    plan = _plan(seed, frames, fps, (h, w), count, assets, dict(type_weights or VIDEO_TYPE_WEIGHTS))
    rng = np.random.default_rng([seed, 8])
    background = random_scene((h + 16, w + 16), rng)
    pole_x = int(rng.choice([rng.uniform(0.03, 0.07), rng.uniform(0.9, 0.94)]) * w)
    pole = (pole_x, pole_x + max(6, w // 40))
    os.makedirs(out, exist_ok=True)
    final = os.path.join(os.fspath(out), VIDEO_NAME)
    tmp = os.path.join(os.fspath(out), f".clip.{os.getpid()}.tmp.mp4")  # VideoWriter picks the container by extension
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
    try:
        if not writer.isOpened():
            raise OSError(f"{final}: OpenCV cannot write an mp4v video here")
        for k in range(frames):
            writer.write(_frame(k, background, plan, (h, w), pole, rng))
        writer.release()
        os.replace(tmp, final)
    finally:
        writer.release()
        if os.path.exists(tmp):
            os.remove(tmp)
    truth = {"video": VIDEO_NAME, "fps": float(fps), "frames": int(frames), "size": [h, w], "seed": int(seed),
             "pole": list(pole),
             "tracks": [{"id": t.id, "text": t.text, "plate_type": t.plate_type,
                         "colour": PLATE_TYPES[t.plate_type].colour, "layout": PLATE_TYPES[t.plate_type].layout,
                         "motion": t.motion, "frames": t.frames, "boxes": t.boxes, "corners": t.corners,
                         "blurred": t.blurred, "occluded": t.occluded} for t in plan if t.frames]}
    write_text_atomic(os.path.join(os.fspath(out), TRACKS_NAME), json.dumps(truth, ensure_ascii=False) + "\n")
    return truth
