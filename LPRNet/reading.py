"""Reading plates around any backend: cut, classify colour and layout, re-cut double-row plates,
read, decode. Imports no torch.

In the manner of doctr's recognition predictor, separate pieces: pre-processing (:mod:`LPRNet.crops`
cuts plates, :func:`LPRNet.inputs.crops_to_array` makes the input), the model (any backend that
maps that input to logits: :class:`LPRNet.recognizer.TorchRecognizer` on torch,
:class:`LPRNet.onnx_recognizer.OnnxRecognizer` on ONNX Runtime) and post-processing
(:func:`LPRNet.ctc.greedy_decode`, :func:`decode_attributes`). :class:`Recognizer` joins them; a
backend implements its two ``*_logits`` methods (the counterpart of :class:`MTCNN.cascade.Detector`).

This module is also the one home of the names of the shipped weight files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ccpd.plates import COLOURS, LAYOUTS, is_valid_text
from lprcore.compat import moved_names, renamed_method
from LPRNet.crops import SECOND_LOOK_BELOW, SECOND_LOOK_SCALES, box_to_quad, crop_quads, resize_crop, scale_quad
from LPRNet.ctc import Decoded, greedy_decode, softmax
from LPRNet.inputs import crops_to_array

#: Folder of the weights that ship with the package: torch state dicts and their ONNX exports
#: (``python -m lpr.export``).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
STN_WEIGHTS, LPRNET_WEIGHTS, ATTRIBUTES_WEIGHTS = "stn.pth", "lprnet.pth", "attributes.pth"
#: STN + LPRNet as one ONNX graph, and the colour/layout classifier.
RECOGNIZER_ONNX, ATTRIBUTES_ONNX = "recognizer.onnx", "attributes.onnx"


def decode_attributes(colour_logits, layout_logits) -> List[Tuple[str, str, float]]:
    """``(colour, layout, colour probability)`` per plate from the classifier's two logits
    ``[N, 5]`` and ``[N, 2]`` (NumPy arrays or torch tensors; order of :data:`ccpd.plates.COLOURS`
    and :data:`ccpd.plates.LAYOUTS`)."""
    c = softmax(_numpy(colour_logits), axis=1)
    ci, li = c.argmax(1), _numpy(layout_logits).argmax(1)
    return [(COLOURS[i], LAYOUTS[j], float(c[k, i])) for k, (i, j) in enumerate(zip(ci.tolist(), li.tolist()))]


def _numpy(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


@dataclass(frozen=True)
class Recognition:
    """What the recognizer says of one plate.

    Attributes:
        text: decoded characters (top row then bottom row for double-row plates).
        confidence: the lowest character probability, in [0, 1] (0 for an empty text).
        char_confidences: probability of each character.
        colour: one of ``ccpd.plates.COLOURS``, or ``None`` without the colour/layout classifier.
        layout: ``"single"`` or ``"double"``, or ``None`` without the classifier (read as single).
    """

    text: str
    confidence: float
    char_confidences: Tuple[float, ...]
    colour: Optional[str] = None
    layout: Optional[str] = None


def vote(first: Recognition, others: Sequence[Recognition]) -> Recognition:
    """The reading the cuts of one plate agree on.

    Among ``first`` and ``others`` whose text follows a plate rule (:func:`ccpd.plates.is_valid_text`),
    the text read most often wins; a tie goes to the higher summed confidence, and a full tie to the
    text read first (``first``'s, when valid). The winner's most confident reading is returned whole
    (its confidences, colour and layout are those of that one cut). ``first`` is returned when no
    reading is valid.
    """
    valid = [r for r in (first, *others) if is_valid_text(r.text)]
    if not valid:
        return first
    count: Dict[str, Tuple[int, float]] = {}
    for r in valid:
        n, total = count.get(r.text, (0, 0.0))
        count[r.text] = (n + 1, total + r.confidence)
    text = max(count, key=lambda t: count[t])
    return max((r for r in valid if r.text == text), key=lambda r: r.confidence)


def needs_second_look(reading: Recognition, below: float = SECOND_LOOK_BELOW) -> bool:
    """Whether :meth:`Recognizer.second_look` cuts this plate again: its text follows no plate rule
    (:func:`ccpd.plates.is_valid_text`), its confidence is under ``below``, or ``below`` is 1 (every
    plate); ``below`` 0 cuts again only invalid reads."""
    return below >= 1.0 or reading.confidence < below or not is_valid_text(reading.text)


class Recognizer:
    """Reads plates with a backend's logits: cut, classify colour and layout, read, decode.
    Subclasses (the backends) set :attr:`chars` and implement :meth:`reader_logits` and
    :meth:`attribute_logits`.

    Attributes:
        chars: the character table of the reader's outputs (index -> character).
    """

    chars: Sequence[str]

    def reader_logits(self, batch: np.ndarray) -> np.ndarray:
        """``float32[N, 3, 24, 94]`` (:func:`LPRNet.inputs.crops_to_array`) -> logits ``[N, C, 18]``."""
        raise NotImplementedError

    def attribute_logits(self, batch: np.ndarray) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """``float32[N, 3, 24, 94]`` -> colour logits ``[N, 5]`` and layout logits ``[N, 2]``, or
        ``None`` when the backend has no colour/layout classifier."""
        raise NotImplementedError

    def recognize_crops(self, crops: Sequence[np.ndarray]) -> List[Decoded]:
        """Read plate crops (``ndarray[h, w, 3]`` uint8 BGR, any size), all in one batch.

        Returns:
            One :class:`LPRNet.ctc.Decoded` per crop.

        Raises:
            ValueError: a crop is empty or not ``[h, w, 3]``.
        """
        if len(crops) == 0:
            return []
        return greedy_decode(self.reader_logits(crops_to_array([resize_crop(c) for c in crops])), chars=self.chars)

    def attributes(self, crops: Sequence[np.ndarray]) -> List[Tuple[Optional[str], Optional[str]]]:
        """``(colour, layout)`` of whole-plate crops (BGR uint8, any size); ``(None, None)`` each
        without the classifier."""
        if len(crops) == 0:
            return []
        out = self.attribute_logits(crops_to_array([resize_crop(x) for x in crops]))
        if out is None:
            return [(None, None)] * len(crops)
        return [(colour, layout) for colour, layout, _ in decode_attributes(*out)]

    def recognize_boxes(self, image: np.ndarray, boxes: np.ndarray) -> List[Recognition]:
        """Read the plates at ``boxes[N, >=4]`` (x1, y1, x2, y2 pixels) of a BGR uint8 image:
        :meth:`recognize` of each box's corners."""
        return self.recognize(image, [box_to_quad(b) for b in np.asarray(boxes, np.float32)])

    def recognize(self, image: np.ndarray, quads: Sequence[np.ndarray]) -> List[Recognition]:
        """Read the plates with corners ``quads`` (``N`` arrays ``[4, 2]``, x, y pixels, TL, TR, BR,
        BL) of a BGR uint8 image, in one batch: each is cut whole by a perspective warp, classified
        (colour, layout), re-cut row by row when double-row (:func:`LPRNet.crops.warp_double_row`),
        and read."""
        if len(quads) == 0:
            return []
        crops = crop_quads(image, quads)
        attrs = self.attributes(crops)
        for i, (_, layout) in enumerate(attrs):  # only double-row plates are cut again
            if layout == "double":
                crops[i] = crop_quads(image, quads[i:i + 1], ["double"])[0]
        return [Recognition(d.text, d.confidence, d.char_confidences, colour, layout)
                for d, (colour, layout) in zip(self.recognize_crops(crops), attrs)]

    def second_look(self, image: np.ndarray, quads: Sequence[np.ndarray], readings: Sequence[Recognition],
                    scales: Sequence[Tuple[float, float]] = SECOND_LOOK_SCALES,
                    below: float = SECOND_LOOK_BELOW) -> List[Recognition]:
        """Second look: each plate whose first reading follows no plate rule
        (:func:`ccpd.plates.is_valid_text`) or has a confidence under ``below`` is cut again from its
        quadrilateral scaled by each of ``scales`` (:func:`LPRNet.crops.scale_quad`) and the cuts
        vote (:func:`vote`): among the valid texts of the first reading and the new ones, the text
        the most cuts read wins (a tie goes to the higher summed confidence) and its most confident
        reading is returned; a plate no cut reads validly keeps its first reading, as does a plate
        read validly at ``below`` or above. All the new cuts are read in one batch.

        Args:
            image: ``ndarray[H, W, 3]`` uint8, BGR.
            quads: the ``N`` quadrilaterals ``[4, 2]`` (TL, TR, BR, BL, pixels) ``readings`` were cut from.
            readings: :meth:`recognize` of ``quads``.
            scales: (x, y) scale factors of the new cuts (default :data:`LPRNet.crops.SECOND_LOOK_SCALES`).
            below: confidence (lowest character probability) in [0, 1] under which a valid first
                reading is cut again; 1 cuts every plate again (default
                :data:`LPRNet.crops.SECOND_LOOK_BELOW`).

        Returns:
            ``N`` readings, in the order given.

        Raises:
            ValueError: ``quads`` and ``readings`` differ in length, ``below`` is outside [0, 1], or a
                scale factor is not positive.
        """
        if len(quads) != len(readings):
            raise ValueError(f"{len(quads)} quads but {len(readings)} readings")
        if not 0.0 <= below <= 1.0:
            raise ValueError(f"below must be in [0, 1], got {below}")
        out = list(readings)
        again_at = [i for i, r in enumerate(readings) if needs_second_look(r, below)]
        if not again_at or len(scales) == 0:
            return out
        again = self.recognize(image, [scale_quad(quads[i], sx, sy) for i in again_at for sx, sy in scales])
        k = len(scales)
        for j, i in enumerate(again_at):
            out[i] = vote(readings[i], again[j * k:(j + 1) * k])
        return out

    __call__ = renamed_method("__call__", "recognize_crops")
    read_quads = renamed_method("read_quads", "recognize")
    read_boxes = renamed_method("read_boxes", "recognize_boxes")


__getattr__ = moved_names(__name__)
