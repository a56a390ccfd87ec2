"""Plate reading: pre-processing -> STN -> LPRNet -> greedy CTC, as separate pieces.

:func:`preprocess` turns BGR crops into the nets' input, :class:`PlateRecognizer` runs the nets and
:func:`LPRNet.ctc.greedy_decode` turns logits into text.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Sequence

import cv2
import numpy as np
import torch

from lpr.weights import load_weights
from LPRNet.ctc import Decoded, greedy_decode
from LPRNet.model import INPUT_SIZE, LPRNet
from LPRNet.stn import STNet

#: Folder of the weights that ship with the package.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
STN_WEIGHTS = "stn.pth"
LPRNET_WEIGHTS = "lprnet.pth"


def warp_to_input(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Warp the quadrilateral ``quad`` (``[4, 2]`` pixels: TL, TR, BR, BL) of a BGR image onto a
    ``[24, 94, 3]`` crop, bilinear; the corners land on the crop's outer corners.

    This is how every training crop is made, so inference must cut plates the same way: the
    half-pixel convention of ``cv2.resize`` shifts a crop by about 2 pixels and cost 3 points of
    exact-match accuracy on real CCPD crops.
    """
    h, w = INPUT_SIZE
    dst = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    m = cv2.getPerspectiveTransform(np.asarray(quad, np.float32), dst)
    return cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def crop_plates(image: np.ndarray, boxes: np.ndarray) -> List[np.ndarray]:
    """Cut LPRNet inputs from a BGR image: one ``[24, 94, 3]`` uint8 crop per box.

    Args:
        image: ``ndarray[H, W, 3]`` uint8, BGR.
        boxes: ``ndarray[N, >=4]`` (x1, y1, x2, y2) pixels; parts outside the image repeat the edge.
    """
    crops = []
    for x1, y1, x2, y2 in np.asarray(boxes, np.float32)[:, :4]:
        x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
        crops.append(warp_to_input(image, np.float32([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])))
    return crops


def resize_crop(crop: np.ndarray) -> np.ndarray:
    """Fit a whole BGR crop ``ndarray[h, w, 3]`` uint8 to ``ndarray[24, 94, 3]`` with
    :func:`warp_to_input`, the sampling of the training crops."""
    h, w = crop.shape[:2]
    if (h, w) == INPUT_SIZE:
        return crop
    return warp_to_input(crop, np.float32([[0, 0], [w, 0], [w, h], [0, h]]))


def preprocess(crops: Sequence[np.ndarray]) -> torch.Tensor:
    """BGR plate crops (any size) -> ``Tensor[N, 3, 24, 94]`` float32, ``(x - 127.5) * 0.0078125``.

    Raises:
        ValueError: a crop is empty or not ``[h, w, 3]``.
    """
    batch = np.zeros((len(crops), INPUT_SIZE[0], INPUT_SIZE[1], 3), dtype=np.uint8)
    for i, c in enumerate(crops):
        if c.ndim != 3 or c.shape[2] != 3 or c.shape[0] == 0 or c.shape[1] == 0:
            raise ValueError(f"crop {i}: expected a non-empty [h, w, 3] BGR image, got shape {c.shape}")
        batch[i] = resize_crop(c)
    t = torch.from_numpy(batch).permute(0, 3, 1, 2).float()
    return (t - 127.5) * 0.0078125


class PlateRecognizer:
    """STN + LPRNet with weights loaded once.

    Args:
        weights_dir: folder with ``stn.pth`` and ``lprnet.pth`` (default: the package's weights).
        device: torch device.

    Raises:
        lpr.weights.WeightsError: a weight file is missing or does not fit its net.
    """

    def __init__(self, weights_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu"):
        weights_dir = Path(weights_dir) if weights_dir else WEIGHTS_DIR
        self.device = torch.device(device)
        self.stn = load_weights(STNet(), weights_dir / STN_WEIGHTS, "STNet").to(self.device).eval()
        self.lprnet = load_weights(LPRNet(), weights_dir / LPRNET_WEIGHTS, "LPRNet").to(self.device).eval()

    @torch.inference_mode()
    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        """``Tensor[N, 3, 24, 94]`` (see :func:`preprocess`) -> logits ``Tensor[N, 68, 18]``."""
        return self.lprnet(self.stn(batch.to(self.device)))

    def read_boxes(self, image: np.ndarray, boxes: np.ndarray) -> List[Decoded]:
        """Read the plates at ``boxes[N, >=4]`` (pixels) of a BGR image, in one batch."""
        return self.recognize(crop_plates(image, boxes)) if len(boxes) else []

    def recognize(self, crops: Sequence[np.ndarray]) -> List[Decoded]:
        """Read plate crops (BGR uint8, any size), all in one batch; one result per crop."""
        if len(crops) == 0:
            return []
        return greedy_decode(self.logits(preprocess(crops)))
