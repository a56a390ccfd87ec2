"""Load weight files into nets with errors that name the file and what was expected.

Every load is ``weights_only=True`` (a weight file cannot run code), checks the file against the
SHA-256 its folder's ``MANIFEST.json`` records (the rule every backend follows, and what a folder
without a manifest gets: :mod:`lprcore.manifest`), refuses NaN or infinite
values, and zeroes denormal floats, which make CPU inference several times slower. Every error names
the file.
"""
from __future__ import annotations

import os
from typing import Dict

import torch
from torch import nn

from lprcore.files import atomic_write
from lprcore.manifest import WeightsError, check_weight_file, short_message


def flush_denormals_(state: Dict[str, torch.Tensor]) -> int:
    """Set float values with magnitude below the smallest normal float32 to 0, in place.

    Denormal floats make CPU inference several times slower (docs/design.md); zeroing them changes no
    prediction in practice. Returns how many values were zeroed.
    """
    tiny = torch.finfo(torch.float32).tiny
    count = 0
    for t in state.values():
        if torch.is_floating_point(t):
            mask = (t != 0) & (t.abs() < tiny)
            n = int(mask.sum())
            if n:
                t[mask] = 0
                count += n
    return count


def check_finite(state: Dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Raise :class:`WeightsError` naming ``path`` and the first tensors when any float tensor of
    ``state`` holds NaN or an infinity (a diverged training run): such weights give garbage silently."""
    bad = [k for k, v in state.items()
           if isinstance(v, torch.Tensor) and torch.is_floating_point(v) and not bool(torch.isfinite(v).all())]
    if bad:
        raise WeightsError(f"weight file {os.fspath(path)} holds NaN or infinite values in {len(bad)} "
                           f"tensor(s): {bad[:3]}{'...' if len(bad) > 3 else ''} (a diverged run? use an "
                           "earlier checkpoint)")


def read_state_dict(path: str | os.PathLike) -> Dict[str, torch.Tensor]:
    """Read a state dict from ``path`` with ``weights_only=True``, on the CPU.

    Accepts a bare state dict, or a training checkpoint holding one under ``"model"`` or ``"state_dict"``.

    Raises:
        WeightsError: missing, empty or truncated file, a SHA-256 that differs from the folder's
            ``MANIFEST.json``, not a torch weight file (or one that would run code), or NaN/infinite
            values; the message names the file.
    """
    path = check_weight_file(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt zip, pickle with code, truncated file ...
        reason = short_message(e)
        raise WeightsError(f"weight file {path} could not be read as torch weights (damaged, truncated, "
                           f"or not weights_only-safe): {reason}") from None
    if isinstance(obj, dict):
        for key in ("model", "state_dict"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"weight file {path} does not hold a state dict of tensors")
    check_finite(obj, path)
    return {k[7:] if k.startswith("module.") else k: v for k, v in obj.items()}


def load_weights(net: nn.Module, path: str | os.PathLike, what: str) -> nn.Module:
    """Load ``path`` into ``net`` strictly and flush its denormals; return ``net``.

    Args:
        net: the module (its parameter names and shapes are what is expected).
        path: weight file.
        what: the net's name for messages, e.g. ``"PNet"``.

    Raises:
        WeightsError: file missing or unreadable, or its names/shapes differ from ``net``'s; the
            message names the file, the net, and the first differences.
    """
    state = read_state_dict(path)
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k}: file {tuple(state[k].shape)} vs {what} {tuple(v.shape)}"
             for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}")
        if wrong:
            parts.append(f"shape mismatch {wrong[:3]}")
        raise WeightsError(f"weight file {os.fspath(path)} does not fit {what}: " + "; ".join(parts))
    flush_denormals_(state)
    net.load_state_dict(state, strict=True)
    return net


def export_weights(state: Dict[str, torch.Tensor], path: str | os.PathLike) -> int:
    """Save a state dict for shipping: denormals zeroed, written atomically. Returns how many were zeroed."""
    path = os.fspath(path)
    state = {k: v.detach().clone().cpu() for k, v in state.items()}
    n = flush_denormals_(state)
    with atomic_write(path, "wb") as fh:
        torch.save(state, fh)
    return n
