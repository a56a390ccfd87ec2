"""Train STN + LPRNet together with CTC loss (arXiv:1806.10447, Sec. 3).

Example (the commands that made the shipped weights are in docs/training.md)::

    python -m LPRNet.train --train data/lprnet/train.txt data/lprnet/synth.txt \
        --val data/lprnet/val.txt --out runs/lprnet --epochs 40 --export LPRNet/weights

``OUT/last.pth`` holds the full state after every epoch (``--resume`` continues from it exactly, with
any ``--workers``; a larger ``--epochs`` anneals on from the current learning rate),
``OUT/best.pth`` the best model by validation accuracy; ``--export DIR`` writes ``stn.pth`` and
``lprnet.pth`` from ``best.pth`` with denormal floats zeroed (with ``--resume`` on a finished run it
only re-exports).
"""
from __future__ import annotations

import argparse
import logging
import os

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from lprcore.cli import add_training_args, nonnegative_float, nonnegative_int, positive_int, probability
from lprcore.engine import distributed, CheckpointError, FitConfig, export_run, fit, make_loader, setup_training
from lprcore.weights import WeightsError, read_state_dict
from LPRNet.chars import BLANK, CHARS
from LPRNet.ctc import greedy_decode
from LPRNet.dataset import PlateTextDataset, collate
from LPRNet.inputs import TIME_STEPS
from LPRNet.reading import LPRNET_WEIGHTS, STN_WEIGHTS
from LPRNet.recognizer import RecognizerNet, expand_classes

log = logging.getLogger(__name__)


def ctc_loss(model: nn.Module, batch):
    """Mean CTC loss of one batch ``(x[N,3,24,94], targets[sum L], lengths[N])``; no extra figures."""
    x, targets, lengths = batch
    logits = model(x)                                          # [N, C, T]
    log_probs = F.log_softmax(logits, dim=1).permute(2, 0, 1)  # [T, N, C]
    input_lengths = torch.full((x.shape[0],), TIME_STEPS, dtype=torch.long)
    loss = F.ctc_loss(log_probs, targets, input_lengths, lengths, blank=BLANK, zero_infinity=True)
    return loss, {}


def accuracy(model: nn.Module, dataset: PlateTextDataset, batch_size: int = 256) -> float:
    """Exact-match rate of greedy-decoded texts on ``dataset`` (no augmentation)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    texts = []
    for x, _, _ in loader:
        texts += [d.text for d in greedy_decode(model(x))]
    truth = [dataset.text(i) for i in range(len(dataset))]
    return sum(t == g for t, g in zip(texts, truth)) / max(len(truth), 1)


#: The recognizer's weight files and their key prefix in a :class:`RecognizerNet` state.
RECOGNIZER_PARTS = {STN_WEIGHTS: "stn.", LPRNET_WEIGHTS: "lprnet."}


def initial_state(path: str, num_classes: int) -> dict:
    """The :class:`RecognizerNet` state to start from: a checkpoint file (``stn.*``/``lprnet.*``
    keys) or a weights folder (``stn.pth`` + ``lprnet.pth``), grown to ``num_classes`` classes.

    Raises:
        lprcore.weights.WeightsError: a file is missing or unreadable.
        ValueError: the state has more classes than ``num_classes``.
    """
    if os.path.isdir(path):
        state = {prefix + k: v for name, prefix in RECOGNIZER_PARTS.items()
                 for k, v in read_state_dict(os.path.join(path, name)).items()}
    else:
        state = read_state_dict(path)
    return expand_classes(state, num_classes)


def export(run_dir: str, out_dir: str) -> None:
    """Split the run's best :class:`RecognizerNet` into ``stn.pth`` and ``lprnet.pth`` (denormals
    zeroed) and record both in ``OUT/MANIFEST.json``, the character table with ``lprnet.pth``."""
    export_run(run_dir, out_dir, RECOGNIZER_PARTS,
               extra={LPRNET_WEIGHTS: {"charset": "".join(CHARS)}})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m LPRNet.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--train", nargs="+", required=True, help="sample lists from LPRNet.prepare")
    p.add_argument("--train-repeat", nargs="*", type=positive_int, default=[],
                   help="times each --train list is repeated per epoch (default 1 each)")
    p.add_argument("--val", nargs="*", default=[], help="validation lists (no augmentation)")
    add_training_args(p, epochs=40, batch_size=64, lr=1e-3, workers=2,
                      export_help="after training, write stn.pth and lprnet.pth here")
    p.add_argument("--weight-decay", type=nonnegative_float, default=1e-5)
    p.add_argument("--stn-warmup", type=nonnegative_int, default=3, help="epochs with the STN frozen at identity")
    p.add_argument("--edge-cut", type=probability, default=0.0, metavar="P",
                   help="probability in [0, 1] that a training crop's left or right edge is placed 2-6%% of "
                        "the plate's width inside it instead of jittered (LPRNet.dataset.EDGE_CUT_RANGE), as "
                        "the detector's corners sometimes cut (default 0)")
    p.add_argument("--init", help="start from these weights: a run's best.pth / last.pth, or a weights folder "
                                  "with stn.pth and lprnet.pth (e.g. LPRNet/weights); a 68-class recognizer "
                                  "is grown to the 75-class table (LPRNet.recognizer.expand_classes)")
    args = p.parse_args(argv)
    setup_training(args, "python -m LPRNet.train", args.train + args.val + ([args.init] if args.init else []), argv)

    repeats = args.train_repeat + [1] * (len(args.train) - len(args.train_repeat))
    parts = [PlateTextDataset([lst], augment=True, repeat=r, edge_cut=args.edge_cut) for lst, r in zip(args.train, repeats)]
    train_set = torch.utils.data.ConcatDataset(parts)
    val_set = PlateTextDataset(args.val) if args.val else None
    log.info("train samples per epoch: %d; val: %d", len(train_set), len(val_set) if val_set else 0)
    # exact on --resume with any --workers: order and augmentation seeded from (seed, epoch)
    try:  # exact on --resume with any --workers; --batch-size is global under torchrun
        loader = make_loader(train_set, args.batch_size, args.workers, collate_fn=collate, pin_memory=args.device.startswith("cuda"))
    except ValueError as e:
        p.error(str(e))

    model = RecognizerNet()
    if args.init:
        try:
            model.load_state_dict(initial_state(args.init, len(model.chars)))
        except (WeightsError, ValueError, RuntimeError) as e:
            p.error(f"--init {args.init}: {e}")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=args.lr * 0.02)

    def on_epoch_start(epoch: int) -> None:
        for prm in model.stn.parameters():
            prm.requires_grad_(epoch >= args.stn_warmup)

    def evaluate(m):
        return {"accuracy": accuracy(m, val_set)} if val_set else {}

    try:
        fit(model, optimizer, loader, ctc_loss, evaluate,
            FitConfig(epochs=args.epochs, out_dir=args.out, seed=args.seed, resume=args.resume, grad_clip=5.0, device=args.device, amp=args.amp),
            scheduler=scheduler, on_epoch_start=on_epoch_start)
    except CheckpointError as e:
        log.error("%s", e)
        return 2
    if args.export and distributed().main:
        export(args.out, args.export)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
