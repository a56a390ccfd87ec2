"""Greedy CTC decoding with confidences (Graves et al. 2006, best-path decoding).

Best path: take the most likely class per time step, collapse runs of the same class, then drop
blanks. ``[A, A, -, B]`` gives ``AB``; ``[A, -, A]`` gives ``AA``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from LPRNet.chars import BLANK, charset_for


@dataclass(frozen=True)
class Decoded:
    """One decoded sequence.

    Attributes:
        text: decoded characters.
        char_confidences: probability of each character (the highest softmax probability over the
            time steps of its run), in [0, 1].
        confidence: plate confidence, the lowest character confidence (0.0 for an empty text).
    """

    text: str
    char_confidences: Tuple[float, ...]
    confidence: float


def greedy_decode_indices(best: List[int], probs: List[float], blank: int = BLANK) -> Tuple[List[int], List[float]]:
    """Collapse repeats, then drop blanks, on one best path.

    Args:
        best: class index per time step.
        probs: probability of that class per time step.
        blank: index of the blank.

    Returns:
        (indices, confidences) of the emitted characters.
    """
    out, conf = [], []
    prev = None
    for c, p in zip(best, probs):
        if c != prev:
            if c != blank:
                out.append(c)
                conf.append(p)
        elif c != blank:
            conf[-1] = max(conf[-1], p)
        prev = c
    return out, conf


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """Numerically stable softmax of a float array along ``axis``, float32."""
    x = np.asarray(x, np.float32)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def greedy_decode(logits, blank: int = BLANK, chars: Sequence[str] | None = None) -> List[Decoded]:
    """Best-path decode a batch of LPRNet outputs.

    Args:
        logits: ``[N, C, T]`` (classes x time steps, as LPRNet returns): a NumPy array or a torch
            tensor (moved to the CPU), any float dtype.
        blank: index of the CTC blank (67 in both tables of :mod:`LPRNet.chars`).
        chars: the character table (default: the table with ``C`` classes,
            :func:`LPRNet.chars.charset_for`).

    Returns:
        One :class:`Decoded` per sample.

    Raises:
        ValueError: ``logits`` is not 3-D.
    """
    if hasattr(logits, "detach"):  # a torch tensor; this module imports no torch
        logits = logits.detach().float().cpu().numpy()
    logits = np.asarray(logits)
    if logits.ndim != 3:
        raise ValueError(f"logits must be [N, C, T], got shape {tuple(logits.shape)}")
    table = chars if chars is not None else charset_for(logits.shape[1])
    probs = softmax(logits, axis=1)
    best = probs.argmax(axis=1)                          # [N, T]
    best_p = np.take_along_axis(probs, best[:, None], axis=1)[:, 0]
    results = []
    for idx, p in zip(best.tolist(), best_p.tolist()):
        emitted, conf = greedy_decode_indices(idx, p, blank)
        text = "".join(table[c] for c in emitted)
        results.append(Decoded(text, tuple(conf), min(conf) if conf else 0.0))
    return results
