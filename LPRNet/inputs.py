"""The input contract of the STN, LPRNet and the colour/layout classifier (stated here only), and the
one function that makes their input. Imports no torch.

Input: ``float32[N, 3, 24, 94]``, channels in **BGR** order, values ``(x - 127.5) * 0.0078125``
(about [-1, 1]), made from BGR uint8 crops (cut by :mod:`LPRNet.crops`) by :func:`crops_to_array`
(:func:`LPRNet.model.crops_to_input` gives it as a tensor). Output of the reader: logits
``[N, C, 18]``, a score per class of the character table (:mod:`LPRNet.chars`) for 18 time steps,
decoded with CTC (:mod:`LPRNet.ctc`).
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

#: Input size of LPRNet and the STN, (height, width) in pixels.
INPUT_SIZE = (24, 94)
#: Scaling of the input: ``(x - INPUT_MEAN) * INPUT_SCALE``.
INPUT_MEAN, INPUT_SCALE = 127.5, 0.0078125
#: Number of CTC time steps of the output.
TIME_STEPS = 18


def crops_to_array(crops: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """BGR uint8 plate crops of the input size -> the STN/LPRNet input.

    Args:
        crops: ``N`` arrays ``[24, 94, 3]`` uint8 BGR (or one ``ndarray[N, 24, 94, 3]``); crops of
            other sizes go through :func:`LPRNet.crops.resize_crop` first.

    Returns:
        ``ndarray[N, 3, 24, 94]`` float32, BGR, ``(x - 127.5) * 0.0078125``.

    Raises:
        ValueError: a crop is not uint8 ``[24, 94, 3]``.
    """
    batch = np.zeros((len(crops), INPUT_SIZE[0], INPUT_SIZE[1], 3), dtype=np.uint8)
    for i, c in enumerate(crops):
        if c.shape != (*INPUT_SIZE, 3) or c.dtype != np.uint8:
            raise ValueError(f"crop {i}: expected uint8 [{INPUT_SIZE[0]}, {INPUT_SIZE[1]}, 3] BGR, "
                             f"got {c.dtype} {c.shape} (cut crops with LPRNet.crops)")
        batch[i] = c
    if not len(batch):
        return np.zeros((0, 3, *INPUT_SIZE), np.float32)
    # OpenCV's blob: (x - mean) * scale, NCHW float32 in one pass, channels kept BGR (exact: scale 2^-7)
    return cv2.dnn.blobFromImages(list(batch), scalefactor=INPUT_SCALE, mean=(INPUT_MEAN,) * 3, swapRB=False)
