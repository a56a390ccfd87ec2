"""Plate detection with the PNet -> ONet cascade on torch: :class:`PlateDetector`.

The cascade itself (image pyramid, NMS, regression, :class:`DetectorConfig`) is the plain NumPy
functions of :mod:`MTCNN.cascade`; this module runs the nets of :mod:`MTCNN.nets` for it, and loads
their weights. :mod:`MTCNN.onnx_detector` does the same with ONNX Runtime, without torch.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch

from lprcore.weights import load_weights, read_state_dict
from MTCNN.cascade import (ONET_WEIGHTS, PNET_WEIGHTS, VNET_WEIGHTS, WEIGHTS_DIR, DetectorConfig, Detections, NetFn,
                           detect, onet_stage, pnet_stage)
from MTCNN.nets import ONet, PNet, VNet


def torch_net(net: torch.nn.Module, device: torch.device) -> NetFn:
    """A torch net as the cascade calls it (:data:`MTCNN.cascade.NetFn`): NumPy in, NumPy out.

    The input goes in channels-last memory order, which oneDNN's CPU convolutions run 2-3x faster
    for these small nets (PNet on a 870x540 pyramid scale 28 -> 13 ms, ONet on 54 proposals 28 ->
    10 ms, 2 threads; the same numbers up to 1e-5); the net's weights should be channels-last too
    (:class:`PlateDetector` makes them so).
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
    (:func:`MTCNN.cascade.refine_stage`) that :meth:`PlateDetector.detect_plates` adds. Call under
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


class PlateDetector:
    """PNet + ONet plate detector, with VNet's corner refinement when the folder has ``vnet.pth``.

    Args:
        weights_dir: folder holding ``pnet.pth`` and ``onet.pth``, and optionally ``vnet.pth``
            (default: the package's weights).
        config: thresholds; see :class:`DetectorConfig`.
        device: torch device, e.g. ``"cpu"`` or ``"cuda"``.

    Raises:
        lprcore.weights.WeightsError: a weight file is missing or does not fit its net.
    """

    def __init__(self, weights_dir: str | os.PathLike | None = None, config: DetectorConfig | None = None,
                 device: str | torch.device = "cpu"):
        weights_dir = Path(weights_dir) if weights_dir else WEIGHTS_DIR
        self.device = torch.device(device)
        self.config = config or DetectorConfig()
        self.pnet = load_weights(PNet(), weights_dir / PNET_WEIGHTS, "PNet").eval()
        self.onet = load_onet(weights_dir / ONET_WEIGHTS)
        vnet_path = weights_dir / VNET_WEIGHTS
        self.vnet = load_weights(VNet(), vnet_path, "VNet").eval() if vnet_path.is_file() else None
        for net in (self.pnet, self.onet, self.vnet):  # channels-last: see torch_net
            if net is not None:
                net.to(self.device, memory_format=torch.channels_last)

    @property
    def has_vertices(self) -> bool:
        """Whether ONet has the vertex branch (results carry corners)."""
        return self.onet.has_vertices

    @torch.inference_mode()
    def detect_plates(self, image: np.ndarray) -> Detections:
        """Find plates and their corners in one image.

        Args:
            image: ``ndarray[H, W, 3]`` uint8, **BGR** (as ``cv2.imread`` gives).

        Raises:
            lprcore.imageio.ImageTooLargeError: the image pyramid would need more memory than
                ``config.max_pyramid_mb`` (:func:`check_image_size`; nothing is allocated).
        """
        vnet = torch_net(self.vnet, self.device) if self.vnet is not None else None
        return detect(torch_net(self.pnet, self.device), torch_net(self.onet, self.device), image, self.config,
                      self.onet.has_vertices, vnet)

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Find plates in one image: the boxes of :meth:`detect_plates`.

        Args:
            image: ``ndarray[H, W, 3]`` uint8, **BGR** (as ``cv2.imread`` gives).

        Returns:
            ``ndarray[K, 5]`` float32: x1, y1, x2, y2 (pixels, inside the image), score in [0, 1];
            ``[0, 5]`` when no plate is found.

        Raises:
            lprcore.imageio.ImageTooLargeError: see :meth:`detect_plates`.
        """
        return self.detect_plates(image).boxes
