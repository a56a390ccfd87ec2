"""Plate detection with the PNet -> ONet cascade on torch: :class:`TorchDetector`.

The cascade itself (image pyramid, NMS, regression, :class:`DetectorConfig`) is the plain NumPy
functions of :mod:`MTCNN.cascade`; this module runs the nets of :mod:`MTCNN.nets` for it, and loads
their weights. :mod:`MTCNN.onnx_detector` does the same with ONNX Runtime, without torch.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from lprcore.compat import moved_names
from lprcore.manifest import warn_unchecked
from lprcore.weights import load_weights, read_state_dict
from MTCNN.cascade import (ONET_WEIGHTS, PNET_WEIGHTS, VNET_WEIGHTS, WEIGHTS_DIR, DetectorConfig, Detections, Detector,
                           NetFn, onet_stage, pnet_stage, warn_old_vnet_frame)
from MTCNN.nets import ONet, PNet, VNet


def torch_net(net: torch.nn.Module, device: torch.device) -> NetFn:
    """A torch net as the cascade calls it (:data:`MTCNN.cascade.NetFn`): NumPy in, NumPy out.

    The input goes in channels-last memory order, which oneDNN's CPU convolutions run 2-3x faster for
    these small nets (same outputs up to 1e-5; measured: docs/design.md); the net's weights should be
    channels-last too (:class:`TorchDetector` makes them so).
    """

    def run(x: np.ndarray):
        x = torch.from_numpy(x).to(device, memory_format=torch.channels_last)
        out = net(x)
        return [t.float().cpu().numpy() for t in ((out,) if isinstance(out, torch.Tensor) else out)]

    return run


def run_pnet(pnet: PNet, image: np.ndarray, config: DetectorConfig, device: torch.device) -> np.ndarray:
    """Stage 1 with a torch PNet: :func:`MTCNN.cascade.pnet_stage`. Call under ``torch.inference_mode()``."""
    return pnet_stage(torch_net(pnet, device), image, config)


def run_onet(onet: ONet, image: np.ndarray, boxes: np.ndarray, config: DetectorConfig,
             device: torch.device, threshold: Optional[float] = None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Stage 2 with a torch ONet: :func:`MTCNN.cascade.onet_stage`, without the refinement
    (:func:`MTCNN.cascade.refine_stage`) that :meth:`TorchDetector.detect` adds. Call under
    ``torch.inference_mode()``."""
    return onet_stage(torch_net(onet, device), image, boxes, config, threshold, onet.has_vertices)


def load_onet(path: str | os.PathLike) -> ONet:
    """ONet from a weight file, with the vertex branch when the file has it (original-layout
    checkpoints have none: boxes only). Eval mode, on the CPU.

    Raises:
        lprcore.weights.WeightsError: the file is missing or does not fit ONet.
    """
    vertices = "conv6_3.weight" in read_state_dict(path)
    return load_weights(ONet(vertices=vertices), path, "ONet").eval()


class TorchDetector(Detector):
    """The detector on torch: PNet + ONet, with VNet's corner refinement when the folder has
    ``vnet.pth`` (the cascade: :class:`MTCNN.cascade.Detector`).

    Args:
        weights_dir: folder holding ``pnet.pth`` and ``onet.pth``, and optionally ``vnet.pth``
            (default: the package's weights).
        config: thresholds; see :class:`DetectorConfig`.
        device: torch device, e.g. ``"cpu"`` or ``"cuda"``.

    Attributes:
        pnet_model, onet_model, vnet_model: the torch nets (``vnet_model`` ``None`` without VNet),
            eval mode, channels-last.

    Each file is checked against the folder's MANIFEST.json (the rule: :mod:`lprcore.manifest`); a
    folder without one is loaded unchecked, with a warning.

    Raises:
        lprcore.weights.WeightsError: a weight file is missing, differs from its MANIFEST.json entry,
            or does not fit its net.
    """

    def __init__(self, weights_dir: str | os.PathLike | None = None, config: DetectorConfig | None = None,
                 device: str | torch.device = "cpu"):
        weights_dir = Path(weights_dir) if weights_dir else WEIGHTS_DIR
        self.device = torch.device(device)
        self.config = config or DetectorConfig()
        warn_unchecked(weights_dir, (PNET_WEIGHTS, ONET_WEIGHTS, VNET_WEIGHTS))
        self.pnet_model = load_weights(PNet(), weights_dir / PNET_WEIGHTS, "PNet").eval()
        self.onet_model = load_onet(weights_dir / ONET_WEIGHTS)
        vnet_path = weights_dir / VNET_WEIGHTS
        self.vnet_model = load_weights(VNet(), vnet_path, "VNet").eval() if vnet_path.is_file() else None
        for net in (self.pnet_model, self.onet_model, self.vnet_model):  # channels-last: see torch_net
            if net is not None:
                net.to(self.device, memory_format=torch.channels_last)
        self.has_vertices = self.onet_model.has_vertices
        self.has_vnet = self.vnet_model is not None
        if self.has_vnet:
            warn_old_vnet_frame(weights_dir)
        self._pnet, self._onet = torch_net(self.pnet_model, self.device), torch_net(self.onet_model, self.device)
        self._vnet = torch_net(self.vnet_model, self.device) if self.has_vnet else None

    def pnet(self, batch: np.ndarray):
        """See :meth:`MTCNN.cascade.Detector.pnet`."""
        return self._pnet(batch)

    def onet(self, batch: np.ndarray):
        """See :meth:`MTCNN.cascade.Detector.onet`."""
        return self._onet(batch)

    def vnet(self, batch: np.ndarray):
        """See :meth:`MTCNN.cascade.Detector.vnet`."""
        return self._vnet(batch)

    @torch.inference_mode()
    def detect(self, image: np.ndarray, timings: Optional[Dict[str, float]] = None) -> Detections:
        """See :meth:`MTCNN.cascade.Detector.detect` (run without autograd)."""
        return super().detect(image, timings)


__getattr__ = moved_names(__name__)
