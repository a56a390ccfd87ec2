"""End-to-end benchmark (detection + reading) per CCPD subset, as the original project reports it,
or per source for photos labelled with their main plate's text (``labels.tsv``).

* CCPD root: a plate counts as read when a detection has IoU >= 0.5 with its annotated bbox **and**
  that detection's text equals the plate text exactly; also detection recall and ms/image.
* a ``labels.tsv`` folder (``../shared/data/scenes``): image accuracy, an image being right when
  the main plate's text is among the texts read, exactly; also reads and extra reads per image
  (reads other than the main plate; the photos may hold other, unlabelled plates); then the same
  two figures at several ``--min-confidence`` thresholds and with ``--all-reads``.

Reads count as the command line reports them (:func:`lpr.pipeline.keep_plates`: valid plate texts,
each once, ``--min-confidence``, ``--all-reads``); CCPD detection recall counts every box.

Example::

    python -m lpr.evaluate ../shared/data/ccpd_sample/val
    python -m lpr.evaluate ../shared/data/ccpd_sample/val --grayscale   # the same photos without colour
    python -m lpr.evaluate ../shared/data/scenes
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ccpd.sources import LABELS_FILE, read_source
from ccpd.subsets import scan_root
from lprcore.augment import to_gray3 as to_grayscale  # a photo as a grayscale camera gives it
from lprcore.imageio import ImageReadError
from lpr.options import add_reader_arguments, load_reader, reader_config
from lpr.pipeline import Plate, PlateReader, decode_photo, keep_plates
from lprcore.parallel import print_stderr
from lprcore.cli import setup_runtime
from lprcore.report import format_table, pct, read_samples
from MTCNN.boxes import box_iou
from MTCNN.evaluate import MATCH_IOU, WIDTH_BANDS, width_band


@dataclass
class SubsetCounts:
    """End-to-end counts of one CCPD subset.

    Attributes:
        n: annotated images read.
        read: plates with a detection at IoU >= 0.5 whose text is exact.
        found: plates with a detection at IoU >= 0.5.
        seconds: time spent in the reader.
        errors: ``(path, true text, texts read at the plate, dropped ones included)`` of every plate
            not read.
    """

    n: int = 0
    read: int = 0
    found: int = 0
    seconds: float = 0.0
    errors: List[Tuple[str, str, List[str]]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """``read / n`` in [0, 1] (0 for no images)."""
        return self.read / self.n if self.n else 0.0


def plates_at(plates: Sequence[Plate], gt: np.ndarray) -> List[Plate]:
    """The plates whose box overlaps the annotated box ``gt`` (``ndarray[1, 4]`` pixels) at IoU >=
    :data:`MTCNN.evaluate.MATCH_IOU`."""
    return [p for p in plates if box_iou(np.asarray([p.box], np.float32), gt)[0, 0] >= MATCH_IOU]


def evaluate_end_to_end(reader: PlateReader, root: str, grayscale: bool = False, min_confidence: float = 0.0,
                        all_reads: bool = False) -> Dict[str, SubsetCounts]:
    """Read every annotated image of a CCPD root; counts per subset plus ``"all"``.

    Args:
        grayscale: convert every image with :func:`to_grayscale` before reading it (how the reader
            does on grayscale photos of the same scenes).
        min_confidence, all_reads: which of the reader's plates count as reads
            (:func:`lpr.pipeline.keep_plates`, on top of the reader's own filter); detection recall
            counts every box the reader returns (build it with ``all_reads=True`` to count boxes
            whose text was dropped).

    Raises:
        FileNotFoundError: ``root`` is not a folder.
    """
    out: Dict[str, SubsetCounts] = {}
    total = SubsetCounts()
    for subset, samples in scan_root(root).by_subset().items():
        c = out.setdefault(subset, SubsetCounts())
        for s, image in read_samples([s for s in samples if s.record is not None], subset):
            if grayscale:
                image = to_grayscale(image)
            t0 = time.perf_counter()
            boxes = reader(image)
            plates = keep_plates(boxes, min_confidence, all_reads)
            c.seconds += time.perf_counter() - t0
            c.n += 1
            gt = np.asarray([s.record.bbox], np.float32)
            boxes_at = plates_at(boxes, gt)
            c.found += bool(boxes_at)
            ok = any(pl.text == s.record.text for pl in plates_at(plates, gt))
            c.read += ok
            if not ok:  # every text read at the plate, kept or not
                c.errors.append((s.path, s.record.text, [pl.text for pl in boxes_at]))
        for k in ("n", "read", "found", "seconds"):
            setattr(total, k, getattr(total, k) + getattr(c, k))
        total.errors += c.errors
    out["all"] = total
    return out


@dataclass
class SceneCounts:
    """Image-level counts of one source of labelled photos.

    Attributes:
        n: images read.
        right: images whose main plate's text is among the texts read.
        reads: plates read (all boxes with a text).
        seconds: time spent in the reader.
        errors: ``(path, true text, texts read)`` of every image not right.
    """

    n: int = 0
    right: int = 0
    reads: int = 0
    seconds: float = 0.0
    errors: List[Tuple[str, str, List[str]]] = field(default_factory=list)

    @property
    def extra_reads(self) -> int:
        """Reads beyond the main plate (every read of a wrong image, all but one of a right one)."""
        return self.reads - self.right


@dataclass(frozen=True)
class SceneRead:
    """Every read of one labelled photo (a reader with ``all_reads=True``), to count under any filter.

    Attributes:
        path: the photo. text: its main plate's text. source: its ``source`` column.
        plates: all plates read, best detection first. seconds: time spent in the reader.
        width: the main plate's box width in pixels of the photo, ``None`` when its labels have no box.
    """

    path: str
    text: str
    source: str
    plates: Tuple[Plate, ...]
    seconds: float
    width: Optional[float] = None


def read_scenes(reader: PlateReader, root: str, grayscale: bool = False) -> List[SceneRead]:
    """Read every photo of a ``labels.tsv`` source (see :mod:`ccpd.sources`); unreadable photos are
    reported on stderr and skipped. Use a reader with ``all_reads=True`` to count under several
    filters (:func:`count_scenes`).

    Raises:
        FileNotFoundError: ``root`` is not a folder. ccpd.sources.LabelError: a malformed labels file.
    """
    scan = read_source(root)
    by_path: Dict[str, Tuple[str, str, Optional[float]]] = {}
    for s in scan.samples:  # one main plate per photo: the first row of a file
        by_path.setdefault(s.path, (s.text, s.source, None if s.bbox is None else float(s.bbox[2] - s.bbox[0])))
    out = []
    for path, (text, source, width) in by_path.items():
        try:
            image, factor = decode_photo(path, reader.config.detector)  # as the command line decodes it
        except (ImageReadError, FileNotFoundError) as e:
            print_stderr(f"skipped {e}")
            continue
        if grayscale:
            image = to_grayscale(image)
        t0 = time.perf_counter()
        plates = tuple(reader.read_reduced(image, factor))
        out.append(SceneRead(path, text, source, plates, time.perf_counter() - t0, width))
    return out


def accuracy_by_width(reads: Sequence[SceneRead], min_confidence: float = 0.0,
                      all_reads: bool = False) -> Dict[str, Tuple[int, int]]:
    """Photos whose main plate was read (exact, among the reads :func:`lpr.pipeline.keep_plates` keeps)
    and photos, per :data:`MTCNN.evaluate.WIDTH_BANDS` band of the main plate's width; bands in
    increasing width, photos without a box left out (empty when none has one)."""
    counts: Dict[str, List[int]] = {}
    for r in reads:
        if r.width is None:
            continue
        c = counts.setdefault(width_band(r.width), [0, 0])
        c[0] += r.text in {p.text for p in keep_plates(r.plates, min_confidence, all_reads)}
        c[1] += 1
    order = [width_band(WIDTH_BANDS[0] - 1)] + [width_band(w) for w in WIDTH_BANDS]
    return {b: (counts[b][0], counts[b][1]) for b in order if b in counts}


def count_scenes(reads: Sequence[SceneRead], min_confidence: float = 0.0,
                 all_reads: bool = False) -> Dict[str, SceneCounts]:
    """Image-level counts per ``source`` plus ``"all"``, keeping the reads
    :func:`lpr.pipeline.keep_plates` keeps with ``min_confidence`` and ``all_reads`` (reads with an
    empty text never count)."""
    out: Dict[str, SceneCounts] = {}
    total = SceneCounts()
    for r in reads:
        texts = [p.text for p in keep_plates(r.plates, min_confidence, all_reads) if p.text]
        for c in (out.setdefault(r.source, SceneCounts()), total):
            c.n += 1
            c.right += r.text in texts
            c.reads += len(texts)
            c.seconds += r.seconds
            if r.text not in texts:
                c.errors.append((r.path, r.text, texts))
    out["all"] = total
    return out


def evaluate_scenes(reader: PlateReader, root: str, grayscale: bool = False) -> Dict[str, SceneCounts]:
    """Read every photo of a ``labels.tsv`` source and count with the reader's own filter; counts
    per ``source`` column plus ``"all"``.

    Raises:
        FileNotFoundError: ``root`` is not a folder. ccpd.sources.LabelError: a malformed labels file.
    """
    return count_scenes(read_scenes(reader, root, grayscale), all_reads=True)


#: Confidence thresholds of the scene evaluator's threshold table.
CONFIDENCE_STEPS = (0.0, 0.3, 0.5, 0.7, 0.9)


def every_read_reader(config, args) -> Optional[PlateReader]:
    """The reader of an evaluation command: ``config`` with every read returned (the counts apply
    ``--min-confidence`` and ``--all-reads`` themselves), on the backend, device, threads and weights
    of ``args`` (:func:`lpr.options.add_reader_arguments`); ``None`` after printing why when it cannot
    be loaded (:func:`lpr.options.load_reader`)."""
    every = replace(config, reading=replace(config.reading, min_confidence=0.0, all_reads=True))
    return load_reader(lambda: PlateReader(every, weights_dir=args.weights_dir, backend=args.backend,
                                           device=args.device, threads=args.threads), args)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lpr.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("root", help="CCPD root (see ccpd/README.md), or a folder with labels.tsv (main plate per photo)")
    add_reader_arguments(p, "folder with the weights of both stages (default: shipped)")
    p.add_argument("--show-errors", action="store_true", help="list the plates not read, with what was read")
    p.add_argument("--grayscale", action="store_true",
                   help="convert every image to grayscale (3 equal channels) before reading it")
    args = p.parse_args(argv)
    setup_runtime(args)
    config = reader_config(args, p)
    if not os.path.isdir(args.root):
        p.error(f"{args.root}: not a folder")
    reader = every_read_reader(config, args)
    if reader is None:
        return 2
    if os.path.isfile(os.path.join(args.root, LABELS_FILE)):
        reads = read_scenes(reader, args.root, args.grayscale)
        scenes = count_scenes(reads, config.reading.min_confidence, config.reading.all_reads)
        print(f"Image accuracy (main plate among the reads, exact){', grayscale' if args.grayscale else ''}, {args.root}")
        print(format_table({"image accuracy %": {k: pct(c.right, c.n) for k, c in scenes.items()},
                            "reads / image": {k: f"{c.reads / max(c.n, 1):.2f}" for k, c in scenes.items()},
                            "extra reads / image": {k: f"{c.extra_reads / max(c.n, 1):.2f}" for k, c in scenes.items()},
                            "ms/image": {k: f"{1000 * c.seconds / max(c.n, 1):.0f}" for k, c in scenes.items()},
                            "images": {k: str(c.n) for k, c in scenes.items()}}, list(scenes)))
        widths = accuracy_by_width(reads, config.reading.min_confidence, config.reading.all_reads)
        if widths:
            print("\nImage accuracy by the main plate's width (pixels of the photo; labels with boxes)")
            print(format_table({"image accuracy %": {k: pct(r, n) for k, (r, n) in widths.items()},
                                "images": {k: str(n) for k, (r, n) in widths.items()}}, list(widths)))
        steps = {f"{t:.1f}": count_scenes(reads, t)["all"] for t in CONFIDENCE_STEPS}
        steps["all reads"] = count_scenes(reads, all_reads=True)["all"]
        print("\nAll sources, by --min-confidence (valid plate texts, each text once; last: --all-reads)")
        print(format_table({"image accuracy %": {k: pct(c.right, c.n) for k, c in steps.items()},
                            "extra reads / image": {k: f"{c.extra_reads / max(c.n, 1):.2f}" for k, c in steps.items()}},
                           list(steps), corner="min confidence"))
        if args.show_errors:
            for path, truth, got in scenes["all"].errors:
                print(f"{truth}\t{'/'.join(got) or '(nothing read)'}\t{path}")
        return 0
    counts = evaluate_end_to_end(reader, args.root, args.grayscale, config.reading.min_confidence,
                                 config.reading.all_reads)
    cols = list(counts)
    print(f"End-to-end (IoU >= {MATCH_IOU} and exact text){', grayscale' if args.grayscale else ''}, {args.root}")
    print(format_table({"accuracy %": {k: pct(c.read, c.n) for k, c in counts.items()},
                        "detection recall %": {k: pct(c.found, c.n) for k, c in counts.items()},
                        "ms/image": {k: f"{1000 * c.seconds / max(c.n, 1):.0f}" for k, c in counts.items()},
                        "images": {k: str(c.n) for k, c in counts.items()}}, cols))
    if args.show_errors:
        for path, truth, got in counts["all"].errors:
            print(f"{truth}\t{'/'.join(got) or '(no box)'}\t{path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
