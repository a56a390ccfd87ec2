"""Plate detection with the PNet -> ONet (-> VNet) cascade on ONNX Runtime, without torch:
:class:`OnnxPlateDetector`, the same cascade (:mod:`MTCNN.cascade`) and results as
:class:`MTCNN.detector.PlateDetector`, on the nets exported by ``python -m lpr.export``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lprcore.onnx import OnnxNet
from MTCNN.cascade import ONET_ONNX, PNET_ONNX, VNET_ONNX, WEIGHTS_DIR, DetectorConfig, Detections, detect


def has_onnx_models(weights_dir: str | os.PathLike | None = None) -> bool:
    """Whether ``weights_dir`` (default: the package's weights) holds ``pnet.onnx`` and ``onet.onnx``."""
    d = Path(weights_dir) if weights_dir else WEIGHTS_DIR
    return (d / PNET_ONNX).is_file() and (d / ONET_ONNX).is_file()


class OnnxPlateDetector:
    """PNet + ONet plate detector on ONNX Runtime (CPU), with VNet's corner refinement when the
    folder has ``vnet.onnx``.

    Args:
        weights_dir: folder holding ``pnet.onnx`` and ``onet.onnx``, and optionally ``vnet.onnx``
            (default: the package's weights).
        config: thresholds; see :class:`MTCNN.cascade.DetectorConfig`.
        threads: ONNX Runtime intra-op threads per net (0: one per core).

    Raises:
        lprcore.manifest.WeightsError: onnxruntime is missing, or a model file is missing, damaged or
            not a valid ONNX model.
    """

    def __init__(self, weights_dir: str | os.PathLike | None = None, config: DetectorConfig | None = None,
                 threads: int = 0):
        weights_dir = Path(weights_dir) if weights_dir else WEIGHTS_DIR
        self.config = config or DetectorConfig()
        self.pnet = OnnxNet(weights_dir / PNET_ONNX, "PNet", threads, varying_shapes=True)
        self.onet = OnnxNet(weights_dir / ONET_ONNX, "ONet", threads)
        self.has_vertices = len(self.onet.output_names) == 3
        self.vnet = OnnxNet(weights_dir / VNET_ONNX, "VNet", threads) if (weights_dir / VNET_ONNX).is_file() else None

    def detect_plates(self, image: np.ndarray) -> Detections:
        """Find plates and their corners in one image (``ndarray[H, W, 3]`` uint8, **BGR**); see
        :meth:`MTCNN.detector.PlateDetector.detect_plates`.

        Raises:
            lprcore.imageio.ImageTooLargeError: the image pyramid would need more memory than
                ``config.max_pyramid_mb``.
        """
        return detect(self.pnet, self.onet, image, self.config, self.has_vertices, self.vnet)

    def detect(self, image: np.ndarray) -> np.ndarray:
        """The boxes ``ndarray[K, 5]`` of :meth:`detect_plates`."""
        return self.detect_plates(image).boxes
