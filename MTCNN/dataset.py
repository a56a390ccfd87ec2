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

    ``__getitem__`` returns ``(Tensor[3, h, w] float32, label int64, offsets Tensor[4],
    vertices Tensor[8], has_vertices bool)``: the net input of :func:`MTCNN.nets.images_to_input`,
    label 1 positive, 0 negative, -1 part; the plate corners as fractions of the crop
    (:func:`MTCNN.boxes.vertex_targets`; zeros when unknown, with ``has_vertices`` False).

    Args:
        lists: list files from ``MTCNN.prepare``.
        augment: photometric changes (colour, blur, noise) and, for half the samples, a horizontal
            flip (offsets and corners mirrored).
    """

    def __init__(self, lists: Sequence[str], augment: bool = False):
        items = [e for lst in lists for e in read_list(lst)]
        self.images = np.stack([imread(e[0]) for e in items]) \
            if items else np.zeros((0, 1, 1, 3), np.uint8)
        self.labels = torch.tensor([e[1] for e in items], dtype=torch.long)
        self.offsets = torch.tensor([e[2] for e in items], dtype=torch.float32).reshape(-1, 4)
        self.vertices = torch.tensor([e[3] or (0.0,) * 8 for e in items], dtype=torch.float32).reshape(-1, 8)
        self.has_vertices = torch.tensor([e[3] is not None for e in items], dtype=torch.bool)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        img, off, ver = self.images[i], self.offsets[i], self.vertices[i]
        if self.augment:
            rng = np.random.default_rng(np.random.randint(0, 2**31))
            img = photometric(img, rng)
            if rng.random() < 0.5:
                img = img[:, ::-1]
                off = torch.stack([-off[2], off[1], -off[0], off[3]])
                ver = mirror_vertices(ver)
        return images_to_input(np.ascontiguousarray(img))[0], self.labels[i], off, ver, self.has_vertices[i]


def mirror_vertices(vertices: torch.Tensor) -> torch.Tensor:
    """Vertex targets ``Tensor[8]`` (TL, TR, BR, BL as fractions of the crop) of the horizontally
    flipped crop: x -> 1 - x, and left and right corners swap (TL <-> TR, BR <-> BL)."""
    v = vertices.reshape(4, 2)[[1, 0, 3, 2]].clone()
    v[:, 0] = 1 - v[:, 0]
    return v.reshape(8)
