"""One training engine for every net: ``train_one_epoch``, ``evaluate`` hooks, atomic checkpoints, resume,
``args.json`` and the export of shipping weights with their ``MANIFEST.json``.

In the manner of torchvision's ``references/detection/engine.py``: the per-net ``train.py`` files
build the model, the data and a ``loss_fn``, and hand them to :func:`fit`.
"""
from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from lprcore.files import atomic_write
from lprcore.manifest import RUN_ARGS_NAME, command_line, update_manifest, write_run_args
from lprcore.weights import export_weights, read_state_dict

log = logging.getLogger(__name__)

#: ``loss_fn(model, batch) -> (loss, {"name": float, ...})``
LossFn = Callable[[nn.Module, object], "tuple[torch.Tensor, Dict[str, float]]"]
#: ``evaluate_fn(model) -> {"metric": float, ...}``, called under ``torch.inference_mode()``
EvalFn = Callable[[nn.Module], Dict[str, float]]


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the message says where."""


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def worker_init_fn(worker_id: int) -> None:
    """DataLoader worker init: seed NumPy and ``random`` from the worker's torch seed."""
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


def save_atomic(obj, path: str) -> None:
    """``torch.save`` through :func:`lprcore.files.atomic_write`, so ``path`` is never half written."""
    with atomic_write(path, "wb") as fh:
        torch.save(obj, fh)


@dataclass
class FitConfig:
    """Settings of :func:`fit`.

    Attributes:
        epochs: total epochs (a resumed run continues up to this number).
        out_dir: folder of ``last.pth`` (full state, every epoch), ``best.pth`` (model state with the
            best ``monitor``) and ``log.jsonl`` (one line of figures per epoch).
        seed: base seed; epoch ``e`` reseeds with ``seed + e`` so a resumed run repeats exactly.
        monitor: key of the evaluate figures that selects ``best.pth``; higher is better.
        resume: continue from ``out_dir/last.pth`` when it exists.
        grad_clip: max gradient norm (0: off).
    """

    epochs: int
    out_dir: str
    seed: int = 0
    monitor: str = "accuracy"
    resume: bool = False
    grad_clip: float = 0.0


def train_one_epoch(model: nn.Module, loss_fn: LossFn, optimizer: torch.optim.Optimizer,
                    loader: Iterable, epoch: int, grad_clip: float = 0.0) -> Dict[str, float]:
    """One pass over ``loader``; returns the mean of ``loss`` and of each figure ``loss_fn`` reports.

    Raises:
        NonFiniteLossError: a batch gave a NaN or infinite loss.
    """
    model.train()
    sums: Dict[str, float] = {}
    n = 0
    bar = tqdm(loader, desc=f"epoch {epoch}", leave=False, dynamic_ncols=True)
    for step, batch in enumerate(bar):
        loss, figures = loss_fn(model, batch)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(f"non-finite loss {loss.item()} at epoch {epoch}, step {step}: "
                                     "lower the learning rate or check the data")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        figures = {"loss": loss.item(), **figures}
        for k, v in figures.items():
            sums[k] = sums.get(k, 0.0) + v
        n += 1
        bar.set_postfix(loss=f"{sums['loss'] / n:.4f}")
    return {k: v / max(n, 1) for k, v in sums.items()}


def fit(model: nn.Module, optimizer: torch.optim.Optimizer, loader: Iterable, loss_fn: LossFn,
        evaluate_fn: Optional[EvalFn], config: FitConfig,
        scheduler: Optional[torch.optim.lr_scheduler.LRScheduler] = None,
        on_epoch_start: Optional[Callable[[int], None]] = None) -> Dict[str, float]:
    """Train for ``config.epochs`` epochs with a checkpoint after each; returns the last figures.

    Args:
        on_epoch_start: called with the epoch number before each epoch (e.g. to unfreeze a part).
    """
    os.makedirs(config.out_dir, exist_ok=True)
    last_path = os.path.join(config.out_dir, "last.pth")
    best_path = os.path.join(config.out_dir, "best.pth")
    start, best, history = 0, -math.inf, []
    if config.resume and os.path.isfile(last_path):
        ckpt = torch.load(last_path, map_location="cpu", weights_only=True)  # a checkpoint runs no code
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt.get("scheduler") is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        start, best, history = ckpt["epoch"] + 1, ckpt["best"], ckpt["history"]
        log.info("resumed from %s at epoch %d", last_path, start)
    figures: Dict[str, float] = history[-1] if history else {}
    for epoch in range(start, config.epochs):
        seed_everything(config.seed + epoch)
        if on_epoch_start is not None:
            on_epoch_start(epoch)
        t0 = time.time()
        figures = {f"train_{k}": v for k, v in
                   train_one_epoch(model, loss_fn, optimizer, loader, epoch, config.grad_clip).items()}
        if scheduler is not None:
            scheduler.step()
        if evaluate_fn is not None:
            model.eval()
            with torch.inference_mode():
                figures.update(evaluate_fn(model))
        figures.update(epoch=epoch, seconds=round(time.time() - t0, 1),
                       lr=optimizer.param_groups[0]["lr"])
        history.append(figures)
        score = figures.get(config.monitor, -figures["train_loss"])
        if score >= best:
            best = score
            save_atomic({"model": model.state_dict(), "epoch": epoch, "figures": figures}, best_path)
        save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict() if scheduler is not None else None,
                     "epoch": epoch, "best": best, "history": history}, last_path)
        with open(os.path.join(config.out_dir, "log.jsonl"), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(figures) + "\n")
        log.info("epoch %d: %s", epoch, ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                                 for k, v in figures.items()))
    return figures


def add_training_args(parser, epochs: int, batch_size: int, lr: float, workers: int, export_help: str) -> None:
    """Add the options every ``train.py`` shares, with that net's defaults."""
    parser.add_argument("--out", required=True, help="run folder: last.pth, best.pth, log.jsonl")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr, help="Adam learning rate (cosine decay)")
    parser.add_argument("--workers", type=int, default=workers, help="DataLoader worker processes")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pth")
    parser.add_argument("--export", metavar="DIR", help=export_help)


def setup_training(args, prog: str, data: Sequence[str], argv: Optional[list] = None) -> None:
    """Start a run: log to stderr with times, set the torch thread count, seed every RNG, and write
    ``OUT/args.json`` (see :func:`lprcore.manifest.write_run_args`).

    Args:
        args: parsed options of :func:`add_training_args` (``out``, ``threads``, ``seed`` ...).
        prog: the command, e.g. ``"python -m LPRNet.train"``.
        data: every data list the run reads (recorded with its SHA-256).
        argv: the arguments the script was given (default ``sys.argv[1:]``).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    write_run_args(args.out, args, data, command_line(prog, argv))


def export_run(run_dir: str, export_dir: str, files: Mapping[str, str],
               extra: Optional[Mapping[str, dict]] = None) -> None:
    """Write shipping weights from ``RUN/best.pth`` and record them in ``EXPORT/MANIFEST.json``.

    Each file gets the state of ``best.pth`` under a key prefix (prefix removed), denormal floats
    zeroed (:func:`lprcore.weights.export_weights`), and a manifest entry holding its SHA-256, the
    run's command, git commit and data lists (from ``RUN/args.json``), the best epoch and its
    validation figures.

    Args:
        run_dir: a finished run folder (``best.pth``, ideally ``args.json``).
        export_dir: where the weight files and ``MANIFEST.json`` go.
        files: weight file name -> state-dict key prefix (``""``: the whole state), e.g.
            ``{"stn.pth": "stn.", "lprnet.pth": "lprnet."}``.
        extra: more manifest fields per file name (e.g. the character table).

    Raises:
        lprcore.weights.WeightsError: ``best.pth`` is missing or unreadable.
    """
    best_path = os.path.join(run_dir, "best.pth")
    state = read_state_dict(best_path)
    meta = torch.load(best_path, map_location="cpu", weights_only=True)
    args_path = os.path.join(run_dir, RUN_ARGS_NAME)
    run = {}
    if os.path.isfile(args_path):
        with open(args_path, encoding="utf-8") as fh:
            run = json.load(fh)
    for name, prefix in files.items():
        part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        export_weights(part, os.path.join(export_dir, name))
        update_manifest(export_dir, name, command=run.get("command"), git_commit=run.get("git_commit"),
                        data=run.get("data", []), run=os.path.abspath(run_dir),
                        epoch=meta.get("epoch") if isinstance(meta, dict) else None,
                        figures=meta.get("figures", {}) if isinstance(meta, dict) else {},
                        **(extra or {}).get(name, {}))
        log.info("exported %s to %s", name, export_dir)
