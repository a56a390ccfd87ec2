"""Train PNet, ONet (MTCNN, arXiv:1604.02878, Sec. 2.3) or VNet on ``MTCNN.prepare`` samples.

Loss: cross-entropy on positives and negatives with online hard example mining (the hardest 70% of
each batch), plus ``box_weight`` x MSE of the bbox offsets on positives and parts, plus (ONet)
``vertex_weight`` x MSE of the corner targets where they are known. ``--init FILE`` starts from
weights (e.g. an ONet without the vertex branch: the branch starts fresh). Example::

    python -m MTCNN.train --net pnet --train data/pnet/train.txt --val data/pnet/val.txt \
        --out runs/pnet --epochs 20 --export MTCNN/weights

``OUT/last.pth`` holds the full state after every epoch (``--resume`` continues exactly, with any
``--workers``; a larger ``--epochs`` anneals on from the current learning rate), ``OUT/best.pth`` the
best model by validation accuracy; ``--export DIR`` writes ``pnet.pth`` / ``onet.pth`` from it.

VNet (``--net vnet``, the corner refiner of :func:`MTCNN.cascade.vertex_stage`) trains on the
``.npz`` files of ``MTCNN.prepare --net vnet`` (:class:`MTCNN.dataset.QuadSampleDataset`) with an
L1 loss on the corners in crop pixels; ``best.pth`` has the lowest validation corner error
(``corner_error``: mean corner distance over the plate's width in the crop)::

    python -m MTCNN.train --net vnet --train data/vnet/train.npz --val data/vnet/val.npz \
        --out runs/vnet --epochs 30 --export MTCNN/weights
"""
from __future__ import annotations

import argparse
import logging

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from lprcore.cli import add_training_args, nonnegative_float
from lprcore.engine import distributed, CheckpointError, FitConfig, export_run, fit, make_loader, setup_training
from MTCNN.dataset import BoxSampleDataset, QuadSampleDataset
from MTCNN.evaluate import corner_error
from MTCNN.cascade import ONET_WEIGHTS, PNET_WEIGHTS, VNET_FRAME_CONVENTION, VNET_INPUT, VNET_WEIGHTS
from lprcore.weights import WeightsError, read_state_dict
from MTCNN.cascade import ONET_INPUT
from MTCNN.nets import ONet, PNet, VNet

log = logging.getLogger(__name__)

NETS = {"pnet": (PNet, PNET_WEIGHTS), "onet": (ONet, ONET_WEIGHTS), "vnet": (VNet, VNET_WEIGHTS)}
#: Fraction of the classification losses kept by online hard example mining (MTCNN Sec. 2.3).
OHEM_KEEP = 0.7


def _flat(logits: torch.Tensor, offsets: torch.Tensor, vertices: torch.Tensor | None = None):
    """PNet gives ``[N, C, 1, 1]`` on a training crop; ONet gives ``[N, C]`` (and its corners)."""
    return logits.flatten(1), offsets.flatten(1), vertices


def cascade_loss(box_weight: float, vertex_weight: float = 0.5):
    """Return ``loss_fn(model, batch)`` for :func:`lprcore.engine.fit`."""

    def loss_fn(model: nn.Module, batch):
        x, labels, offsets, vertices, has_vertices = batch
        logits, pred, pred_vertices = _flat(*model(x))
        cls_mask = labels >= 0
        per = F.cross_entropy(logits[cls_mask], labels[cls_mask], reduction="none")
        k = max(1, int(len(per) * OHEM_KEEP))
        cls_loss = per.topk(k).values.mean() if len(per) else logits.sum() * 0
        box_mask = labels != 0
        box_loss = F.mse_loss(pred[box_mask], offsets[box_mask]) if box_mask.any() else pred.sum() * 0
        loss, parts = cls_loss + box_weight * box_loss, {"cls": cls_loss.item(), "box": box_loss.item()}
        if pred_vertices is not None:
            vertex_loss = (F.mse_loss(pred_vertices[has_vertices], vertices[has_vertices])
                           if has_vertices.any() else pred_vertices.sum() * 0)
            loss = loss + vertex_weight * vertex_loss
            parts["vertex"] = vertex_loss.item()
        return loss, parts

    return loss_fn


def _crop_pixels(corners: torch.Tensor) -> torch.Tensor:
    """VNet corners ``Tensor[N, 8]`` (fractions of the crop) -> ``Tensor[N, 4, 2]`` crop pixels, up to
    the half-pixel offset of :func:`MTCNN.cascade.crop_fractions_to_pixels`, which cancels in the
    differences the loss and the corner error take."""
    return corners.reshape(-1, 4, 2) * corners.new_tensor([VNET_INPUT[1], VNET_INPUT[0]])


def vertex_loss(model: nn.Module, batch):
    """VNet loss for :func:`lprcore.engine.fit`: L1 distance of the corners in crop pixels."""
    x, target = batch
    loss = F.l1_loss(_crop_pixels(model(x)), _crop_pixels(target))
    return loss, {"l1_px": loss.item()}


def evaluate_vertices(model: nn.Module, dataset: QuadSampleDataset, batch_size: int = 256) -> dict:
    """VNet's mean corner error on ``dataset`` (:func:`MTCNN.evaluate.corner_error` in crop pixels:
    a fraction of each plate's width in the crop) as ``corner_error``, and its negative (``score``,
    higher is better, which selects ``best.pth``)."""
    total, n = 0.0, 0
    for x, target in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        pred, true = _crop_pixels(model(x).float()).numpy(), _crop_pixels(target).numpy()
        total += sum(corner_error(p, t) for p, t in zip(pred, true))
        n += len(x)
    error = total / max(n, 1)
    return {"corner_error": error, "score": -error}


def evaluate(model: nn.Module, dataset: BoxSampleDataset, batch_size: int = 512) -> dict:
    """Classification accuracy on positives + negatives, recall of positives, offset MSE, and (ONet
    with the vertex branch) the mean corner error as a fraction of the crop width."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    correct = total = pos_hit = pos_total = 0
    se, n_box = 0.0, 0
    corner_err, n_corners = 0.0, 0
    for x, labels, offsets, vertices, has_vertices in loader:
        logits, pred, pred_vertices = _flat(*model(x))
        if pred_vertices is not None and has_vertices.any():
            d = (pred_vertices[has_vertices] - vertices[has_vertices]).reshape(-1, 4, 2)
            # x is a fraction of the crop width; y of its height, which is width * 24 / 94
            d[:, :, 1] *= ONET_INPUT[0] / ONET_INPUT[1]
            corner_err += float(d.norm(dim=2).sum())
            n_corners += d.shape[0] * 4
        guess = logits.argmax(1)
        m = labels >= 0
        correct += int((guess[m] == labels[m]).sum())
        total += int(m.sum())
        pos = labels == 1
        pos_hit += int((guess[pos] == 1).sum())
        pos_total += int(pos.sum())
        b = labels != 0
        se += float(((pred[b] - offsets[b]) ** 2).sum())
        n_box += int(b.sum()) * 4
    out = {"accuracy": correct / max(total, 1), "recall": pos_hit / max(pos_total, 1),
           "box_mse": se / max(n_box, 1)}
    if n_corners:
        out["corner_error"] = corner_err / n_corners
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m MTCNN.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--net", choices=tuple(NETS), required=True)
    p.add_argument("--train", nargs="+", required=True,
                   help="sample lists from MTCNN.prepare (vnet: its .npz files)")
    p.add_argument("--val", nargs="*", default=[], help="validation lists (vnet: .npz files)")
    add_training_args(p, epochs=20, batch_size=256, lr=1e-3, workers=1,
                      export_help="after training, write the net's weights (pnet.pth / onet.pth / vnet.pth) here")
    p.add_argument("--box-weight", type=nonnegative_float, default=0.5, help="PNet/ONet: weight of the bbox loss")
    p.add_argument("--vertex-weight", type=nonnegative_float, default=0.5,
                   help="ONet: weight of the corner (vertex branch) loss")
    p.add_argument("--init", help="start from these weights (names that fit; e.g. an ONet without the vertex "
                                  "branch, which then starts fresh)")
    args = p.parse_args(argv)
    setup_training(args, "python -m MTCNN.train", args.train + args.val, argv)
    net_cls, weights_name = NETS[args.net]
    dataset_cls = QuadSampleDataset if args.net == "vnet" else BoxSampleDataset
    try:
        train_set = dataset_cls(args.train, augment=True)
        val_set = dataset_cls(args.val) if args.val else None
    except (ValueError, OSError) as e:
        log.error("%s", e)
        return 2
    log.info("%s: %d train samples, %d val", args.net, len(train_set), len(val_set) if val_set else 0)
    try:  # exact on --resume with any --workers; --batch-size is global under torchrun
        loader = make_loader(train_set, args.batch_size, args.workers, pin_memory=args.device.startswith("cuda"))
    except ValueError as e:
        p.error(str(e))
    model = net_cls()
    if args.init and not args.resume:
        try:
            state = read_state_dict(args.init)
        except WeightsError as e:
            log.error("%s", e)
            return 2
        own = model.state_dict()
        fits = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(fits, strict=False)
        log.info("--init %s: %d of %d tensors loaded; fresh: %s", args.init, len(fits), len(own),
                 sorted(set(own) - set(fits)) or "none")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=args.lr * 0.02)
    try:
        vnet = args.net == "vnet"
        fit(model, optimizer, loader, vertex_loss if vnet else cascade_loss(args.box_weight, args.vertex_weight),
            (lambda m: (evaluate_vertices if vnet else evaluate)(m, val_set)) if val_set else None,
            FitConfig(epochs=args.epochs, out_dir=args.out, seed=args.seed, resume=args.resume, device=args.device,
                      amp=args.amp, monitor="score" if vnet else "accuracy"),
            scheduler=scheduler)
    except CheckpointError as e:
        log.error("%s", e)
        return 2
    if args.export and distributed().main:
        extra = {weights_name: {"frame": VNET_FRAME_CONVENTION}} if args.net == "vnet" else None
        export_run(args.out, args.export, {weights_name: ""}, extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
