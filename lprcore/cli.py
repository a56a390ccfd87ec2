"""Command-line pieces every script shares: argparse value types that turn a bad value into a usage
error (exit status 2), the runtime options of the inference scripts and the options of every
``train.py``. Library modules take plain values; only command-line modules import this one.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from typing import Callable

from lprcore.onnx import check_threads


def _number_type(kind: Callable, test: Callable[[float], bool], what: str) -> Callable[[str], float]:
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    parse.__name__ = what.replace(" ", "_")
    return parse


#: argparse ``type=`` for an ``int >= 0``; anything else is a usage error (exit status 2).
nonnegative_int = _number_type(int, lambda v: v >= 0, "an integer >= 0")
#: argparse ``type=`` for an ``int >= 1``.
positive_int = _number_type(int, lambda v: v >= 1, "an integer >= 1")
#: argparse ``type=`` for a finite ``float > 0``.
positive_float = _number_type(float, lambda v: v > 0, "a number > 0")
#: argparse ``type=`` for a finite ``float >= 0``.
nonnegative_float = _number_type(float, lambda v: v >= 0, "a number >= 0")
#: argparse ``type=`` for a probability, a ``float`` in [0, 1].
probability = _number_type(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")


def thread_count(text: str) -> int:
    """argparse ``type=`` for ``--threads``: an int in [0, ``os.cpu_count()``]
    (:func:`lprcore.onnx.check_threads`); anything else is a usage error (exit status 2)."""
    try:
        return check_threads(nonnegative_int(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_runtime_args(parser, weights_help: str, weights_group=None) -> None:
    """Add the options every inference script shares: ``--weights-dir``, ``--threads`` (an int in
    [0, ``os.cpu_count()``], :func:`thread_count`) and ``--device``.

    Args:
        parser: an argparse parser or argument group.
        weights_help: the help line of ``--weights-dir`` (which files the folder holds).
        weights_group: where ``--weights-dir`` goes instead of ``parser`` (e.g. the inputs' group).
    """
    (weights_group if weights_group is not None else parser).add_argument(
        "--weights-dir", metavar="DIR", help=weights_help)
    parser.add_argument("--threads", type=thread_count, default=0, metavar="N",
                        help="CPU threads of the backend, ONNX Runtime or torch, at most the machine's CPUs "
                             "(default: 0, the backend's own choice)")
    parser.add_argument("--device", default="cpu", help="torch device for the torch backend, e.g. cuda "
                                                        "(default: cpu)")


def setup_runtime(args) -> None:
    """Logging to stderr and the torch thread count from ``args.threads`` (torch is imported only
    when it is already loaded: an ONNX Runtime backend takes its thread count from ``args.threads``
    itself)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    torch = sys.modules.get("torch")
    if args.threads and torch is not None:
        torch.set_num_threads(args.threads)


def output_dir(text: str) -> str:
    """argparse ``type=`` for a folder the run will create or write into: refuses (usage error, exit
    status 2) a path that is an existing file, or below one."""
    probe = os.path.abspath(text)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if os.path.exists(probe) and not os.path.isdir(probe):
        raise argparse.ArgumentTypeError(f"{text}: {probe} is a file, not a folder")
    return text


def add_training_args(parser, epochs: int, batch_size: int, lr: float, workers: int, export_help: str) -> None:
    """Add the options every ``train.py`` shares, with that net's defaults; out-of-range values are
    usage errors (exit status 2)."""
    parser.add_argument("--out", required=True, type=output_dir, help="run folder: last.pth, best.pth, log.jsonl")
    parser.add_argument("--epochs", type=positive_int, default=epochs,
                        help="total epochs; a --resume with more (or fewer) epochs than the run was "
                             "started with anneals the learning rate from its current value to the "
                             "schedule's minimum at the new last epoch")
    parser.add_argument("--batch-size", type=positive_int, default=batch_size)
    parser.add_argument("--lr", type=positive_float, default=lr, help="Adam learning rate (cosine decay)")
    parser.add_argument("--workers", type=nonnegative_int, default=workers,
                        help="DataLoader worker processes (a resumed run is exact with any number)")
    parser.add_argument("--threads", type=thread_count, default=0,
                        help="torch CPU threads, at most the machine's CPUs (0: torch's default)")
    parser.add_argument("--seed", type=nonnegative_int, default=0)
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/last.pth (without one: a warning, and a new run starts)")
    parser.add_argument("--export", metavar="DIR", type=output_dir, help=export_help)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (under torchrun: each process's own GPU)")
    parser.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none",
                        help="automatic mixed precision on the GPU (default: none, float32)")
