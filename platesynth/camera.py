"""Camera and scene effects on synthetic images, all random and all on BGR uint8 arrays.

Written with OpenCV and NumPy rather than albumentations: albumentations requires
``opencv-python-headless``, a second distribution of the ``cv2`` module that conflicts with the
project's ``opencv-python`` in one environment, and pulls SciPy and pydantic in.

Effects (probabilities per image in :func:`camera`): over- and under-exposure, night (dark, colour
cast, noise), near-infrared (grey, plate bright and characters dark or the other way), shadow edges
and glare, defocus and motion blur, resolution loss (plates down to about 60 pixels wide), sensor
noise, JPEG quality 30-95; and in the scene itself (:func:`weather`), fog and rain.
"""
from __future__ import annotations

import cv2
import numpy as np


def perspective_quad(width: float, height: float, rng: np.random.Generator,
                     max_rotate_deg: float = 15.0, max_yaw: float = 0.35, max_pitch: float = 0.2) -> np.ndarray:
    """Corners (TL, TR, BR, BL) ``float32[4, 2]`` of a ``width x height`` plate seen by a camera,
    centred on (0, 0): rotation in the image plane, yaw (one vertical side shorter), pitch (one
    horizontal side shorter) and shear, covering CCPD's tilt and rotate subsets."""
    hw, hh = width / 2, height / 2
    quad = np.float32([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
    yaw, pitch = rng.uniform(-max_yaw, max_yaw), rng.uniform(-max_pitch, max_pitch)
    quad[[1, 2], 1] *= 1 + yaw / 2
    quad[[0, 3], 1] *= 1 - yaw / 2
    quad[[0, 1], 0] *= 1 + pitch / 2
    quad[[2, 3], 0] *= 1 - pitch / 2
    quad[:, 0] *= np.cos(yaw * 0.8)
    if rng.random() < 0.8:
        angle = np.deg2rad(np.clip(rng.normal(0, max_rotate_deg / 2.5), -max_rotate_deg, max_rotate_deg))
    else:
        angle = np.deg2rad(rng.uniform(-max_rotate_deg, max_rotate_deg))
    shear = rng.uniform(-0.12, 0.12)
    rot = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (quad @ np.float32([[1, 0], [shear, 1]]).T @ rot.T).astype(np.float32)


def motion_blur(img: np.ndarray, length: int, angle_deg: float) -> np.ndarray:
    """Blur along a line of ``length`` pixels at ``angle_deg``."""
    k = max(3, length | 1)
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0
    m = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), angle_deg, 1.0)
    kernel = cv2.warpAffine(kernel, m, (k, k))
    return cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))


def shadow_and_glare(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A straight shadow edge across the image and/or a soft glare spot."""
    h, w = img.shape[:2]
    out = img.astype(np.float32)
    if rng.random() < 0.6:
        p = np.float32([rng.uniform(0, w), rng.uniform(0, h)])
        n = rng.normal(size=2)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        side = ((xx - p[0]) * n[0] + (yy - p[1]) * n[1]) > 0
        soft = cv2.GaussianBlur(side.astype(np.float32), (0, 0), max(0.5, w * rng.uniform(0.002, 0.02)))
        out *= 1 - soft[:, :, None] * rng.uniform(0.3, 0.65)
    else:
        c = (rng.uniform(0, w), rng.uniform(0, h))
        r = max(w, h) * rng.uniform(0.1, 0.4)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        spot = np.exp(-(((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * r * r)))
        out += spot[:, :, None] * rng.uniform(60, 160)
    return np.clip(out, 0, 255).astype(np.uint8)


def weather(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fog (12 % of images: a grey-white veil) and rain (10 %: light streaks, one slant per image),
    drawn into the scene before the camera sees it."""
    out = img
    if rng.random() < 0.12:
        a = rng.uniform(0.2, 0.55)
        out = np.clip(out.astype(np.float32) * (1 - a) + rng.uniform(170, 230) * a, 0, 255).astype(np.uint8)
    if rng.random() < 0.1:
        h, w = out.shape[:2]
        layer = np.zeros_like(out)
        dx = int(rng.integers(-8, 9))
        for _ in range(int(rng.integers(150, 500))):
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            cv2.line(layer, (x, y), (x + dx, y + int(rng.integers(8, 25))), (200, 200, 200), 1)
        out = cv2.addWeighted(out, 1.0, layer, 0.5, 0)
    return out


def camera(img: np.ndarray, rng: np.random.Generator, plate_width: float | None = None) -> np.ndarray:
    """Apply a random mix of camera effects to a BGR uint8 image (crop or scene).

    Args:
        img: ``ndarray[H, W, 3]`` uint8 BGR.
        rng: random generator.
        plate_width: the plate's width in pixels in ``img``; resolution loss then brings the plate
            down to between about 60 and 140 pixels wide (default: relative to the image width).

    Returns:
        ``ndarray[H, W, 3]`` uint8 BGR, same size.
    """
    out = img.astype(np.float32)
    r = rng.random()
    if r < 0.12:    # night: dark, warm or cold cast
        out = 255 * (out / 255) ** rng.uniform(1.4, 2.4) * rng.uniform(0.35, 0.75)
        out *= np.float32([0.85, 0.95, 1.1]) if rng.random() < 0.5 else np.float32([1.1, 1.0, 0.85])
    elif r < 0.24:  # over-exposure
        out = out * rng.uniform(1.2, 1.7) + rng.uniform(10, 60)
    elif r < 0.36:  # under-exposure
        out = out * rng.uniform(0.35, 0.7)
    else:
        out = out * rng.uniform(0.75, 1.2) + rng.uniform(-25, 25)
        if rng.random() < 0.4:  # white balance
            out *= rng.uniform(0.88, 1.12, 3)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.1:  # near-infrared camera: grey, contrast stretched, sometimes inverted tones
        grey = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
        grey = cv2.normalize(grey, None, rng.uniform(0, 40), rng.uniform(200, 255), cv2.NORM_MINMAX)
        out = cv2.cvtColor(grey.astype(np.uint8), cv2.COLOR_GRAY2BGR)
    elif rng.random() < 0.05:  # plain greyscale camera
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.25:
        out = shadow_and_glare(out, rng)
    r = rng.random()
    if r < 0.25:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.6))
    elif r < 0.4:
        out = motion_blur(out, int(rng.integers(3, 9)), rng.uniform(-30, 30) if rng.random() < 0.7 else rng.uniform(0, 180))
    h, w = out.shape[:2]
    if rng.random() < 0.5:  # resolution loss
        pw = plate_width or w
        target = rng.uniform(60, 140)
        f = min(1.0, target / max(pw, 1.0))
        if f < 0.95:
            small = cv2.resize(out, (max(2, int(w * f)), max(2, int(h * f))), interpolation=cv2.INTER_AREA)
            out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.6:
        sigma = rng.uniform(2, 12) if rng.random() < 0.8 else rng.uniform(12, 25)
        out = np.clip(out + rng.normal(0, sigma, out.shape).astype(np.float32), 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 96))])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out
