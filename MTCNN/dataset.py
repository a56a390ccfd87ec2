"""PNet / ONet training data: samples from ``MTCNN.prepare`` lists, kept in memory."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from lprcore.augment import photometric
from lprcore.imageio import imread
from MTCNN.nets import images_to_input
from MTCNN.prepare import read_list


class BoxSampleDataset(Dataset):
    """Labelled crops for PNet (12x47) or ONet (24x94).

    ``__getitem__`` returns ``(Tensor[3, h, w] float32, label int64, offsets Tensor[4])``: the net
    input of :func:`MTCNN.nets.images_to_input`, label 1 positive, 0 negative, -1 part.

    Args:
        lists: list files from ``MTCNN.prepare``.
        augment: photometric changes (colour, blur, noise) and, for half the samples, a horizontal
            flip (offsets mirrored).
    """

    def __init__(self, lists: Sequence[str], augment: bool = False):
        items = [e for lst in lists for e in read_list(lst)]
        self.images = np.stack([imread(p) for p, _, _ in items]) \
            if items else np.zeros((0, 1, 1, 3), np.uint8)
        self.labels = torch.tensor([lab for _, lab, _ in items], dtype=torch.long)
        self.offsets = torch.tensor([off for _, _, off in items], dtype=torch.float32).reshape(-1, 4)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        img, off = self.images[i], self.offsets[i]
        if self.augment:
            rng = np.random.default_rng(np.random.randint(0, 2**31))
            img = photometric(img, rng)
            if rng.random() < 0.5:
                img = img[:, ::-1]
                off = torch.stack([-off[2], off[1], -off[0], off[3]])
        return images_to_input(np.ascontiguousarray(img))[0], self.labels[i], off
