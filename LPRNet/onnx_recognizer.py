"""Plate recognition on ONNX Runtime, without torch: :class:`OnnxRecognizer`, the same reading
steps (:class:`LPRNet.reading.Recognizer`) and results as :class:`LPRNet.recognizer.TorchRecognizer`,
on the nets exported by ``python -m lpr.export``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from lprcore.compat import moved_names
from lprcore.manifest import ManifestError, WeightsError, read_manifest, warn_unchecked
from lprcore.onnx import OnnxNet
from LPRNet.chars import CHARS, ORIGINAL_CHARS, charset_for
from LPRNet.reading import (ATTRIBUTES_ONNX, ATTRIBUTES_WEIGHTS, LPRNET_WEIGHTS, RECOGNIZER_ONNX, STN_WEIGHTS,
                            WEIGHTS_DIR, Recognizer)

#: Each recognizer ONNX model and the torch weight files it is exported from (``python -m lpr.export``).
EXPORTED_FROM = {RECOGNIZER_ONNX: (STN_WEIGHTS, LPRNET_WEIGHTS), ATTRIBUTES_ONNX: (ATTRIBUTES_WEIGHTS,)}


class OnnxRecognizer(Recognizer):
    """The recognizer on ONNX Runtime (CPU): reads plate crops with STN + LPRNet (``recognizer.onnx``) and, when present, the colour/layout
    classifier (``attributes.onnx``) on ONNX Runtime (CPU).

    The character table is the ``charset`` of ``recognizer.onnx`` in the folder's MANIFEST.json
    (written by the export), else the table with as many classes as the model's output.

    Args:
        weights_dir: folder with the ONNX models (default: the package's weights).
        threads: ONNX Runtime intra-op threads per model (0: one per core).

    Each model is checked with the torch weights beside it that it was exported from
    (:data:`EXPORTED_FROM`; the rule: :mod:`lprcore.manifest`); a folder without ``MANIFEST.json``
    is loaded unchecked, with a warning.

    Raises:
        lprcore.manifest.WeightsError: onnxruntime is missing, a model is missing, damaged, not valid
            ONNX or stale (``stn.pth`` or ``lprnet.pth`` beside ``recognizer.onnx`` differs from the one
            it was exported from, or from its own MANIFEST.json entry), or its character table is unknown.
    """

    def __init__(self, weights_dir: str | os.PathLike | None = None, threads: int = 0):
        weights_dir = Path(weights_dir) if weights_dir else WEIGHTS_DIR
        warn_unchecked(weights_dir, EXPORTED_FROM)
        self.model = OnnxNet(weights_dir / RECOGNIZER_ONNX, "STN+LPRNet", threads, sources=EXPORTED_FROM[RECOGNIZER_ONNX])
        path = weights_dir / ATTRIBUTES_ONNX
        self.attribute_model = (OnnxNet(path, "PlateAttributeNet", threads, sources=EXPORTED_FROM[ATTRIBUTES_ONNX])
                                if path.is_file() else None)
        try:
            charset = read_manifest(weights_dir).get(RECOGNIZER_ONNX, {}).get("charset")
        except ManifestError as e:
            raise WeightsError(str(e)) from None
        if charset is None:
            classes = self.model.session.get_outputs()[0].shape[1]
            charset = "".join(charset_for(classes)) if classes in (len(CHARS), len(ORIGINAL_CHARS)) else None
        if charset not in ("".join(CHARS), "".join(ORIGINAL_CHARS)):
            raise WeightsError(f"{weights_dir / RECOGNIZER_ONNX}: unknown character table "
                               f"({'none recorded' if charset is None else f'{len(charset)} classes'}; known: 68, 75)")
        self.chars = charset_for(len(charset))

    def reader_logits(self, batch: np.ndarray) -> np.ndarray:
        """See :meth:`LPRNet.reading.Recognizer.reader_logits`."""
        return self.model(batch)[0]

    def attribute_logits(self, batch: np.ndarray) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """See :meth:`LPRNet.reading.Recognizer.attribute_logits`."""
        if self.attribute_model is None:
            return None
        colour, layout = self.attribute_model(batch)[:2]
        return colour, layout


__getattr__ = moved_names(__name__)
