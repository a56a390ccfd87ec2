"""Speed benchmark: per stage and end to end, torch vs ONNX Runtime, on the same photos, in one run.

For each backend (each measured in its own process, so that peak memory is its own and the ONNX
backend runs without torch loaded) and each folder of photos: detector, reader and whole-pipeline
milliseconds per photo (median and p90, and the reader's mean, since its second look runs on some
photos only; detector: the first pass; reader: the first pass's plates
with the second look, at the plates read invalidly or below its confidence threshold; the whole
pipeline also the rotated and stretched retries; ``--no-second-look``,
``--no-rotated-retry`` and ``--no-stretched-retry`` time without them), photos per second, and the process's peak resident memory;
then the reader alone on the plate crops the cascade found, at batch 1, 16 and 64 (milliseconds per
crop and crops per second). Every photo is read once untimed first (warm-up). Example::

    python -m lpr.bench ../shared/data/ccpd_sample/val ../shared/data/scenes --threads 2
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import sys
import time
from typing import Dict, List, Sequence

import numpy as np

from ccpd.plates import is_valid_text
from lpr.config import ReaderConfig, ReadingOptions
from lpr.options import add_reading_arguments, reading_options
from lpr.pipeline import PlateReader, choose_backend, cut_quads
from lprcore.imageio import ImageReadError, imread, list_images
from lprcore.cli import nonnegative_int, positive_int
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lpr.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", help="folders of photos (e.g. ccpd_sample/val, scenes)")
    p.add_argument("--backends", nargs="+", choices=("torch", "onnx"), default=["torch", "onnx"])
    p.add_argument("--threads", type=nonnegative_int, default=2, help="CPU threads per backend (default 2)")
    p.add_argument("--limit", type=nonnegative_int, default=0, help="at most this many photos per folder (0: all)")
    p.add_argument("--crops", type=positive_int, default=256, help="plate crops collected for the batch table")
    add_reading_arguments(p.add_argument_group("reading", "as python main.py's"))
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
