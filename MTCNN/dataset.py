"""PNet / ONet / VNet training data: samples from ``MTCNN.prepare`` lists and files, kept in memory."""
from __future__ import annotations

from typing import Sequence, Tuple

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from lprcore.augment import photometric
from lprcore.imageio import imread
from MTCNN.boxes import quad_size
from MTCNN.cascade import crop_pixels_to_fractions, rectify_quads
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


#: Corner noise of :class:`QuadSampleDataset`: normal std per corner and per plate shift (fractions of width,
#: height), doubled for a share; as ONet's corner errors. Measured: docs/tuning.md#quad_noise_std
QUAD_NOISE_STD: Tuple[float, float] = (0.035, 0.05)
QUAD_SHIFT_STD: Tuple[float, float] = (0.02, 0.04)
QUAD_WIDE_P = 0.25


def perturb_quad(quad: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plate quadrilateral ``ndarray[4, 2]`` (TL, TR, BR, BL pixels) moved as a detector's corners
    err (:data:`QUAD_NOISE_STD`, :data:`QUAD_SHIFT_STD`, :data:`QUAD_WIDE_P`): ``ndarray[4, 2]`` float32."""
    q = np.asarray(quad, np.float64)
    (w,), (h,) = quad_size(q)
    k = 2.0 if rng.random() < QUAD_WIDE_P else 1.0
    noise = rng.normal(size=(4, 2)) * [QUAD_NOISE_STD[0] * w, QUAD_NOISE_STD[1] * h]
    shift = rng.normal(size=2) * [QUAD_SHIFT_STD[0] * w, QUAD_SHIFT_STD[1] * h]
    return (q + k * (noise + shift)).astype(np.float32)


class QuadSampleDataset(Dataset):
    """VNet samples: plates rectified through perturbed corners, with their true corners.

    ``__getitem__`` returns ``(Tensor[3, 40, 128] float32, Tensor[8] float32)``: the net input
    (:func:`images_to_input` of :func:`MTCNN.cascade.rectify_quads` of the region through the
    perturbed corners, :func:`perturb_quad`) and the true corners in that crop, TL, TR, BR, BL as
    fractions of its width and height.

    Args:
        files: ``.npz`` files of ``python -m MTCNN.prepare --net vnet`` (``regions``, ``quads``).
        augment: random perturbations, photometric changes and, for half the samples, a horizontal
            flip (corners mirrored); off, each sample's perturbation is fixed by its index (a
            validation set that does not change between epochs).

    Raises:
        ValueError: a file lacks ``regions`` or ``quads``, their shapes are not ``[N, h, w, 3]`` uint8 and
            ``[N, 4, 2]`` of one ``N``, or its regions differ in size from the first file's (the
            message names the file).
    """

    def __init__(self, files: Sequence[str], augment: bool = False):
        regions, quads = [], []
        for f in files:
            with np.load(f) as z:
                r = z["regions"] if "regions" in z else None
                q = z["quads"] if "quads" in z else None
            if (r is None or q is None or r.dtype != np.uint8 or r.ndim != 4 or r.shape[3] != 3
                    or q.shape != (len(r), 4, 2)):
                raise ValueError(f"{f}: not a VNet sample file (regions uint8[N, h, w, 3] and quads [N, 4, 2], "
                                 "from python -m MTCNN.prepare --net vnet)")
            if regions and r.shape[1:] != regions[0].shape[1:]:
                raise ValueError(f"{f}: regions of {r.shape[1:3]} pixels, the first file's are {regions[0].shape[1:3]}")
            regions.append(r)
            quads.append(q.astype(np.float32))
        self.regions = np.concatenate(regions) if regions else np.zeros((0, 1, 1, 3), np.uint8)
        self.quads = np.concatenate(quads) if quads else np.zeros((0, 4, 2), np.float32)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.quads)

    def __getitem__(self, i: int):
        rng = np.random.default_rng(np.random.randint(0, 2**31) if self.augment else [7, i])
        region, quad = self.regions[i], self.quads[i]
        if self.augment and rng.random() < 0.5:
            region = region[:, ::-1]
            quad = quad[[1, 0, 3, 2]].copy()
            quad[:, 0] = region.shape[1] - 1 - quad[:, 0]
        crops, hs = rectify_quads(np.ascontiguousarray(region), perturb_quad(quad, rng)[None])
        target = crop_pixels_to_fractions(cv2.perspectiveTransform(quad[None].astype(np.float64), hs[0])[0])
        crop = photometric(crops[0], rng) if self.augment else crops[0]
        return images_to_input(np.ascontiguousarray(crop))[0], torch.from_numpy(target.astype(np.float32).reshape(8))
