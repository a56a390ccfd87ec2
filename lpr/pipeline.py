"""The main job: detect plates with MTCNN, read them with STN + LPRNet.

``read_plates(image)`` and :class:`PlateReader` are the Python API; :mod:`lpr.cli` (``python -m lpr``,
``python main.py``) is the command line over it.
"""
from __future__ import annotations

import copy
import logging
import os
import time
import warnings
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ccpd.plates import is_valid_text
from lprcore.imageio import (DEFAULT_MAX_PIXELS, ImageTooLargeError, check_pixels, check_regular_file, image_size,
                             image_size_bytes, imdecode, imread_reduced)
from lprcore.compat import moved_names
from lprcore.manifest import MANIFEST_NAME, WeightsError, export_mismatch, warn_unchecked
from lprcore.onnx import check_threads, onnxruntime_available
from lprcore.report import add_time
from lpr.config import ReaderConfig, ReadingOptions
from LPRNet.crops import box_to_quad, expand_quad
from LPRNet import reading
from LPRNet.onnx_recognizer import EXPORTED_FROM as RECOGNIZER_EXPORTED_FROM
from MTCNN import cascade
from MTCNN.onnx_detector import EXPORTED_FROM as DETECTOR_EXPORTED_FROM
from MTCNN.boxes import plausible_corners
from MTCNN.cascade import DetectorConfig, Detections

log = logging.getLogger(__name__)

#: Backends of :class:`PlateReader`: ``"auto"`` picks ``"onnx"`` when it can (:func:`choose_backend`).
BACKENDS = ("auto", "onnx", "torch")
#: Rotated retry (:meth:`PlateReader.retry`): angles (degrees, counter-clockwise) to turn a photo
#: with no valid read by, for plates tilted more than PNet/ONet learned; tried in pairs, in this
#: order, until a pair reads a valid text. Measured: docs/tuning.md#rotated_retry_angles
ROTATED_RETRY_ANGLES = (-15.0, 15.0, -30.0, 30.0, -45.0, 45.0)
#: Stretched retry (:meth:`PlateReader.retry_stretched`): x factors to stretch a photo still without a
#: valid read by, for plates seen from the side (narrower than PNet's cell).
#: Measured: docs/tuning.md#stretch_retry_factors
STRETCH_RETRY_FACTORS = (2.0,)
#: Fine retry (:meth:`PlateReader.retry_fine`): the longest side, pixels, of the largest pyramid level
#: searched again on a photo with no valid read, when ``DetectorConfig.max_level_side`` is smaller
#: (plates down to 47 / 1600 = 3 % of the photo's longest side instead of 7 %).
#: Measured: docs/tuning.md#fine_retry_side
FINE_RETRY_SIDE = 1600
#: Contrast retry (:meth:`PlateReader.retry_contrast`): a photo whose median gray level (0-255) is
#: below this is dark (night); when no retry read a valid text on it, it is searched and read again
#: with its contrast equalised (CLAHE on the lightness, :data:`CONTRAST_CLIP` x 8x8 tiles).
#: Measured: docs/tuning.md#dark_median
DARK_MEDIAN = 60
#: CLAHE clip limit of the contrast retry (OpenCV's ``createCLAHE``).
CONTRAST_CLIP = 3.0
#: Each ONNX model and the torch weight files it was exported from (``python -m lpr.export``).
ONNX_SOURCES = {**DETECTOR_EXPORTED_FROM, **RECOGNIZER_EXPORTED_FROM}


@dataclass(frozen=True)
class Plate:
    """One plate found in an image.

    Attributes:
        box: (x1, y1, x2, y2) in pixels of the input image, inside it (for a plate found by a
            retry, :meth:`PlateReader.retry_rotated` or :meth:`PlateReader.retry_stretched`: the
            bounds of the quadrilateral it was cut from, mapped back, margin included).
        score: detection score (ONet plate probability), in [0, 1].
        text: decoded characters, e.g. ``"皖A12345"`` (may be empty).
        confidence: reading confidence, the lowest character probability, in [0, 1].
        char_confidences: probability of each character.
        colour: plate colour (blue, yellow, green, white, black), ``None`` when the recognizer's
            weights have no colour/layout classifier.
        layout: ``"single"`` or ``"double"`` row, ``None`` likewise.
        corners: the plate's 4 corners ((x, y) pixels, clockwise from the top-left: TL, TR, BR, BL)
            from ONet's vertex branch; the plate was cut from this quadrilateral grown by
            :data:`LPRNet.crops.CORNER_MARGIN` (or, with a second look, from that quadrilateral
            or from it scaled: ``ReadingOptions.second_look``; found by a retry, they are the
            corners ONet gave on the rotated or stretched photo, mapped back). ``None`` when the
            detector's weights have no vertex branch or the corners were implausible
            (:func:`MTCNN.boxes.plausible_corners`; the box was cut instead).

    The property :attr:`valid` tells whether ``text`` follows a plate rule.
    """

    box: Tuple[float, float, float, float]
    score: float
    text: str
    confidence: float
    char_confidences: Tuple[float, ...] = ()
    colour: Optional[str] = None
    layout: Optional[str] = None
    corners: Optional[Tuple[Tuple[float, float], ...]] = None

    @property
    def valid(self) -> bool:
        """``text`` follows the text rules of some GA 36-2018 plate type (:func:`ccpd.plates.is_valid_text`);
        the reader returns only valid reads unless asked for all (:func:`keep_plates`)."""
        return is_valid_text(self.text)

    def to_json(self) -> dict:
        """JSON-ready dict: box and corners rounded to 0.1 pixel, probabilities to 4 digits; colour,
        layout and corners only when known."""
        d = asdict(self)
        for k in ("colour", "layout", "corners"):
            if d[k] is None:
                del d[k]
        d["box"] = [round(float(v), 1) for v in self.box]
        if self.corners is not None:
            d["corners"] = [[round(float(x), 1), round(float(y), 1)] for x, y in self.corners]
        d["score"] = round(self.score, 4)
        d["confidence"] = round(self.confidence, 4)
        d["char_confidences"] = [round(c, 4) for c in self.char_confidences]
        d["valid"] = self.valid
        return d


def is_dark(image: np.ndarray, level: float = DARK_MEDIAN) -> bool:
    """True when the median gray level (0-255) of ``image`` (``ndarray[H, W, 3]`` uint8, BGR; measured
    on a copy at most 256 pixels wide) is below ``level``: a night photo."""
    h, w = image.shape[:2]
    step = max(1, w // 256)
    gray = cv2.cvtColor(np.ascontiguousarray(image[::step, ::step]), cv2.COLOR_BGR2GRAY)
    return bool(gray.size) and float(np.median(gray)) < level


def equalise_contrast(image: np.ndarray, clip: float = CONTRAST_CLIP) -> np.ndarray:
    """``image`` (``ndarray[H, W, 3]`` uint8, BGR) with its lightness equalised by CLAHE (Zuiderveld
    1994; OpenCV's ``createCLAHE``, ``clip`` limit, 8x8 tiles) in the L*a*b* space, colours kept:
    ``ndarray[H, W, 3]`` uint8, BGR."""
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    lab[:, :, 0] = cv2.createCLAHE(clipLimit=clip, tileGridSize=(8, 8)).apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def fine_passes(size: Tuple[int, int], config: DetectorConfig, side: int) -> float:
    """The fine retry's expected time in first passes on an image of ``size = (height, width)``: the
    pixels of its pyramid (largest level ``side``) over those of the first pass's (PNet's work, which
    dominates), for the time budget."""
    def area(max_side):
        return sum(size[0] * size[1] * s * s for s in cascade.pyramid_scales(
            size, config.min_plate_size, config.scale_factor, max_side)) or 1.0
    return area(side) / area(config.max_level_side)


def scale_plate(plate: Plate, factor: float) -> Plate:
    """``plate`` found on an image decoded at ``1 / factor`` of a photo's size, in the photo's pixels:
    each point ``p`` (box and corners, pixel centres at integers) becomes ``p * factor + (factor - 1) / 2``,
    the centre of the block of ``factor x factor`` photo pixels it stood for."""
    shift = (factor - 1) / 2.0
    corners = (None if plate.corners is None else
               tuple((x * factor + shift, y * factor + shift) for x, y in plate.corners))
    return replace(plate, box=tuple(v * factor + shift for v in plate.box), corners=corners)


def decode_photo(path: str | os.PathLike, config: DetectorConfig, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                 reduce: bool = True) -> Tuple[np.ndarray, int]:
    """Check and decode a photo for the detector of ``config``: the pixel limit and the pyramid's
    memory limit from the file's header first (nothing decoded when over), then the image, a JPEG at
    the reduction :func:`MTCNN.cascade.decode_reduction` allows when ``reduce``.

    Returns:
        ``(image, factor)``: ``ndarray[H, W, 3]`` uint8, BGR, decoded at ``1 / factor`` of the
        file's size (1: full size); read it with :meth:`PlateReader.read_reduced`.

    Raises:
        FileNotFoundError, lprcore.imageio.ImageReadError, OSError: the file cannot be read (the
            message names it).
        lprcore.imageio.ImageTooLargeError: over ``max_pixels`` or ``config.max_pyramid_mb``.
    """
    check_regular_file(path)
    size = image_size(path)
    factor = 1
    if size is not None:  # both limits from the header, before decoding
        check_pixels(os.fspath(path), size, max_pixels)
        cascade.check_image_size(size, config, os.fspath(path))
        factor = cascade.decode_reduction(size, config) if reduce else 1
    return imread_reduced(path, max_pixels, factor)


def decode_photo_bytes(data: bytes | bytearray | memoryview, name: str, config: DetectorConfig,
                       max_pixels: Optional[int] = DEFAULT_MAX_PIXELS, reduce: bool = True) -> Tuple[np.ndarray, int]:
    """:func:`decode_photo` for a photo held in memory (e.g. an upload to ``python -m lpr serve``):
    the same limits from its header first (nothing decoded when over), then the image, a JPEG at
    the reduction :func:`MTCNN.cascade.decode_reduction` allows when ``reduce``
    (:func:`lprcore.imageio.imdecode`).

    Args:
        data: the encoded image file's bytes.
        name: names the photo in error messages (e.g. the uploaded file's name); never opened.

    Returns:
        ``(image, factor)``: ``ndarray[H, W, 3]`` uint8, BGR, decoded at ``1 / factor`` of the
        photo's size (1: full size); read it with :meth:`PlateReader.read_reduced`.

    Raises:
        lprcore.imageio.ImageReadError: no bytes, or not a decodable image (the message names it).
        lprcore.imageio.ImageTooLargeError: over ``max_pixels`` or ``config.max_pyramid_mb``.
    """
    size = image_size_bytes(data, name)
    factor = 1
    if size is not None:  # both limits from the header, before decoding
        check_pixels(name, size, max_pixels)
        cascade.check_image_size(size, config, name)
        factor = cascade.decode_reduction(size, config) if reduce else 1
    return imdecode(data, name, max_pixels, factor)


def stale_onnx(folder: str | os.PathLike, names: Sequence[str]) -> List[str]:
    """The ONNX models of ``names`` in ``folder`` that are missing or are not the export of the torch
    weights now beside them (:func:`lprcore.manifest.export_mismatch`: the SHA-256 each recorded at
    export differs from the weight file's, e.g. after retraining without re-exporting, or no
    MANIFEST.json records it). A model with none of its torch files beside it is current.

    Raises:
        lprcore.manifest.WeightsError: a torch weight file beside them differs from its own
            MANIFEST.json entry (changed or damaged: no backend may use it), or the manifest cannot
            be read.
    """
    folder = Path(folder)
    return [n for n in names if not (folder / n).is_file() or export_mismatch(folder / n, ONNX_SOURCES.get(n, ()))]


def choose_backend(backend: str, detector_weights=None, recognizer_weights=None, device: str = "cpu") -> str:
    """The backend :class:`PlateReader` uses: ``"onnx"`` or ``"torch"``.

    ``"auto"`` is ``"onnx"`` when the device is the CPU, onnxruntime is installed and both weights
    folders hold ONNX models exported from their current torch weights (:func:`stale_onnx`), else
    ``"torch"`` (a GPU ``device`` is torch's). A stale export is logged as a warning naming the model,
    the torch file that differs and both SHA-256s; a folder without MANIFEST.json, where nothing tells
    whether its exports are current, as the warning that nothing in it is checked
    (:func:`lprcore.manifest.warn_unchecked`); both read with torch. ``"onnx"`` refuses a stale
    export when it is loaded (:class:`MTCNN.onnx_detector.OnnxDetector`,
    :class:`LPRNet.onnx_recognizer.OnnxRecognizer`).

    Raises:
        ValueError: ``backend`` is not one of :data:`BACKENDS`.
        lprcore.manifest.WeightsError: ``"onnx"`` asked for, but onnxruntime or a model is missing;
            ``"auto"``: a torch weight file beside an export differs from its own MANIFEST.json entry
            (no backend may use it), or a manifest cannot be read.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    det = Path(detector_weights) if detector_weights else cascade.WEIGHTS_DIR
    rec = Path(recognizer_weights) if recognizer_weights else reading.WEIGHTS_DIR
    needed = [(det, cascade.PNET_ONNX), (det, cascade.ONET_ONNX), (rec, reading.RECOGNIZER_ONNX)]
    if (rec / reading.ATTRIBUTES_WEIGHTS).is_file():
        needed.append((rec, reading.ATTRIBUTES_ONNX))
    if (det / cascade.VNET_WEIGHTS).is_file():
        needed.append((det, cascade.VNET_ONNX))
    if backend == "torch" or (backend == "auto" and str(device) != "cpu"):
        return "torch"
    missing = [str(d / n) for d, n in needed if not (d / n).is_file()]
    if backend == "onnx":
        if not onnxruntime_available():
            raise WeightsError("--backend onnx needs onnxruntime (pip install onnxruntime)")
        if missing:
            raise WeightsError(f"--backend onnx: no {missing[0]} (export the models with python -m lpr.export)")
        return "onnx"
    if missing or not onnxruntime_available():
        return "torch"
    for folder, name in needed:
        why = export_mismatch(folder / name, ONNX_SOURCES[name])
        if why is None:
            continue
        if not (folder / MANIFEST_NAME).is_file():  # nothing was checked: say that, not "stale"
            warn_unchecked(folder, (name, *ONNX_SOURCES[name]),
                           note="so --backend auto reads with torch")
        else:
            log.warning("%s; reading with torch instead (re-export with python -m lpr.export)", why)
        return "torch"
    return "onnx"


def keep_plates(plates: Sequence[Plate], min_confidence: float = 0.0, all_reads: bool = False) -> List[Plate]:
    """The reads of one image worth reporting, in the order given (best detection first).

    A read is dropped when its confidence is below ``min_confidence`` (in [0, 1]) and, unless
    ``all_reads``, when its text follows no GA 36-2018 plate rule (:func:`ccpd.plates.is_valid_text`:
    a sign, a grille, a plate cut in half, a misread character class) or an earlier (better-scored)
    plate of the image has the same text (a second box on the same plate).
    """
    out, seen = [], set()
    for p in plates:
        if p.confidence < min_confidence:
            continue
        if not all_reads:
            if p.text in seen or not p.valid:
                continue
            seen.add(p.text)
        out.append(p)
    return out


def cut_quads(found: Detections) -> Tuple[List[np.ndarray], np.ndarray]:
    """The quadrilaterals the plates of ``found`` are cut from: each plate's corners grown by
    :data:`LPRNet.crops.CORNER_MARGIN` when they are plausible (:func:`MTCNN.boxes.plausible_corners`),
    else its box. Returns the ``[4, 2]`` quads and ``ndarray[K]`` bool: which came from corners."""
    boxes = found.boxes
    good = (plausible_corners(found.corners, boxes) if found.corners is not None
            else np.zeros(len(boxes), bool))
    return [expand_quad(found.corners[i]) if good[i] else box_to_quad(b) for i, b in enumerate(boxes)], good


def map_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Points ``[..., 2]`` (x, y pixels) through a 2x3 affine ``matrix`` (OpenCV's layout); float32, same shape."""
    pts = np.asarray(points, np.float32)
    if pts.size == 0:
        return pts.copy()
    return cv2.transform(pts.reshape(1, -1, 2), np.asarray(matrix, np.float64))[0].reshape(pts.shape).astype(np.float32)


def detect_warped(detector, image: np.ndarray, matrix: np.ndarray, size: Tuple[int, int]
                  ) -> Tuple[np.ndarray, List[np.ndarray], Optional[np.ndarray], np.ndarray]:
    """Detect plates on ``image`` warped by a 2x3 affine ``matrix`` (OpenCV's layout) into a
    ``size = (width, height)`` pixel canvas (edges repeated) and map what was found back onto ``image``.

    Args:
        detector: a plate detector (:class:`MTCNN.cascade.Detector`: ``detect(image) -> Detections``).
        image: ``ndarray[H, W, 3]`` uint8, BGR.
        matrix: the forward affine map, ``image`` pixels -> canvas pixels; must be invertible.
        size: (width, height) of the canvas, pixels, each >= 1.

    Returns:
        float32 ``boxes[K, 5]`` (x1, y1, x2, y2 bounds of each mapped quad, clipped to the image; score;
        plates whose clipped bounds are under a pixel wide or high, found in the repeated edges of the
        canvas, are left out),
        the ``K`` quads ``[4, 2]`` to cut (:func:`cut_quads` of the canvas, mapped back: TL, TR, BR,
        BL of the plate as seen on the canvas), the ONet corners mapped back (``[K, 4, 2]``, or
        ``None`` without a vertex branch) and which quads came from corners (``ndarray[K]`` bool).
        An image with no pixels gives no plates.

    Raises:
        lprcore.imageio.ImageTooLargeError: the canvas is too large for the detector's
            ``config.max_pyramid_mb`` (checked before the canvas is built, when the detector has a
            ``config``).
    """
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        return np.zeros((0, 5), np.float32), [], None, np.zeros(0, bool)
    config = getattr(detector, "config", None)
    if config is not None:
        cascade.check_image_size((int(size[1]), int(size[0])), config, "warped photo")
    forward = np.asarray(matrix, np.float64)
    warped = cv2.warpAffine(image, forward, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    found = detector.detect(warped)
    if len(found.boxes) == 0:
        return np.zeros((0, 5), np.float32), [], None, np.zeros(0, bool)
    back = cv2.invertAffineTransform(forward)
    quads, good = cut_quads(found)
    quads = [map_points(q, back) for q in quads]
    boxes = np.float32([[*np.clip(q.min(0), 0, [w, h]), *np.clip(q.max(0), 0, [w, h]), b[4]]
                        for q, b in zip(quads, found.boxes)]).reshape(-1, 5)
    corners = map_points(found.corners, back) if found.corners is not None else None
    keep = np.nonzero((boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1))[0]
    return (boxes[keep], [quads[i] for i in keep], corners[keep] if corners is not None else None,
            np.asarray(good, bool)[keep])


def detect_rotated(detector, image: np.ndarray, angle: float
                   ) -> Tuple[np.ndarray, List[np.ndarray], Optional[np.ndarray], np.ndarray]:
    """:func:`detect_warped` on ``image`` rotated about its centre by ``angle`` degrees
    (counter-clockwise positive; same size, edges repeated). ``image``: ``ndarray[H, W, 3]`` uint8, BGR."""
    h, w = image.shape[:2]
    return detect_warped(detector, image, cv2.getRotationMatrix2D((w / 2, h / 2), float(angle), 1.0), (w, h))


def detect_stretched(detector, image: np.ndarray, factor: float
                     ) -> Tuple[np.ndarray, List[np.ndarray], Optional[np.ndarray], np.ndarray]:
    """:func:`detect_warped` on ``image`` stretched along x by ``factor`` (the canvas is
    ``round(W * factor)`` pixels wide, as high as ``image``). ``image``: ``ndarray[H, W, 3]`` uint8, BGR.

    Raises:
        ValueError: ``factor`` is not positive.
        lprcore.imageio.ImageTooLargeError: the stretched photo is too large for the detector.
    """
    if not factor > 0:
        raise ValueError(f"stretch factor must be positive, got {factor}")
    h, w = image.shape[:2]
    return detect_warped(detector, image, np.float64([[factor, 0, 0], [0, 1, 0]]),
                         (max(1, int(round(w * factor))), h))


#: The arguments of ``PlateReader`` before :class:`lpr.config.ReaderConfig`, in their old order.
_LEGACY_ARGUMENTS = ("detector_weights", "recognizer_weights", "config", "device", "backend", "threads",
                     "min_confidence", "all_reads", "second_look", "rotated_retry", "stretched_retry",
                     "second_look_below")


def _legacy_arguments(first, args: tuple, kwargs: dict) -> Tuple[ReaderConfig, dict]:
    """The :class:`ReaderConfig` and runtime arguments of a call in the old form
    ``PlateReader(detector_weights, recognizer_weights, DetectorConfig, device, backend, threads,
    min_confidence=..., all_reads=..., ...)``, with a ``DeprecationWarning``.

    Raises:
        TypeError: an unknown or repeated argument.
    """
    warnings.warn("PlateReader(detector_weights, recognizer_weights, DetectorConfig, ..., min_confidence=...) "
                  "is deprecated: use PlateReader(ReaderConfig(detector=..., reading=ReadingOptions(...)), "
                  "weights_dir=..., backend=..., threads=...)", DeprecationWarning, stacklevel=3)
    positional = ((first,) if first is not None or args else ()) + tuple(args)
    if len(positional) > len(_LEGACY_ARGUMENTS):
        raise TypeError(f"PlateReader takes at most {len(_LEGACY_ARGUMENTS)} positional arguments")
    values = dict(zip(_LEGACY_ARGUMENTS, positional))
    for k, v in kwargs.items():
        if k not in _LEGACY_ARGUMENTS or k in values:
            raise TypeError(f"PlateReader got an unexpected or repeated argument {k!r}")
        values[k] = v
    detector = values.pop("config", None) or DetectorConfig()
    if not isinstance(detector, DetectorConfig):
        raise TypeError(f"config must be a ReaderConfig, got {type(detector).__name__}")
    reading_fields = {f.name for f in fields(ReadingOptions)}
    options = ReadingOptions(**{k: values.pop(k) for k in list(values) if k in reading_fields})
    return ReaderConfig(detector=detector, reading=options), values


class PlateReader:
    """The reader: detector and recognizer joined, BGR image -> list of :class:`Plate`.

    Args:
        config: what it finds and reads (:class:`lpr.config.ReaderConfig`: the detector's
            thresholds and the reading options; default: all defaults). A change to
            ``reader.config`` (or a new one assigned to it) applies from the next image.
        weights_dir: one folder holding the weights of both stages, e.g. a training export
            (default: the shipped ``MTCNN/weights`` and ``LPRNet/weights``).
        detector_weights: the detector's folder (``pnet``/``onet``/``vnet`` ``.pth`` and/or ``.onnx``),
            when it differs from ``weights_dir``.
        recognizer_weights: the recognizer's folder (``stn.pth``/``lprnet.pth``/``attributes.pth``
            and/or ``recognizer.onnx``/``attributes.onnx``), likewise.
        backend: ``"auto"`` (ONNX Runtime when current exports are there, :func:`choose_backend`),
            ``"onnx"`` or ``"torch"``. The ONNX backend imports no torch.
        device: torch device (torch backend only), e.g. ``"cpu"``, ``"cuda"``.
        threads: CPU threads of the backend, ONNX Runtime or torch, 0 to ``os.cpu_count()`` (0: the
            backend's default).

    Attributes:
        config: the :class:`lpr.config.ReaderConfig` in use.
        backend: the backend in use, ``"onnx"`` or ``"torch"``.
        detector: the :class:`MTCNN.cascade.Detector` (``detector.config`` is ``config.detector``).
        recognizer: the :class:`LPRNet.reading.Recognizer`.

    Raises:
        lprcore.manifest.WeightsError: a weight file is missing, damaged or does not fit (raised here,
            before any image is read).
        ValueError: unknown ``backend``, or ``threads`` more than the machine's CPUs
            (:func:`lprcore.onnx.check_threads`).
        TypeError: ``config`` is not a :class:`lpr.config.ReaderConfig`.
    """

    def __init__(self, config: ReaderConfig | None = None, *legacy, weights_dir=None, detector_weights=None,
                 recognizer_weights=None, backend: str = "auto", device="cpu", threads: int = 0, **legacy_kw):
        if isinstance(config, ReaderConfig) and (legacy or legacy_kw):
            raise TypeError("PlateReader takes the ReaderConfig as its one positional argument and the rest as "
                            f"keywords (weights_dir=, backend=, device=, threads=); got also {len(legacy)} "
                            f"positional and {sorted(legacy_kw)}")
        if legacy or legacy_kw or (config is not None and not isinstance(config, ReaderConfig)):
            config, old = _legacy_arguments(config, legacy, legacy_kw)
            detector_weights = old.get("detector_weights", detector_weights)
            recognizer_weights = old.get("recognizer_weights", recognizer_weights)
            backend, device, threads = (old.get(k, v) for k, v in (("backend", backend), ("device", device),
                                                                    ("threads", threads)))
        self.config = config if config is not None else ReaderConfig()
        threads = check_threads(threads)
        detector_weights = detector_weights or weights_dir
        recognizer_weights = recognizer_weights or weights_dir
        self.backend = choose_backend(backend, detector_weights, recognizer_weights, str(device))
        if self.backend == "onnx":
            from LPRNet.onnx_recognizer import OnnxRecognizer
            from MTCNN.onnx_detector import OnnxDetector
            self.detector = OnnxDetector(detector_weights, self.config.detector, threads)
            self.recognizer = OnnxRecognizer(recognizer_weights, threads)
        else:
            import torch
            from LPRNet.recognizer import TorchRecognizer
            from MTCNN.detector import TorchDetector
            if threads:
                torch.set_num_threads(threads)
            self.detector = TorchDetector(detector_weights, self.config.detector, device)
            self.recognizer = TorchRecognizer(recognizer_weights, device)

    @property
    def config(self) -> ReaderConfig:
        return self._config

    @config.setter
    def config(self, value: ReaderConfig) -> None:
        if not isinstance(value, ReaderConfig):
            raise TypeError(f"config must be a ReaderConfig, got {type(value).__name__}")
        self._config = value
        if hasattr(self, "detector"):
            self.detector.config = value.detector

    def __call__(self, image: np.ndarray, timings: Optional[Dict[str, float]] = None) -> List[Plate]:
        """Read the plates of ``image`` (``ndarray[H, W, 3]`` uint8, BGR); best detection first (the
        retries' plates after the first pass's, in the order of :meth:`retry`, each by detection score), only the reads :func:`keep_plates` keeps with ``config.reading``'s
        ``min_confidence`` and ``all_reads``.

        Args:
            timings: when given, the milliseconds of each step are added to it: the detector's stages
                (:meth:`MTCNN.cascade.Detector.detect`), ``"recognize"`` (one cut a plate),
                ``"second look"`` and ``"retries"`` (``python -m lpr.bench`` prints them).

        Raises:
            ValueError: ``image`` is not an ``[H, W, 3]`` uint8 array.
        """
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("image must be a BGR uint8 ndarray[H, W, 3]; convert with lprcore.imageio.to_bgr8")
        started = time.perf_counter()
        # a detector without the profile argument (a custom one) is called with the image alone
        found = self.detector.detect(image) if timings is None else self.detector.detect(image, timings)
        pass_seconds = time.perf_counter() - started
        quads, good = cut_quads(found)
        plates = self._read(image, found.boxes, quads, found.corners, good, timings)
        if not any(p.valid for p in plates):
            t0 = time.perf_counter()
            plates += self.retry(image, False, started=started, pass_seconds=pass_seconds, timings=timings)
            add_time(timings, "retries", t0)
        options = self.config.reading
        return keep_plates(plates, options.min_confidence, options.all_reads)

    def read_reduced(self, image: np.ndarray, factor: int, timings: Optional[Dict[str, float]] = None
                     ) -> List[Plate]:
        """Read the plates of a photo decoded at ``1 / factor`` of its size (``image``,
        ``ndarray[H, W, 3]`` uint8, BGR: e.g. :func:`lprcore.imageio.imread_reduced`), as
        :meth:`__call__` would read the full photo: the pyramid's levels are the full photo's
        (:func:`MTCNN.cascade.reduced_config`), plates are cut from ``image``, and boxes and corners
        are returned in the full photo's pixels. ``factor`` 1 is :meth:`__call__`.

        Choose ``factor`` with :func:`MTCNN.cascade.decode_reduction`, which keeps the smallest plate
        searched for at least as wide as the nets' views of it (:meth:`read_file` does).

        Raises:
            ValueError: ``image`` is not a BGR uint8 array, or ``factor`` not a positive integer.
        """
        if factor == 1:
            return self(image, timings)
        reduced = copy.copy(self)  # shares the nets; a detector of its own with the reduced config
        reduced.detector = copy.copy(self.detector)
        reduced.detector.config = cascade.reduced_config(self.config.detector, factor)
        return [scale_plate(p, factor) for p in reduced(image, timings)]

    def read_file(self, path: str | os.PathLike, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                  timings: Optional[Dict[str, float]] = None) -> List[Plate]:
        """Read the plates of an image file, decoded no larger than the search needs.

        A JPEG whose smallest searched plate (:func:`MTCNN.cascade.smallest_plate`) is wide enough
        is decoded at 1/2, 1/4 or 1/8 size (:func:`MTCNN.cascade.decode_reduction`, e.g. 1/2 for a
        4000x2483 photo) and read with :meth:`read_reduced`; anything else is decoded whole. The
        plates are in the file's full-size pixels either way.

        Args:
            path: image file (may contain Chinese characters).
            max_pixels: largest image accepted, height x width pixels, checked from the header.
            timings: as :meth:`__call__`, plus ``"decode"``.

        Raises:
            FileNotFoundError, lprcore.imageio.ImageReadError, OSError: the file cannot be read
                (the message names it).
            lprcore.imageio.ImageTooLargeError: over ``max_pixels`` or the detector's pyramid limit.
        """
        t0 = time.perf_counter()
        image, factor = decode_photo(path, self.config.detector, max_pixels)
        add_time(timings, "decode", t0)
        return self.read_reduced(image, factor, timings)

    def retry(self, image: np.ndarray, read_valid: bool, *, started: Optional[float] = None,
              pass_seconds: float = 0.0, timings: Optional[Dict[str, float]] = None) -> List[Plate]:
        """The plates the retries this reader has on add after a first pass on ``image``: none when
        ``read_valid`` (the first pass read a valid text); else the fine retry's (:meth:`retry_fine`,
        skipped with a warning when its pyramid is over ``max_pyramid_mb``), then, while no valid
        read is among them, the rotated retry's (one pair of :data:`ROTATED_RETRY_ANGLES` at a
        time, until a pair reads a valid text), the stretched retry's and, on a dark photo
        (:func:`is_dark`), the contrast retry's (unfiltered, each retry's by decreasing detection score).

        Args:
            started: ``time.perf_counter()`` when the photo's reading began; with
                ``config.reading.time_budget_ms`` set, a retry is skipped when the time since then plus
                ``pass_seconds`` for each photo-sized detector pass it makes (one per angle, the
                stretch factor's worth per stretch) would exceed the budget.
            pass_seconds: the first pass's detection time, seconds.
            timings: when given, ``"retries skipped"`` counts the retries the budget left out.
        """
        more: List[Plate] = []
        options = self.config.reading

        def fits(passes: float) -> bool:
            if not options.time_budget_ms or started is None:
                return True
            spent = time.perf_counter() - started
            if 1000.0 * (spent + passes * pass_seconds) <= options.time_budget_ms:
                return True
            if timings is not None:
                timings["retries skipped"] = timings.get("retries skipped", 0) + 1
            return False

        side = self.fine_retry_side(image.shape[:2])
        if options.fine_retry and side and not read_valid and fits(fine_passes(image.shape[:2], self.config.detector, side)):
            try:  # retry_fine checks the finer pyramid's memory before it builds it
                more += self.retry_fine(image, side)
            except ImageTooLargeError as e:
                log.warning("fine retry skipped: %s", e)
        if options.rotated_retry and not read_valid:
            for k in range(0, len(ROTATED_RETRY_ANGLES), 2):  # ±15, then ±30, then ±45 degrees
                if any(p.valid for p in more) or not fits(2):
                    break
                more += self.retry_rotated(image, ROTATED_RETRY_ANGLES[k:k + 2])
        if (options.stretched_retry and not read_valid and not any(p.valid for p in more)
                and fits(sum(STRETCH_RETRY_FACTORS))):
            more += self.retry_stretched(image)
        if (options.contrast_retry and not read_valid and not any(p.valid for p in more)
                and is_dark(image) and fits(1)):
            more += self.retry_contrast(image)
        return more

    def _read(self, image, boxes, quads, corners, good, timings=None) -> List[Plate]:
        """Every box read (no filter): the plates of ``quads`` cut from ``image``."""
        if len(boxes) == 0:
            return []
        t0 = time.perf_counter()
        reads = self.recognizer.recognize(image, quads)
        t0 = add_time(timings, "recognize", t0)
        options = self.config.reading
        if options.second_look:
            reads = self.recognizer.second_look(image, quads, reads, below=options.second_look_below)
            add_time(timings, "second look", t0)
        return [Plate(tuple(float(v) for v in b[:4]), float(b[4]), r.text, r.confidence, r.char_confidences,
                      r.colour, r.layout,
                      tuple((float(x), float(y)) for x, y in corners[i]) if good[i] else None)
                for i, (b, r) in enumerate(zip(boxes, reads))]

    def fine_retry_side(self, size: Tuple[int, int]) -> int:
        """The largest level side the fine retry would search on an image of ``size = (height, width)``:
        :data:`FINE_RETRY_SIDE`, or 0 when that adds no level to the first pass's search (the first
        pass searched at full resolution or its cap already reached the photo's own levels)."""
        config = self.config.detector
        if not config.max_level_side or config.max_level_side >= FINE_RETRY_SIDE:
            return 0
        first = cascade.pyramid_scales(size, config.min_plate_size, config.scale_factor, config.max_level_side)
        fine = cascade.pyramid_scales(size, config.min_plate_size, config.scale_factor, FINE_RETRY_SIDE)
        return FINE_RETRY_SIDE if len(fine) > len(first) else 0

    def retry_fine(self, image: np.ndarray, side: int = FINE_RETRY_SIDE) -> List[Plate]:
        """Every plate found on ``image`` by a search whose largest pyramid level is ``side`` pixels
        (the grid of ``config.detector``; plates smaller than the first pass looked for), read from
        ``image``: unfiltered :class:`Plate` list by decreasing detection score.

        Args:
            image: ``ndarray[H, W, 3]`` uint8, BGR.
            side: longest side, pixels, of the largest level (0: full resolution).

        Raises:
            lprcore.imageio.ImageTooLargeError: the finer pyramid is over ``config.detector.max_pyramid_mb``
                (checked before it is built).
        """
        fine = copy.copy(self.detector)  # shares the nets; a config of its own
        fine.config = copy.copy(self.detector.config)
        fine.config.max_level_side = int(side)
        cascade.check_image_size(image.shape[:2], fine.config, "photo (fine retry)")
        found = fine.detect(image)
        quads, good = cut_quads(found)
        return sorted(self._read(image, found.boxes, quads, found.corners, good), key=lambda p: -p.score)

    def retry_contrast(self, image: np.ndarray) -> List[Plate]:
        """Every plate found and read on ``image`` with its contrast equalised (:func:`equalise_contrast`),
        for night photos where glare and darkness hide the plate: unfiltered :class:`Plate` list by
        decreasing detection score, in ``image``'s pixels.

        Args:
            image: ``ndarray[H, W, 3]`` uint8, BGR.
        """
        bright = equalise_contrast(image)
        found = self.detector.detect(bright)
        quads, good = cut_quads(found)
        return sorted(self._read(bright, found.boxes, quads, found.corners, good), key=lambda p: -p.score)

    def retry_rotated(self, image: np.ndarray, angles: Sequence[float] = ROTATED_RETRY_ANGLES) -> List[Plate]:
        """Every plate found on ``image`` rotated by each of ``angles``, read from ``image`` itself.

        Args:
            image: ``ndarray[H, W, 3]`` uint8, BGR.
            angles: rotations in degrees, counter-clockwise positive (:func:`detect_rotated`).

        Returns:
            Unfiltered :class:`Plate` list (:func:`keep_plates` filters), by decreasing detection
            score (ONet's on the rotated photo); each plate cut from ``image`` through its quad mapped
            back (one perspective warp, as for any plate), second look included.

        Raises:
            lprcore.imageio.ImageTooLargeError: as the detector.
        """
        plates: List[Plate] = []
        for angle in angles:
            boxes, quads, corners, good = detect_rotated(self.detector, image, angle)
            plates += self._read(image, boxes, quads, corners, good)
        return sorted(plates, key=lambda p: -p.score)

    def retry_stretched(self, image: np.ndarray, factors: Sequence[float] = STRETCH_RETRY_FACTORS) -> List[Plate]:
        """Every plate found on ``image`` stretched along x by each of ``factors``, read from ``image``
        itself (as :meth:`retry_rotated`, through :func:`detect_stretched`).

        Args:
            image: ``ndarray[H, W, 3]`` uint8, BGR.
            factors: stretch factors along x, > 0.

        Returns:
            Unfiltered :class:`Plate` list, by decreasing detection score (ONet's on the stretched
            photo); ``box`` is the bounds of the quad mapped back, ``corners`` ONet's mapped back.
            A stretch whose photo would be too large for the detector
            (:class:`lprcore.imageio.ImageTooLargeError`: the photo itself passed) is skipped, logged.

        Raises:
            ValueError: a factor is not positive.
        """
        plates: List[Plate] = []
        for factor in factors:
            try:  # detect_warped checks the size before it builds the stretched photo
                boxes, quads, corners, good = detect_stretched(self.detector, image, factor)
            except ImageTooLargeError as e:
                log.warning("stretched retry x%g skipped: %s", factor, e)
                continue
            plates += self._read(image, boxes, quads, corners, good)
        return sorted(plates, key=lambda p: -p.score)


_DEFAULT_READER: PlateReader | None = None


def read_plates(image: np.ndarray) -> List[Plate]:
    """Read the plates of a BGR uint8 ``ndarray[H, W, 3]`` with the shipped weights (loaded once)."""
    global _DEFAULT_READER
    if _DEFAULT_READER is None:
        _DEFAULT_READER = PlateReader()
    return _DEFAULT_READER(image)


__getattr__ = moved_names(__name__)
