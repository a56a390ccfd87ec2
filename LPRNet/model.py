"""LPRNet: segmentation-free plate recognition (Zherzdev & Gruzdev 2018, arXiv:1806.10447).

**Input contract of the STN and LPRNet**: see :mod:`LPRNet.inputs` (its one home):
``Tensor[N, 3, 24, 94]`` float32, BGR, scaled to about [-1, 1], made by :func:`crops_to_input`.
Output: logits ``Tensor[N, C, 18]``, decoded with CTC (:mod:`LPRNet.ctc`).

Parameter names and shapes match the original PyTorch projects (sirius-ai/LPRNet_Pytorch,
xuexingyu24/License_Plate_Detection_Pytorch): ``backbone.0`` .. ``backbone.22`` and ``container.0``.
Two deliberate differences, neither touching the parameters:

* the channel-striding max-pools of the original (``nn.MaxPool3d`` applied to a 4-D tensor) are the
  explicit :class:`ChannelMaxPool`;
* the global-context features are normalised by their mean square *per sample*, not over the whole
  batch, so a plate's logits do not depend on what else is in the batch (for a batch of one the two
  agree).
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np
import torch
from torch import nn

from LPRNet.chars import NUM_CLASSES
from LPRNet.inputs import crops_to_array

def crops_to_input(crops: Sequence[np.ndarray] | np.ndarray) -> torch.Tensor:
    """BGR uint8 plate crops ``[24, 94, 3]`` -> the STN/LPRNet input ``Tensor[N, 3, 24, 94]``:
    :func:`LPRNet.inputs.crops_to_array` as a tensor.

    Raises:
        ValueError: a crop is not uint8 ``[24, 94, 3]``.
    """
    return torch.from_numpy(crops_to_array(crops))


class SmallBasicBlock(nn.Module):
    """The small basic block of LPRNet (paper, Table 1): 1x1, 3x1, 1x3, 1x1 convolutions.

    ``Tensor[N, ch_in, H, W] -> Tensor[N, ch_out, H, W]``.
    """

    def __init__(self, ch_in: int, ch_out: int):
        super().__init__()
        mid = ch_out // 4
        self.block = nn.Sequential(
            nn.Conv2d(ch_in, mid, kernel_size=1),
            nn.ReLU(),
            nn.Conv2d(mid, mid, kernel_size=(3, 1), padding=(1, 0)),
            nn.ReLU(),
            nn.Conv2d(mid, mid, kernel_size=(1, 3), padding=(0, 1)),
            nn.ReLU(),
            nn.Conv2d(mid, ch_out, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class ChannelMaxPool(nn.Module):
    """Max-pool over (channel, height, width) windows with ``kernel``/``stride`` of 3 ints.

    The channel stride halves or quarters the channel count, as the original does with
    ``nn.MaxPool3d((1, 3, 3), stride=(c, 1, w))`` on a 4-D tensor.
    """

    def __init__(self, kernel, stride):
        super().__init__()
        self.pool = nn.MaxPool3d(kernel_size=kernel, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x.unsqueeze(1)).squeeze(1)


class LPRNet(nn.Module):
    """LPRNet (arXiv:1806.10447, Table 1-3) with the global-context head of the original code.

    Args:
        num_classes: number of classes including the CTC blank (68).
        dropout: dropout rate used in training.

    ``forward``: ``Tensor[N, 3, 24, 94]`` (BGR, scaled) -> logits ``Tensor[N, num_classes, 18]``.
    """

    #: backbone indices whose outputs feed the global context.
    CONTEXT_LAYERS = (2, 6, 13, 22)

    def __init__(self, num_classes: int = NUM_CLASSES, dropout: float = 0.5):
        super().__init__()
        self.num_classes = num_classes
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=1),                       # 0
            nn.BatchNorm2d(64),                                              # 1
            nn.ReLU(),                                                       # 2  -> context
            ChannelMaxPool((1, 3, 3), (1, 1, 1)),                            # 3
            SmallBasicBlock(64, 128),                                        # 4
            nn.BatchNorm2d(128),                                             # 5
            nn.ReLU(),                                                       # 6  -> context
            ChannelMaxPool((1, 3, 3), (2, 1, 2)),                            # 7  128 -> 64 ch
            SmallBasicBlock(64, 256),                                        # 8
            nn.BatchNorm2d(256),                                             # 9
            nn.ReLU(),                                                       # 10
            SmallBasicBlock(256, 256),                                       # 11
            nn.BatchNorm2d(256),                                             # 12
            nn.ReLU(),                                                       # 13 -> context
            ChannelMaxPool((1, 3, 3), (4, 1, 2)),                            # 14 256 -> 64 ch
            nn.Dropout(dropout),                                             # 15
            nn.Conv2d(64, 256, kernel_size=(1, 4), stride=1),                # 16
            nn.BatchNorm2d(256),                                             # 17
            nn.ReLU(),                                                       # 18
            nn.Dropout(dropout),                                             # 19
            nn.Conv2d(256, num_classes, kernel_size=(13, 1), stride=1),      # 20
            nn.BatchNorm2d(num_classes),                                     # 21
            nn.ReLU(),                                                       # 22 -> context
        )
        self.context_pools = nn.ModuleList([
            nn.AvgPool2d(kernel_size=5, stride=5),
            nn.AvgPool2d(kernel_size=5, stride=5),
            nn.AvgPool2d(kernel_size=(4, 10), stride=(4, 2)),
            nn.Identity(),
        ])
        self.container = nn.Sequential(
            nn.Conv2d(64 + 128 + 256 + num_classes, num_classes, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept: List[torch.Tensor] = []
        for i, layer in enumerate(self.backbone):
            x = layer(x)
            if i in self.CONTEXT_LAYERS:
                kept.append(x)
        context = []
        for f, pool in zip(kept, self.context_pools):
            f = pool(f)
            # per-sample mean square (the original used one mean over the whole batch)
            scale = f.pow(2).mean(dim=(1, 2, 3), keepdim=True)
            context.append(f / scale)
        x = self.container(torch.cat(context, dim=1))   # [N, C, 4, 18]
        return x.mean(dim=2)                            # [N, C, 18]
