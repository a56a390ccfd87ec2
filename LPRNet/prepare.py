"""Prepare LPRNet training samples: plate crops with their text.

Sources:

* ``--ccpd ROOT``: CCPD-named images (any subsets). Two samples per plate: the bbox crop with a
  margin of context (so training can jitter the box as ONet would), and the crop rectified by the 4
  vertices (perspective warp).
* ``--crops DIR``: a folder of plate crops named by their text (``皖A12345.jpg``), e.g.
  ``../shared/data/plate_crops``.
* ``--source DIR``: any format of :mod:`ccpd.sources` (``labels.tsv`` folders such as
  ``../shared/data/plate_crops_more`` with ``--use train``, or ``python -m platesynth`` output);
  plates with a box give the two samples above, crops without one the whole image.

Output: ``OUT/NAME/*.png`` and the list ``OUT/NAME.txt``, one sample a line:
``relative/path.png <TAB> text <TAB> x1,y1,x2,y2 <TAB> colour <TAB> layout`` (the plate box inside
the stored crop, pixels; colour and layout empty when the source does not know them; lists of three
columns, from earlier versions, are read too).
The list is written last and atomically, so an interrupted run leaves no half list; a re-run
overwrites, and ``--resume`` continues an interrupted run from its journal. Example::

    python -m LPRNet.prepare --ccpd ../shared/data/ccpd_sample/train --crops ../shared/data/plate_crops \
        --out data/lprnet --name train
"""
from __future__ import annotations

import argparse
import logging
import os
from functools import partial
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ccpd.sources import PlateSample, read_sources
from lprcore.files import Journal, atomic_write, fingerprint
from lprcore.imageio import ImageReadError, imread, imwrite
from lprcore.parallel import imap_progress
from LPRNet.chars import is_encodable
from LPRNet.crops import warp_to_input
from LPRNet.inputs import INPUT_SIZE

log = logging.getLogger(__name__)

#: Context kept around the bbox on each side, as a fraction of the bbox width / height.
MARGIN = (0.15, 0.35)
#: Size (height, width) of vertex-rectified crops: twice the LPRNet input.
RECTIFIED_SIZE = (INPUT_SIZE[0] * 2, INPUT_SIZE[1] * 2)
#: Size of vertex-rectified double-row plates: the plate's 1:2 proportions (GA 36-2018, 220 x 440 mm).
RECTIFIED_SIZE_DOUBLE = (INPUT_SIZE[1], INPUT_SIZE[1] * 2)

Entry = Tuple[str, str, Tuple[int, int, int, int], str, str]


class ListEntry(NamedTuple):
    """One line of a sample list: absolute image path, text, plate box in it, colour, layout ("" = unknown)."""

    path: str
    text: str
    box: Tuple[int, int, int, int]
    colour: str = ""
    layout: str = ""


def crop_with_margin(image: np.ndarray, bbox, margin=MARGIN) -> Tuple[np.ndarray, Tuple[int, int, int, int]]:
    """Crop ``bbox`` (x1, y1, x2, y2 pixels) with context; returns the crop and the bbox inside it."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = bbox
    mx, my = int(round((x2 - x1) * margin[0])), int(round((y2 - y1) * margin[1]))
    cx1, cy1 = max(0, x1 - mx), max(0, y1 - my)
    cx2, cy2 = min(w, x2 + mx), min(h, y2 + my)
    return image[cy1:cy2, cx1:cx2].copy(), (x1 - cx1, y1 - cy1, min(x2, w) - cx1, min(y2, h) - cy1)


def rectify(image: np.ndarray, corners, size=RECTIFIED_SIZE) -> np.ndarray:
    """Warp the plate quadrilateral (corners TL, TR, BR, BL, pixels) to an upright crop of ``size = (h, w)``
    (:func:`LPRNet.crops.warp_to_input` at that size)."""
    return warp_to_input(image, corners, size)


def _job(item: Tuple[PlateSample, str], out_dir: str, rectified: bool) -> Tuple[List[Entry], Optional[str]]:
    """Write the samples of one plate: the bbox crop with context (or the whole crop when the source
    has no box) and, with ``rectified`` and known vertices, the vertex-rectified crop."""
    sample, key = item
    if not is_encodable(sample.text):
        return [], f"{sample.path}: plate text {sample.text!r} has characters LPRNet cannot encode"
    try:
        image = imread(sample.path)
    except (ImageReadError, FileNotFoundError) as e:
        return [], str(e)
    if sample.bbox is None:
        variants = [("c", image, (0, 0, image.shape[1], image.shape[0]))]
    else:
        bbox = tuple(int(round(v)) for v in sample.bbox)
        crop, box = crop_with_margin(image, bbox)
        if crop.size == 0 or box[2] <= box[0] or box[3] <= box[1]:
            return [], f"{sample.path}: bbox {bbox} lies outside the image"
        variants = [("b", crop, box)]
        if rectified and sample.vertices is not None:
            size = RECTIFIED_SIZE_DOUBLE if sample.layout == "double" else RECTIFIED_SIZE
            variants.append(("r", rectify(image, sample.vertices, size), (0, 0, size[1], size[0])))
    entries = []
    for suffix, img, b in variants:
        rel = f"{key}{suffix}.png"
        imwrite(os.path.join(out_dir, rel), img)
        entries.append((rel, sample.text, tuple(int(v) for v in b), sample.colour or "", sample.layout or ""))
    return entries, None


def format_entry(entry: Entry) -> str:
    """One list line (no newline): ``path<TAB>text<TAB>x1,y1,x2,y2<TAB>colour<TAB>layout``."""
    rel, text, box, colour, layout = entry
    return f"{rel}\t{text}\t{','.join(str(v) for v in box)}\t{colour}\t{layout}"


def write_list(path: str, entries: List[Entry]) -> None:
    """Write a sample list atomically (:func:`lprcore.files.atomic_write`)."""
    with atomic_write(path, "w") as fh:
        for entry in entries:
            fh.write(format_entry(entry) + "\n")


def read_list(path: str) -> List[ListEntry]:
    """Read a list written by :func:`write_list` (or a three-column list); paths come back absolute.

    Raises:
        FileNotFoundError: no such list. ValueError: a malformed line (the message names it).
    """
    base = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.rstrip("\n").split("\t")
            try:
                if len(parts) not in (3, 5):
                    raise ValueError
                box = tuple(int(v) for v in parts[2].split(","))
                if len(box) != 4:
                    raise ValueError
            except ValueError:
                raise ValueError(f"{path}:{n}: expected 'path<TAB>text<TAB>x1,y1,x2,y2[<TAB>colour<TAB>layout]'") from None
            out.append(ListEntry(os.path.join(base, parts[0]), parts[1], box, *parts[3:5]))
    return out


def prepare(ccpd: List[str], crops: List[str], out: str, name: str, workers: int = 1,
            rectified: bool = True, sources: Sequence[str] = (), use: Optional[str] = None,
            resume: bool = False) -> int:
    """Write the samples of all sources under ``out/name`` and the list ``out/name.txt``; returns
    how many samples the list holds.

    Args:
        ccpd: folders of CCPD-named images.
        crops: folders of crops named by their text.
        sources: folders in any format of :mod:`ccpd.sources` (``labels.tsv``, CCPD names, crops).
        use: with ``sources``: keep only rows whose ``use`` column is this (train / val).
        resume: continue a killed run from its journal (``OUT/NAME.journal``,
            :class:`lprcore.files.Journal`): plates already done are skipped; the list is the same as
            an uninterrupted run's.
    """
    image_dir = os.path.join(out, name)
    os.makedirs(image_dir, exist_ok=True)
    scan = read_sources(list(ccpd) + list(crops))
    scan.samples += read_sources(sources, use).samples if sources else []
    with Journal(os.path.join(out, f"{name}.journal"), resume,
                 fingerprint(rectified, [(s.path, s.text, s.bbox) for s in scan.samples])) as journal:
        if journal.done:
            log.info("resuming: %d of %d plates already done", len(journal.done), len(scan.samples))
        items = [(s, f"{i:06d}") for i, s in enumerate(scan.samples) if i not in journal.done]
        failures = [f"{p}: {why}" for p, why in scan.skipped]
        job = partial(_job, out_dir=image_dir, rectified=rectified)
        for item, (got, err) in zip(items, imap_progress(job, items, workers, "lprnet samples", chunksize=16)):
            journal.add(int(item[1]), [format_entry((os.path.join(name, rel), *rest)) for rel, *rest in got])
            if err:
                failures.append(err)
        for f in failures[:10]:
            log.warning("skipped %s", f)
        if failures:
            log.warning("skipped %d of %d sources", len(failures), len(scan.samples))
        n = journal.write_list(os.path.join(out, f"{name}.txt"))
        journal.remove()
    log.info("wrote %d samples to %s", n, os.path.join(out, f"{name}.txt"))
    return n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m LPRNet.prepare", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ccpd", nargs="*", default=[], help="folders of CCPD-named images (searched recursively)")
    p.add_argument("--crops", nargs="*", default=[], help="folders of plate crops named by their text")
    p.add_argument("--source", nargs="*", default=[],
                   help="folders in any annotation format (labels.tsv as in ../shared/data/plate_crops_more or "
                        "python -m platesynth output, CCPD names, crops named by text)")
    p.add_argument("--use", choices=("train", "val"), help="--source: keep only rows of this use column")
    p.add_argument("--out", required=True, help="output folder (never the source folder)")
    p.add_argument("--name", default="train", help="list name: writes OUT/NAME.txt and OUT/NAME/ (default: train)")
    p.add_argument("--no-rectified", action="store_true",
                   help="CCPD: only the bbox crop, no vertex-rectified crop (for validation lists)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel processes")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run (OUT/NAME.journal): plates already done are skipped")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if not args.ccpd and not args.crops and not args.source:
        p.error("give at least one --ccpd, --crops or --source folder")
    for d in args.ccpd + args.crops + args.source:
        if not os.path.isdir(d):
            p.error(f"{d}: not a folder")
        if os.path.abspath(args.out).startswith(os.path.abspath(d) + os.sep):
            p.error(f"--out {args.out} lies inside the source folder {d}")
    n = prepare(args.ccpd, args.crops, args.out, args.name, args.workers, not args.no_rectified,
                args.source, args.use, args.resume)
    return 0 if n else 1


if __name__ == "__main__":
    raise SystemExit(main())
