"""The main job: detect plates with MTCNN, read them with STN + LPRNet.

``read_plates(image)`` and :class:`PlateReader` are the Python API; :mod:`lpr.cli` (``python -m lpr``,
``python main.py``) is the command line over it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import List, Optional, Tuple

import numpy as np
import torch

from MTCNN.boxes import plausible_corners
from MTCNN.detector import DetectorConfig, PlateDetector
from LPRNet.crops import box_to_quad
from LPRNet.recognizer import RecognitionPredictor


@dataclass(frozen=True)
class Plate:
    """One plate found in an image.

    Attributes:
        box: (x1, y1, x2, y2) in pixels of the input image, inside it.
        score: detection score (ONet plate probability), in [0, 1].
        text: decoded characters, e.g. ``"皖A12345"`` (may be empty).
        confidence: reading confidence, the lowest character probability, in [0, 1].
        char_confidences: probability of each character.
        colour: plate colour (blue, yellow, green, white, black), ``None`` when the recognizer's
            weights have no colour/layout classifier.
        layout: ``"single"`` or ``"double"`` row, ``None`` likewise.
        corners: the plate's 4 corners ((x, y) pixels, clockwise from the top-left: TL, TR, BR, BL)
            from ONet's vertex branch, the quadrilateral the plate was cut from; ``None`` when the
            detector's weights have no vertex branch or the corners were implausible
            (:func:`MTCNN.boxes.plausible_corners`; the box was cut instead).
    """

    box: Tuple[float, float, float, float]
    score: float
    text: str
    confidence: float
    char_confidences: Tuple[float, ...] = ()
    colour: Optional[str] = None
    layout: Optional[str] = None
    corners: Optional[Tuple[Tuple[float, float], ...]] = None

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
        return d


class PlateReader:
    """Detector and recognizer joined: BGR image -> list of :class:`Plate`.

    Args:
        detector_weights: folder with ``pnet.pth``/``onet.pth`` (default: ``MTCNN/weights``).
        recognizer_weights: folder with ``stn.pth``/``lprnet.pth`` (default: ``LPRNet/weights``).
        config: detector thresholds.
        device: torch device.

    Raises:
        lprcore.weights.WeightsError: a weight file is missing, damaged or does not fit (raised here,
            before any image is read).
    """

    def __init__(self, detector_weights=None, recognizer_weights=None,
                 config: DetectorConfig | None = None, device: str | torch.device = "cpu"):
        self.detector = PlateDetector(detector_weights, config, device)
        self.recognizer = RecognitionPredictor(recognizer_weights, device)

    def __call__(self, image: np.ndarray) -> List[Plate]:
        """Read the plates of ``image`` (``ndarray[H, W, 3]`` uint8, BGR); best detection first.

        Raises:
            ValueError: ``image`` is not an ``[H, W, 3]`` uint8 array.
        """
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("image must be a BGR uint8 ndarray[H, W, 3]; convert with lprcore.imageio.to_bgr8")
        found = self.detector.detect_plates(image)
        boxes = found.boxes
        if len(boxes) == 0:
            return []
        good = (plausible_corners(found.corners, boxes) if found.corners is not None
                else np.zeros(len(boxes), bool))
        quads = [found.corners[i] if good[i] else box_to_quad(b) for i, b in enumerate(boxes)]
        reads = self.recognizer.read_quads(image, quads)
        return [Plate(tuple(float(v) for v in b[:4]), float(b[4]), r.text, r.confidence, r.char_confidences,
                      r.colour, r.layout,
                      tuple((float(x), float(y)) for x, y in quads[i]) if good[i] else None)
                for i, (b, r) in enumerate(zip(boxes, reads))]


_DEFAULT_READER: PlateReader | None = None


def read_plates(image: np.ndarray) -> List[Plate]:
    """Read the plates of a BGR uint8 ``ndarray[H, W, 3]`` with the shipped weights (loaded once)."""
    global _DEFAULT_READER
    if _DEFAULT_READER is None:
        _DEFAULT_READER = PlateReader()
    return _DEFAULT_READER(image)
