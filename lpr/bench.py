"""Speed benchmark: per stage and end to end, torch vs ONNX Runtime, on the same photos, in one run.

For each backend (each measured in its own process, so that peak memory is its own and the ONNX
backend runs without torch loaded) and each folder of photos: detector, reader and whole-pipeline
milliseconds per photo (median and p90, and the reader's mean, since its second look runs on some
photos only; detector: the first pass; reader: the first pass's plates
with the second look, at the plates read invalidly or below its confidence threshold; the whole
pipeline also the rotated and stretched retries; ``--no-second-look``,
``--no-rotated-retry`` and ``--no-stretched-retry`` time without them), photos per second, and the process's peak resident memory;
then the reader alone on the plate crops the cascade found, at batch 1, 16 and 64 (milliseconds per
crop and crops per second). Every photo is read once untimed first (warm-up). ``--ladder`` instead
profiles each stage (decode, each pyramid level, ONet, refinement, VNet, reader, second look,
retries) over a ladder of photo sizes (:data:`LADDER`), with the share of labelled plates read at
each size. Examples::

    python -m lpr.bench ../shared/data/ccpd_sample/val ../shared/data/scenes --threads 2
    python -m lpr.bench ../shared/data/ccpd_sample/val --backends onnx --threads 2 --ladder
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from typing import Dict, List, Sequence

import numpy as np

from ccpd.plates import is_valid_text
from lpr.config import ReaderConfig, ReadingOptions
from lpr.options import add_reading_arguments, reading_options
from lpr.pipeline import PlateReader, choose_backend, cut_quads, decode_photo
from MTCNN.cascade import DetectorConfig
from MTCNN.options import add_detector_arguments, detector_config
from lprcore.imageio import ImageReadError, imread, list_images
from lprcore.cli import nonnegative_int, positive_int, thread_count
from lprcore.report import format_table
from LPRNet.crops import crop_quads

#: Reader batch sizes measured.
BATCHES = (1, 16, 64)


def _stats(ms: Sequence[float]) -> Dict[str, float]:
    a = np.asarray(ms, np.float64)
    return {"median": float(np.median(a)), "p90": float(np.percentile(a, 90)), "mean": float(a.mean())} \
        if len(a) else {"median": float("nan"), "p90": float("nan"), "mean": float("nan")}


def measure(backend: str, folders: Sequence[str], threads: int, limit: int, crops_wanted: int,
            reading: ReadingOptions | None = None) -> dict:
    """Measure one backend (run in a child process) with the reading options ``reading`` (second
    look and retries on or off; default: the reader's defaults). Returns the figures as a dict."""
    reading = reading or ReadingOptions()
    reader = PlateReader(ReaderConfig(reading=reading), backend=backend, threads=threads)
    out: dict = {"backend": reader.backend, "folders": {}}
    crops: List[np.ndarray] = []
    for folder in folders:
        files = list_images(folder)[:limit] if limit else list_images(folder)
        det_ms, rec_ms, all_ms = [], [], []
        for f in files[:5]:  # warm-up
            try:
                reader(imread(f))
            except (ImageReadError, OSError):
                continue
        for f in files:  # decoded one at a time (untimed): memory is the backend's, not the photos'
            try:
                im = imread(f)
            except (ImageReadError, OSError):
                continue
            t0 = time.perf_counter()
            found = reader.detector.detect(im)
            t1 = time.perf_counter()
            quads, _ = cut_quads(found)
            reads = reader.recognizer.recognize(im, quads)
            if reading.second_look:
                reads = reader.recognizer.second_look(im, quads, reads, below=reading.second_look_below)
            t2 = time.perf_counter()
            reader.retry(im, any(is_valid_text(r.text) for r in reads))  # counted in the pipeline only
            t3 = time.perf_counter()
            det_ms.append(1000 * (t1 - t0))
            rec_ms.append(1000 * (t2 - t1))
            all_ms.append(1000 * (t3 - t0))
            if len(crops) < crops_wanted:
                crops += crop_quads(im, quads)
        out["folders"][folder] = {"images": len(all_ms), "detector": _stats(det_ms), "reader": _stats(rec_ms),
                                  "pipeline": _stats(all_ms),
                                  "images_per_s": len(all_ms) / max(sum(all_ms) / 1000, 1e-9)}
    batches = {}
    if crops:
        pool = (crops * (max(BATCHES) // len(crops) + 1))[: max(BATCHES) * 4]
        for b in BATCHES:
            reader.recognizer.recognize_crops(pool[:b])  # warm-up at this size
            n, t0 = 0, time.perf_counter()
            while n < len(pool):
                reader.recognizer.recognize_crops(pool[n:n + b])
                n += b
            sec = time.perf_counter() - t0
            batches[b] = {"ms_per_crop": 1000 * sec / n, "crops_per_s": n / sec}
    out["batches"] = batches
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["torch_loaded"] = "torch" in sys.modules
    return out


def _child(args):
    return measure(*args)


#: The size ladder of ``--ladder``, (height, width) pixels of a landscape photo (a portrait photo
#: gets them swapped); ``None``: each photo's own size. The whole photo is resized, so its plates
#: grow with it, as in close-ups.
LADDER = ((400, 640), None, (1192, 1920), (2483, 4000))
#: The stages of the ladder's profile, in pipeline order (keys of ``PlateReader``'s timings, plus
#: the JPEG decode; ``pnet level 0`` is the pyramid's largest level, ``pnet other`` the rest).
STAGES = ("decode", "pnet level 0", "pnet other", "onet", "refine", "vnet", "recognize", "second look", "retries")


def _size_name(size) -> str:
    return "native" if size is None else f"{size[1]}x{size[0]}"


def measure_ladder(backend: str, folders: Sequence[str], threads: int, limit: int,
                   reading: ReadingOptions | None = None, sizes: Sequence = LADDER,
                   detector: DetectorConfig | None = None, reduce: bool = True) -> dict:
    """Profile one backend (run in a child process) over the size ladder: every photo of ``folders``
    resized to each of ``sizes``, JPEG-encoded (quality 95, written to a file, untimed), then decoded
    (:func:`lpr.pipeline.decode_photo`: a large photo at a reduced size, unless not ``reduce``) and read, timed
    per stage (:data:`STAGES`; mean milliseconds per photo, 0 for a photo that did not run the stage,
    so the stages add up to the mean total), with the whole photo's mean, median, p90 and maximum,
    the median number of pyramid levels,
    and the share of photos whose labelled plate text is among the reads (CCPD names or
    ``labels.tsv``; ``None`` without labels).

    Returns:
        ``{"backend": name, "rows": {"SIZE folder": {...}}}``.
    """
    import cv2

    from ccpd.sources import read_source

    reader = PlateReader(ReaderConfig(detector=detector or DetectorConfig(), reading=reading or ReadingOptions()),
                         backend=backend, threads=threads)
    out: dict = {"backend": reader.backend, "rows": {}}
    with tempfile.TemporaryDirectory(prefix="lpr-ladder-") as tmp:  # one JPEG at a time
        for folder in folders:
            try:
                labels = {s.path: s.text for s in read_source(folder).samples}
            except (OSError, ValueError):
                labels = {}
            files = list_images(folder)[:limit] if limit else list_images(folder)
            photos = []
            for f in files:
                try:
                    photos.append((f, imread(f)))
                except (ImageReadError, OSError):
                    continue
            for size in sizes:
                stages: Dict[str, List[float]] = {k: [] for k in STAGES}
                total, levels, right, labelled = [], [], 0, 0
                for k, (f, im) in enumerate(photos):
                    if size is not None:
                        if (im.shape[0] > im.shape[1]) != (size[0] > size[1]):
                            size_here = size[::-1]  # a portrait photo (CCPD's 720x1160) keeps its orientation
                        else:
                            size_here = size
                        im = cv2.resize(im, (size_here[1], size_here[0]), interpolation=cv2.INTER_AREA
                                        if size_here[0] < im.shape[0] else cv2.INTER_LINEAR)
                    path = os.path.join(tmp, "photo.jpg")
                    cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tofile(path)
                    if k == 0:
                        reader.read_reduced(*decode_photo(path, reader.config.detector, reduce=reduce))  # warm-up
                    t0 = time.perf_counter()
                    image, factor = decode_photo(path, reader.config.detector, reduce=reduce)
                    timings = {"decode": 1000 * (time.perf_counter() - t0)}
                    plates = reader.read_reduced(image, factor, timings)
                    total.append(1000 * (time.perf_counter() - t0))
                    level_ms = [v for key, v in timings.items() if key.startswith("pnet level ")]
                    levels.append(len(level_ms))
                    timings["pnet other"] = sum(level_ms[1:])
                    for key in STAGES:
                        stages[key].append(timings.get(key, 0.0))
                    if f in labels:
                        labelled += 1
                        right += labels[f] in {p.text for p in plates}
                row = {key: float(np.mean(v)) if v else 0.0 for key, v in stages.items()}
                row.update(photos=len(total), levels=float(np.median(levels)) if levels else 0.0,
                           mean=float(np.mean(total)) if total else float("nan"),
                           median=float(np.median(total)) if total else float("nan"),
                           p90=float(np.percentile(total, 90)) if total else float("nan"),
                           max=float(np.max(total)) if total else float("nan"),
                           read=(right / labelled) if labelled else None)
                out["rows"][f"{_size_name(size)} {os.path.basename(os.path.normpath(folder))}"] = row
    return out


def ladder_table(results: Sequence[dict]) -> str:
    """The ladder profiles of :func:`measure_ladder` as one Markdown table (a row per backend, size
    and folder)."""
    rows: Dict[str, Dict[str, str]] = {}
    for r in results:
        for key, row in r["rows"].items():
            cells = {f"{k} ms": f"{row[k]:.1f}" for k in STAGES}
            cells.update({"levels": f"{row['levels']:.0f}", "total ms mean": f"{row['mean']:.1f}",
                          "total ms median": f"{row['median']:.1f}",
                          "p90": f"{row['p90']:.1f}", "max": f"{row['max']:.1f}",
                          "read %": "-" if row["read"] is None else f"{100 * row['read']:.1f}",
                          "photos": str(row["photos"])})
            rows[f"{r['backend']} {key}"] = cells
    columns = [f"{k} ms" for k in STAGES] + ["levels", "total ms mean", "total ms median", "p90", "max", "read %",
                                             "photos"]
    return format_table(rows, columns, "backend, size, photos")


def _child_ladder(args):
    return measure_ladder(*args)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lpr.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", help="folders of photos (e.g. ccpd_sample/val, scenes)")
    p.add_argument("--backends", nargs="+", choices=("torch", "onnx"), default=["torch", "onnx"])
    p.add_argument("--threads", type=thread_count, default=min(2, os.cpu_count() or 1),
                   help="CPU threads per backend, at most the machine's CPUs (default: 2)")
    p.add_argument("--limit", type=nonnegative_int, default=0, help="at most this many photos per folder (0: all)")
    p.add_argument("--crops", type=positive_int, default=256, help="plate crops collected for the batch table")
    p.add_argument("--ladder", action="store_true",
                   help="profile per stage over the size ladder instead: every photo resized to "
                        f"{', '.join(_size_name(z) for z in LADDER)} (width x height), decoded from JPEG and read")
    p.add_argument("--full-decode", action="store_true",
                   help="--ladder: decode every photo at full size (default: a large JPEG at the reduced size "
                        "the search allows, as python main.py does)")
    add_reading_arguments(p.add_argument_group("reading", "as python main.py's"))
    add_detector_arguments(p.add_argument_group("detector tuning", "as python main.py's (--ladder only)"))
    args = p.parse_args(argv)
    reading = reading_options(args, p)
    for folder in args.folders:
        if not os.path.isdir(folder):
            p.error(f"{folder}: not a folder")
    backends = []
    for b in args.backends:
        try:
            choose_backend(b)
            backends.append(b)
        except Exception as e:  # onnx asked for but not exported / not installed
            print(f"skipping {b}: {e}", file=sys.stderr)
    if not backends:
        p.error("no backend to measure")
    ctx = multiprocessing.get_context("spawn")
    if args.ladder:
        ladder = []
        for b in backends:
            with ctx.Pool(1) as pool:
                ladder.append(pool.apply(_child_ladder, ((b, args.folders, args.threads, args.limit, reading, LADDER,
                                                          detector_config(args, p), not args.full_decode),)))
        print(f"Stage profile over the size ladder; {os.cpu_count()} cores, {args.threads} threads per backend; "
              f"{'full-size' if args.full_decode else 'reduced'} decode; mean ms per photo of each stage (they add up to the total mean), whole photo mean/median/p90/max")
        print(ladder_table(ladder))
        return 0
    results = []
    for b in backends:  # one fresh process per backend: its own peak memory, no torch for onnx
        with ctx.Pool(1) as pool:
            results.append(pool.apply(_child, ((b, args.folders, args.threads, args.limit, args.crops, reading),)))
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{args.threads} threads per backend; Python {platform.python_version()}; second look "
          f"{f'below {reading.second_look_below:g}' if reading.second_look else 'off'}, "
          f"rotated retry {'on' if reading.rotated_retry else 'off'}, "
          f"stretched retry {'on' if reading.stretched_retry else 'off'}")
    rows: Dict[str, Dict[str, str]] = {}
    for r in results:
        for folder, f in r["folders"].items():
            key = f"{r['backend']} {os.path.basename(os.path.normpath(folder))} ({f['images']})"
            rows[key] = {"detector ms median": f"{f['detector']['median']:.1f}",
                         "detector ms p90": f"{f['detector']['p90']:.1f}",
                         "reader ms median": f"{f['reader']['median']:.1f}",
                         "reader ms mean": f"{f['reader']['mean']:.1f}",
                         "reader ms p90": f"{f['reader']['p90']:.1f}",
                         "pipeline ms median": f"{f['pipeline']['median']:.1f}",
                         "pipeline ms p90": f"{f['pipeline']['p90']:.1f}",
                         "images/s": f"{f['images_per_s']:.1f}",
                         "peak RSS MB": f"{r['peak_rss_mb']:.0f}",
                         "torch loaded": "yes" if r["torch_loaded"] else "no"}
    columns = list(next(iter(rows.values())))
    print(format_table(rows, columns, "backend, photos"))
    batch_rows = {}
    for r in results:
        cells = {}
        for b, v in r["batches"].items():
            cells[f"batch {b} ms/crop"] = f"{v['ms_per_crop']:.2f}"
            cells[f"batch {b} crops/s"] = f"{v['crops_per_s']:.0f}"
        batch_rows[f"{r['backend']} STN+LPRNet"] = cells
    print()
    print(format_table(batch_rows, [f"batch {b} {k}" for b in BATCHES for k in ("ms/crop", "crops/s")], "reader"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
