"""Plate detection with the PNet -> ONet (-> VNet) cascade on ONNX Runtime, without torch:
:class:`OnnxDetector`, the same cascade (:class:`MTCNN.cascade.Detector`) and results as
:class:`MTCNN.detector.TorchDetector`, on the nets exported by ``python -m lpr.export``.
"""
from __future__ import annotations

import os
from pathlib import Path

from lprcore.compat import moved_names
from lprcore.manifest import warn_unchecked
from lprcore.onnx import OnnxNet
from MTCNN.cascade import (ONET_ONNX, ONET_WEIGHTS, PNET_ONNX, PNET_WEIGHTS, VNET_ONNX, VNET_WEIGHTS, WEIGHTS_DIR,
                           Detector, DetectorConfig, warn_old_vnet_frame)

#: Each detector ONNX model and the torch weight files it is exported from (``python -m lpr.export``).
EXPORTED_FROM = {PNET_ONNX: (PNET_WEIGHTS,), ONET_ONNX: (ONET_WEIGHTS,), VNET_ONNX: (VNET_WEIGHTS,)}


class OnnxDetector(Detector):
    """The detector on ONNX Runtime (CPU), without torch: PNet + ONet, with VNet's corner
    refinement when the folder has ``vnet.onnx`` (the cascade: :class:`MTCNN.cascade.Detector`).

    Args:
        weights_dir: folder holding ``pnet.onnx`` and ``onet.onnx``, and optionally ``vnet.onnx``
            (default: the package's weights).
        config: thresholds; see :class:`MTCNN.cascade.DetectorConfig`.
        threads: ONNX Runtime intra-op threads per net (0: one per core).

    Each model is checked with the torch weights beside it that it was exported from
    (:data:`EXPORTED_FROM`; the rule: :mod:`lprcore.manifest`); a folder without ``MANIFEST.json``
    is loaded unchecked, with a warning.

    Raises:
        lprcore.manifest.WeightsError: onnxruntime is missing, or a model file is missing, damaged,
            not a valid ONNX model, or stale (``pnet.pth`` beside ``pnet.onnx`` differs from the one
            it was exported from, or from its own MANIFEST.json entry).
    """

    def __init__(self, weights_dir: str | os.PathLike | None = None, config: DetectorConfig | None = None,
                 threads: int = 0):
        weights_dir = Path(weights_dir) if weights_dir else WEIGHTS_DIR
        self.config = config or DetectorConfig()
        warn_unchecked(weights_dir, EXPORTED_FROM)
        self.pnet = OnnxNet(weights_dir / PNET_ONNX, "PNet", threads, varying_shapes=True,
                            sources=EXPORTED_FROM[PNET_ONNX])
        self.onet = OnnxNet(weights_dir / ONET_ONNX, "ONet", threads, sources=EXPORTED_FROM[ONET_ONNX])
        self.has_vertices = len(self.onet.output_names) == 3
        self.has_vnet = (weights_dir / VNET_ONNX).is_file()
        if self.has_vnet:
            self.vnet = OnnxNet(weights_dir / VNET_ONNX, "VNet", threads, sources=EXPORTED_FROM[VNET_ONNX])
            warn_old_vnet_frame(weights_dir)


__getattr__ = moved_names(__name__)
