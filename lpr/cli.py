"""Read license plates in photos, folders, globs or videos: one JSON line per image.

    python -m lpr                        # the bundled demo images (also: python main.py, lpr-read)
    python -m lpr photo.jpg photos/ 'shots/**/*.png' clip.mp4 --save-dir out/

Each line: ``{"image": PATH, "plates": [{"box": [x1, y1, x2, y2], "score": s, "text": "皖A12345",
"confidence": c, "char_confidences": [...]}], "ms": t}``; a video frame adds ``"frame": k``; an
input that fails gives ``{"image": PATH, "error": "..."}`` and the run goes on. Exit status: 0 when
every input was read, 1 when any failed, 2 for bad options or weights.
"""
from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import numpy as np
from imutils.paths import list_files
from tqdm import tqdm

from lpr.draw import draw_plates
from lpr.pipeline import PlateReader
from lprcore.imageio import IMAGE_EXTENSIONS, ImageReadError, imread, imwrite, to_bgr8
from lprcore.report import add_runtime_args, setup_runtime
from lprcore.weights import WeightsError
from MTCNN.detector import DetectorConfig

log = logging.getLogger(__name__)

#: The bundled demo images (package data: ``lpr-read`` with no argument reads them from anywhere).
DEMO_DIR = Path(__file__).resolve().parent / "demo"
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
#: More inputs than this get a progress bar.
PROGRESS_MIN = 3


def expand_inputs(paths: List[str]) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Files to read from the command-line paths, and ``(path, error)`` for paths that name nothing.

    Folders are searched recursively for images and videos; a path that does not exist is tried as a
    glob (``*``, ``?``, ``[...]``, ``**``).
    """
    files, errors = [], []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(list_files(p, validExts=IMAGE_EXTENSIONS + VIDEO_EXTENSIONS))
            if not found:
                errors.append((p, "folder holds no image files"))
            files += found
        elif os.path.exists(p):
            files.append(p)
        elif glob.has_magic(p):
            matched = sorted(m for m in glob.glob(p, recursive=True) if os.path.isfile(m))
            if not matched:
                errors.append((p, "no file matches this pattern"))
            files += matched
        else:
            errors.append((p, "no such file or folder"))
    return files, errors


def frames(path: str, step: int) -> Iterator[Tuple[int, np.ndarray]]:
    """Every ``step``-th frame of a video as ``(index, BGR image)``.

    Raises:
        ImageReadError: the video cannot be opened.
    """
    import cv2

    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise ImageReadError(f"{path}: cannot open video")
    try:
        k = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if k % step == 0:
                yield k, to_bgr8(frame, path)
            k += 1
    finally:
        cap.release()


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command line's options: inputs, outputs, runtime (:func:`lprcore.report.add_runtime_args`)
    and detector (:meth:`MTCNN.detector.DetectorConfig.add_arguments`)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="*", help="image files, folders (recursive), globs or videos "
                                            "(default: the bundled demo images)")
    p.add_argument("--save-dir", help="write annotated copies (boxes and plate text) here")
    p.add_argument("--show", action="store_true", help="show each annotated image in a window (needs a display)")
    p.add_argument("--video-step", type=int, default=5, help="read every N-th frame of videos (default: 5)")
    add_runtime_args(p, "folder with pnet.pth, onet.pth, stn.pth, lprnet.pth "
                        "(default: the weights shipped in MTCNN/weights and LPRNet/weights)")
    DetectorConfig.add_arguments(p)
    return p


def _save_name(path: str, frame: int | None, used: dict) -> str:
    stem = Path(path).stem + (f"_f{frame:06d}" if frame is not None else "")
    n = used.get(stem, 0)
    used[stem] = n + 1
    return f"{stem}{'_' + str(n) if n else ''}.jpg"


def main(argv=None, prog: str | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Args:
        prog: the command's name in usage messages (default: the program's file name, ``lpr-read``
            when installed).
    """
    args = build_parser(prog).parse_args(argv)
    setup_runtime(args)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    try:
        config = DetectorConfig.from_args(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.video_step < 1:
        print("error: --video-step must be >= 1", file=sys.stderr)
        return 2
    try:  # weights are checked before any image is read
        reader = PlateReader(args.weights_dir, args.weights_dir, config, args.device)
    except WeightsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (RuntimeError, AssertionError) as e:  # unknown or unavailable --device
        print(f"error: --device {args.device}: {e}", file=sys.stderr)
        return 2
    paths = args.paths or [str(DEMO_DIR)]
    files, failures = expand_inputs(paths)
    for p, err in failures:
        print(json.dumps({"image": p, "error": err}, ensure_ascii=False), flush=True)
    if args.save_dir:
        os.makedirs(args.save_dir, exist_ok=True)
    used: dict = {}
    failed = len(failures)
    show = [args.show]
    if args.show and sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        # OpenCV's Qt backend aborts the whole process without a display: refuse up front
        print("warning: --show ignored: no display (DISPLAY is not set)", file=sys.stderr)
        show[0] = False

    def handle(path: str, image: np.ndarray, frame: int | None) -> None:
        t0 = time.perf_counter()
        plates = reader(image)
        ms = (time.perf_counter() - t0) * 1000
        rec = {"image": path, **({"frame": frame} if frame is not None else {}),
               "plates": [p.to_json() for p in plates], "ms": round(ms, 1)}
        print(json.dumps(rec, ensure_ascii=False), flush=True)
        if args.save_dir or show[0]:
            drawn = draw_plates(image, plates)
            if args.save_dir:
                imwrite(os.path.join(args.save_dir, _save_name(path, frame, used)), drawn)
            if show[0]:
                import cv2
                try:
                    cv2.imshow("plates", drawn)
                    cv2.waitKey(0)
                except cv2.error as e:  # no display: keep reading, stop showing
                    print(f"warning: --show disabled, cannot open a window: {e}", file=sys.stderr)
                    show[0] = False

    for path in tqdm(files, desc="images", unit="img", disable=len(files) <= PROGRESS_MIN, file=sys.stderr):
        try:
            if path.lower().endswith(VIDEO_EXTENSIONS):
                for k, frame in frames(path, args.video_step):
                    handle(path, frame, k)
            else:
                handle(path, imread(path), None)
        except (ImageReadError, FileNotFoundError, PermissionError, ValueError, OSError) as e:
            failed += 1
            print(json.dumps({"image": path, "error": str(e)}, ensure_ascii=False), flush=True)
        except Exception as e:  # a bug must not lose the rest of the batch
            failed += 1
            log.exception("unexpected failure on %s", path)
            print(json.dumps({"image": path, "error": f"{type(e).__name__}: {e}"}, ensure_ascii=False), flush=True)
    if failed:
        print(f"{failed} input(s) failed", file=sys.stderr)
    return 1 if failed else 0
