"""Weights half-way between two recognizers: the one before a fine-tuning round and the one after.

A round that fine-tunes the recognizer on a new kind of plate (night glare, a new series) often costs
a little on the ordinary plates. Averaging the weights of the recognizer before and after the round,
``(1 - alpha) * base + alpha * tuned`` tensor by tensor, often keeps most of both: weight-space
ensembling of a model and its fine-tuned copy (Wortsman et al. 2022, "Robust fine-tuning of zero-shot
models", WiSE-FT, Sec. 3; the two share their start, so their weights lie in one basin). Choose
``alpha`` on synthetic or training data, never on the validation photos.

    python -m LPRNet.interpolate --base LPRNet/weights --tuned runs/NAME/best.pth --alpha 0.5 --out LPRNet/weights

Writes ``OUT/stn.pth`` and ``OUT/lprnet.pth`` (denormals zeroed) and records in ``OUT/MANIFEST.json``
the command, both inputs with their SHA-256, ``alpha``, the tuned run's own command and data, and the
exact-match accuracy of base, tuned and result on the validation lists (``--val``; by default the
tuned run's own ``--val``).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Dict, Optional, Sequence

import torch

from lprcore.cli import probability
from lprcore.files import sha256_file
from lprcore.manifest import WeightsError, command_line, git_commit, read_run_args, short_message, update_manifest
from lprcore.weights import export_weights
from LPRNet.chars import CHARS, NUM_CLASSES
from LPRNet.dataset import PlateTextDataset
from LPRNet.reading import LPRNET_WEIGHTS
from LPRNet.recognizer import RecognizerNet
from LPRNet.train import RECOGNIZER_PARTS, accuracy, initial_state

log = logging.getLogger(__name__)


def interpolate_states(base: Dict[str, torch.Tensor], tuned: Dict[str, torch.Tensor],
                       alpha: float) -> Dict[str, torch.Tensor]:
    """``(1 - alpha) * base + alpha * tuned`` for every floating-point tensor; other tensors (e.g.
    BatchNorm's ``num_batches_tracked``, int64) are taken from ``tuned``.

    Args:
        base: a state dict (name -> tensor).
        tuned: a state dict with the same names and shapes.
        alpha: in ``[0, 1]``: 0 gives ``base``, 1 gives ``tuned``.

    Returns:
        A new state dict; each float tensor keeps ``base``'s dtype (computed in float32).

    Raises:
        ValueError: ``alpha`` outside ``[0, 1]``, or the states differ in names or shapes (the message
            names the first differences). States of a recognizer are grown to one class table before
            they get here (:func:`load_state`).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    only_base, only_tuned = sorted(set(base) - set(tuned)), sorted(set(tuned) - set(base))
    if only_base or only_tuned:
        raise ValueError(f"the two recognizers differ in tensors: only in base {only_base[:3]}, "
                         f"only in tuned {only_tuned[:3]} (not the same architecture?)")
    shapes = [k for k in base if tuple(base[k].shape) != tuple(tuned[k].shape)]
    if shapes:
        k = shapes[0]
        raise ValueError(f"the two recognizers differ in the shape of {len(shapes)} tensor(s), e.g. {k}: "
                         f"{tuple(base[k].shape)} against {tuple(tuned[k].shape)}")
    out = {}
    for k, b in base.items():
        t = tuned[k]
        if torch.is_floating_point(b):
            out[k] = ((1.0 - alpha) * b.float() + alpha * t.float()).to(b.dtype)
        else:
            out[k] = t.clone()
    return out


def _tuned_run(path: str) -> dict:
    """The run record (``args.json``) beside the checkpoint ``path``; ``{}`` for a weights folder or a
    checkpoint without one (:func:`lprcore.manifest.read_run_args`)."""
    return read_run_args(os.path.dirname(os.path.abspath(path))) if os.path.isfile(path) else {}


def load_state(path: str, what: str) -> Dict[str, torch.Tensor]:
    """The :class:`RecognizerNet` state (``stn.*``, ``lprnet.*``; grown to the current table) of a
    weights folder or training checkpoint.

    Raises:
        lprcore.weights.WeightsError: a file is missing or unreadable.
        ValueError: not a recognizer (e.g. a bare ``lprnet.pth`` or a detector's folder); the message
            names ``what`` and ``path``.
    """
    if os.path.isdir(path):
        missing = [f for f in RECOGNIZER_PARTS if not os.path.isfile(os.path.join(path, f))]
        if missing:
            raise ValueError(f"{what} {path}: a weights folder needs {' and '.join(RECOGNIZER_PARTS)}; "
                             f"{', '.join(missing)} missing")
    try:
        state = initial_state(path, NUM_CLASSES)
    except KeyError as e:
        raise ValueError(f"{what} {path}: not a recognizer (no {e} tensor; give a weights folder with "
                         f"{' and '.join(RECOGNIZER_PARTS)}, or a training checkpoint)") from e
    if not all(any(k.startswith(prefix) for k in state) for prefix in RECOGNIZER_PARTS.values()):
        raise ValueError(f"{what} {path}: not a recognizer (its tensors lack the stn. / lprnet. parts)")
    return state


def describe_input(path: str) -> dict:
    """Path and SHA-256 of a checkpoint file, or of each weight file of a weights folder."""
    if os.path.isdir(path):
        return {"path": path, "sha256": {f: sha256_file(os.path.join(path, f)) for f in RECOGNIZER_PARTS}}
    return {"path": path, "sha256": sha256_file(path)}


def validation_accuracy(state: Dict[str, torch.Tensor], dataset: PlateTextDataset) -> float:
    """Exact-match rate (greedy decode) of a :class:`RecognizerNet` state on ``dataset``, in [0, 1]."""
    model = RecognizerNet(num_classes=NUM_CLASSES)
    model.load_state_dict(state)
    with torch.no_grad():
        return accuracy(model.eval(), dataset)


def interpolate(base: str, tuned: str, alpha: float, out: str, command: Optional[str] = None,
                val: Sequence[str] = ()) -> dict:
    """Write the interpolated recognizer to ``out`` (``stn.pth``, ``lprnet.pth``, manifest entries).

    Args:
        base: a weights folder (``stn.pth`` + ``lprnet.pth``) or a training checkpoint.
        tuned: the same, after fine-tuning from ``base``.
        alpha: weight of ``tuned``, in ``[0, 1]``.
        out: output folder (may be ``base``: both inputs are read first).
        command: the command line recorded in the manifest.
        val: ``LPRNet.prepare`` lists to measure base, tuned and result on (empty: the tuned run's own
            validation lists, when ``tuned`` is a run's checkpoint with its ``args.json``).

    Returns:
        The figures recorded: ``accuracy`` (the result), ``base_accuracy``, ``tuned_accuracy`` (each
        in [0, 1]) and ``val`` (the lists); empty when there are no validation lists.

    A recognizer with fewer classes (the original 68) is grown to the current table first
    (:func:`LPRNet.recognizer.expand_classes`), so a 68-class base mixes with a 75-class tuned one.

    Raises:
        lprcore.weights.WeightsError: a weight file is unreadable or differs from its manifest (the
            message names it).
        ValueError: ``alpha`` out of range, an input that is not a recognizer (a folder without
            ``stn.pth`` and ``lprnet.pth``, a bare ``lprnet.pth``), the two not the same architecture,
            or an unreadable ``args.json`` (each message names the input).
        OSError: a ``val`` list or ``out`` cannot be read or written.
    """
    base_state, tuned_state = load_state(base, "--base"), load_state(tuned, "--tuned")
    inputs = {"base": describe_input(base), "tuned": describe_input(tuned)}
    state = interpolate_states(base_state, tuned_state, alpha)
    run = _tuned_run(tuned)
    val = list(val) or list((run.get("options") or {}).get("val") or [])
    figures: dict = {}
    if val:
        dataset = PlateTextDataset(val)
        figures = {"accuracy": validation_accuracy(state, dataset), "val": val,
                   "base_accuracy": validation_accuracy(base_state, dataset),
                   "tuned_accuracy": validation_accuracy(tuned_state, dataset)}
        log.info("validation exact: base %.4f, tuned %.4f, interpolated %.4f", figures["base_accuracy"],
                 figures["tuned_accuracy"], figures["accuracy"])
    os.makedirs(out, exist_ok=True)
    for name, prefix in RECOGNIZER_PARTS.items():
        part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        export_weights(part, os.path.join(out, name))
        extra = {"charset": "".join(CHARS)} if name == LPRNET_WEIGHTS else {}
        update_manifest(out, name, command=command, git_commit=git_commit(), alpha=alpha, interpolated=inputs,
                        tuned_command=run.get("command"), data=run.get("data", []), figures=figures, **extra)
        log.info("wrote %s to %s (alpha %.3g)", name, out, alpha)
    return figures


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m LPRNet.interpolate", description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="weights folder or checkpoint before the round (e.g. LPRNet/weights)")
    p.add_argument("--tuned", required=True, help="weights folder or checkpoint after it (e.g. runs/NAME/best.pth)")
    p.add_argument("--alpha", type=probability, required=True, help="weight of --tuned, 0 to 1")
    p.add_argument("--out", required=True, help="folder for stn.pth, lprnet.pth and their MANIFEST.json entries")
    p.add_argument("--val", nargs="*", default=[],
                   help="LPRNet.prepare lists to measure base, tuned and result on (default: the tuned run's --val)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    for what in ("base", "tuned"):
        path = getattr(args, what)
        if not os.path.exists(path):
            print(f"error: --{what} {path}: no such file or folder", file=sys.stderr)
            return 2
    for path in args.val:
        if not os.path.isfile(path):
            print(f"error: --val {path}: no such list (from python -m LPRNet.prepare)", file=sys.stderr)
            return 2
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        print(f"error: --out {args.out}: exists and is not a folder", file=sys.stderr)
        return 2
    try:
        interpolate(args.base, args.tuned, args.alpha, args.out,
                    command=command_line("python -m LPRNet.interpolate", argv), val=args.val)
    except (WeightsError, ValueError) as e:
        print(f"error: {short_message(e, 400)}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e.filename or args.out}: {e.strerror or short_message(e)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
