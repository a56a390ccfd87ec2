"""Benchmark of plate tracks in videos: a synthetic test video read as ``python -m lpr.video`` reads it,
against its ground truth, for several frame samplings.

    python -m platesynth video --out data/video_s1 --seed 1
    python -m lpr.track_eval data/video_s1 --video-step 1 2 5 --threads 2

``VIDEO_DIR`` holds ``clip.mp4`` and ``tracks.json`` (:mod:`platesynth.video`). For each sampling the
whole pipeline runs (decoding on its thread, reading, tracking, records) and one Markdown row is
printed:

* **track exact**: of the readable plates (below), the share whose main track (the reported track
  that covers most of its frames) reads its text exactly; a plate with no reported track counts as
  wrong;
* **frame exact**: of the readable plate frames that were sampled, the share where the per-frame
  record (``--per-frame``: valid reads, each text once, at ``--min-confidence``) has the plate's text
  on a box over it; the gain of voting is the difference;
* **id switches / 10 plates**: along each plate's frames, the times the reported track over it changes,
  plus the reported tracks that cover two plates, per 10 readable plates;
* **split / 20 plates**: readable plates reported as two tracks or more, per 20;
* **false tracks**: reported tracks over no plate;
* **fps**: sampled frames read per second of wall time, and how many seconds of video a second reads
  (``x real time``).

A frame is readable when the plate lies wholly inside the picture, at least as wide as the
detector's smallest plate (``min_plate_size``, 60 pixels) and not behind the pole; a plate is
readable when half a second of its frames is. A reported box lies over a plate when their IoU is at
least :data:`MATCH_IOU`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from lpr.config import ReaderConfig
from lpr.options import add_reader_arguments, reader_config
from lpr.pipeline import Plate, PlateReader, keep_plates
from lpr.tracking import MATCH_BUFFER, box_iou
from lpr.video import VideoOptions, add_video_arguments, video_options, video_records
from lprcore.cli import nonnegative_float, positive_int, setup_runtime
from lprcore.report import format_table, pct

#: Least IoU of a reported box with a plate's box for the two to match.
MATCH_IOU = 0.3
#: A readable plate has readable frames for at least this many seconds.
READABLE_SECONDS = 0.5
COLUMNS = ("sampled fps", "frames read", "plates (readable)", "track exact %", "frame exact %",
           "id switches / 10 plates", "split / 20 plates", "false tracks", "fps", "x real time")


def load_truth(folder: str) -> dict:
    """``tracks.json`` of a test video folder, with ``"path"``: the video's path.

    Raises:
        FileNotFoundError: no ``tracks.json`` or no video in ``folder``.
        ValueError: ``tracks.json`` is not the ground truth of :mod:`platesynth.video`.
    """
    path = os.path.join(folder, "tracks.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{folder}: no tracks.json (make a test video with python -m platesynth video)")
    with open(path, encoding="utf-8") as fh:
        truth = json.load(fh)
    if not isinstance(truth, dict) or "tracks" not in truth or "video" not in truth:
        raise ValueError(f"{path}: not a platesynth video ground truth")
    truth["path"] = os.path.join(folder, truth["video"])
    if not os.path.isfile(truth["path"]):
        raise FileNotFoundError(f"{truth['path']}: no such video")
    return truth


def readable_frames(truth: dict, min_width: float) -> Dict[int, set]:
    """Track id -> the frames where its plate is readable (wholly inside the picture, at least
    ``min_width`` pixels wide, not behind the pole)."""
    h, w = truth["size"]
    out = {}
    for t in truth["tracks"]:
        occluded = set(t.get("occluded", ()))
        good = set()
        for k, corners in zip(t["frames"], t["corners"]):
            c = np.asarray(corners, np.float64)
            inside = c[:, 0].min() >= 0 and c[:, 1].min() >= 0 and c[:, 0].max() <= w - 1 and c[:, 1].max() <= h - 1
            if inside and c[:, 0].max() - c[:, 0].min() >= min_width and k not in occluded:
                good.add(k)
        out[t["id"]] = good
    return out


def _match(truth_boxes: Sequence, boxes: Sequence) -> List[Tuple[int, int]]:
    """Pairs ``(truth index, box index)`` of a one-to-one matching by IoU >= :data:`MATCH_IOU`."""
    if not len(truth_boxes) or not len(boxes):
        return []
    iou = box_iou(np.asarray(truth_boxes, np.float64), np.asarray(boxes, np.float64))
    rows, cols = linear_sum_assignment(-iou)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= MATCH_IOU]


def evaluate(truth: dict, records: Sequence[dict], frames: Dict[int, List[Tuple[Plate, Optional[int]]]],
             min_confidence: float = 0.0, min_width: float = 60.0) -> dict:
    """The figures of one reading of a test video.

    Args:
        truth: :func:`load_truth`.
        records: the track records (:func:`lpr.video.video_records`); error records are ignored.
        frames: sampled frame index -> ``(plate, track id or None)`` for every plate read there
            (every box, as the tracker got them).
        min_confidence: the per-frame records' ``--min-confidence``.
        min_width: the narrowest readable plate, pixels.

    Returns:
        Counts: ``plates``, ``readable``, ``track_exact``, ``frame_instances``, ``frame_exact``,
        ``id_switches``, ``split``, ``false_tracks``, ``reported``, and ``wrong``: the readable plates
        whose main track misread, ``(truth text, reported text or None)``.
    """
    fps = float(truth["fps"])
    good = readable_frames(truth, min_width)
    reported = {r["track_id"]: r for r in records if "track_id" in r}
    by_frame: Dict[int, List[Tuple[int, list]]] = {}
    for t in truth["tracks"]:
        for k, box in zip(t["frames"], t["boxes"]):
            by_frame.setdefault(k, []).append((t["id"], box))
    overlap: Dict[Tuple[int, int], int] = {}   # (track id, truth id) -> frames matched
    sequence: Dict[int, List[int]] = {}        # truth id -> reported track ids over it, frame by frame
    frame_instances = frame_exact = 0
    for k in sorted(frames):
        plates = frames[k]
        present = by_frame.get(k, [])
        pairs = _match([b for _, b in present], [p.box for p, _ in plates])
        shown = keep_plates([p for p, _ in plates], min_confidence)
        for i, j in pairs:
            tid = present[i][0]
            plate, track_id = plates[j]
            if track_id in reported:
                overlap[(track_id, tid)] = overlap.get((track_id, tid), 0) + 1
                sequence.setdefault(tid, []).append(track_id)
        for tid, box in present:  # per-frame records: any shown read over the plate with its text
            if k not in good[tid]:
                continue
            frame_instances += 1
            text = next(t["text"] for t in truth["tracks"] if t["id"] == tid)
            frame_exact += any(p.text == text and box_iou(np.float32([p.box]), np.float32([box]))[0, 0] >= MATCH_IOU
                               for p in shown)
    readable = [t for t in truth["tracks"] if len(good[t["id"]]) >= max(2, READABLE_SECONDS * fps)]
    exact, split, wrong = 0, 0, []
    for t in readable:
        mine = {tr: n for (tr, tid), n in overlap.items() if tid == t["id"]}
        main = max(mine, key=lambda tr: mine[tr]) if mine else None
        text = reported[main]["text"] if main is not None else None
        exact += text == t["text"]
        split += len(mine) >= 2
        if text != t["text"]:
            wrong.append((t["text"], text))
    switches = sum(sum(a != b for a, b in zip(seq, seq[1:])) for seq in sequence.values())
    covers: Dict[int, set] = {}
    for (tr, tid) in overlap:
        covers.setdefault(tr, set()).add(tid)
    switches += sum(len(c) >= 2 for c in covers.values())
    false_tracks = sum(tr not in covers for tr in reported)
    return {"plates": len(truth["tracks"]), "readable": len(readable), "track_exact": exact,
            "frame_instances": frame_instances, "frame_exact": frame_exact, "id_switches": switches,
            "split": split, "false_tracks": false_tracks, "reported": len(reported), "wrong": wrong}


def run(truth: dict, reader: PlateReader, options: VideoOptions) -> dict:
    """Read the test video of ``truth`` with ``reader`` and ``options`` (the whole pipeline, timed)
    and :func:`evaluate` it; adds ``seconds`` (wall time), ``sampled`` (frames read) and ``records``."""
    frames: Dict[int, List[Tuple[Plate, Optional[int]]]] = {}

    def on_frame(frame, plates, joined):
        ids = {id(p): track.track_id for track, p in joined}
        frames[frame.index] = [(p, ids.get(id(p))) for p in plates]

    t0 = time.perf_counter()
    records = list(video_records(truth["path"], reader, options, on_frame=on_frame))
    seconds = time.perf_counter() - t0
    errors = [r["error"] for r in records if "error" in r]
    if errors:
        raise ValueError(f"{truth['path']}: {errors[0]}")
    result = evaluate(truth, records, frames, reader.config.reading.min_confidence,
                      reader.config.detector.min_plate_size[1])
    result.update(seconds=seconds, sampled=len(frames), records=records,
                  video_seconds=truth["frames"] / float(truth["fps"]))
    return result


#: The counts of :func:`evaluate` and :func:`run` that add up over videos.
COUNTS = ("plates", "readable", "track_exact", "frame_instances", "frame_exact", "id_switches", "split",
          "false_tracks", "reported", "seconds", "sampled", "video_seconds")


def table_row(result: dict) -> Dict[str, str]:
    """The Markdown row of one :func:`run` (or of the sums of several)."""
    video_seconds = result["video_seconds"]
    n = result["readable"]
    return {"sampled fps": f"{result['sampled'] / video_seconds:.1f}", "frames read": str(result["sampled"]),
            "plates (readable)": f"{result['plates']} ({n})",
            "track exact %": pct(result["track_exact"], n), "frame exact %": pct(result["frame_exact"], result["frame_instances"]),
            "id switches / 10 plates": f"{10 * result['id_switches'] / n:.2f}" if n else "-",
            "split / 20 plates": f"{20 * result['split'] / n:.2f}" if n else "-",
            "false tracks": str(result["false_tracks"]),
            "fps": f"{result['sampled'] / result['seconds']:.1f}",
            "x real time": f"{video_seconds / result['seconds']:.2f}"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lpr.track_eval", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", nargs="+", metavar="VIDEO_DIR",
                   help="folders made by python -m platesynth video (clip.mp4 and tracks.json)")
    p.add_argument("--video-step", type=positive_int, nargs="+", default=[1, 2, 5], metavar="N",
                   help="the frame steps to measure, one row each (default: 1 2 5)")
    p.add_argument("--wrong", action="store_true", help="also list the plates whose track misread")
    p.add_argument("--match-buffer", type=nonnegative_float, default=MATCH_BUFFER, metavar="R",
                   help="the tracker's box buffer, a share of each box's width and height (lpr.tracking."
                        f"MATCH_BUFFER; default: {MATCH_BUFFER:g})")
    add_video_arguments(p, with_step=False)
    add_reader_arguments(p, "folder with the weights of both stages (default: the shipped ones)")
    p.set_defaults(threads=2)
    return p


def main(argv=None) -> int:
    """Print the Markdown table of each test video; returns the exit status (2: unusable input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_runtime(args)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    config: ReaderConfig = reader_config(args, parser)
    reader = PlateReader(config, weights_dir=args.weights_dir, backend=args.backend, device=args.device,
                         threads=args.threads)
    try:
        truths = [load_truth(folder) for folder in args.videos]
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    totals: Dict[str, dict] = {}
    for folder, truth in zip(args.videos, truths):
        rows, wrong = {}, {}
        steps = [None] if args.video_fps else args.video_step
        for step in steps:
            options = video_options(args, step=step or 1, match_buffer=args.match_buffer)
            label = f"--video-fps {args.video_fps:g}" if step is None else f"--video-step {step}"
            result = run(truth, reader, options)
            rows[label] = table_row(result)
            wrong[label] = result["wrong"]
            total = totals.setdefault(label, dict.fromkeys(COUNTS, 0))
            for key in COUNTS:
                total[key] += result[key]
        print(f"\n{folder}: seed {truth.get('seed')}, {truth['frames']} frames at {truth['fps']:g} fps, "
              f"{truth['size'][1]}x{truth['size'][0]}, {len(truth['tracks'])} plates; "
              f"{reader.backend}, {args.threads} threads, track timeout {args.track_timeout:g} s, "
              f"min track reads {args.min_track_reads}, match buffer {args.match_buffer:g}\n")
        print(format_table(rows, COLUMNS, "sampling"))
        if args.wrong:
            for label, items in wrong.items():
                for text, got in items:
                    print(f"{label}: {text} read {got}")
    if len(truths) > 1:
        print(f"\nall {len(truths)} videos (seeds {', '.join(str(t.get('seed')) for t in truths)})\n")
        print(format_table({label: table_row(total) for label, total in totals.items()}, COLUMNS, "sampling"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
