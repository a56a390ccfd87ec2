"""Image files: finding, reading and writing them, for paths with non-ASCII (Chinese) names.

``cv2.imread`` cannot open paths with Chinese characters on every platform and returns ``None``
without saying why; these helpers decode bytes read by NumPy and raise errors that name the file.
Every image the project hands around is ``ndarray[H, W, 3]`` uint8 in **BGR** order (OpenCV's).

Reading is bounded: only regular files are opened (a FIFO would block, a device never end), and an
image over ``max_pixels`` (default :data:`DEFAULT_MAX_PIXELS`) is refused from its header, before
it is decoded, where Pillow knows the format (JPEG, PNG, BMP, TIFF, WebP ...), and after decoding
otherwise. Images held in memory (an upload to ``python -m lpr serve``) are decoded by
:func:`imdecode` with the same limits, through the same decoding step as files.
"""
from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
import warnings
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np
from imutils.paths import list_files
from PIL import Image

from lprcore.files import write_bytes_atomic

#: File extensions read as images (lower case) by folder scans.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: Default largest image :func:`imread` decodes, in pixels (height x width): 50 megapixels, a
#: 48-megapixel phone photo (8000 x 6000) and a little more; the decoded BGR image takes 150 MB.
DEFAULT_MAX_PIXELS = 50_000_000
#: An image file larger than this many bytes per allowed pixel (plus 1 MiB of headers) is refused
#: unread: more than 16-bit RGBA stored uncompressed.
MAX_FILE_BYTES_PER_PIXEL = 8


class ImageReadError(ValueError):
    """An image file that could not be read; the message names the file and the reason."""


class ImageTooLargeError(ImageReadError):
    """An image (or the work it needs) over a configured limit; the message names the file, the size,
    the limit and the option that raises it."""


def check_regular_file(path: str | os.PathLike) -> os.stat_result:
    """``os.stat`` of ``path`` (links followed), refusing anything but a regular file.

    Raises:
        FileNotFoundError: no such file (or a link to nothing).
        ImageReadError: a folder, or a special file (FIFO, device, socket), which reading would block
            on or never finish.
        OSError: the file cannot be examined (e.g. permission denied on a folder above it).
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(f"{path}: is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "a special file")
        raise ImageReadError(f"{path}: is {kind}, not a regular file; skipped")
    return st


def image_size(path: str | os.PathLike) -> Optional[Tuple[int, int]]:
    """``(height, width)`` from an image file's header, without decoding the pixels.

    Uses Pillow's lazy ``Image.open``. Call it on regular files only (see :func:`check_regular_file`).

    Returns:
        ``(height, width)`` in pixels, or ``None`` when Pillow does not know the format (or the header
        is damaged): :func:`imread` then checks the decoded size.

    Raises:
        ImageTooLargeError: the header declares more pixels than Pillow's decompression-bomb limit.
    """
    path = os.fspath(path)
    return _header_size(path, path)


def image_size_bytes(data: bytes | bytearray | memoryview, name: str = "image") -> Optional[Tuple[int, int]]:
    """``(height, width)`` from the header of an image held in memory (e.g. an upload), without
    decoding the pixels: :func:`image_size` on the bytes (Pillow's lazy ``Image.open`` on a
    ``BytesIO``).

    Args:
        data: the encoded image file's bytes.
        name: names the image in error messages.

    Returns:
        ``(height, width)`` in pixels, or ``None`` when Pillow does not know the format (or the header
        is damaged).

    Raises:
        ImageTooLargeError: the header declares more pixels than Pillow's decompression-bomb limit.
    """
    return _header_size(io.BytesIO(data), name)


def _header_size(source, name: str) -> Optional[Tuple[int, int]]:
    """The body of :func:`image_size` and :func:`image_size_bytes`: ``source`` is a path or a
    binary file object; ``name`` names it in errors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Image.DecompressionBombWarning: the caller decides
            with Image.open(source) as im:
                w, h = im.size
    except Image.DecompressionBombError as e:
        raise ImageTooLargeError(f"{name}: image too large ({e})") from None
    except Exception:  # unknown format or damaged header: left to OpenCV
        return None
    return int(h), int(w)


def check_pixels(path: str, size: Tuple[int, int], max_pixels: Optional[int]) -> None:
    """Raise :class:`ImageTooLargeError` when ``size = (height, width)`` holds more than
    ``max_pixels`` pixels (``None``: no limit)."""
    h, w = size
    if max_pixels is not None and h * w > max_pixels:
        raise ImageTooLargeError(f"{path}: image too large: {h}x{w} (height x width) = {h * w / 1e6:.1f} "
                                 f"megapixels, over the limit of {max_pixels / 1e6:g} megapixels "
                                 "(raise it with --max-pixels)")


def to_bgr8(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Convert a decoded image to 3-channel BGR ``uint8``.

    Args:
        image: ``ndarray[H, W]`` (gray), ``[H, W, 1]``, ``[H, W, 3]`` (BGR) or ``[H, W, 4]`` (BGRA),
            dtype uint8, uint16 (scaled by 1/257) or float32/float64 (assumed in [0, 1]; NaN read as 0).
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
    elif image.dtype in (np.float32, np.float64):  # NaN -> 0, +-Inf -> 1 / 0
        image = (np.clip(np.nan_to_num(image, nan=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
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


def imread(path: str | os.PathLike, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as BGR uint8, whatever its depth and channels.

    Args:
        path: file path; may contain Chinese characters or bytes that are not UTF-8 (as
            ``os.fsdecode`` gives them).
        max_pixels: largest image accepted, height x width pixels (``None``: only OpenCV's own limit,
            2^30 pixels); checked from the header before decoding where the format allows.

    Returns:
        ``ndarray[H, W, 3]`` uint8, BGR.

    Raises:
        FileNotFoundError: the path does not exist.
        ImageTooLargeError: more pixels than ``max_pixels`` (or than OpenCV decodes), or a file too
            large to hold such an image.
        ImageReadError: the path is a folder or a special file (FIFO, device), the file is empty, or
            it is not a decodable image.
        OSError: the file cannot be read (permission denied ...).
    """
    return imread_reduced(path, max_pixels, 1)[0]


#: OpenCV's flags for a JPEG decoded at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling: only the
#: low frequencies are inverse transformed), EXIF orientation ignored as :func:`imread` ignores it.
REDUCED_DECODE_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def is_jpeg(data: np.ndarray | bytes) -> bool:
    """True when the bytes start with a JPEG's start-of-image marker (``FF D8 FF``)."""
    return bytes(data[:3]) == b"\xff\xd8\xff"


def imread_reduced(path: str | os.PathLike, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                   factor: int = 1) -> Tuple[np.ndarray, int]:
    """Read an image file as BGR uint8, a JPEG decoded at ``1 / factor`` of its size.

    A JPEG's reduced decode scales its DCT blocks (OpenCV's ``IMREAD_REDUCED_COLOR_*``): a 4000x2483
    photo decodes in about two thirds of the time at 1/2 and half at 1/4, and the image is ``factor``
    times smaller (each side rounded up). Other formats decode whole (reducing them saves nothing).
    ``max_pixels`` applies to the file's full size.

    Args:
        path: as :func:`imread`.
        max_pixels: as :func:`imread`.
        factor: 1 (full size), 2, 4 or 8 (keys of :data:`REDUCED_DECODE_FLAGS`).

    Returns:
        ``(image, used)``: ``ndarray[ceil(H / used), ceil(W / used), 3]`` uint8, BGR, and the factor
        used: ``factor`` for a JPEG, 1 for any other format.

    Raises:
        ValueError: ``factor`` is not 1, 2, 4 or 8.
        FileNotFoundError, ImageTooLargeError, ImageReadError, OSError: as :func:`imread`.
    """
    if factor != 1 and factor not in REDUCED_DECODE_FLAGS:
        raise ValueError(f"decode reduction must be 1, 2, 4 or 8, got {factor}")
    path = os.fspath(path)
    st = check_regular_file(path)
    if st.st_size == 0:
        raise ImageReadError(f"{path}: empty file (0 bytes)")
    if max_pixels is not None and st.st_size > MAX_FILE_BYTES_PER_PIXEL * max_pixels + (1 << 20):
        raise ImageTooLargeError(f"{path}: file too large for an image of at most {max_pixels / 1e6:g} "
                                 f"megapixels ({st.st_size / 2**20:.0f} MiB; raise the limit with --max-pixels)")
    size = image_size(path)
    if size is not None:
        check_pixels(path, size, max_pixels)
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file (0 bytes)")
    return _decode(data, path, max_pixels, factor)


def imdecode(data: bytes | bytearray | memoryview, name: str = "image",
             max_pixels: Optional[int] = DEFAULT_MAX_PIXELS, factor: int = 1) -> Tuple[np.ndarray, int]:
    """Decode an image file held in memory (e.g. an upload) as BGR uint8, a JPEG at ``1 / factor``
    of its size: :func:`imread_reduced` on bytes, with the same limits, checks and errors (the
    bytes never name a file on disk; ``name`` only names them in messages).

    Args:
        data: the encoded image (JPEG, PNG, BMP, TIFF, WebP ... whatever OpenCV decodes).
        name: names the image in error messages, e.g. the uploaded file's name.
        max_pixels: largest image accepted, height x width pixels (``None``: only OpenCV's own
            limit); checked from the header before decoding where Pillow knows the format, and the
            number of bytes against it first (:data:`MAX_FILE_BYTES_PER_PIXEL`).
        factor: 1 (full size), 2, 4 or 8 (keys of :data:`REDUCED_DECODE_FLAGS`); only a JPEG is
            decoded reduced.

    Returns:
        ``(image, used)``: ``ndarray[ceil(H / used), ceil(W / used), 3]`` uint8, BGR, and the factor
        used: ``factor`` for a JPEG, 1 for any other format.

    Raises:
        ValueError: ``factor`` is not 1, 2, 4 or 8.
        ImageTooLargeError: more pixels than ``max_pixels`` (or than OpenCV decodes), or more bytes
            than such an image needs.
        ImageReadError: no bytes, or not a decodable image.
    """
    if factor != 1 and factor not in REDUCED_DECODE_FLAGS:
        raise ValueError(f"decode reduction must be 1, 2, 4 or 8, got {factor}")
    size = memoryview(data).nbytes
    if size == 0:
        raise ImageReadError(f"{name}: empty file (0 bytes)")
    if max_pixels is not None and size > MAX_FILE_BYTES_PER_PIXEL * max_pixels + (1 << 20):
        raise ImageTooLargeError(f"{name}: file too large for an image of at most {max_pixels / 1e6:g} "
                                 f"megapixels ({size / 2**20:.0f} MiB; raise the limit with --max-pixels)")
    header = image_size_bytes(data, name)
    if header is not None:
        check_pixels(name, header, max_pixels)
    return _decode(np.frombuffer(data, dtype=np.uint8), name, max_pixels, factor)


def _decode(data: np.ndarray, name: str, max_pixels: Optional[int], factor: int) -> Tuple[np.ndarray, int]:
    """The one decoding step of :func:`imread_reduced` and :func:`imdecode`: ``data`` (``uint8[N]``,
    N >= 1, the encoded file) already checked against the limits its header shows; a JPEG decoded
    at ``1 / factor``, the pixel limit checked again on what a full-size decode gave."""
    used = factor if factor != 1 and is_jpeg(data) else 1
    flags = REDUCED_DECODE_FLAGS[used] | cv2.IMREAD_IGNORE_ORIENTATION if used > 1 else cv2.IMREAD_UNCHANGED
    try:
        image = cv2.imdecode(data, flags)
    except cv2.error as e:  # e.g. a header over OpenCV's own pixel limit
        if "MAX_IMAGE_PIXELS" in str(e):
            raise ImageTooLargeError(f"{name}: image too large for OpenCV to decode") from None
        raise ImageReadError(f"{name}: not a readable image ({str(e).strip().splitlines()[-1]})") from None
    if image is None:
        raise ImageReadError(f"{name}: not a readable image (corrupt, truncated or unknown format)")
    if used == 1:
        check_pixels(name, image.shape[:2], max_pixels)
    return to_bgr8(image, name), used


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


@contextlib.contextmanager
def opencv_path(path: str) -> Iterator[str]:
    """A name of the file ``path`` that OpenCV can open (``cv2.VideoCapture``): ``path`` itself, or,
    when it is not valid UTF-8 (it holds ``os.fsdecode``'s surrogates, on which ``cv2.VideoCapture``
    crashes the process), a symbolic link to it with an ASCII name in a temporary folder, removed
    afterwards."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        with tempfile.TemporaryDirectory(prefix="lpr-") as d:
            link = os.path.join(d, "input" + os.path.splitext(path)[1].encode("ascii", "replace").decode())
            os.symlink(os.path.abspath(path), link)
            yield link
    else:
        yield path
