"""Plate reading: STN + LPRNet assembled once, and the predictor that reads BGR crops with it.

In the manner of doctr's recognition predictor, three separate pieces:

* pre-processing: :mod:`LPRNet.crops` cuts plates to 24 x 94 and :func:`LPRNet.model.crops_to_input`
  makes the input tensor;
* the model: :class:`PlateRecognizer`, STN then LPRNet, returning logits, the same module in
  training (:mod:`LPRNet.train`), evaluation and the pipeline;
* post-processing: :func:`LPRNet.ctc.greedy_decode` turns logits into text and confidences.

:class:`RecognitionPredictor` joins them with weights loaded once (``weights_only=True``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Sequence

import numpy as np
import torch
from torch import nn

from lprcore.manifest import ManifestError, read_manifest
from lprcore.weights import WeightsError, load_weights
from LPRNet.chars import CHARS
from LPRNet.crops import crop_plates, resize_crop
from LPRNet.ctc import Decoded, greedy_decode
from LPRNet.model import LPRNet, crops_to_input
from LPRNet.stn import STNet

#: Folder of the weights that ship with the package.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
STN_WEIGHTS = "stn.pth"
LPRNET_WEIGHTS = "lprnet.pth"


class PlateRecognizer(nn.Module):
    """STN followed by LPRNet: ``Tensor[N, 3, 24, 94]`` (see :mod:`LPRNet.model`) -> logits
    ``Tensor[N, 68, 18]``.

    Parameter names are ``stn.*`` and ``lprnet.*``; the shipped weights keep the two nets in two
    files (``stn.pth``, ``lprnet.pth``, see :func:`load_recognizer`) so that the original project's
    checkpoints load.

    Args:
        dropout: LPRNet's dropout rate in training.
    """

    def __init__(self, dropout: float = 0.5):
        super().__init__()
        self.stn = STNet()
        self.lprnet = LPRNet(dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``Tensor[N, 3, 24, 94]`` (BGR, scaled) -> logits ``Tensor[N, 68, 18]``."""
        return self.lprnet(self.stn(x))


def load_recognizer(weights_dir: str | os.PathLike | None = None,
                    device: str | torch.device = "cpu") -> PlateRecognizer:
    """A :class:`PlateRecognizer` in eval mode with ``stn.pth`` and ``lprnet.pth`` of ``weights_dir``.

    Args:
        weights_dir: folder with ``stn.pth`` and ``lprnet.pth`` (default: the package's weights).
        device: torch device.

    Raises:
        lprcore.weights.WeightsError: a weight file is missing, damaged or does not fit its net, or
            the folder's MANIFEST.json gives ``lprnet.pth`` another character table.
    """
    weights_dir = Path(weights_dir) if weights_dir else WEIGHTS_DIR
    try:
        charset = read_manifest(weights_dir).get(LPRNET_WEIGHTS, {}).get("charset")
    except ManifestError as e:
        raise WeightsError(str(e)) from None
    if charset is not None and charset != "".join(CHARS):
        raise WeightsError(f"weight file {weights_dir / LPRNET_WEIGHTS} was trained on another character "
                           f"table ({len(charset)} classes in its MANIFEST.json, {len(CHARS)} here)")
    model = PlateRecognizer()
    load_weights(model.stn, weights_dir / STN_WEIGHTS, "STNet")
    load_weights(model.lprnet, weights_dir / LPRNET_WEIGHTS, "LPRNet")
    return model.to(torch.device(device)).eval()


class RecognitionPredictor:
    """Reads plate crops: crops -> input tensor -> :class:`PlateRecognizer` -> greedy CTC decoding.

    Args:
        weights_dir: folder with ``stn.pth`` and ``lprnet.pth`` (default: the package's weights).
        device: torch device.

    Raises:
        lprcore.weights.WeightsError: a weight file is missing, damaged or does not fit its net.
    """

    def __init__(self, weights_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.model = load_recognizer(weights_dir, self.device)

    @torch.inference_mode()
    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        """``Tensor[N, 3, 24, 94]`` (see :func:`LPRNet.model.crops_to_input`) -> logits ``Tensor[N, 68, 18]``."""
        return self.model(batch.to(self.device))

    def __call__(self, crops: Sequence[np.ndarray]) -> List[Decoded]:
        """Read plate crops (``ndarray[h, w, 3]`` uint8 BGR, any size), all in one batch.

        Returns:
            One :class:`LPRNet.ctc.Decoded` per crop.

        Raises:
            ValueError: a crop is empty or not ``[h, w, 3]``.
        """
        if len(crops) == 0:
            return []
        return greedy_decode(self.logits(crops_to_input([resize_crop(c) for c in crops])))

    def read_boxes(self, image: np.ndarray, boxes: np.ndarray) -> List[Decoded]:
        """Read the plates at ``boxes[N, >=4]`` (x1, y1, x2, y2 pixels) of a BGR uint8 image, in one batch."""
        return self(crop_plates(image, boxes)) if len(boxes) else []
