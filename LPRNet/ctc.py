"""Greedy CTC decoding with confidences (Graves et al. 2006, best-path decoding).

Best path: take the most likely class per time step, collapse runs of the same class, then drop
blanks. ``[A, A, -, B]`` gives ``AB``; ``[A, -, A]`` gives ``AA``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import torch

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


def greedy_decode(logits: torch.Tensor, blank: int = BLANK, chars: Sequence[str] | None = None) -> List[Decoded]:
    """Best-path decode a batch of LPRNet outputs.

    Args:
        logits: ``Tensor[N, C, T]`` (classes x time steps, as LPRNet returns), any float dtype.
        blank: index of the CTC blank (67 in both tables of :mod:`LPRNet.chars`).
        chars: the character table (default: the table with ``C`` classes,
            :func:`LPRNet.chars.charset_for`).

    Returns:
        One :class:`Decoded` per sample.

    Raises:
        ValueError: ``logits`` is not 3-D.
    """
    if logits.dim() != 3:
        raise ValueError(f"logits must be [N, C, T], got shape {tuple(logits.shape)}")
    table = chars if chars is not None else charset_for(logits.shape[1])
    probs = logits.float().softmax(dim=1)
    best_p, best = probs.max(dim=1)                      # [N, T]
    results = []
    for idx, p in zip(best.tolist(), best_p.tolist()):
        emitted, conf = greedy_decode_indices(idx, p, blank)
        text = "".join(table[c] for c in emitted)
        results.append(Decoded(text, tuple(conf), min(conf) if conf else 0.0))
    return results
