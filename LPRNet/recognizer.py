"""Plate recognition on torch: STN + LPRNet assembled once, and the recognizer that reads BGR crops
with it.

The net is :class:`RecognizerNet`, STN then LPRNet, returning logits, the same module in training
(:mod:`LPRNet.train`), evaluation and the reader. :class:`TorchRecognizer` runs it, with weights
loaded once (``weights_only=True``), for the reading steps of :class:`LPRNet.reading.Recognizer`
(pre-processing, colour/layout, CTC post-processing).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict

import numpy as np
import torch
from torch import nn

from lprcore.compat import moved_names
from lprcore.manifest import ManifestError, read_manifest, warn_unchecked
from lprcore.weights import WeightsError, load_weights, read_state_dict
from LPRNet.attributes import PlateAttributeNet
from LPRNet.chars import CHARS, NUM_CLASSES, ORIGINAL_CHARS, charset_for
from LPRNet.model import LPRNet
from LPRNet.reading import ATTRIBUTES_WEIGHTS, LPRNET_WEIGHTS, STN_WEIGHTS, WEIGHTS_DIR, Recognizer
from LPRNet.stn import STNet


class RecognizerNet(nn.Module):
    """STN followed by LPRNet: ``Tensor[N, 3, 24, 94]`` (see :mod:`LPRNet.model`) -> logits
    ``Tensor[N, 68, 18]``.

    Parameter names are ``stn.*`` and ``lprnet.*``; the shipped weights keep the two nets in two
    files (``stn.pth``, ``lprnet.pth``, see :func:`load_recognizer`) so that the original project's
    checkpoints load.

    Args:
        num_classes: size of the character table (75: :data:`LPRNet.chars.CHARS`; 68: the original
            table, :data:`LPRNet.chars.ORIGINAL_CHARS`).
        dropout: LPRNet's dropout rate in training.

    Attributes:
        chars: the character table of the outputs (index -> character).

    Raises:
        ValueError: no character table has ``num_classes`` classes.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, dropout: float = 0.5):
        super().__init__()
        self.chars = charset_for(num_classes)
        self.stn = STNet()
        self.lprnet = LPRNet(num_classes=num_classes, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``Tensor[N, 3, 24, 94]`` (BGR, scaled) -> logits ``Tensor[N, num_classes, 18]``."""
        return self.lprnet(self.stn(x))


#: Parameters of LPRNet whose first dimension is the class count; ``container.0.weight`` also has
#: the class count in its input channels (the global context of the class layer, last).
_CLASS_ROWS = ("backbone.20.weight", "backbone.20.bias", "backbone.21.weight", "backbone.21.bias",
               "backbone.21.running_mean", "backbone.21.running_var", "container.0.weight", "container.0.bias")


#: How far under the smallest old class bias a grown recognizer's new classes start (logits).
NEW_CLASS_BIAS_MARGIN = 10.0


def expand_classes(state: Dict[str, torch.Tensor], num_classes: int, prefix: str = "lprnet.") -> Dict[str, torch.Tensor]:
    """A state dict of a recognizer with fewer classes, grown to ``num_classes`` for fine-tuning.

    The new classes (appended after the old ones, as :data:`LPRNet.chars.CHARS` extends
    :data:`LPRNet.chars.ORIGINAL_CHARS`) start with zero class filters and a small positive
    batch-norm bias (a near-constant, trainable output), zero weights out of the global-context layer
    with a low bias, and zero weights from their context into the old classes; the old classes'
    context weights are rescaled for the larger normalisation. The grown net reads as the old one did
    until fine-tuning teaches the new classes.

    Raises:
        ValueError: the state has more classes than ``num_classes``.
    """
    old = state[prefix + "backbone.20.bias"].shape[0]
    if old > num_classes:
        raise ValueError(f"cannot shrink a {old}-class recognizer to {num_classes} classes")
    if old == num_classes:
        return dict(state)
    out, extra = dict(state), num_classes - old
    for name in _CLASS_ROWS:
        t = state[prefix + name]
        if name == "backbone.21.running_var" or name == "backbone.21.weight":
            new = torch.ones(extra)
        elif name == "backbone.21.bias":  # a small positive output keeps the new ReLUs alive
            new = torch.full((extra,), 0.01)
        elif name == "container.0.bias":
            # far below every old class's bias: where all old logits are low (a plate's first time
            # step can be under -2), a margin of 2 let a new class win the greedy decode
            new = torch.full((extra,), float(t.min()) - NEW_CLASS_BIAS_MARGIN)
        else:
            new = torch.zeros((extra, *t.shape[1:]))
        t = torch.cat([t, new.to(t.dtype)])
        if name == "container.0.weight":  # input channels: [64 + 128 + 256 context, old classes] -> + extra
            t = t.clone()
            # the class context is divided by its mean square over all classes: more (quiet) classes
            # make it larger by about num_classes / old, which these weights undo
            t[:, -old:] *= old / num_classes
            t = torch.cat([t, torch.zeros((t.shape[0], extra, *t.shape[2:]), dtype=t.dtype)], dim=1)
        out[prefix + name] = t
    return out


def load_recognizer(weights_dir: str | os.PathLike | None = None,
                    device: str | torch.device = "cpu") -> RecognizerNet:
    """A :class:`RecognizerNet` in eval mode with ``stn.pth`` and ``lprnet.pth`` of ``weights_dir``.

    Args:
        weights_dir: folder with ``stn.pth`` and ``lprnet.pth`` (default: the package's weights).
        device: torch device.

    Raises:
        lprcore.weights.WeightsError: a weight file is missing, damaged or does not fit its net, or
            the folder's MANIFEST.json gives ``lprnet.pth`` an unknown character table.

    The character table is the ``charset`` of ``lprnet.pth`` in the folder's MANIFEST.json, else the
    one whose size matches the file's last layer (68: original, 75: current).
    """
    weights_dir = Path(weights_dir) if weights_dir else WEIGHTS_DIR
    path = weights_dir / LPRNET_WEIGHTS
    try:
        charset = read_manifest(weights_dir).get(LPRNET_WEIGHTS, {}).get("charset")
    except ManifestError as e:
        raise WeightsError(str(e)) from None
    if charset is None:  # no manifest entry: the size of the last layer says which table
        bias = read_state_dict(path).get("backbone.20.bias")
        charset = "".join(charset_for(len(bias))) if bias is not None and len(bias) in (68, 75) else "".join(CHARS)
    if charset not in ("".join(CHARS), "".join(ORIGINAL_CHARS)):
        raise WeightsError(f"weight file {path} was trained on another character table "
                           f"({len(charset)} classes in its MANIFEST.json; known tables: 68, 75)")
    model = RecognizerNet(num_classes=len(charset))
    load_weights(model.stn, weights_dir / STN_WEIGHTS, "STNet")
    load_weights(model.lprnet, weights_dir / LPRNET_WEIGHTS, "LPRNet")
    return model.to(torch.device(device)).eval()


class TorchRecognizer(Recognizer):
    """The recognizer on torch: crops -> input tensor -> :class:`RecognizerNet` -> greedy CTC
    decoding, with the plate's colour and layout from :class:`LPRNet.attributes.PlateAttributeNet`
    when the weights folder has ``attributes.pth`` (the reading steps: :class:`LPRNet.reading.Recognizer`).

    Args:
        weights_dir: folder with ``stn.pth`` and ``lprnet.pth`` (and optionally ``attributes.pth``;
            default: the package's weights).
        device: torch device.

    Each file is checked against the folder's MANIFEST.json (the rule: :mod:`lprcore.manifest`); a
    folder without one is loaded unchecked, with a warning.

    Raises:
        lprcore.weights.WeightsError: a weight file is missing, damaged, differs from its MANIFEST.json
            entry, or does not fit its net.
    """

    def __init__(self, weights_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        warn_unchecked(weights_dir or WEIGHTS_DIR, (STN_WEIGHTS, LPRNET_WEIGHTS, ATTRIBUTES_WEIGHTS))
        self.model = load_recognizer(weights_dir, self.device)
        path = Path(weights_dir or WEIGHTS_DIR) / ATTRIBUTES_WEIGHTS
        self.attribute_model = (load_weights(PlateAttributeNet(), path, "PlateAttributeNet").to(self.device).eval()
                                if path.is_file() else None)

    @property
    def chars(self):
        """The character table of the loaded weights."""
        return self.model.chars

    @torch.inference_mode()
    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        """``Tensor[N, 3, 24, 94]`` (see :func:`LPRNet.model.crops_to_input`) -> logits ``Tensor[N, C, 18]``."""
        return self.model(batch.to(self.device))

    def reader_logits(self, batch: np.ndarray) -> np.ndarray:
        """See :meth:`LPRNet.reading.Recognizer.reader_logits`."""
        return self.logits(torch.from_numpy(batch)).float().cpu().numpy()

    @torch.inference_mode()
    def attribute_logits(self, batch: np.ndarray):
        """See :meth:`LPRNet.reading.Recognizer.attribute_logits`."""
        if self.attribute_model is None:
            return None
        return tuple(t.float().cpu().numpy() for t in self.attribute_model(torch.from_numpy(batch).to(self.device)))


__getattr__ = moved_names(__name__)
