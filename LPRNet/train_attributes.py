"""Train the plate colour and layout classifier (:class:`LPRNet.attributes.PlateAttributeNet`).

Example (samples from ``LPRNet.prepare`` lists, whose colour and layout columns are the labels;
samples without them do not count for that output)::

    python -m LPRNet.train_attributes --train data/lpr/synth.txt data/lpr/ccpd_train.txt \
        --val data/lpr/synth_val.txt --out runs/attributes --epochs 3 --export LPRNet/weights
"""
from __future__ import annotations

import argparse
import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ccpd.plates import COLOURS, LAYOUTS
from lprcore.cli import add_training_args
from lprcore.engine import distributed, CheckpointError, FitConfig, export_run, fit, make_loader, setup_training
from LPRNet.attributes import PlateAttributeNet
from LPRNet.reading import ATTRIBUTES_WEIGHTS
from LPRNet.dataset import PlateTextDataset
from LPRNet.model import crops_to_input

log = logging.getLogger(__name__)


class AttributeDataset(Dataset):
    """Samples of ``LPRNet.prepare`` lists as ``(Tensor[3, 24, 94], colour index, layout index)``,
    index -1 when the list does not say; every plate cut whole (as the pipeline does before it knows
    the layout)."""

    def __init__(self, base: PlateTextDataset):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        rng = np.random.default_rng(np.random.randint(0, 2**31)) if self.base.augment else None
        crop = self.base.crop(i, rng, as_single=True)
        colour, layout = self.base.attributes(i)
        return (crops_to_input([crop])[0], COLOURS.index(colour) if colour in COLOURS else -1,
                LAYOUTS.index(layout) if layout in LAYOUTS else -1)


def attribute_loss(model: nn.Module, batch):
    """Cross-entropy of colour and of layout, each over the samples that have the label."""
    x, colour, layout = batch
    c, lo = model(x)
    zero = c.sum() * 0
    lc = F.cross_entropy(c, colour, ignore_index=-1) if (colour >= 0).any() else zero
    ll = F.cross_entropy(lo, layout, ignore_index=-1) if (layout >= 0).any() else zero
    return lc + ll, {"colour_loss": lc.item(), "layout_loss": ll.item()}


@torch.inference_mode()
def attribute_accuracy(model: nn.Module, dataset: AttributeDataset, batch_size: int = 256) -> dict:
    """Accuracy of colour and layout over the samples labelled with them."""
    hit = {"colour": 0, "layout": 0}
    n = {"colour": 0, "layout": 0}
    for x, colour, layout in DataLoader(dataset, batch_size=batch_size):
        c, lo = model(x)
        for name, logits, y in (("colour", c, colour), ("layout", lo, layout)):
            m = y >= 0
            hit[name] += int((logits.argmax(1)[m] == y[m]).sum())
            n[name] += int(m.sum())
    return {f"{k}_accuracy": hit[k] / n[k] for k in hit if n[k]} | {"accuracy": sum(hit.values()) / max(sum(n.values()), 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m LPRNet.train_attributes", description=__doc__.split("\n\n")[0])
    p.add_argument("--train", nargs="+", required=True, help="sample lists from LPRNet.prepare")
    p.add_argument("--val", nargs="*", default=[], help="validation lists")
    add_training_args(p, epochs=4, batch_size=128, lr=2e-3, workers=1,
                      export_help=f"after training, write {ATTRIBUTES_WEIGHTS} here")
    args = p.parse_args(argv)
    setup_training(args, "python -m LPRNet.train_attributes", args.train + args.val, argv)
    train_set = AttributeDataset(PlateTextDataset(args.train, augment=True))
    val_set = AttributeDataset(PlateTextDataset(args.val)) if args.val else None
    try:  # exact on --resume with any --workers; --batch-size is global under torchrun
        loader = make_loader(train_set, args.batch_size, args.workers, pin_memory=args.device.startswith("cuda"))
    except ValueError as e:
        p.error(str(e))
    model = PlateAttributeNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=args.lr * 0.02)
    try:
        fit(model, optimizer, loader, attribute_loss, (lambda m: attribute_accuracy(m, val_set)) if val_set else None,
            FitConfig(epochs=args.epochs, out_dir=args.out, seed=args.seed, resume=args.resume, device=args.device, amp=args.amp), scheduler=scheduler)
    except CheckpointError as e:
        log.error("%s", e)
        return 2
    if args.export and distributed().main:
        export_run(args.out, args.export, {ATTRIBUTES_WEIGHTS: ""},
                   extra={ATTRIBUTES_WEIGHTS: {"colours": list(COLOURS), "layouts": list(LAYOUTS)}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
