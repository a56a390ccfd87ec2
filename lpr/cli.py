"""Read license plates in photos, folders, globs or videos: one JSON line per image.

    python -m lpr                        # the bundled demo images (also: python main.py, lpr-read)
    python -m lpr photo.jpg photos/ 'shots/**/*.png' clip.mp4 --save-dir out/

Each line: ``{"image": PATH, "plates": [{"box": [x1, y1, x2, y2], "score": s, "text": "皖A12345",
"confidence": c, "char_confidences": [...], "colour": "blue", "layout": "single", "corners": [[x, y], ...],
"valid": true}], "ms": t}`` (colour and layout when the recognizer's weights have ``attributes.pth``,
corners when ONet found plausible ones). Only reads whose text follows a GA 36 plate rule are
listed, each text once (``--all-reads``: every box, ``"valid"`` false for the others;
``--min-confidence``: drop unsure reads); an unsure plate gets a second look (5 cuts vote) and a
photo with no valid read a rotated, then a stretched retry (the "reading" options,
:class:`lpr.config.ReadingOptions`). A video frame adds ``"frame": k``; an
input that fails gives ``{"image": PATH, "error": "..."}`` and the run goes on (an annotated image
that cannot be saved keeps its plates and adds ``"error"``). Every input gets exactly one line
(a video one per sampled frame, plus an error line when it has no frame or is truncated), written
and flushed when all its work is done. A file name that is not UTF-8 is written with the surrogate
escapes of ``os.fsdecode`` (``"\\udcff"``; ``os.fsencode`` gives the bytes back).

Limits (each refused input gets an error line): ``--max-pixels`` per image, checked from the file
header before decoding; ``--max-pyramid-mb`` for the detector's image pyramid; ``--min-plate-size``
no smaller than :data:`MTCNN.cascade.MIN_PLATE_FLOOR`. Only regular files are read (FIFOs and devices
are refused), and folders that cannot be listed are reported.

Exit status: 0 when every input was read, 1 when any failed or standard output closed before the
end, 2 for usage errors (bad options, unusable ``--save-dir``), unusable weights and the torch backend
without torch installed, 130 when interrupted (Ctrl-C, SIGINT) and 143 when terminated (SIGTERM):
then one line on stderr says how many records were written, every line written is whole and no
temporary file is left in ``--save-dir``.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from lpr.draw import draw_plates
from lpr.options import add_reader_arguments, load_reader, reader_config
from lpr.pipeline import PlateReader, decode_photo
from lpr.records import error_record, read_record
from lpr.video import VideoOptions, add_video_arguments, is_stream_source, video_options, video_records
from lprcore.files import prepare_output_dir
from lprcore.imageio import (DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, ImageReadError, check_pixels,
                             check_regular_file, imwrite, opencv_path, to_bgr8)
from lprcore.parallel import prefetch, print_stderr, progress
from lprcore.cli import positive_int, setup_runtime
from MTCNN.cascade import DetectorConfig, check_image_size

log = logging.getLogger(__name__)

#: The bundled demo images (package data: ``lpr-read`` with no argument reads them from anywhere).
DEMO_DIR = Path(__file__).resolve().parent / "demo"
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
#: More inputs than this get a progress bar (on a terminal only).
PROGRESS_MIN = 3
#: A first argument of exactly this runs the HTTP service (:mod:`lpr.serve`) instead of reading.
SERVE_COMMAND = "serve"

EXIT_STATUS_HELP = """\
the service:
  serve [OPTIONS]  read plates over HTTP instead: a REST service with a web page (python -m lpr serve
                   --help; docs/service.md). Only a first argument of exactly "serve" starts it: a
                   photo named serve is read as ./serve

exit status:
  0  every input was read
  1  an input failed (its line has "error"), or standard output closed before the end
  2  usage error (bad option or value, unusable --save-dir), unusable weights, or the torch
     backend without torch installed; nothing was read
  130, 143  interrupted (Ctrl-C) or terminated (SIGTERM); the records written are whole lines

records (one JSON line per input; per plate track for videos and streams):
  {"image": PATH, "plates": [...], "ms": T}                 read (a video frame adds "frame": K)
  {"video": PATH, "track_id": N, "text": T, "votes": {...}, ...}
                                                            a plate track of a video or stream, when
                                                            it ends (--per-frame: one record per
                                                            sampled frame instead; docs/video.md)
  {"video": PATH, "error": MESSAGE}                         a video or stream that failed or was lost,
                                                            after the records of what was read
  {"image": PATH, "error": MESSAGE}                         not read: missing, empty, corrupt, not an
                                                            image, over a limit, a FIFO or device,
                                                            a folder that cannot be listed, a video
                                                            with no frame or truncated
  {"image": PATH, "plates": [...], "ms": T, "error": M}     read, but the annotated copy not saved
"""


class TruncatedVideoError(ImageReadError):
    """A video that ended before the number of frames its header declares (or gave no frame)."""


class OutputClosed(Exception):
    """Standard output cannot be written any more (closed pipe, full disk, closed descriptor)."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during a run (:class:`Interrupts`); ``signum`` says which.

    A ``KeyboardInterrupt``, so that the ``except Exception`` of the per-input path does not turn it
    into a record, while ``finally`` blocks (:func:`lprcore.files.atomic_write`'s clean-up) run.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Interrupts:
    """While a run lasts (a ``with`` block), SIGINT and SIGTERM raise :class:`Interrupted` in the main
    thread, so that the run stops through its ``finally`` blocks: Python's default SIGTERM ends the
    process without them, which left ``atomic_write``'s temporary file in ``--save-dir``.

    A signal that arrives while a record is written (:meth:`hold`) is raised once the line is whole;
    signals after the first are ignored, so that a second Ctrl-C cannot cut the clean-up short. A
    signal that was ignored when the run started (``nohup``, a background job) stays ignored, the
    previous handlers come back at the end, and outside the main thread nothing is installed (Python
    runs signal handlers in the main thread only).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.previous: dict = {}
        self.signum: Optional[int] = None  # the first signal received
        self.raised = False
        self.holding = False

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:  # already stopping
            return
        self.signum = signum
        if not self.holding:
            self.raised = True
            raise Interrupted(signum)

    def __enter__(self) -> "Interrupts":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self.previous.items():
            signal.signal(sig, signal.SIG_DFL if old is None else old)  # None: set outside Python
        self.previous.clear()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Keep a signal that arrives in the block for its end (a record is written whole)."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.signum is not None and not self.raised:
            self.raised = True
            raise Interrupted(self.signum)


def json_line(record: dict) -> str:
    """``record`` as one line of JSON that is valid UTF-8.

    Non-ASCII text stays readable (``ensure_ascii=False``) unless the record holds a lone surrogate
    (a file name that is not UTF-8, as ``os.fsdecode`` gives it): then the whole line is escaped
    ASCII, ``"\\udcff"`` for such a byte, which ``json.loads`` + ``os.fsencode`` turn back into the
    file's bytes.
    """
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(record, ensure_ascii=True)
    return line


class RecordWriter:
    """Writes records to a text stream (default ``sys.stdout``), one flushed line each.

    Raises:
        OutputClosed: from :meth:`write`, when the stream is closed or a write fails.
    """

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stdout
        self.count = 0

    def write(self, record: dict) -> None:
        try:
            self.stream.write(json_line(record) + "\n")
            self.stream.flush()
        except (OSError, ValueError, AttributeError) as e:  # BrokenPipeError, ENOSPC, closed file
            raise OutputClosed(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__) from None
        self.count += 1


def _scan_folder(folder: str) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Image and video files under ``folder`` (recursive, sorted), and ``(folder, error)`` for each
    folder that cannot be listed (permission denied ...)."""
    files, errors = [], []

    def onerror(e: OSError) -> None:
        errors.append((os.fsdecode(e.filename) if e.filename else folder,
                       f"cannot read folder: {e.strerror or e}"))

    wanted = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
    for root, dirs, names in os.walk(folder, onerror=onerror):
        dirs.sort()
        files += [os.path.join(root, n) for n in names if n.lower().endswith(wanted)]
    return sorted(files), errors


def expand_inputs(paths: List[str]) -> List[Tuple[str, Optional[str]]]:
    """The inputs named by the command-line paths, in the order of ``paths``: ``(file, None)`` for
    each file to read, ``(path, error)`` for a path that names nothing and for a folder that cannot
    be listed (so that every record comes in the order of the arguments).

    Folders are searched recursively for images and videos (by extension; special files among them
    are kept and refused when read, so they get an error line): first the subfolders that cannot be
    listed, then the files sorted by path. A path that does not exist is tried as a glob (``*``,
    ``?``, ``[...]``, ``**``; matches sorted).
    """
    inputs: List[Tuple[str, Optional[str]]] = []
    for p in paths:
        if os.path.isdir(p):
            found, errs = _scan_folder(p)
            inputs += errs
            if not found and not errs:
                inputs.append((p, "folder holds no image files"))
            inputs += [(f, None) for f in found]
        elif os.path.lexists(p) or is_stream_source(p):
            inputs.append((p, None))
        elif glob.has_magic(p):
            matched = sorted(m for m in glob.glob(p, recursive=True) if not os.path.isdir(m))
            inputs += [(m, None) for m in matched] or [(p, "no file matches this pattern")]
        else:
            inputs.append((p, "no such file or folder"))
    return inputs


def frames(path: str, step: int, max_pixels: int | None = DEFAULT_MAX_PIXELS,
           config: DetectorConfig | None = None) -> Iterator[Tuple[int, np.ndarray]]:
    """Every ``step``-th frame of a video as ``(index, BGR image)``.

    Every failure of the video itself is worded as README.md's table of errors has it,
    ``"PATH: video truncated or damaged: ..."`` followed by what was found: ``empty file (0 bytes)``,
    ``cannot be opened (corrupt or unknown format)``, ``no readable frame`` (``(0 of 10 frames
    read)`` when the header declares a count) or ``5 of 10 frames read``.

    Raises:
        ImageReadError: not a regular file, or the video cannot be opened.
        ImageTooLargeError: the frame size is over ``max_pixels`` or (with ``config``) its pyramid
            over ``config.max_pyramid_mb``; raised before any frame is decoded.
        TruncatedVideoError: an empty file (before opening it); after the frames read, when none
            could be read or fewer than the header declares.
    """
    import cv2

    if check_regular_file(path).st_size == 0:
        raise TruncatedVideoError(f"{path}: video truncated or damaged: empty file (0 bytes)")
    with opencv_path(path) as name:
        yield from _frames(cv2.VideoCapture(name), path, step, max_pixels, config)


def _frames(cap, path: str, step: int, max_pixels: int | None,
            config: DetectorConfig | None) -> Iterator[Tuple[int, np.ndarray]]:
    """The body of :func:`frames` on an opened ``cv2.VideoCapture`` (released at the end)."""
    import cv2

    def prop(key) -> int:  # OpenCV gives floats, for unknown values 0, -1, -2^63 or NaN
        v = cap.get(key)
        return int(v) if np.isfinite(v) else 0

    if not cap.isOpened():
        cap.release()
        raise ImageReadError(f"{path}: video truncated or damaged: cannot be opened (corrupt or unknown format)")
    try:
        size = (prop(cv2.CAP_PROP_FRAME_HEIGHT), prop(cv2.CAP_PROP_FRAME_WIDTH))
        if min(size) > 0:
            check_pixels(path, size, max_pixels)
            if config is not None:
                check_image_size(size, config, path)
        declared = prop(cv2.CAP_PROP_FRAME_COUNT)
        k = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if k % step == 0:
                if k == 0:
                    check_pixels(path, frame.shape[:2], max_pixels)
                yield k, to_bgr8(frame, path)
            k += 1
    finally:
        cap.release()
    if k == 0:
        count = f" (0 of {declared} frames read)" if declared > 0 else ""
        raise TruncatedVideoError(f"{path}: video truncated or damaged: no readable frame{count}")
    if declared > 0 and k + 1 < declared:  # one frame of slack: some containers estimate the count
        raise TruncatedVideoError(f"{path}: video truncated or damaged: {k} of {declared} frames read")


@dataclass
class InputOptions:
    """What :func:`read_input` does with each input besides reading it.

    Attributes:
        save_dir: write annotated copies here (checked up front by the caller), or ``None``.
        video_step: read every N-th frame of videos (>= 1).
        max_pixels: refuse images with more pixels (``None``: no limit).
        show: show each annotated image in a window; set to ``False`` when no window can be opened.
        video: how videos and streams are read as plate tracks (:func:`lpr.video.video_records`);
            ``None``: one record per sampled frame of video files (:func:`frames`).
    """

    save_dir: str | None = None
    video_step: int = 5
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    show: bool = False
    video: VideoOptions | None = None


#: Longest file name, in bytes, on the usual file systems (ext4, XFS, Btrfs, APFS; NTFS: 255 UTF-16
#: units, which 255 bytes never exceed).
NAME_MAX = 255


def _fit_name(stem: str, tail: str, limit: int = NAME_MAX) -> str:
    """``stem + tail`` when it takes at most ``limit`` bytes (``os.fsencode``: UTF-8, 3 bytes per
    Chinese character, 1 per byte of a name that is not UTF-8), else ``stem`` cut on a character
    boundary and marked ``~`` + 8 hex digits of its SHA-1 (two long stems stay two names), + ``tail``.
    """
    if len(os.fsencode(stem + tail)) <= limit:
        return stem + tail
    mark = "~" + hashlib.sha1(os.fsencode(stem)).hexdigest()[:8]
    room, size, end = limit - len(os.fsencode(mark + tail)), 0, 0
    for end, ch in enumerate(stem):
        size += len(os.fsencode(ch))
        if size > room:
            break
    return stem[:end] + mark + tail


def _save_name(path: str, frame: int | None, used: dict) -> str:
    """The annotated copy's file name in ``--save-dir``: the input's stem, ``_fFRAME`` for a video
    frame, ``_N`` for the N-th earlier input of that stem (``used``, updated), ``.jpg``; at most
    :data:`NAME_MAX` bytes (:func:`_fit_name`)."""
    stem = Path(path).stem + (f"_f{frame:06d}" if frame is not None else "")
    n = used.get(stem, 0)
    used[stem] = n + 1
    return _fit_name(stem, f"{'_' + str(n) if n else ''}.jpg")


def _error_text(e: BaseException) -> str:
    text = str(e).strip()
    return text if text else type(e).__name__


def _read_one(path: str, image: np.ndarray, frame: int | None, reader: PlateReader,
              opts: InputOptions, used: dict, factor: int = 1) -> dict:
    """Read one image, decoded at ``1 / factor`` of its size (:meth:`PlateReader.read_reduced`), and
    do all its work (save, show); return its record."""
    rec, plates = read_record(reader, image, path, factor, frame)
    if opts.save_dir or opts.show:
        drawn = draw_plates(image, plates)
        if opts.save_dir:
            try:
                imwrite(os.path.join(opts.save_dir, _save_name(path, frame, used)), drawn)
            except (OSError, ValueError) as e:
                rec["error"] = f"annotated image not saved: {_error_text(e)}"
        if opts.show:
            import cv2
            try:
                cv2.imshow("plates", drawn)
                cv2.waitKey(0)
            except cv2.error as e:  # no display: keep reading, stop showing
                print_stderr(f"warning: --show disabled, cannot open a window: {e}")
                opts.show = False
    return rec


def load_image(path: str, opts: InputOptions, config: DetectorConfig) -> Tuple[np.ndarray, int]:
    """Check and decode one image file (:func:`lpr.pipeline.decode_photo`): the pixel and pyramid
    limits from its header first, then the image (BGR uint8), a large JPEG at a reduced size unless
    the annotated image is saved or shown. Runs on the prefetch thread of :func:`main`.

    Returns:
        ``(image, factor)``: the image and the reduction it was decoded at (1: full size).

    Raises:
        ImageReadError, OSError, ValueError, MemoryError: the file cannot be used (the message says why).
    """
    return decode_photo(path, config, opts.max_pixels, reduce=not (opts.save_dir or opts.show))


def _prefetchable(opts: InputOptions, config: DetectorConfig):
    """``fn(path)`` for :func:`lprcore.parallel.prefetch`: the decoded image, the failure as a
    value, or ``None`` for a video (read frame by frame on the main thread)."""

    def load(path: str):
        if path.lower().endswith(VIDEO_EXTENSIONS) or is_stream_source(path):
            return None
        try:
            return load_image(path, opts, config)
        except Exception as e:
            return e

    return load


def read_input(path: str, reader: PlateReader, opts: InputOptions, used: Dict[str, int],
               loaded=None) -> Iterator[dict]:
    """The records of one input: one for an image (plates, or an error), one per sampled frame of a
    video (plus an error record when it has no frame or is truncated). Never raises for a bad input:
    every failure becomes an ``{"image": path, "error": ...}`` record.

    Args:
        path: file path (``str``; a name that is not UTF-8 holds ``os.fsdecode``'s surrogates).
        reader: the plate reader; its ``detector.config`` gives the pyramid limit.
        opts: what to do besides reading (save, show) and the pixel limit.
        used: names already written in ``opts.save_dir`` (updated), so copies never overwrite each other.
        loaded: the image already decoded by :func:`load_image` (or its failure), or ``None``.

    Yields:
        JSON-ready dicts (see the module docstring); each after all the work for it (saving included).
    """
    try:
        if path.lower().endswith(VIDEO_EXTENSIONS) or is_stream_source(path):
            video = opts.video
            if video is not None and (not video.per_frame or video.fps or is_stream_source(path)):
                yield from video_records(path, reader, video)  # one record per plate track
                return
            for k, frame in frames(path, opts.video_step, opts.max_pixels, reader.detector.config):
                yield _read_one(path, frame, k, reader, opts, used)
            return
        if isinstance(loaded, BaseException):
            raise loaded
        image, factor = loaded if loaded is not None else load_image(path, opts, reader.detector.config)
        record = _read_one(path, image, None, reader, opts, used, factor)
    except (ImageReadError, OSError, ValueError, MemoryError) as e:
        record = error_record(path, _error_text(e))
    except Exception as e:  # a bug must not lose the rest of the batch
        log.exception("unexpected failure on %s", path)
        record = error_record(path, f"{type(e).__name__}: {e}")
    yield record


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command line's options, in the groups of ``--help``: input and output, reading, speed and
    limits, detector tuning (:func:`lpr.options.add_reader_arguments`)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0], epilog=EXIT_STATUS_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    io = p.add_argument_group("input and output")
    io.add_argument("paths", nargs="*", help="image files, folders (searched recursively), globs or videos "
                                             "(default: the bundled demo images)")
    io.add_argument("--save-dir", metavar="DIR", help="write a copy of each image with its plates drawn here "
                                                      "(default: none)")
    io.add_argument("--show", action="store_true", help="show each annotated image in a window (needs a display)")
    io.add_argument("--video-step", type=positive_int, default=5, metavar="N",
                    help="read every N-th frame of videos (default: 5)")
    add_video_arguments(io, with_step=False, full=False)
    speed = add_reader_arguments(p, "folder with the weights of both stages, e.g. a training export (default: "
                                    "the shipped MTCNN/weights and LPRNet/weights)", inputs=io)
    speed.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                       help="refuse images and video frames with more pixels (height x width), checked before "
                            f"decoding (default: {DEFAULT_MAX_PIXELS})")
    return p


def _silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null so that the interpreter's flush at exit cannot fail again
    (and print a traceback) after standard output closed."""
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (AttributeError, ValueError, OSError):
        pass


def main(argv=None, prog: str | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Usage errors (bad options or values, an unusable ``--save-dir``) end through ``parser.error``:
    a usage line and a one-line message on stderr, ``SystemExit(2)``.

    Ctrl-C (SIGINT) and SIGTERM stop the run through its clean-up (:class:`Interrupts`): one line on
    stderr says how many records were written, and the status is 130 or 143 (128 + the signal).

    A first argument of exactly ``serve`` runs the HTTP service instead (:func:`lpr.serve.main` on
    the arguments after it); a photo named ``serve`` is read when given as ``./serve``.

    Args:
        prog: the command's name in usage messages (default: the program's file name, ``lpr-read``
            when installed).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [SERVE_COMMAND]:
        from lpr.serve import main as serve_main  # FastAPI and uvicorn only when serving
        return serve_main(argv[1:], prog=f"{prog or os.path.basename(sys.argv[0]) or 'lpr-read'} {SERVE_COMMAND}")
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if sys.stdout is None or getattr(sys.stdout, "closed", False):
        print_stderr("error: standard output is closed: there is nowhere to write the records")
        return 1
    out = RecordWriter()
    with Interrupts() as interrupts:
        try:
            return _run(args, parser, out, interrupts)
        except KeyboardInterrupt as e:  # Interrupted, or a KeyboardInterrupt raised elsewhere
            signum = getattr(e, "signum", signal.SIGINT)
            print_stderr(f"interrupted by {signal.Signals(signum).name}: stopped after {out.count} record(s)")
            return 128 + signum


def _run(args, parser: argparse.ArgumentParser, out: RecordWriter, interrupts: Interrupts) -> int:
    """The body of :func:`main` after the options are parsed; returns the exit status.

    Raises:
        Interrupted: SIGINT or SIGTERM arrived (:class:`Interrupts`).
    """
    setup_runtime(args)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    config = reader_config(args, parser)
    if args.save_dir:
        try:
            prepare_output_dir(args.save_dir)
        except OSError as e:
            parser.error(f"--save-dir {e}")
    # weights are checked before any image is read
    reader = load_reader(lambda: PlateReader(config, weights_dir=args.weights_dir, backend=args.backend,
                                             device=args.device, threads=args.threads), args)
    if reader is None:
        return 2
    show = args.show
    if show and sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        # OpenCV's Qt backend aborts the whole process without a display: refuse up front
        print_stderr("warning: --show ignored: no display (DISPLAY is not set)")
        show = False
    opts = InputOptions(save_dir=args.save_dir, video_step=args.video_step, max_pixels=args.max_pixels, show=show,
                        video=video_options(args))
    inputs = expand_inputs(args.paths or [str(DEMO_DIR)])  # (path, error or None), in argument order
    used: Dict[str, int] = {}
    failed = 0
    load = _prefetchable(opts, config.detector)
    try:
        # decoding the next image (a thread; OpenCV releases the GIL) overlaps reading this one
        entries = progress(inputs, desc="images", unit="img", disable=len(inputs) <= PROGRESS_MIN)
        for (path, error), loaded in prefetch(entries, lambda e: None if e[1] else load(e[0]), depth=1):
            records = [error_record(path, error)] if error else read_input(path, reader, opts, used, loaded)
            for record in records:
                failed += "error" in record
                with interrupts.hold():  # a whole line, or none
                    out.write(record)
    except OutputClosed as e:
        print_stderr(f"error: standard output closed after {out.count} record(s) ({e}); stopped")
        _silence_stdout()
        return 1
    if failed:
        print_stderr(f"{failed} input(s) failed")
    return 1 if failed else 0
