"""One training engine for every net: ``train_one_epoch``, ``evaluate`` hooks, atomic checkpoints, resume,
``args.json`` and the export of shipping weights with their ``MANIFEST.json``.

In the manner of torchvision's ``references/detection/engine.py``: the per-net ``train.py`` files
build the model, the data (:func:`make_loader`) and a ``loss_fn``, and hand them to :func:`fit`.

Reproducibility: epoch ``e`` of a run with seed ``s`` reseeds Python, NumPy and torch with ``s + e``
(plus a multiple of the process's rank under DDP), shuffles a :func:`make_loader` loader with a
``DistributedSampler`` seeded with ``s`` at epoch ``e`` (``set_epoch``), and seeds each DataLoader
worker from ``(s, e, rank, worker id)``; so epoch ``e`` sees the same data order and the same
augmentation whether or not the run was stopped and resumed, with any number of ``--workers``.

Scale: the same scripts run unchanged under ``torchrun --nproc_per_node N -m LPRNet.train ...``
(PyTorch's DistributedDataParallel; :func:`init_distributed`): ``--batch-size`` is the **global**
batch, split evenly over the N processes, each taking every N-th sample of the same shuffled order,
so one process and N processes see the same global batches and (for a loss that is a mean over the
batch, and a net without batch statistics; batch norm sees each process's part) take the same steps;
a non-finite loss or a failed validation stops every process; backend ``nccl`` on CUDA, ``gloo`` on the CPU; logs, checkpoints and
exports come from rank 0 only; validation runs on rank 0 and its figures are broadcast; the training
figures are averaged over the processes. ``--device cuda`` and ``--amp bf16|fp16`` (automatic mixed
precision; fp16 with a gradient scaler) use a GPU.
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
from torch import distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from lprcore.files import atomic_write
from lprcore.manifest import command_line, read_run_args, update_manifest, write_run_args
from lprcore.parallel import progress
from lprcore.compat import moved_names
from lprcore.weights import WeightsError, short_message, check_finite, export_weights, read_state_dict

log = logging.getLogger(__name__)

#: ``loss_fn(model, batch) -> (loss, {"name": float, ...})``
LossFn = Callable[[nn.Module, object], "tuple[torch.Tensor, Dict[str, float]]"]
#: ``evaluate_fn(model) -> {"metric": float, ...}``, called under ``torch.inference_mode()``
EvalFn = Callable[[nn.Module], Dict[str, float]]


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the message says where."""


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed from (empty, truncated, not weights_only-safe, NaN weights,
    or a schedule that cannot be extended); the message names the file."""


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed that depends on both ``seed`` and ``epoch`` (``(0, 1)`` and ``(1, 0)`` differ)."""
    return int(np.random.SeedSequence([seed % 2**63, epoch]).generate_state(2, np.uint64)[0] >> np.uint64(1))


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in a run: its rank, the number of processes, and its device."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the process that logs, checkpoints and exports."""
        return self.rank == 0


def distributed() -> Distributed:
    """This process's :class:`Distributed` (rank 0 of 1 without ``torch.distributed``)."""
    if dist.is_available() and dist.is_initialized():
        return Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return Distributed()


def init_distributed(device: str = "cpu") -> Distributed:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment):
    backend ``nccl`` for CUDA, ``gloo`` for the CPU; each process then uses GPU ``LOCAL_RANK``.
    A plain ``python -m`` run stays a single process. Returns :func:`distributed`."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        cuda = device.startswith("cuda")
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if cuda else "gloo")
    return distributed()


def run_device(device: str) -> torch.device:
    """The torch device of this process: ``cuda`` becomes ``cuda:LOCAL_RANK`` under DDP."""
    if device.startswith("cuda") and distributed().world > 1:
        return torch.device("cuda", distributed().local_rank)
    return torch.device(device)


def to_device(batch, device: torch.device):
    """``batch`` with every tensor in it (through tuples, lists and dicts) moved to ``device``."""
    if isinstance(batch, torch.Tensor):  # a copy back to the CPU blocks: its values are read at once
        return batch.to(device, non_blocking=device.type != "cpu")
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


class OnDevice(nn.Module):
    """A model on a device, called with CPU inputs and giving CPU outputs (for the scripts'
    evaluation functions, which feed CPU tensors); other attributes come from the model."""

    def __init__(self, model: nn.Module, device: torch.device):
        super().__init__()
        self.inner = model
        self.device = device

    def forward(self, *args):
        out = self.inner(*to_device(args, self.device))
        return to_device(out, torch.device("cpu"))

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.inner, name)


def worker_init_fn(worker_id: int) -> None:
    """DataLoader worker init: seed NumPy and ``random`` from the worker's torch seed.

    torch seeds worker ``i`` with ``base + i``, ``base`` drawn from the loader's generator when the
    iterator starts; with :func:`make_loader` and :func:`fit` that generator is reseeded from
    ``(seed, epoch)`` each epoch, so a worker's seed depends on ``(seed, epoch, worker id)`` only.
    """
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


def make_loader(dataset: Dataset, batch_size: int, workers: int, shuffle: bool = True,
                drop_last: bool = True, collate_fn: Optional[Callable] = None,
                pin_memory: bool = False) -> DataLoader:
    """A training DataLoader whose order and augmentation :func:`fit` makes exact across resumes.

    :func:`fit` seeds its sampler with the run's seed and epoch before each epoch, and reseeds its
    own ``torch.Generator`` from ``(seed, epoch, rank)``; its ``workers`` start afresh each epoch (not
    persistent), seeded through :func:`worker_init_fn`; NumPy's global RNG in each worker (which the
    datasets' augmentation draws from) thus depends on ``(seed, epoch, rank, worker id)`` only.

    The order comes from a ``DistributedSampler`` (also in a single process, so that one process and
    N processes shuffle alike): under DDP each of the N processes takes every N-th sample of the same
    order and ``batch_size / N`` samples per step.

    Args:
        dataset: map-style dataset.
        batch_size: samples per step over all processes (>= 1; a multiple of the number of processes).
        workers: worker processes per process (0: load in this process).
        collate_fn: batch builder (default: torch's).
        pin_memory: page-locked batches, for a fast copy to a GPU.

    Raises:
        ValueError: ``batch_size`` is not a multiple of the number of processes.
    """
    d = distributed()
    if batch_size % d.world:
        raise ValueError(f"--batch-size {batch_size} is the global batch: it must be a multiple of the "
                         f"{d.world} processes")
    sampler = DistributedSampler(dataset, num_replicas=d.world, rank=d.rank, shuffle=shuffle, seed=0,
                                 drop_last=drop_last)
    return DataLoader(dataset, batch_size=batch_size // d.world, sampler=sampler, drop_last=drop_last,
                      collate_fn=collate_fn, num_workers=workers, worker_init_fn=worker_init_fn,
                      persistent_workers=False, generator=torch.Generator(), pin_memory=pin_memory)


def _seed_loader(loader: Iterable, seed: int, epoch: int) -> None:
    """Seed a DataLoader's sampler and worker generator for ``epoch`` (see :func:`make_loader`)."""
    if not isinstance(loader, DataLoader):
        return
    if isinstance(loader.sampler, DistributedSampler):  # the sampler shuffles with seed + epoch:
        loader.sampler.seed = epoch_seed(seed, epoch)     # (seed, epoch) folded first, so seeds differ
        loader.sampler.set_epoch(0)
    if loader.generator is not None:
        rank = distributed().rank
        loader.generator.manual_seed(epoch_seed(seed, epoch) if rank == 0 else epoch_seed(seed * 1009 + rank, epoch))


def _check_loader(loader: Iterable) -> None:
    """Warn when a DataLoader cannot repeat an epoch exactly after a resume: workers that persist
    (their RNG carries over from epoch to epoch) or shuffling without its own generator."""
    if isinstance(loader, DataLoader) and loader.num_workers > 0 and (
            loader.persistent_workers or loader.generator is None):
        log.warning("the DataLoader has persistent workers or no generator: a resumed run will not "
                    "repeat the data order exactly (build it with lprcore.engine.make_loader)")


def load_checkpoint(path: str) -> dict:
    """Read a training checkpoint (``last.pth``) with ``weights_only=True`` on the CPU.

    Returns:
        The checkpoint dict (``model``, ``optimizer``, ``scheduler``, ``epoch``, ``best``, ``history``,
        and ``seed`` and ``epochs``, which older checkpoints lack).

    Raises:
        CheckpointError: empty, truncated or damaged file, one that would run code when unpickled,
            missing keys, or NaN/infinite model weights; the message names the file.
    """
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): delete it to start afresh")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)  # a checkpoint runs no code
    except Exception as e:
        raise CheckpointError(f"checkpoint {path} could not be read (damaged, truncated, or not "
                              f"weights_only-safe): {short_message(e)}") from None
    missing = [k for k in ("model", "optimizer", "epoch", "best", "history")
               if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise CheckpointError(f"checkpoint {path} is not a training checkpoint of lprcore.engine "
                              f"(missing {missing})")
    try:
        check_finite(ckpt["model"], path)
    except WeightsError as e:
        raise CheckpointError(str(e)) from None
    return ckpt


def _extend_schedule(scheduler, optimizer: torch.optim.Optimizer, start: int, epochs: int,
                     saved_epochs: int, path: str) -> None:
    """Fit a resumed schedule to a changed ``--epochs``.

    A ``CosineAnnealingLR`` goes on from the current learning rate down to its ``eta_min`` at the new
    last epoch, along a cosine (the rate never rises again, as it would past the old ``T_max``).
    A schedule that does not depend on the number of epochs (``StepLR``, ``ExponentialLR`` ...) goes on
    unchanged.

    Raises:
        CheckpointError: a ``OneCycleLR`` or ``PolynomialLR``, whose length is fixed by the total.
    """
    sched = torch.optim.lr_scheduler
    if isinstance(scheduler, sched.CosineAnnealingLR):
        scheduler.base_lrs = [g["lr"] for g in optimizer.param_groups]
        scheduler.T_max = max(epochs - start, 1)
        scheduler.last_epoch = 0
        log.info("--epochs changed from %d to %d: the learning rate anneals from %.3g to %.3g over epochs "
                 "%d-%d", saved_epochs, epochs, scheduler.base_lrs[0], scheduler.eta_min, start, epochs - 1)
    elif isinstance(scheduler, (sched.OneCycleLR, sched.PolynomialLR)):
        raise CheckpointError(f"{path} was started with --epochs {saved_epochs}; a {type(scheduler).__name__} "
                              f"schedule cannot be stretched to --epochs {epochs}: resume with --epochs "
                              f"{saved_epochs}")


def save_atomic(obj, path: str) -> None:
    """``torch.save`` through :func:`lprcore.files.atomic_write`, so ``path`` is never half written."""
    with atomic_write(path, "wb") as fh:
        torch.save(obj, fh)


@dataclass
class FitConfig:
    """Settings of :func:`fit`.

    Attributes:
        epochs: total epochs (a resumed run continues up to this number; see :func:`fit` for a
            number that differs from the checkpoint's).
        out_dir: folder of ``last.pth`` (full state, every epoch), ``best.pth`` (model state with the
            best ``monitor``) and ``log.jsonl`` (one line of figures per epoch).
        seed: base seed; epoch ``e`` reseeds Python, NumPy and torch with ``seed + e`` and a
            :func:`make_loader` loader from ``(seed, e)``, so a resumed run repeats exactly.
        monitor: key of the evaluate figures that selects ``best.pth``; higher is better.
        resume: continue from ``out_dir/last.pth`` when it exists (without one: a warning, and a new
            run starts).
        grad_clip: max gradient norm (0: off).
        device: torch device of the run (``"cuda"`` is each DDP process's own GPU).
        amp: automatic mixed precision: ``"none"``, ``"bf16"`` or ``"fp16"`` (with a gradient scaler).
    """

    epochs: int
    out_dir: str
    seed: int = 0
    monitor: str = "accuracy"
    resume: bool = False
    grad_clip: float = 0.0
    device: str = "cpu"
    amp: str = "none"


#: Seconds between progress lines in the log (the progress bar shows only on a terminal).
LOG_EVERY_S = 60.0


def train_one_epoch(model: nn.Module, loss_fn: LossFn, optimizer: torch.optim.Optimizer,
                    loader: Iterable, epoch: int, grad_clip: float = 0.0,
                    device: torch.device = torch.device("cpu"), amp: str = "none",
                    scaler: Optional["torch.amp.GradScaler"] = None) -> Dict[str, float]:
    """One pass over ``loader``; returns the mean of ``loss`` and of each figure ``loss_fn`` reports
    (averaged over the processes under DDP).

    Batches are moved to ``device``; ``amp`` runs the forward pass and loss under ``torch.autocast``.
    Logs a progress line (step, mean loss, batches per second) every :data:`LOG_EVERY_S` seconds, so
    that a run in the background shows how it goes.

    Raises:
        NonFiniteLossError: a batch gave a NaN or infinite loss.
    """
    model.train()
    sums: Dict[str, float] = {}
    n = 0
    total = len(loader) if hasattr(loader, "__len__") else None
    t0 = last = time.time()
    bar = progress(loader, desc=f"epoch {epoch}", leave=False, dynamic_ncols=True)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    for step, batch in enumerate(bar):
        batch = to_device(batch, device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss, figures = loss_fn(model, batch)
        finite = bool(torch.isfinite(loss))
        if distributed().world > 1:  # every process stops together, none waits in a collective
            flag = torch.tensor([0.0 if finite else 1.0], device=device)
            dist.all_reduce(flag)
            finite = float(flag) == 0.0
        if not finite:
            raise NonFiniteLossError(f"non-finite loss {loss.item()} at epoch {epoch}, step {step}: "
                                     "lower the learning rate or check the data")
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        figures = {"loss": loss.item(), **figures}
        for k, v in figures.items():
            sums[k] = sums.get(k, 0.0) + v
        n += 1
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{sums['loss'] / n:.4f}")
        if time.time() - last >= LOG_EVERY_S:
            last = time.time()
            log.info("epoch %d: step %d%s, loss %.4f, %.2f batches/s", epoch, n, f"/{total}" if total else "",
                     sums["loss"] / n, n / (last - t0))
    means = {k: v / max(n, 1) for k, v in sums.items()}
    if distributed().world > 1 and means:
        keys = sorted(means)
        t = torch.tensor([means[k] for k in keys], dtype=torch.float64, device=device)  # nccl: on the GPU
        dist.all_reduce(t)
        means = dict(zip(keys, (t / distributed().world).cpu().tolist()))
    return means


def fit(model: nn.Module, optimizer: torch.optim.Optimizer, loader: Iterable, loss_fn: LossFn,
        evaluate_fn: Optional[EvalFn], config: FitConfig,
        scheduler: Optional[torch.optim.lr_scheduler.LRScheduler] = None,
        on_epoch_start: Optional[Callable[[int], None]] = None) -> Dict[str, float]:
    """Train for ``config.epochs`` epochs with a checkpoint after each; returns the last figures.

    Resuming (``config.resume`` and ``out_dir/last.pth`` present; without it a warning is logged and
    the run starts afresh) restores the model, optimizer, scheduler, best score and history; the
    checkpoint holds only tensors, numbers, strings and lists and is read with ``weights_only=True``.
    Epoch ``e`` is seeded from ``(config.seed, e)`` (see the module docstring), so a resumed run
    repeats the run it continues exactly. A resume with another
    ``epochs`` than the run was started with continues a cosine schedule from the current learning
    rate down to its minimum at the new last epoch (the rate never rises); see :func:`_extend_schedule`.

    Args:
        loader: the training batches; a DataLoader from :func:`make_loader` has its shuffling
            generator reseeded each epoch.
        on_epoch_start: called with the epoch number before each epoch (e.g. to unfreeze a part).

    Raises:
        CheckpointError: ``last.pth`` cannot be resumed from, or its schedule cannot take the new
            ``epochs`` (the message names it).
        NonFiniteLossError: the loss became NaN or infinite.
    """
    ddp = distributed()
    device = run_device(config.device)
    if config.amp not in ("none", "bf16", "fp16"):
        raise ValueError(f"amp must be none, bf16 or fp16, got {config.amp!r}")
    os.makedirs(config.out_dir, exist_ok=True)
    last_path = os.path.join(config.out_dir, "last.pth")
    best_path = os.path.join(config.out_dir, "best.pth")
    start, best, history = 0, -math.inf, []
    model.to(device)
    scaler = torch.amp.GradScaler(device.type) if config.amp == "fp16" else None
    if config.resume and os.path.isfile(last_path):
        ckpt = load_checkpoint(last_path)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])  # moves its state to the parameters' device
        if scheduler is not None and ckpt.get("scheduler") is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        if scaler is not None and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        start, best, history = ckpt["epoch"] + 1, ckpt["best"], ckpt["history"]
        if ckpt.get("seed", config.seed) != config.seed:
            log.warning("%s was trained with --seed %s, resumed with --seed %s: epochs from %d on differ "
                        "from the original run's", last_path, ckpt["seed"], config.seed, start)
        saved_epochs = ckpt.get("epochs")
        if scheduler is not None and saved_epochs is not None and saved_epochs != config.epochs \
                and start < config.epochs:
            _extend_schedule(scheduler, optimizer, start, config.epochs, saved_epochs, last_path)
        log.info("resumed from %s at epoch %d", last_path, start)
    elif config.resume and ddp.main:  # said, not refused: a restart loop's first launch has none yet
        log.warning("--resume: no %s to resume from; starting a new run at epoch 0", last_path)
    figures: Dict[str, float] = history[-1] if history else {}
    _check_loader(loader)
    for epoch in range(start, config.epochs):
        seed_everything(config.seed + epoch + 1_000_003 * ddp.rank)
        _seed_loader(loader, config.seed, epoch)
        if on_epoch_start is not None:
            on_epoch_start(epoch)
        # DDP wraps anew each epoch: on_epoch_start may freeze or unfreeze parameters
        train_model = model if ddp.world == 1 else nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
        t0 = time.time()
        figures = {f"train_{k}": v for k, v in
                   train_one_epoch(train_model, loss_fn, optimizer, loader, epoch, config.grad_clip,
                                   device, config.amp, scaler).items()}
        if scheduler is not None:
            scheduler.step()
        if evaluate_fn is not None:
            results: list = [None]
            if ddp.main:
                model.eval()
                try:
                    with torch.inference_mode():
                        results[0] = evaluate_fn(model if device.type == "cpu" else OnDevice(model, device))
                except Exception as e:  # tell the other processes before raising
                    results[0] = e
            if ddp.world > 1:
                dist.broadcast_object_list(results, src=0)
            if isinstance(results[0], Exception):
                raise results[0] if ddp.main else RuntimeError(f"validation failed on rank 0: {results[0]}")
            figures.update(results[0])
        figures.update(epoch=epoch, seconds=round(time.time() - t0, 1),
                       lr=optimizer.param_groups[0]["lr"])
        history.append(figures)
        score = figures.get(config.monitor, -figures["train_loss"])
        if score >= best:
            best = score
            if ddp.main:
                save_atomic({"model": _cpu_state(model), "epoch": epoch, "figures": figures}, best_path)
        if ddp.main:
            save_atomic({"model": _cpu_state(model), "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict() if scheduler is not None else None,
                         "scaler": scaler.state_dict() if scaler is not None else None,
                         "epoch": epoch, "best": best, "history": history,
                         "seed": int(config.seed), "epochs": int(config.epochs)}, last_path)
            with open(os.path.join(config.out_dir, "log.jsonl"), "a", encoding="utf-8") as fh:
                fh.write(json.dumps(figures) + "\n")
            log.info("epoch %d: %s", epoch, ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                                     for k, v in figures.items()))
        if ddp.world > 1:
            dist.barrier()  # no process starts the next epoch before the checkpoint is written
    return figures


def _cpu_state(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The model's state dict on the CPU (a checkpoint loads on any device)."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def setup_training(args, prog: str, data: Sequence[str], argv: Optional[list] = None) -> None:
    """Start a run: join the process group under ``torchrun`` (:func:`init_distributed`), log to
    stderr with times (rank 0; the others warnings only), set the torch thread count, seed every RNG,
    and write ``OUT/args.json`` (see :func:`lprcore.manifest.write_run_args`; rank 0).

    Args:
        args: parsed options of :func:`lprcore.cli.add_training_args` (``out``, ``threads``, ``seed`` ...).
        prog: the command, e.g. ``"python -m LPRNet.train"``.
        data: every data list the run reads (recorded with its SHA-256).
        argv: the arguments the script was given (default ``sys.argv[1:]``).
    """
    d = init_distributed(getattr(args, "device", "cpu"))
    logging.basicConfig(level=logging.INFO if d.main else logging.WARNING,
                        format="%(asctime)s %(levelname)s " + (f"[rank {d.rank}] " if d.world > 1 else "") + "%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    if d.main:
        write_run_args(args.out, args, data, command_line(prog, argv))
    if d.world > 1:
        log.info("DDP: %d processes, global batch %d (%d per process)", d.world, args.batch_size,
                 args.batch_size // d.world)


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
    run = read_run_args(run_dir)
    for name, prefix in files.items():
        part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        export_weights(part, os.path.join(export_dir, name))
        update_manifest(export_dir, name, command=run.get("command"), git_commit=run.get("git_commit"),
                        data=run.get("data", []), run=os.path.abspath(run_dir),
                        epoch=meta.get("epoch") if isinstance(meta, dict) else None,
                        figures=meta.get("figures", {}) if isinstance(meta, dict) else {},
                        **(extra or {}).get(name, {}))
        log.info("exported %s to %s", name, export_dir)


__getattr__ = moved_names(__name__)
