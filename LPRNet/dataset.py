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


#: Edge cut (``LPRNet.train --edge-cut``): how far inside the box, as a fraction of its width, a side edge is
#: placed (uniform), up to a quarter of the end character. Measured: docs/tuning.md#edge_cut_range
EDGE_CUT_RANGE = (0.02, 0.06)


def jitter_quad(box, rng: np.random.Generator, strength: float = 1.0, edge_cut: float = 0.0) -> np.ndarray:
    """Corners (TL, TR, BR, BL) of ``box`` moved at random: the imprecision of a detector's box.

    Side edges move by -5 %..+8 % of the width (x: up to 5 % inwards, up to 8 % outwards), top and
    bottom by -12 %..+25 % of the height (y); corners then move independently by up to 3 % (small
    rotation / perspective).

    Args:
        box: (x1, y1, x2, y2) pixels of the plate.
        rng: random generator (``edge_cut`` = 0 draws nothing more: the same draws as without an edge cut).
        strength: scale of every move but the edge cut.
        edge_cut: probability that one side edge, left or right at random, is instead placed inside
            the plate by a fraction of its width drawn from :data:`EDGE_CUT_RANGE`, so the reader
            learns plates whose first or last character the detector's corners cut into; in [0, 1]
            (checked by :class:`PlateTextDataset`; here a value above 1 acts as 1, below 0 as 0).

    Returns:
        ``ndarray[4, 2]`` float32 corners (x, y pixels), TL, TR, BR, BL.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    s = strength
    bx1, bx2 = x1, x2
    x1 -= w * rng.uniform(-0.05, 0.08) * s
    x2 += w * rng.uniform(-0.05, 0.08) * s
    y1 -= h * rng.uniform(-0.12, 0.25) * s
    y2 += h * rng.uniform(-0.12, 0.25) * s
    if edge_cut > 0 and rng.random() < edge_cut:
        inside = w * rng.uniform(*EDGE_CUT_RANGE)
        if rng.random() < 0.5:
            x1 = bx1 + inside
        else:
            x2 = bx2 - inside
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
        edge_cut: with ``augment``, the probability that a crop's left or right edge is cut inside
            the plate (:func:`jitter_quad`), in [0, 1].

    Raises:
        ValueError: ``edge_cut`` outside [0, 1].
    """

    def __init__(self, lists: Sequence[str], augment: bool = False, repeat: int = 1, edge_cut: float = 0.0):
        if not 0.0 <= edge_cut <= 1.0:
            raise ValueError(f"edge_cut must be in [0, 1], got {edge_cut}")
        self.items: List[Tuple[np.ndarray, List[int], Tuple[int, int, int, int], str, str, str]] = []
        for lst in lists:
            for e in read_list(lst):
                self.items.append((imread(e.path), encode(e.text), e.box, e.text, e.colour, e.layout))
        self.augment = augment
        self.repeat = max(1, repeat)
        self.edge_cut = float(edge_cut)

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
        return photometric(warp(image, jitter_quad(box, rng, edge_cut=self.edge_cut)), rng)

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
