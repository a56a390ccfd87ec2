"""Benchmark of ``python -m lpr.batch`` against the command line on one folder of photos: photos per
second and the time per photo spent outside the reader, with Ray's actors 1 and 2 on this machine.

    python -m lpr.batch_bench ../shared/data/ccpd_sample/val

Runs, one after the other (nothing else of this benchmark runs meanwhile):

* the command line, ``python -m lpr FOLDER --backend onnx --threads 2`` (its records to a file);
* Ray started on this machine (``ray.init``), timed;
* :func:`lpr.batch.run_batch` into a new folder for each ``ACTORSxTHREADS`` of ``--configs``
  (actors start in each run: their start is part of its time), and checks that its rows equal the
  command line's records (all but ``ms``);
* the whole command ``python -m lpr.batch FOLDER --out DIR --actors 2 --backend onnx``, Ray's start
  and stop included.

Prints a Markdown table (docs/batch.md has one): wall seconds, photos per second, the seconds of
start and waiting (the command line: its run on one photo less that photo's reading; lpr.batch: the
wall time less the actors' time in parts, :attr:`lpr.batch.BatchResult.busy`, per actor: the actors'
start, Ray Data's scheduling, the last parts' tail, and for the whole command Ray's start), the
reader's mean ``ms`` per photo (the records' ``ms``: detection and reading, decoding not included) and
the overhead per photo in the reading process once started (decoding, the part's file, Ray's call).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

from lpr import batch
from lpr.config import ReaderConfig
from lprcore.cli import positive_int

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _configs(text: str) -> List[Tuple[int, int]]:
    """``"1x1,2x1"`` -> ``[(1, 1), (2, 1)]`` (actors x threads per actor)."""
    try:
        out = [tuple(int(v) for v in c.lower().split("x")) for c in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected ACTORSxTHREADS,... e.g. 1x1,2x1") from None
    if not out or any(len(c) != 2 or min(c) < 1 for c in out):
        raise argparse.ArgumentTypeError(f"{text!r}: expected ACTORSxTHREADS,... e.g. 1x1,2x1")
    return out


def _without_ms(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "ms"}


def row(name: str, workers: str, wall: float, records: List[dict], start: Optional[float], busy: Optional[float],
        equal: str) -> str:
    """One table row: ``start`` seconds of start and waiting, ``busy`` seconds of the reading processes
    once started (all added up); ``None``: not known ("-")."""
    n = max(len(records), 1)
    read_ms = sum(r.get("ms", 0.0) for r in records)
    start_text = "-" if start is None else f"{start:.1f}"
    overhead = "-" if busy is None else f"{(busy * 1000 - read_ms) / n:.0f}"
    return (f"| {name} | {workers} | {wall:.1f} | {len(records) / wall:.1f} | {start_text} | {read_ms / n:.0f} "
            f"| {overhead} | {equal} |")


def _cli(folder_or_photo: str, threads: int, out: str) -> Tuple[float, List[dict]]:
    """Wall seconds and records of the command line on a folder or a photo."""
    t0 = time.perf_counter()
    with open(out, "w") as fh:
        subprocess.run([sys.executable, "-m", "lpr", folder_or_photo, "--backend", "onnx", "--threads", str(threads)],
                       stdout=fh, check=False)
    wall = time.perf_counter() - t0
    with open(out, encoding="utf-8") as fh:
        return wall, [json.loads(line) for line in fh]


def main(argv=None) -> int:
    """Run the benchmark (module docstring) and print its table; returns 0, or 1 when rows differ
    from the command line's records."""
    p = argparse.ArgumentParser(prog="python -m lpr.batch_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="a folder of photos, e.g. ../shared/data/ccpd_sample/val")
    p.add_argument("--configs", type=_configs, default=_configs("1x1,1x2,2x1"),
                   help="ACTORSxTHREADS runs of lpr.batch (default: 1x1,1x2,2x1)")
    p.add_argument("--cli-threads", type=positive_int, default=2, help="--threads of the command line (default: 2)")
    args = p.parse_args(argv)
    import ray

    lines = ["| run | processes x threads | wall s | photos/s | start and waits s | reader ms/photo "
             "| overhead ms/photo | rows = CLI |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory(prefix="lpr-batch-bench-") as tmp:
        out = os.path.join(tmp, "cli.jsonl")
        wall, records = _cli(args.folder, args.cli_threads, out)
        cli: Dict[str, dict] = {r["image"]: r for r in records}
        one_wall, one = _cli(sorted(cli)[0], args.cli_threads, out)
        start = one_wall - one[0].get("ms", 0) / 1000
        lines.append(row(f"`python -m lpr --threads {args.cli_threads}`", f"1 x {args.cli_threads}", wall, records,
                         start, wall - start, "-"))

        def check(rows: List[dict]) -> str:
            same = sum(_without_ms(r) == _without_ms(cli.get(r["image"], {})) for r in rows)
            return f"{same} of {len(cli)}" + ("" if same == len(rows) == len(cli) else " (DIFFER)")

        t0 = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - t0
        try:
            for actors, threads in args.configs:
                out = os.path.join(tmp, f"out-{actors}x{threads}")
                t0 = time.perf_counter()
                result = batch.run_batch([args.folder], out, ReaderConfig(), actors=actors, threads=threads,
                                         backend="onnx", show_progress=False)
                wall = time.perf_counter() - t0
                rows = batch.read_output(out)
                lines.append(row("`lpr.batch`, Ray started", f"{actors} x {threads}", wall, rows,
                                 wall - result.busy / actors, result.busy, check(rows)))
        finally:
            ray.shutdown()
        # the whole command, as a user runs it (its start and overhead are not measured apart)
        out = os.path.join(tmp, "out-command")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lpr.batch", args.folder, "--out", out, "--actors", "2", "--backend",
                        "onnx"], stderr=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - t0
        rows = batch.read_output(out)
        lines.append(row("`python -m lpr.batch --actors 2`, Ray's start and stop included", "2 x 1", wall, rows,
                         None, None, check(rows)))
    print(f"{len(cli)} photos of {args.folder}; {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}); "
          f"Ray {ray.__version__}; Ray's start on this machine: {ray_start:.1f} s\n")
    print("\n".join(lines))
    return 1 if any("DIFFER" in line for line in lines) else 0


if __name__ == "__main__":
    raise SystemExit(main())
