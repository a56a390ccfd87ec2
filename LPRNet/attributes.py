"""Plate colour and layout: a tiny classifier beside the reader.

:class:`PlateAttributeNet` takes the recognizer's input (``Tensor[N, 3, 24, 94]``, BGR, scaled: see
:mod:`LPRNet.model`; a double-row plate cut whole, squashed) and returns logits of the plate's
colour (:data:`ccpd.plates.COLOURS`: blue, yellow, green, white, black) and layout (single, double).
The pipeline uses the layout to cut double-row plates row by row before reading them. Example::

    python -m LPRNet.train_attributes --train data/lpr/synth.txt data/lpr/ccpd_train.txt --val data/lpr/val.txt \\
        --out runs/attributes --epochs 4 --export LPRNet/weights

Samples whose list gives no colour (or layout) do not count for that output.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from ccpd.plates import COLOURS, LAYOUTS


class PlateAttributeNet(nn.Module):
    """``Tensor[N, 3, 24, 94]`` -> ``(colour logits Tensor[N, 5], layout logits Tensor[N, 2])``
    (order of :data:`ccpd.plates.COLOURS` and :data:`ccpd.plates.LAYOUTS`)."""

    def __init__(self):
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                                 nn.MaxPool2d(2))

        self.features = nn.Sequential(block(3, 16), block(16, 32), block(32, 48), nn.AdaptiveAvgPool2d((2, 4)))
        self.colour = nn.Linear(48 * 8, len(COLOURS))
        self.layout = nn.Linear(48 * 8, len(LAYOUTS))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x).flatten(1)
        return self.colour(f), self.layout(f)
