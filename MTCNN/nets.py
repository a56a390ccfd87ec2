"""PNet and ONet of the plate MTCNN cascade (Zhang et al. 2016, arXiv:1604.02878, Fig. 2),
adapted to plates by the MTCNN+LPRNet project (xuexingyu24/License_Plate_Detection_Pytorch).

Parameter names and shapes match that project, so its checkpoints load with ``strict=True``.

**Input contract of both nets**: see :mod:`MTCNN.cascade` (its one home, with the PNet cell and
stride and the ONet input size): ``Tensor[N, 3, H, W]`` float32, **RGB**, scaled to about [-1, 1],
made by :func:`images_to_input`. Both return logits (no softmax): ``(class_logits, bbox_offsets)``,
and ONet with its vertex branch a third output, the plate's 4 corners (see :class:`ONet`).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Tuple

import numpy as np
import torch
from torch import nn

from MTCNN.cascade import PNET_STRIDE, VNET_INPUT, frame_fractions, images_to_array


def images_to_input(images: np.ndarray) -> torch.Tensor:
    """BGR uint8 images ``ndarray[N, H, W, 3]`` (or ``[H, W, 3]``) -> the PNet/ONet input
    ``Tensor[N, 3, H, W]`` float32, RGB, scaled: :func:`MTCNN.cascade.images_to_array` as a tensor.

    Raises:
        ValueError: ``images`` is not uint8 with 3 channels last.
    """
    return torch.from_numpy(images_to_array(images))


class PNet(nn.Module):
    """Proposal net, fully convolutional.

    ``Tensor[N, 3, H, W]`` (H >= 12, W >= 47) -> ``(Tensor[N, 2, h, w], Tensor[N, 4, h, w])``:
    plate / not-plate logits (index 1 = plate) and bbox offsets per cell, with
    ``h = (H - 12) // 2 + 1`` and ``w = (W - 47) // 5 + 1`` (up to ceil-mode rounding).
    """

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 10, 3)),
            ("prelu1", nn.PReLU(10)),
            ("pool1", nn.MaxPool2d(PNET_STRIDE, ceil_mode=True)),
            ("conv2", nn.Conv2d(10, 16, (3, 5))),
            ("prelu2", nn.PReLU(16)),
            ("conv3", nn.Conv2d(16, 32, (3, 5))),
            ("prelu3", nn.PReLU(32)),
        ]))
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x = self.features(x)
        return self.conv4_1(x), self.conv4_2(x)


class _TransposeFlatten(nn.Module):
    """``[N, C, H, W] -> [N, C*W*H]`` after swapping H and W, the order ONet's Linear expects."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(3, 2).flatten(1)


class ONet(nn.Module):
    """Output net: re-scores and refines candidate boxes, and (with the vertex branch) finds the
    plate's corners.

    ``Tensor[N, 3, 24, 94]`` -> ``(Tensor[N, 2], Tensor[N, 4])``, or with ``vertices=True``
    ``(Tensor[N, 2], Tensor[N, 4], Tensor[N, 8])``: plate / not-plate logits (index 1 = plate), bbox
    offsets relative to the candidate's width and height, and the 4 plate corners (TL, TR, BR, BL as
    x1, y1, ..., x4, y4) as fractions of the candidate box (0 = its left / top edge, 1 = its right /
    bottom edge). The vertex branch is MTCNN's landmark branch (arXiv:1604.02878, Sec. 2.3) with the
    plate's corners as landmarks; checkpoints without it (the original project's) load into
    ``ONet(vertices=False)``.
    """

    def __init__(self, dropout: float = 0.25, vertices: bool = True):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 32, 3)),
            ("prelu1", nn.PReLU(32)),
            ("pool1", nn.MaxPool2d(3, 2, ceil_mode=True)),
            ("conv2", nn.Conv2d(32, 64, 3)),
            ("prelu2", nn.PReLU(64)),
            ("pool2", nn.MaxPool2d(3, 2, ceil_mode=True)),
            ("conv3", nn.Conv2d(64, 64, 3)),
            ("prelu3", nn.PReLU(64)),
            ("pool3", nn.MaxPool2d(2, 2, ceil_mode=True)),
            ("conv4", nn.Conv2d(64, 128, 1)),
            ("prelu4", nn.PReLU(128)),
            ("flatten", _TransposeFlatten()),
            ("conv5", nn.Linear(1280, 256)),
            ("drop5", nn.Dropout(dropout)),
            ("prelu5", nn.PReLU(256)),
        ]))
        self.conv6_1 = nn.Linear(256, 2)
        self.conv6_2 = nn.Linear(256, 4)
        self.conv6_3 = nn.Linear(256, 8) if vertices else None

    @property
    def has_vertices(self) -> bool:
        """Whether the net has the vertex branch."""
        return self.conv6_3 is not None

    def forward(self, x: torch.Tensor):
        x = self.features(x)
        if self.conv6_3 is None:
            return self.conv6_1(x), self.conv6_2(x)
        return self.conv6_1(x), self.conv6_2(x), self.conv6_3(x)


class VNet(nn.Module):
    """Vertex net: refines a plate's 4 corners in the plate's own frame (:func:`MTCNN.cascade.vertex_stage`).

    ``Tensor[N, 3, 40, 128]`` (the plate rectified through its current corners by
    :func:`MTCNN.cascade.rectify_quads`; the input contract of :mod:`MTCNN.cascade`) ->
    ``Tensor[N, 8]``: the true corners (TL, TR, BR, BL as x1, y1, ..., x4, y4) as fractions of the
    crop's width and height. A second-stage corner regressor (cascaded regression in a normalised
    frame): the input crop is already centred on the plate, so a small net at about the recognizer's
    scale (the plate about 102 x 24 pixels) can place corners more finely than ONet, which sees a
    loose box. The last layer starts at the frame's corners (the identity refinement).
    """

    def __init__(self):
        super().__init__()

        def block(cin: int, cout: int, pool: bool) -> list:
            layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.PReLU(cout)]
            return layers + ([nn.MaxPool2d(2)] if pool else [])

        h, w = VNET_INPUT
        self.features = nn.Sequential(*block(3, 16, True), *block(16, 32, True), *block(32, 64, True),
                                      *block(64, 64, False), nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(64 * (h // 8) * (w // 8), 128), nn.PReLU(128))
        self.corners = nn.Linear(128, 8)
        nn.init.zeros_(self.corners.weight)
        with torch.no_grad():
            self.corners.bias.copy_(torch.from_numpy(frame_fractions()).flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.corners(self.fc(self.features(x)))
