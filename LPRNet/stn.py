"""Spatial transformer (Jaderberg et al. 2015, arXiv:1506.02025) that rectifies 24x94 plate crops.

Layout as the original MTCNN+LPRNet project (``localization.*``, ``fc_loc.*``), so its STN
checkpoints load. Input and output: ``Tensor[N, 3, 24, 94]``, the LPRNet input (BGR, scaled).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class STNet(nn.Module):
    """Predicts a 2x3 affine transform per crop and resamples the crop with it.

    Args:
        align_corners: passed to ``F.affine_grid`` and ``F.grid_sample``. ``False`` (default,
            PyTorch's default since 1.3) treats pixels as squares whose corners are -1 and 1; with
            the identity transform both settings return the input unchanged.

    The last layer starts at the identity transform, so an untrained STN passes crops through.
    """

    def __init__(self, align_corners: bool = False):
        super().__init__()
        self.align_corners = align_corners
        self.localization = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=3),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
            nn.Conv2d(32, 32, kernel_size=5),
            nn.MaxPool2d(3, stride=3),
            nn.ReLU(True),
        )
        self.fc_loc = nn.Sequential(
            nn.Linear(32 * 2 * 14, 32),
            nn.ReLU(True),
            nn.Linear(32, 3 * 2),
        )
        nn.init.zeros_(self.fc_loc[2].weight)
        with torch.no_grad():
            self.fc_loc[2].bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def theta(self, x: torch.Tensor) -> torch.Tensor:
        """Affine transforms ``Tensor[N, 2, 3]`` for crops ``Tensor[N, 3, 24, 94]``."""
        xs = self.localization(x).flatten(1)
        return self.fc_loc(xs).view(-1, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = F.affine_grid(self.theta(x), list(x.shape), align_corners=self.align_corners)
        return F.grid_sample(x, grid, align_corners=self.align_corners)
