"""Pseudo-label unlabelled plate crops with the current reader, for semi-supervised training.

Each crop is read twice: whole, and through a second view (its corners moved inwards by 2% of the
width and 4% of the height, contrast x1.15 and brightness -10). A crop is kept only when both reads
give the same text, the text follows a GA 36 plate layout (:func:`ccpd.plates.is_valid_text`) and
every character's probability is at least ``--threshold`` in both reads. Crops listed in the
folder's ``likely_not_plates.txt`` (if any) are left out. Output: ``OUT/labels.tsv`` (the images stay
where they are; ``source`` = ``pseudo:<folder name>``, ``use`` = ``train``), which
``python -m LPRNet.prepare --source OUT`` turns into a training list. Example::

    python -m LPRNet.pseudo_label ../shared/data/plate_crops_unlabeled --out data/pseudo
"""
from __future__ import annotations

import argparse
import logging
import os
from typing import List, Tuple

import cv2
import numpy as np

from ccpd.plates import is_valid_text
from ccpd.sources import PlateSample, write_labels
from lprcore.imageio import ImageReadError, imread, list_images
from lprcore.manifest import WeightsError
from lprcore.parallel import progress
from LPRNet.crops import warp_to_input
from LPRNet.reading import Recognizer

log = logging.getLogger(__name__)

#: File of a crops folder that lists crops which are probably not plates (one name a line).
NOT_PLATES_FILE = "likely_not_plates.txt"
#: The second view: corners moved inwards by these fractions of width and height; contrast, brightness.
INSET = (0.02, 0.04)
CONTRAST, BRIGHTNESS = 1.15, -10.0


def second_view(crop: np.ndarray) -> np.ndarray:
    """The second read's view of a BGR uint8 crop: slightly tighter, with more contrast, at 24 x 94."""
    h, w = crop.shape[:2]
    dx, dy = INSET[0] * w, INSET[1] * h
    quad = np.float32([[dx, dy], [w - dx, dy], [w - dx, h - dy], [dx, h - dy]])
    return cv2.convertScaleAbs(warp_to_input(crop, quad), alpha=CONTRAST, beta=BRIGHTNESS)


def pseudo_label(reader: Recognizer, files: List[str], threshold: float,
                 batch_size: int = 64) -> Tuple[List[PlateSample], dict]:
    """Label the crops of ``files`` on which two reads agree (see the module docstring).

    Returns:
        The kept samples (text, and colour/layout when the reader has the classifier) and counts:
        ``read`` (crops read), ``agree`` (same text both times), ``valid`` (and a valid plate text),
        ``kept`` (and confident), ``unreadable``.
    """
    counts = {"read": 0, "agree": 0, "valid": 0, "kept": 0, "unreadable": 0}
    kept: List[PlateSample] = []
    for start in progress(range(0, len(files), batch_size), desc="pseudo-labels"):
        batch, paths = [], []
        for f in files[start:start + batch_size]:
            try:
                batch.append(imread(f))
                paths.append(f)
            except (ImageReadError, OSError) as e:
                counts["unreadable"] += 1
                log.warning("skipped %s", e)
        if not batch:
            continue
        first = reader.recognize_crops(batch)
        second = reader.recognize_crops([second_view(c) for c in batch])
        attrs = reader.attributes(batch)
        for path, a, b, (colour, layout) in zip(paths, first, second, attrs):
            counts["read"] += 1
            if a.text != b.text:
                continue
            counts["agree"] += 1
            if not is_valid_text(a.text) or layout == "double":
                continue
            counts["valid"] += 1
            if min(a.confidence, b.confidence) < threshold:
                continue
            counts["kept"] += 1
            kept.append(PlateSample(path, a.text, colour, layout or "single", use="train"))
    return kept, counts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m LPRNet.pseudo_label", description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="folder of unlabelled plate crops (e.g. ../shared/data/plate_crops_unlabeled)")
    p.add_argument("--out", required=True, help="folder for labels.tsv (never inside the crops folder)")
    p.add_argument("--weights-dir", help="recognizer weights (default: shipped)")
    p.add_argument("--threshold", type=float, default=0.9,
                   help="lowest character probability in both reads (default 0.9)")
    p.add_argument("--include-not-plates", action="store_true", help=f"also read the crops listed in {NOT_PLATES_FILE}")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if not os.path.isdir(args.folder):
        p.error(f"{args.folder}: not a folder")
    if os.path.abspath(args.out).startswith(os.path.abspath(args.folder) + os.sep):
        p.error(f"--out {args.out} lies inside {args.folder}")
    if not 0 <= args.threshold <= 1:
        p.error("--threshold must be in [0, 1]")
    from LPRNet.recognizer import TorchRecognizer
    try:
        reader = TorchRecognizer(args.weights_dir)
    except WeightsError as e:
        log.error("%s", e)
        return 2
    files = list_images(args.folder)
    skip_path = os.path.join(args.folder, NOT_PLATES_FILE)
    if os.path.isfile(skip_path) and not args.include_not_plates:
        with open(skip_path, encoding="utf-8") as fh:
            skip = {line.split("\t")[0].strip() for line in fh if line.strip() and not line.startswith("#")}
        before = len(files)
        files = [f for f in files if os.path.basename(f) not in skip and os.path.relpath(f, args.folder) not in skip]
        log.info("left out %d crops listed in %s", before - len(files), skip_path)
    samples, counts = pseudo_label(reader, files, args.threshold)
    source = f"pseudo:{os.path.basename(os.path.normpath(args.folder))}"
    samples = [PlateSample(s.path, s.text, s.colour, s.layout, source=source, use="train") for s in samples]
    os.makedirs(args.out, exist_ok=True)
    path = write_labels(args.out, samples)
    log.info("%d crops read: %d agree, %d valid plate texts, %d kept at threshold %.2f -> %s",
             counts["read"], counts["agree"], counts["valid"], counts["kept"], args.threshold, path)
    return 0 if samples else 1


if __name__ == "__main__":
    raise SystemExit(main())
