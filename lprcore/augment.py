"""Photometric augmentation shared by the training sets of every stage."""
from __future__ import annotations

import cv2
import numpy as np


#: Default share of crops :func:`photometric` turns grayscale (half of them with a near-infrared look), so
#: grayscale photos read about as well as colour ones. Measured: docs/tuning.md#gray_p
GRAY_P = 0.1


def to_gray3(img: np.ndarray, weights=None) -> np.ndarray:
    """A BGR uint8 image as grayscale in 3 equal channels (``ndarray[H, W, 3]`` uint8).

    Args:
        weights: per-channel ``(b, g, r)`` weights summing to 1; default the usual luminance
            (``cv2.COLOR_BGR2GRAY``). Other weights give other looks, e.g. red-heavy weights the
            dark blue plate and bright characters of a near-infrared camera.
    """
    if weights is None:
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    else:
        gray = np.clip(img.astype(np.float32) @ np.asarray(weights, np.float32), 0, 255).astype(np.uint8)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def photometric(crop: np.ndarray, rng: np.random.Generator, gray_p: float = GRAY_P) -> np.ndarray:
    """Colour, brightness, contrast, blur and noise changes on a BGR uint8 crop.

    Args:
        crop: ``ndarray[H, W, 3]`` uint8, BGR.
        rng: the random source (each call draws from it).
        gray_p: probability, in [0, 1], that the result is made grayscale (3 equal channels): half of
            those with the usual luminance, half with random channel weights (Dirichlet), whose
            red-heavy draws look like a near-infrared camera's (dark plate, bright characters), so
            that grayscale and infrared photos are read like colour ones. Drawn last, so the other
            changes draw the same numbers as with ``gray_p=0``.

    Returns:
        ``ndarray[H, W, 3]`` uint8, BGR.
    """
    img = crop.astype(np.float32)
    if rng.random() < 0.8:  # brightness / contrast
        img = img * rng.uniform(0.55, 1.45) + rng.uniform(-40, 40)
    if rng.random() < 0.3:  # per-channel colour cast
        img = img * rng.uniform(0.85, 1.15, size=3)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + rng.integers(-6, 7)) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.6, 1.3), 0, 255)
        img = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    r = rng.random()
    if r < 0.25:
        k = int(rng.choice([3, 5]))
        img = cv2.GaussianBlur(img, (k, k), 0)
    elif r < 0.35:  # horizontal motion blur
        k = int(rng.integers(3, 7))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2] = 1.0 / k
        img = cv2.filter2D(img, -1, kernel)
    if rng.random() < 0.3:  # down-up sampling: small, low-resolution plates
        f = rng.uniform(0.35, 0.8)
        small = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        img = np.clip(img + rng.normal(0, rng.uniform(2, 10), img.shape), 0, 255).astype(np.uint8)
    if gray_p > 0 and rng.random() < gray_p:
        img = to_gray3(img, None if rng.random() < 0.5 else rng.dirichlet((1.0, 1.0, 1.0)))
    return img
