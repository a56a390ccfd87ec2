"""Image files: finding, reading and writing them, for paths with non-ASCII (Chinese) names.

``cv2.imread`` cannot open paths with Chinese characters on every platform and returns ``None``
without saying why; these helpers decode bytes read by NumPy and raise errors that name the file.
Every image the project hands around is ``ndarray[H, W, 3]`` uint8 in **BGR** order (OpenCV's).
"""
from __future__ import annotations

import os
from typing import List

import cv2
import numpy as np
from imutils.paths import list_files

from lprcore.files import write_bytes_atomic

#: File extensions read as images (lower case) by folder scans.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class ImageReadError(ValueError):
    """An image file that could not be read; the message names the file and the reason."""


def to_bgr8(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Convert a decoded image to 3-channel BGR ``uint8``.

    Args:
        image: ``ndarray[H, W]`` (gray), ``[H, W, 1]``, ``[H, W, 3]`` (BGR) or ``[H, W, 4]`` (BGRA),
            dtype uint8, uint16 (scaled by 1/257) or float (assumed in [0, 1]).
        name: used in error messages.

    Returns:
        ``ndarray[H, W, 3]`` uint8, BGR.

    Raises:
        ImageReadError: empty image, or an unsupported number of channels.
    """
    if image is None or image.size == 0:
        raise ImageReadError(f"{name}: empty image")
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageReadError(f"{name}: unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise ImageReadError(f"{name}: unsupported image shape {image.shape}")


def imread(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as BGR uint8, whatever its depth and channels.

    Args:
        path: file path; may contain Chinese characters.

    Returns:
        ``ndarray[H, W, 3]`` uint8, BGR.

    Raises:
        FileNotFoundError: the path does not exist.
        ImageReadError: the path is a folder, the file is empty, or it is not a decodable image.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ImageReadError(f"{path}: is a folder, not an image file")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file (0 bytes)")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageReadError(f"{path}: not a readable image (corrupt, truncated or unknown format)")
    return to_bgr8(image, path)


def imwrite(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a BGR uint8 image; the format follows the extension; non-ASCII paths work.

    The file is written to a temporary name first and renamed, so a reader never sees half a file.

    Raises:
        ValueError: OpenCV cannot encode the image in that format.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1] or ".png"
    ok, buf = cv2.imencode(ext, image)
    if not ok:
        raise ValueError(f"{path}: could not encode image as {ext}")
    write_bytes_atomic(path, buf.tobytes())


def is_image(name: str) -> bool:
    """True when ``name`` ends with one of :data:`IMAGE_EXTENSIONS` (case-insensitive)."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def list_images(folder: str | os.PathLike, recursive: bool = True) -> List[str]:
    """Sorted paths of the image files in ``folder`` (and below it when ``recursive``).

    Recursive listing is ``imutils.paths.list_files`` (an ``os.walk``), sorted here so that every
    run sees the same order.
    """
    folder = os.fspath(folder)
    if recursive:
        return sorted(list_files(folder, validExts=IMAGE_EXTENSIONS))
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if is_image(f) and os.path.isfile(os.path.join(folder, f)))
