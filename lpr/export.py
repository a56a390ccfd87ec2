"""Export PNet, ONet, VNet, STN+LPRNet and the colour/layout classifier to ONNX, check each export against
torch, and record it in the weights folders' MANIFEST.json.

Writes ``pnet.onnx`` (dynamic batch, height and width), ``onet.onnx`` and (when there is a
``vnet.pth``) ``vnet.onnx`` beside ``pnet.pth`` / ``onet.pth`` / ``vnet.pth``, and ``recognizer.onnx`` (STN + LPRNet, dynamic batch) and ``attributes.onnx`` beside
``lprnet.pth``. Each export is checked before it replaces anything: the largest absolute difference
of every output from torch's, on real inputs (the photos given with ``--check``, else the bundled
demo images: PNet on each photo at two pyramid scales, ONet and the readers on the plate crops the
cascade finds there, VNet on those plates rectified through the cascade's corners), must be <= ``--tolerance`` (default 2e-4: the recognizer's logits, up to about
30 in size, differ by up to 1.2e-4 from float32 rounding in the STN's affine grid and sampling, about
4e-6 of their size; the other nets by < 1e-5); then the whole pipeline must give
identical texts on every photo with both backends. A failed check writes nothing and exits 1. Each
MANIFEST entry records the SHA-256, the torch files exported from (their SHA-256: a later retraining
makes the export stale, and ``--backend auto`` then falls back to torch), the opset, the input
contract, the character table and the check's figures. Example::

    python -m lpr.export --check ../shared/data/ccpd_sample/val
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import torch

from lpr.config import ReaderConfig, ReadingOptions
from lpr.pipeline import ONNX_SOURCES, PlateReader
from lprcore.files import sha256_file
from lprcore.imageio import ImageReadError, imread, list_images
from lprcore.manifest import WeightsError, command_line, read_manifest, update_manifest
from lprcore.onnx import OnnxNet
from LPRNet import reading
from LPRNet.attributes import PlateAttributeNet
from LPRNet.crops import crop_plates
from LPRNet.inputs import crops_to_array
from LPRNet.recognizer import load_recognizer
from lprcore.weights import load_weights
from MTCNN import cascade
from MTCNN.cascade import ONET_INPUT, PNET_CELL, VNET_INPUT, crop_boxes, images_to_array, rectify_quads
from MTCNN.detector import TorchDetector

log = logging.getLogger("lpr.export")

#: The ONNX opset: 20 is the first with AffineGrid, which the STN needs.
OPSET = 20
#: The bundled demo photos, used to check the exports when no ``--check`` folder is given.
DEMO_DIR = Path(__file__).resolve().parent / "demo"
#: Input contract recorded per model (one home of each contract: MTCNN.cascade, LPRNet.inputs).
CONTRACTS = {
    cascade.PNET_ONNX: "float32[N, 3, H, W] RGB (x - 127.5) * 0.0078125, H >= 12, W >= 47 -> logits [N, 2, h, w], "
                       "offsets [N, 4, h, w] (MTCNN.cascade)",
    cascade.ONET_ONNX: "float32[N, 3, 24, 94] RGB (x - 127.5) * 0.0078125 -> logits [N, 2], offsets [N, 4], "
                       "vertices [N, 8] (MTCNN.cascade)",
    cascade.VNET_ONNX: "float32[N, 3, 40, 128] RGB (x - 127.5) * 0.0078125, the plate rectified through its "
                       "corners -> corners [N, 8] (MTCNN.cascade)",
    reading.RECOGNIZER_ONNX: "float32[N, 3, 24, 94] BGR (x - 127.5) * 0.0078125 -> logits [N, C, 18] (LPRNet.inputs)",
    reading.ATTRIBUTES_ONNX: "float32[N, 3, 24, 94] BGR (x - 127.5) * 0.0078125 -> colour logits [N, 5], "
                             "layout logits [N, 2] (LPRNet.inputs)",
}


class ExportCheckError(RuntimeError):
    """An export whose outputs differ from torch's beyond the tolerance, or whose texts differ."""


def export_onnx(net: torch.nn.Module, example: torch.Tensor, path: Path, outputs: Sequence[str],
                dynamic: Dict[int, str]) -> None:
    """Export ``net`` (eval mode, CPU) to ``path`` with one input ``"input"`` and the named outputs,
    with torch's ``torch.export``-based exporter (the TorchScript-based one, deprecated, mis-exported
    the colour/layout classifier's batch norms on torch 2.13).

    Args:
        dynamic: axes of the input that may change size (the values name them for messages).
    """
    shapes = ({axis: torch.export.Dim.DYNAMIC for axis in dynamic},)
    program = torch.onnx.export(net, (example,), input_names=["input"], output_names=list(outputs),
                                dynamic_shapes=shapes, opset_version=OPSET, dynamo=True, verbose=False)
    program.save(str(path))


def max_difference(torch_net: torch.nn.Module, onnx_net: OnnxNet, batch: np.ndarray) -> float:
    """Largest absolute difference of any output of the two nets on ``batch`` (float32 NCHW)."""
    with torch.inference_mode():
        want = torch_net(torch.from_numpy(batch))
    want = [want] if isinstance(want, torch.Tensor) else list(want)
    got = onnx_net(batch)
    return max(float(np.abs(w.numpy() - g).max()) for w, g in zip(want, got))


def check_images(folders: Sequence[str]) -> List[str]:
    """Image files of the ``--check`` folders (default: the demo photos)."""
    files: List[str] = []
    for folder in folders or [str(DEMO_DIR)]:
        files += list_images(folder)
    return files


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lpr.export", description=__doc__.split("\n\n")[0])
    p.add_argument("--detector-weights", default=str(cascade.WEIGHTS_DIR),
                   help="folder with pnet.pth and onet.pth; the ONNX models are written there (default: shipped)")
    p.add_argument("--recognizer-weights", default=str(reading.WEIGHTS_DIR),
                   help="folder with stn.pth, lprnet.pth (and attributes.pth); ONNX models written there")
    p.add_argument("--check", nargs="*", default=[],
                   help="folders of photos to check the exports on (default: the bundled demo images)")
    p.add_argument("--tolerance", type=float, default=2e-4, help="largest output difference allowed (default 2e-4)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    log.setLevel(logging.INFO)
    for folder in args.check:
        if not os.path.isdir(folder):
            p.error(f"--check {folder}: not a folder")
    det_dir, rec_dir = Path(args.detector_weights), Path(args.recognizer_weights)
    try:
        detector = TorchDetector(det_dir)
        recognizer = load_recognizer(rec_dir)
        attr_path = rec_dir / reading.ATTRIBUTES_WEIGHTS
        attributes = load_weights(PlateAttributeNet(), attr_path, "PlateAttributeNet").eval() \
            if attr_path.is_file() else None
    except WeightsError as e:
        log.error("%s", e)
        return 2
    if not detector.has_vertices:
        log.warning("ONet has no vertex branch: onet.onnx gives boxes only")
    onet_outputs = ["logits", "offsets"] + (["vertices"] if detector.has_vertices else [])
    crop = torch.zeros(2, 3, *ONET_INPUT)
    jobs: List[Tuple[str, Path, torch.nn.Module, torch.Tensor, List[str], Dict[int, str]]] = [
        (cascade.PNET_ONNX, det_dir, detector.pnet_model, torch.zeros(1, 3, 60, 200), ["logits", "offsets"],
         {0: "batch", 2: "height", 3: "width"}),
        (cascade.ONET_ONNX, det_dir, detector.onet_model, crop, onet_outputs, {0: "batch"}),
        (reading.RECOGNIZER_ONNX, rec_dir, recognizer, crop, ["logits"], {0: "batch"}),
    ]
    orphan = det_dir / cascade.VNET_ONNX
    if not detector.has_vnet and orphan.is_file():  # the ONNX backend would refine corners torch does not
        log.warning("removing %s: there is no %s beside it", orphan, cascade.VNET_WEIGHTS)
        orphan.unlink()
    if detector.has_vnet and not detector.has_vertices:
        log.warning("ONet has no vertex branch, so VNet has no corners to refine: vnet.onnx not exported")
    if detector.has_vnet and detector.has_vertices:
        jobs.insert(2, (cascade.VNET_ONNX, det_dir, detector.vnet_model, torch.zeros(2, 3, *VNET_INPUT), ["corners"],
                        {0: "batch"}))
    if attributes is not None:
        jobs.append((reading.ATTRIBUTES_ONNX, rec_dir, attributes, crop, ["colour", "layout"], {0: "batch"}))

    files = check_images(args.check)
    images = []
    for f in files:
        try:
            images.append(imread(f))
        except (ImageReadError, OSError) as e:
            log.warning("skipped %s", e)
    if not images:
        log.error("no readable photo to check the exports on")
        return 1
    # real inputs: each photo for PNet at two pyramid scales; the cascade's plate crops for the others
    with torch.inference_mode():
        found = [detector.detect(im) for im in images]
    onet_crops = np.concatenate([crop_boxes(im, d.boxes, ONET_INPUT) for im, d in zip(images, found)])
    vnet_crops = np.concatenate([rectify_quads(im, d.corners)[0] for im, d in zip(images, found) if d.corners is not None]
                                or [np.zeros((0, *VNET_INPUT, 3), np.uint8)])
    plate_crops = [c for im, d in zip(images, found) for c in crop_plates(im, d.boxes)]
    if not len(plate_crops):
        log.error("the cascade found no plate in the check photos: nothing to check the readers on")
        return 1
    reader_batch = crops_to_array(plate_crops)

    written: List[Tuple[str, Path, Path]] = []
    figures: Dict[str, float] = {}
    passed = False
    try:
        for name, folder, net, example, outputs, dynamic in jobs:
            tmp = folder / (name + ".tmp")
            written.append((name, folder, tmp))
            export_onnx(net.eval(), example, tmp, outputs, dynamic)
            onnx_net = OnnxNet(tmp, name)
            if name == cascade.PNET_ONNX:
                diff = 0.0
                for im in images:
                    for scale in (0.25, 0.5):
                        h, w = int(im.shape[0] * scale), int(im.shape[1] * scale)
                        if h < PNET_CELL[0] or w < PNET_CELL[1]:  # too small for one PNet cell
                            continue
                        small = cv2.resize(im, (w, h), interpolation=cv2.INTER_LINEAR)
                        diff = max(diff, max_difference(net, onnx_net, images_to_array(small)))
            elif name == cascade.ONET_ONNX:
                diff = max_difference(net, onnx_net, images_to_array(onet_crops))
            elif name == cascade.VNET_ONNX:
                diff = max_difference(net, onnx_net, images_to_array(vnet_crops))
            else:
                diff = max_difference(net, onnx_net, reader_batch)
            figures[name] = diff
            log.info("%s: largest difference from torch %.2e on real inputs", name, diff)
            if diff > args.tolerance:
                raise ExportCheckError(f"{name}: outputs differ from torch by {diff:.2e} > {args.tolerance:g}")
        # the whole pipeline, both backends, the same photos: identical texts
        for name, folder, tmp in written:
            os.replace(tmp, folder / (name + ".check.onnx"))
        staged = {name: folder / (name + ".check.onnx") for name, folder, _ in written}
        differ = compare_pipelines(det_dir, rec_dir, staged, images)
        if differ:
            raise ExportCheckError(f"{len(differ)} of {len(images)} photos read differently with ONNX Runtime, "
                                   f"e.g. {files[differ[0][0]]}: torch {differ[0][1]} vs onnx {differ[0][2]}")
        passed = True
    except ExportCheckError as e:
        log.error("export refused, nothing written: %s", e)
        return 1
    finally:  # a refused, failed or interrupted export leaves no file behind
        if not passed:
            for name, folder, tmp in written:
                for leftover in (tmp, folder / (name + ".check.onnx")):
                    if leftover.exists():
                        leftover.unlink()
    command = command_line("python -m lpr.export", argv)
    for name, folder, _ in written:
        os.replace(folder / (name + ".check.onnx"), folder / name)
        manifest = read_manifest(folder)
        extra = {"charset": "".join(recognizer.chars)} if name == reading.RECOGNIZER_ONNX else {}
        if name == cascade.VNET_ONNX and manifest.get(cascade.VNET_WEIGHTS, {}).get("frame"):
            extra = {"frame": manifest[cascade.VNET_WEIGHTS]["frame"]}
        update_manifest(folder, name, command=command, opset=OPSET, input=CONTRACTS[name],
                        exported_from={src: manifest.get(src, {}).get("sha256") or sha256_file(folder / src)
                                       for src in ONNX_SOURCES[name]},
                        check={"photos": len(images), "plate_crops": len(plate_crops),
                               "max_abs_difference": figures[name], "texts_identical": True},
                        **extra)
        log.info("wrote %s", folder / name)
    print(f"exported {len(written)} models; {len(images)} photos, {len(plate_crops)} plate crops read "
          f"identically by torch and ONNX Runtime; largest output difference {max(figures.values()):.2e}")
    return 0


def compare_pipelines(det_dir: Path, rec_dir: Path, staged: Dict[str, Path],
                      images: Sequence[np.ndarray]) -> List[Tuple[int, List[str], List[str]]]:
    """``(index, torch texts, onnx texts)`` of each photo the two backends read differently; the ONNX
    models are the ``staged`` files (copied, under their final names, into a scratch folder)."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        onnx_det, onnx_rec = Path(tmp) / "det", Path(tmp) / "rec"
        onnx_det.mkdir()
        onnx_rec.mkdir()
        for name, path in staged.items():
            folder = onnx_det if name in (cascade.PNET_ONNX, cascade.ONET_ONNX, cascade.VNET_ONNX) else onnx_rec
            shutil.copy(path, folder / name)
            update_manifest(folder, name)  # loaded checked, as a weights folder is (no unchecked-folder warning)
        every = ReaderConfig(reading=ReadingOptions(all_reads=True))
        torch_reader = PlateReader(every, detector_weights=det_dir, recognizer_weights=rec_dir, backend="torch")
        onnx_reader = PlateReader(every, detector_weights=onnx_det, recognizer_weights=onnx_rec, backend="onnx")
        differ = []
        for i, im in enumerate(images):
            a = [p.text for p in torch_reader(im)]
            b = [p.text for p in onnx_reader(im)]
            if a != b:
                differ.append((i, a, b))
        return differ


if __name__ == "__main__":
    sys.exit(main())
