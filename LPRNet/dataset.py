"""LPRNet training data: samples from ``LPRNet.prepare`` lists, with plate-fitting augmentation."""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from lprcore.augment import photometric
from lprcore.imageio import imread
from LPRNet.chars import encode
from LPRNet.crops import box_to_quad, warp_double_row, warp_to_input
from LPRNet.model import crops_to_input
from LPRNet.prepare import read_list


def jitter_quad(box, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Corners (TL, TR, BR, BL) of ``box`` moved at random: the imprecision of a detector's box.

    Edges move by up to about +/-8% of the width (x) and -15%..+25% of the height (y), mostly
    outwards; corners then move independently by up to 3% (small rotation / perspective).
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    s = strength
    x1 -= w * rng.uniform(-0.05, 0.08) * s
    x2 += w * rng.uniform(-0.05, 0.08) * s
    y1 -= h * rng.uniform(-0.12, 0.25) * s
    y2 += h * rng.uniform(-0.12, 0.25) * s
    quad = np.float32([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
    quad += (rng.uniform(-0.03, 0.03, (4, 2)) * [w, h] * s).astype(np.float32)
    return quad


class PlateTextDataset(Dataset):
    """Samples of one or more ``LPRNet.prepare`` lists, decoded once and kept in memory.

    ``__getitem__`` returns ``(Tensor[3, 24, 94] float32 BGR scaled, Tensor[L] int64 labels)``.

    Args:
        lists: list files.
        augment: random box jitter, perspective and photometric changes; off: the exact box.
        repeat: each sample appears this many times per epoch (e.g. to weight real data).
    """

    def __init__(self, lists: Sequence[str], augment: bool = False, repeat: int = 1):
        self.items: List[Tuple[np.ndarray, List[int], Tuple[int, int, int, int], str, str, str]] = []
        for lst in lists:
            for e in read_list(lst):
                self.items.append((imread(e.path), encode(e.text), e.box, e.text, e.colour, e.layout))
        self.augment = augment
        self.repeat = max(1, repeat)

    def __len__(self) -> int:
        return len(self.items) * self.repeat

    def crop(self, i: int, rng: np.random.Generator | None = None, as_single: bool = False) -> np.ndarray:
        """BGR uint8 ``[24, 94, 3]`` crop of sample ``i`` (augmented when ``rng`` is given), cut as
        the pipeline cuts it: double-row plates row by row (:func:`LPRNet.crops.warp_double_row`)
        unless ``as_single``."""
        image, _, box, _, _, layout = self.items[i % len(self.items)]
        warp = warp_double_row if layout == "double" and not as_single else warp_to_input
        if rng is None:
            return warp(image, box_to_quad(box))
        return photometric(warp(image, jitter_quad(box, rng)), rng)

    def __getitem__(self, i: int):
        rng = np.random.default_rng(np.random.randint(0, 2**31)) if self.augment else None
        crop = self.crop(i, rng)
        return crops_to_input([crop])[0], torch.tensor(self.items[i % len(self.items)][1], dtype=torch.long)

    def text(self, i: int) -> str:
        """The plate text of sample ``i``."""
        return self.items[i % len(self.items)][3]

    def attributes(self, i: int) -> Tuple[str, str]:
        """``(colour, layout)`` of sample ``i`` ("" when unknown)."""
        return self.items[i % len(self.items)][4:6]


def collate(batch):
    """Stack images; concatenate labels for ``nn.CTCLoss``: ``(x[N,3,24,94], targets[sum L], lengths[N])``."""
    xs, ys = zip(*batch)
    return torch.stack(xs), torch.cat(ys), torch.tensor([len(y) for y in ys], dtype=torch.long)
