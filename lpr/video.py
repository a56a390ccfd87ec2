"""Read plates in videos, streams and cameras: one record per plate track, its text voted across frames.

    python -m lpr.video clip.mp4                       # one JSON line per plate track
    python -m lpr.video rtsp://cam.local/stream 0      # a network camera and the first local camera
    python -m lpr.video clip.mp4 --per-frame           # one line per sampled frame instead
    python -m lpr.video clip.mp4 --video-fps 5 --save-dir out/   # 5 frames a second; annotated video

Sources: video files (and folders and globs of them), stream URLs (``rtsp://``, ``rtmp://``,
``http(s)://`` ...; read with OpenCV's FFmpeg backend) and camera indices (``0``, ``1``, ...). A reader
thread decodes the frames ahead of the reading (:class:`VideoSource`): a file is read at its own
pace, every frame; a live source (a camera, or a URL that declares no frame count) is read as fast as
it comes, and when the reading falls behind, the oldest waiting frames are dropped and counted (the
queue holds ``--queue-size`` frames). A live source that drops is opened again, up to
``--reconnect`` times with a delay doubling from ``--reconnect-delay`` seconds, then it gets an
error record.

Frames are sampled every ``--video-step`` frames, or ``--video-fps`` times a second of video.
Each sampled frame is read (:class:`lpr.pipeline.PlateReader`), its plates are linked to tracks
(:class:`lpr.tracking.PlateTracker`), and a track that has not been seen for ``--track-timeout``
seconds of video ends: its record (:func:`lpr.tracking.track_record`) is written then, with the
vote of its frames' valid reads (:func:`lpr.tracking.read_track`). The end of a source, Ctrl-C and
SIGTERM end every open track, so that no read plate is lost.

Records, one JSON line each: ``{"video": SOURCE, "track_id": 1, "text": ..., "votes": {...},
"agreement": [...], "first_frame": ..., ...}`` per track (``--per-frame``: ``{"image": SOURCE,
"frame": K, "plates": [...], "ms": T}`` per sampled frame, as ``python -m lpr`` writes them), and
``{"video": SOURCE, "error": MESSAGE}`` for a source that cannot be read, is truncated or is lost
(after the records of what was read). A live source adds ``"frames_dropped"`` (so far) to its
records. ``--save-dir DIR`` writes ``STEM_tracks.mp4`` (the sampled frames, each tracked plate boxed
with its track id and the text voted so far) and ``STEM_trackN.jpg``, the best frame of each track
reported. docs/video.md tells more.

Exit status: 0 when every source was read, 1 when one failed, 2 for usage errors and unusable
weights, 130 (Ctrl-C) or 143 (SIGTERM) when stopped: the open tracks are written first.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import glob
import logging
import math
import os
import queue
import re
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from lpr.draw import draw_plates
from lpr.pipeline import Plate, PlateReader
from lpr.records import read_record
from lpr.tracking import (MATCH_BUFFER, MIN_TRACK_READS, TRACK_TIMEOUT, PlateTracker, Track, distinct_plates, read_track,
                          report_reading, track_record)
from lprcore.cli import nonnegative_float, nonnegative_int, positive_float, positive_int
from lprcore.imageio import (DEFAULT_MAX_PIXELS, ImageReadError, check_pixels, check_regular_file, imwrite,
                             opencv_path, to_bgr8)
from lprcore.parallel import print_stderr

log = logging.getLogger(__name__)

#: File extensions taken for videos in folders and by ``python -m lpr``.
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
#: URL schemes read as streams (through OpenCV's FFmpeg backend).
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "rtp", "srt", "mms")
#: Frames per second assumed for a file that does not say (its frame times are index / this).
ASSUMED_FPS = 25.0
#: Milliseconds OpenCV waits for a stream to open, and for each frame of it.
STREAM_TIMEOUT_MS = 10_000
#: Longest delay between two reconnect attempts, seconds.
MAX_RECONNECT_DELAY = 10.0


class VideoError(ImageReadError):
    """A video or stream that cannot be read (the message names it and says why)."""


@dataclass(frozen=True)
class Frame:
    """One frame of a source.

    Attributes:
        index: the frame's number: in the file, or for a live source among the frames received since
            it was first opened (reconnects included), from 0.
        time: seconds of video: ``index / fps`` for a file, seconds since the first frame arrived
            (monotonic clock) for a live source.
        image: ``ndarray[H, W, 3]`` uint8, BGR.
    """

    index: int
    time: float
    image: np.ndarray


def camera_index(source) -> Optional[int]:
    """The camera number of a source written as a small integer (``0``, ``"1"``) that names no
    file, else ``None``."""
    if isinstance(source, int) and not isinstance(source, bool):
        return source if source >= 0 else None
    text = str(source)
    if text.isascii() and text.isdigit() and len(text) <= 3 and not os.path.lexists(text):
        return int(text)
    return None


def is_stream_url(source) -> bool:
    """Whether ``source`` is a URL with a scheme of :data:`STREAM_SCHEMES` (``rtsp://...``)."""
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", str(source))
    return bool(m) and m.group(1).lower() in STREAM_SCHEMES


def is_stream_source(source) -> bool:
    """Whether ``source`` is read as a stream rather than a file: a URL (:func:`is_stream_url`) or a
    camera index (:func:`camera_index`)."""
    return camera_index(source) is not None or is_stream_url(source)


def open_capture(source):
    """A ``cv2.VideoCapture`` of a file path, a stream URL (FFmpeg backend, open and read timeouts of
    :data:`STREAM_TIMEOUT_MS`) or a camera index (``int``). It may be unopened (``isOpened()``
    False); never raises for a bad source."""
    import cv2

    if isinstance(source, int):
        return cv2.VideoCapture(source)
    if is_stream_url(source):
        try:
            return cv2.VideoCapture(source, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                                                             cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS])
        except cv2.error:  # an OpenCV without these properties
            return cv2.VideoCapture(source, cv2.CAP_FFMPEG)
    return cv2.VideoCapture(source)


def _prop(cap, key) -> float:
    """A capture property, 0 when unknown (OpenCV gives 0, -1, -2^63 or NaN then)."""
    try:
        v = float(cap.get(key))
    except Exception:  # a stand-in without the property
        return 0.0
    return v if math.isfinite(v) and v > 0 else 0.0


_END = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


class VideoSource:
    """The sampled frames of a video file, a stream URL or a camera, decoded on a reader thread.

    Iterate it (once) for :class:`Frame` s; the thread starts with the iteration. A file is read
    whole, at the pace of the consumer (nothing is dropped); a live source is read as fast as it
    comes, and when ``queue_size`` frames already wait, the oldest is dropped (:attr:`dropped`). A
    live source that ends or drops is opened again, up to ``reconnect_attempts`` times in a row
    without a frame, waiting ``reconnect_delay`` seconds, then twice that, ... (at most
    :data:`MAX_RECONNECT_DELAY`), before the iteration raises. Leaving the loop early, or
    :meth:`close`, stops the thread and releases the capture.

    Args:
        source: a file path, a stream URL or a camera index (``int`` or a digit string).
        step: keep every ``step``-th frame (>= 1; of the frames received, for a live source).
        fps: keep about ``fps`` frames per second of video (> 0), the first of each 1/fps slice of
            time; overrides ``step``. ``None``: use ``step``.
        live: read as live (drop when behind, reconnect) or as a file; ``None``: cameras are live,
            URLs are live unless they declare a frame count (a video file served over HTTP), local
            files are not.
        queue_size: live sources: frames that may wait to be read, >= 1.
        reconnect_attempts: live sources: attempts to open the source again after it dropped (or
            failed to open) before giving up, >= 0.
        reconnect_delay: seconds before the first attempt, >= 0; each next one waits twice as long.
        max_pixels: refuse frames with more pixels (height x width; ``None``: no limit).
        detector_config: when given, frames too large for its pyramid limit are refused
            (:func:`MTCNN.cascade.check_image_size`).
        stop: an event that ends the iteration when set (a clean stop from another thread or a
            signal handler).
        capture: ``fn(source) -> capture`` opening the source, a ``cv2.VideoCapture`` or anything
            with its ``isOpened``, ``read``, ``get`` and ``release`` (default :func:`open_capture`).

    Attributes:
        name: the source as given, as a string (records name it so).
        live: whether it is read as a live source (known once it was opened).
        fps: its frame rate (0 while unknown; a file that does not say is taken as :data:`ASSUMED_FPS`).
        frames_read: frames decoded; ``frames_sampled``: frames kept by the sampling;
        dropped: sampled frames dropped because the reading was behind (live sources only);
        reconnects: times a live source was opened again after it delivered frames and dropped.

    Raises (from the iteration, after the frames that could be read):
        FileNotFoundError, lprcore.imageio.ImageReadError: a file that is missing, not a regular file.
        VideoError: a file that is empty, cannot be opened, has no frame or fewer than it declares
            (worded as ``python -m lpr`` words them: ``"PATH: video truncated or damaged: ..."``);
            a live source that cannot be opened or is lost after its reconnect attempts.
        lprcore.imageio.ImageTooLargeError: frames over ``max_pixels`` or the pyramid limit.
    """

    def __init__(self, source, *, step: int = 1, fps: Optional[float] = None, live: Optional[bool] = None,
                 queue_size: int = 8, reconnect_attempts: int = 5, reconnect_delay: float = 0.5,
                 max_pixels: Optional[int] = DEFAULT_MAX_PIXELS, detector_config=None,
                 stop: Optional[threading.Event] = None, capture: Optional[Callable] = None):
        if step < 1:
            raise ValueError(f"step must be >= 1, got {step}")
        if fps is not None and not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be > 0, got {fps}")
        if queue_size < 1 or reconnect_attempts < 0 or not reconnect_delay >= 0:
            raise ValueError("queue_size must be >= 1, reconnect_attempts >= 0 and reconnect_delay >= 0")
        self.name = str(source)
        self.camera = camera_index(source)
        self.url = is_stream_url(source)
        self.step, self.target_fps = int(step), fps
        self.live = live if live is not None else self.camera is not None
        self._live_given = live is not None
        self.queue_size, self.reconnect_attempts, self.reconnect_delay = queue_size, reconnect_attempts, reconnect_delay
        self.max_pixels, self.detector_config = max_pixels, detector_config
        self._external_stop = stop
        self._capture = capture or open_capture
        self.fps = 0.0
        self.frames_read = self.frames_sampled = self.dropped = self.reconnects = 0
        self._queue: "queue.Queue" = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._slot = -1
        self._t0: Optional[float] = None
        self._checked = False

    # -- the consumer's side
    def __iter__(self) -> Iterator[Frame]:
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: a VideoSource is iterated once")
        self._thread = threading.Thread(target=self._work, name=f"video reader {self.name}", daemon=True)
        self._thread.start()
        try:
            while True:
                if self._stopped():
                    return
                try:
                    item = self._queue.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """Stop the reader thread (it releases the capture); waiting frames are discarded."""
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)

    @property
    def sample_rate(self) -> float:
        """Frames per second the sampling keeps (an estimate before the source is opened)."""
        fps = self.fps or ASSUMED_FPS
        return min(self.target_fps, fps) if self.target_fps else fps / self.step

    def _stopped(self) -> bool:
        return self._stop.is_set() or (self._external_stop is not None and self._external_stop.is_set())

    # -- the reader thread
    def _work(self) -> None:
        try:
            if self.camera is None and not self.url:
                self._read_file()
            else:
                self._read_stream()
        except BaseException as e:  # handed to the consumer, raised by its iteration
            self._put(_Failure(e))
        finally:
            self._put(_END)

    def _put(self, item) -> None:
        """Queue a control item or a file's frame: wait for room (or the stop)."""
        while not self._stopped():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _offer(self, frame: Frame) -> None:
        """Queue a sampled frame: a file's waits for room, a live source's drops the oldest waiting one."""
        self.frames_sampled += 1
        if not self.live:
            self._put(frame)
            return
        while True:
            try:
                self._queue.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _keep(self, index: int, t: float) -> bool:
        if self.target_fps:
            slot = math.floor(t * self.target_fps + 1e-6)
            if slot > self._slot:
                self._slot = slot
                return True
            return False
        return index % self.step == 0

    def _check_size(self, size: Tuple[int, int]) -> None:
        if min(size) > 0:
            check_pixels(self.name, size, self.max_pixels)
            if self.detector_config is not None:
                from MTCNN.cascade import check_image_size
                check_image_size(size, self.detector_config, self.name)

    def _pump(self, cap) -> int:
        """Read ``cap`` until it fails or the stop; returns the frames read."""
        n = 0
        while not self._stopped():
            ok, image = cap.read()
            if not ok or image is None:
                break
            if self._t0 is None:
                self._t0 = time.monotonic()
            if not self._checked:
                self._check_size(image.shape[:2])
                self._checked = True
            k = self.frames_read
            self.frames_read += 1
            n += 1
            t = (time.monotonic() - self._t0) if self.live else k / (self.fps or ASSUMED_FPS)
            if self._keep(k, t):
                self._offer(Frame(k, t, to_bgr8(image, self.name)))
        return n

    def _opened(self, cap) -> None:
        """Learn the frame rate (and, unless given, whether a URL is live) of a newly opened capture,
        and check its frame size."""
        import cv2

        fps = _prop(cap, cv2.CAP_PROP_FPS)
        if fps:
            self.fps = fps
        elif not self.fps and not self.live:
            log.warning("%s: the video does not say its frame rate; taken as %g frames a second", self.name, ASSUMED_FPS)
            self.fps = ASSUMED_FPS
        if self.url and not self._live_given:
            self.live = _prop(cap, cv2.CAP_PROP_FRAME_COUNT) <= 0
        self._check_size((int(_prop(cap, cv2.CAP_PROP_FRAME_HEIGHT)), int(_prop(cap, cv2.CAP_PROP_FRAME_WIDTH))))

    def _read_file(self) -> None:
        import cv2

        path = self.name
        damaged = f"{path}: video truncated or damaged"
        if check_regular_file(path).st_size == 0:
            raise VideoError(f"{damaged}: empty file (0 bytes)")
        if self.live:  # a file read as a live source (a stand-in for a camera)
            self._read_stream()
            return
        with opencv_path(path) as name:
            cap = self._capture(name)
            try:
                if not cap.isOpened():
                    raise VideoError(f"{damaged}: cannot be opened (corrupt or unknown format)")
                self._opened(cap)
                declared = int(_prop(cap, cv2.CAP_PROP_FRAME_COUNT))
                n = self._pump(cap)
            finally:
                cap.release()
        if self._stopped():
            return
        if n == 0:
            raise VideoError(f"{damaged}: no readable frame" + (f" (0 of {declared} frames read)" if declared else ""))
        if declared > 0 and n + 1 < declared:  # one frame of slack: some containers estimate the count
            raise VideoError(f"{damaged}: {n} of {declared} frames read")

    def _read_stream(self) -> None:
        """Read a live source (or a URL, until it shows to be a file), opening it again when it ends
        or drops, up to :attr:`reconnect_attempts` attempts in a row without a frame."""
        source = self.camera if self.camera is not None else self.name
        failures = 0  # attempts in a row that gave no frame
        ever = False  # some frame was read
        while not self._stopped():
            n = 0
            cap = self._capture(source)
            try:
                if cap.isOpened():
                    if not ever:
                        self._opened(cap)
                    n = self._pump(cap)
            finally:
                cap.release()
            if self._stopped():
                return
            if n > 0:
                ever, failures = True, 0
                if not self.live:  # a URL that declares its frame count is a file: read once
                    return
                self.reconnects += 1
                log.warning("%s: stream ended or dropped after %d frames; opening it again", self.name,
                            self.frames_read)
            else:
                failures += 1
                if failures > self.reconnect_attempts:
                    if ever:
                        raise VideoError(f"{self.name}: stream lost: no frame after {self.reconnect_attempts} "
                                         f"reconnect attempt(s) ({self.frames_read} frames read)")
                    raise VideoError(f"{self.name}: stream cannot be opened or gives no frame "
                                     f"({failures} attempt(s))")
            delay = min(MAX_RECONNECT_DELAY, self.reconnect_delay * 2 ** failures)
            if self._stop.wait(delay) or self._stopped():
                return


@dataclass
class VideoOptions:
    """How :func:`video_records` reads a source.

    Attributes:
        step: read every ``step``-th frame (>= 1).
        fps: read about ``fps`` frames per second of video instead (> 0; ``None``: use ``step``).
        per_frame: one record per sampled frame (``python -m lpr``'s) instead of one per track.
        track_timeout: seconds of video after which a track whose plate is not seen ends (> 0).
        match_buffer: the tracker's box buffer (:class:`lpr.tracking.PlateTracker`'s ``buffer``, >= 0).
        min_reads: fewest valid reads for a track to be reported (>= 1); with the reader's
            ``all_reads``, tracks with that many frames and no valid read are reported too
            (``"valid": false``).
        save_dir: write the annotated video and the best frame of each track here (``None``: no).
        max_pixels: refuse frames with more pixels (``None``: no limit).
        live: read every source as live (``True``), as a file (``False``), or decide per source
            (``None``, :class:`VideoSource`).
        queue_size: live sources: frames that may wait to be read before the oldest is dropped (>= 1).
        reconnect_attempts: live sources: attempts to open a dropped source again (>= 0).
        reconnect_delay: seconds before the first reconnect attempt, doubling after (>= 0).
        stop: set it to stop reading cleanly (open tracks are written); ``None``: no such event.
        names_used: names already written in ``save_dir`` (updated), so that no output overwrites another.

    Raises:
        ValueError: a value out of range.
    """

    step: int = 5
    fps: Optional[float] = None
    per_frame: bool = False
    track_timeout: float = TRACK_TIMEOUT
    match_buffer: float = MATCH_BUFFER
    min_reads: int = MIN_TRACK_READS
    save_dir: Optional[str] = None
    max_pixels: Optional[int] = DEFAULT_MAX_PIXELS
    live: Optional[bool] = None
    queue_size: int = 8
    reconnect_attempts: int = 5
    reconnect_delay: float = 0.5
    stop: Optional[threading.Event] = None
    names_used: Dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        checks = ((self.step >= 1, "step must be >= 1"),
                  (self.fps is None or (self.fps > 0 and math.isfinite(self.fps)), "fps must be > 0"),
                  (self.track_timeout > 0 and math.isfinite(self.track_timeout), "track_timeout must be > 0 seconds"),
                  (self.match_buffer >= 0, "match_buffer must be >= 0"),
                  (self.min_reads >= 1, "min_reads must be >= 1"),
                  (self.queue_size >= 1, "queue_size must be >= 1"),
                  (self.reconnect_attempts >= 0, "reconnect_attempts must be >= 0"),
                  (self.reconnect_delay >= 0, "reconnect_delay must be >= 0"))
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


#: Longest output stem, in bytes of its file name (``os.fsencode``), leaving room for the suffixes.
STEM_BYTES = 200


def output_stem(source: str) -> str:
    """A file-name stem for a source's outputs: a file's stem, ``camera0``, or a URL's host and path
    with every character but letters, digits, ``.``, ``-`` and ``_`` as ``_``; cut to at most
    :data:`STEM_BYTES` bytes on a character boundary."""
    index = camera_index(source)
    if index is not None:
        return f"camera{index}"
    if is_stream_url(source):
        text = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", str(source))
        text = os.path.splitext(text)[0] if "/" in text else text
        stem = re.sub(r"[^\w.-]", "_", text).strip("._") or "stream"
    else:
        stem = os.path.splitext(os.path.basename(str(source)))[0] or "video"
    while len(os.fsencode(stem)) > STEM_BYTES:
        stem = stem[:-1]
    return stem


def _unique(names: Dict[str, int], stem: str) -> str:
    n = names.get(stem, 0)
    names[stem] = n + 1
    return f"{stem}_{n}" if n else stem


class AnnotatedVideo:
    """An mp4 (fourcc ``mp4v``) written frame by frame to a temporary file beside ``path`` and renamed
    to ``path`` by :meth:`close` (a reader never sees half a file; :meth:`abort` removes it).

    Args:
        path: the ``.mp4`` to write.
        fps: its frame rate, > 0 (the sampled rate: it plays at the video's speed).

    Every frame is resized to the first frame's size.
    """

    def __init__(self, path: str, fps: float):
        self.path, self.fps = path, float(fps)
        self._writer = None
        self._tmp: Optional[str] = None
        self._size: Optional[Tuple[int, int]] = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        """Append ``image`` (``ndarray[H, W, 3]`` uint8, BGR).

        Raises:
            OSError: OpenCV cannot write the video there.
        """
        import cv2

        if self._writer is None:
            h, w = image.shape[:2]
            folder = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(folder, exist_ok=True)
            for _ in range(100):  # a new file with the usual permissions (mkstemp's are 0600)
                # an ASCII name: cv2.VideoWriter crashes on names that are not UTF-8
                self._tmp = os.path.join(folder, f".video.{secrets.token_hex(8)}.tmp.mp4")
                try:
                    open(self._tmp, "xb").close()
                    break
                except FileExistsError:
                    continue
            self._writer = cv2.VideoWriter(self._tmp, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                raise OSError(f"{self.path}: OpenCV cannot write an mp4v video there")
            self._size = (w, h)
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> Optional[str]:
        """Finish the video and give it its name; returns the path, or ``None`` when no frame was written."""
        if self._writer is None:
            return None
        self._writer.release()
        self._writer = None
        os.replace(self._tmp, self.path)
        self._tmp = None
        return self.path

    def abort(self) -> None:
        """Remove the temporary file, if any (after a failure)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(self._tmp)
            self._tmp = None


def tracking_reader(reader: PlateReader) -> PlateReader:
    """A reader sharing ``reader``'s nets that returns every box (``all_reads``, no
    ``min_confidence``): tracks follow plates through frames where they read badly, and the vote
    applies ``min_confidence`` and the plate rules itself."""
    out = copy.copy(reader)
    out.config = replace(reader.config, reading=replace(reader.config.reading, all_reads=True, min_confidence=0.0))
    return out


def _label(track: Track, min_confidence: float, plate: Plate) -> SimpleNamespace:
    """What the annotated video shows of a tracked plate: ``#ID TEXT`` (the vote so far)."""
    reading = read_track(track.reads, min_confidence)
    text = reading.text if reading is not None and reading.valid else "?"
    return SimpleNamespace(box=plate.box, corners=plate.corners, text=f"#{track.track_id} {text}",
                           confidence=plate.confidence)


def _error_text(e: BaseException) -> str:
    text = str(e).strip()
    return text if text else type(e).__name__


def video_records(source, reader: PlateReader, options: Optional[VideoOptions] = None,
                  on_frame: Optional[Callable] = None, capture: Optional[Callable] = None) -> Iterator[dict]:
    """The records of one video source: one per plate track when it ends (or, with
    ``options.per_frame``, one per sampled frame), then an error record if the source failed. Never
    raises for a bad source; a ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM turned into one) raised
    while reading ends the open tracks, yields their records, then is raised again.

    Args:
        source: a video file, a stream URL or a camera index (:class:`VideoSource`).
        reader: the plate reader (its ``config.reading``'s ``min_confidence`` and ``all_reads`` apply
            to the tracks' votes; its ``detector.config`` gives the frames' size limit).
        options: sampling, tracking and outputs (default :class:`VideoOptions`).
        on_frame: called after each sampled frame is tracked, with the :class:`Frame`, its plates
            (every box, :func:`lpr.tracking.distinct_plates`) and the ``(track, plate)`` pairs that
            joined a track (:meth:`lpr.tracking.PlateTracker.update`); not called with ``per_frame``.
        capture: opens the source (:class:`VideoSource`'s ``capture``; default :func:`open_capture`).

    Yields:
        JSON-ready dicts: :func:`lpr.tracking.track_record` (``"frames_dropped"`` added for a live
        source), or per frame :func:`lpr.records.plates_record`; ``{"video": source, "error": ...}``
        last when the source failed, and when an output in ``save_dir`` could not be written.
    """
    options = options or VideoOptions()
    name = str(source)
    src = VideoSource(source, step=options.step, fps=options.fps, live=options.live, queue_size=options.queue_size,
                      reconnect_attempts=options.reconnect_attempts, reconnect_delay=options.reconnect_delay,
                      max_pixels=options.max_pixels, detector_config=reader.detector.config, stop=options.stop,
                      capture=capture)
    stem = _unique(options.names_used, output_stem(name)) if options.save_dir else ""
    annotated = (AnnotatedVideo(os.path.join(options.save_dir, f"{stem}_tracks.mp4" if not options.per_frame
                                             else f"{stem}_frames.mp4"), src.sample_rate)
                 if options.save_dir else None)
    errors: List[str] = []
    interrupted: Optional[BaseException] = None
    try:
        if options.per_frame:
            try:
                for frame in src:
                    record, plates = read_record(reader, frame.image, name, 1, frame.index)
                    if annotated is not None:
                        annotated.fps = src.sample_rate
                        annotated.write(draw_plates(frame.image, plates))
                    yield record
            except KeyboardInterrupt as e:
                interrupted = e
            except Exception as e:
                errors.append(_failure_text(name, e))
        else:
            interrupted = yield from _tracks(src, name, reader, options, annotated, stem, on_frame, errors)
        src.close()
        if annotated is not None:
            try:
                annotated.close()
            except (OSError, ValueError) as e:
                errors.append(f"annotated video not saved: {_error_text(e)}")
        for message in errors:
            yield {"video": name, "error": message}
        if src.dropped or src.reconnects:
            print_stderr(f"{name}: {src.frames_read} frames read, {src.dropped} of the {src.frames_sampled} "
                         f"sampled dropped (reading was slower than the stream), {src.reconnects} reconnect(s)")
    finally:
        src.close()
        if annotated is not None:
            annotated.abort()
    if interrupted is not None:
        raise interrupted


def _failure_text(name: str, e: BaseException) -> str:
    """The error message of a source that failed: its own message when it names the source."""
    if isinstance(e, (ImageReadError, OSError, ValueError, MemoryError, ImportError)):
        text = _error_text(e)
        return text if name in text else f"{name}: {text}"
    log.exception("unexpected failure on %s", name)
    return f"{name}: {type(e).__name__}: {e}"


def _tracks(src: VideoSource, name: str, reader: PlateReader, options: VideoOptions,
            annotated: Optional[AnnotatedVideo], stem: str, on_frame, errors: List[str]):
    """The track records of ``src`` (the body of :func:`video_records`); returns the
    ``KeyboardInterrupt`` that stopped it, or ``None``. Failures are appended to ``errors``."""
    reading = reader.config.reading
    tracker: Optional[PlateTracker] = None  # made at the first frame, when the source's frame rate is known
    frame_reader = tracking_reader(reader)
    best_images: Dict[int, Dict[str, Tuple[float, np.ndarray]]] = {}  # track id -> text -> (confidence, frame)
    interrupted = None

    def finish(tracks: Sequence[Track]) -> Iterator[dict]:
        for track in tracks:
            images = best_images.pop(track.track_id, {})
            result = report_reading(track, reading.min_confidence, reading.all_reads, options.min_reads)
            if result is None:
                continue
            record = track_record(track, result, name)
            if src.live:
                record["frames_dropped"] = src.dropped
            if options.save_dir and result.text in images:
                image = images[result.text][1]
                shown = SimpleNamespace(box=result.best.plate.box, corners=result.best.plate.corners,
                                        text=f"#{track.track_id} {result.text}", confidence=result.confidence)
                try:
                    imwrite(os.path.join(options.save_dir, f"{stem}_track{track.track_id}.jpg"),
                            draw_plates(image, [shown]))
                except (OSError, ValueError) as e:
                    record["error"] = f"best frame not saved: {_error_text(e)}"
            yield record

    try:
        for frame in src:
            if tracker is None:
                tracker = PlateTracker(options.track_timeout, src.sample_rate, buffer=options.match_buffer)
            plates = distinct_plates(frame_reader(frame.image))
            joined, ended = tracker.update(frame.index, frame.time, plates)
            if options.save_dir:
                for track, plate in joined:
                    texts = best_images.setdefault(track.track_id, {})
                    key = plate.text
                    if key not in texts or plate.confidence > texts[key][0]:
                        texts[key] = (plate.confidence, frame.image)
            if annotated is not None:
                annotated.fps = src.sample_rate
                annotated.write(draw_plates(frame.image, [_label(t, reading.min_confidence, p) for t, p in joined]))
            if on_frame is not None:
                on_frame(frame, plates, joined)
            yield from finish(ended)
    except KeyboardInterrupt as e:
        interrupted = e
    except Exception as e:
        errors.append(_failure_text(name, e))
    src.close()
    if tracker is not None:
        yield from finish(tracker.flush())
    return interrupted


# -- the command line

def add_video_arguments(parser, with_step: bool = True, full: bool = True) -> None:
    """Add the video options to a parser or group (:func:`video_options` reads them): ``--video-step``
    (unless ``with_step`` is False, for a parser that has it already), ``--video-fps``,
    ``--per-frame``, ``--track-timeout``, and unless ``full`` is False (a command that lists fewer
    options; the others keep their defaults) ``--min-track-reads``, ``--queue-size``, ``--reconnect``
    and ``--reconnect-delay``."""
    d = VideoOptions()
    if with_step:
        parser.add_argument("--video-step", type=positive_int, default=d.step, metavar="N",
                            help=f"read every N-th frame of videos (default: {d.step})")
    parser.add_argument("--video-fps", type=positive_float, metavar="F",
                        help="read about F frames per second of video instead of every N-th frame, overriding "
                             "--video-step (default: none, use --video-step)")
    parser.add_argument("--per-frame", action="store_true",
                        help="videos: one record per sampled frame instead of one per plate track")
    parser.add_argument("--track-timeout", type=positive_float, default=d.track_timeout, metavar="S",
                        help="a plate track ends when its plate was not seen for S seconds of video "
                             f"(default: {d.track_timeout:g})")
    if not full:
        return
    parser.add_argument("--min-track-reads", type=positive_int, default=d.min_reads, metavar="N",
                        help=f"report a plate track only when N of its frames read a valid text (default: {d.min_reads})")
    parser.add_argument("--queue-size", type=positive_int, default=d.queue_size, metavar="N",
                        help="live streams and cameras: frames that may wait to be read; when more come, the "
                             f"oldest are dropped and counted (default: {d.queue_size})")
    parser.add_argument("--reconnect", type=nonnegative_int, default=d.reconnect_attempts, metavar="N",
                        help="live streams: times to open a dropped stream again before it gets an error "
                             f"record (default: {d.reconnect_attempts})")
    parser.add_argument("--reconnect-delay", type=nonnegative_float, default=d.reconnect_delay, metavar="S",
                        help="seconds before the first reconnect attempt, doubling for each next one, at most "
                             f"{MAX_RECONNECT_DELAY:g} (default: {d.reconnect_delay:g})")


def video_options(args: argparse.Namespace, **overrides) -> VideoOptions:
    """The :class:`VideoOptions` of the options of :func:`add_video_arguments` (defaults for those it
    left out, and ``save_dir``, ``max_pixels`` when ``args`` has them); ``overrides`` replace fields.

    Raises:
        ValueError: a value out of range (argparse's types refuse them first).
    """
    d = VideoOptions()
    values = dict(step=args.video_step, fps=args.video_fps, per_frame=args.per_frame,
                  track_timeout=args.track_timeout, min_reads=getattr(args, "min_track_reads", d.min_reads),
                  queue_size=getattr(args, "queue_size", d.queue_size),
                  reconnect_attempts=getattr(args, "reconnect", d.reconnect_attempts),
                  reconnect_delay=getattr(args, "reconnect_delay", d.reconnect_delay),
                  save_dir=getattr(args, "save_dir", None), max_pixels=getattr(args, "max_pixels", DEFAULT_MAX_PIXELS))
    values.update(overrides)
    return VideoOptions(**values)


def expand_sources(sources: Sequence[str]) -> List[Tuple[str, Optional[str]]]:
    """``(source, None)`` for each source to read, in the order given, ``(source, error)`` for one
    that names nothing: a folder gives its videos (recursive, sorted by path), a path that does not
    exist is tried as a glob, a URL or camera index is kept as it is."""
    out: List[Tuple[str, Optional[str]]] = []
    for s in sources:
        if os.path.isdir(s):
            found = sorted(os.path.join(root, n) for root, _, names in os.walk(s) for n in names
                           if n.lower().endswith(VIDEO_EXTENSIONS))
            out += [(f, None) for f in found] or [(s, "folder holds no video files")]
        elif os.path.lexists(s) or is_stream_source(s):
            out.append((s, None))
        elif glob.has_magic(s):
            matched = sorted(m for m in glob.glob(s, recursive=True) if not os.path.isdir(m))
            out += [(m, None) for m in matched] or [(s, "no file matches this pattern")]
        else:
            out.append((s, "no such file, folder, stream URL or camera"))
    return out


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m lpr.video``: sources and outputs, the video options, and the
    reader's (:func:`lpr.options.add_reader_arguments`)."""
    from lpr.options import add_reader_arguments

    p = argparse.ArgumentParser(prog="python -m lpr.video", description=__doc__.split("\n\n")[0],
                                epilog="exit status: 0 every source read, 1 a source failed, 2 usage error or "
                                       "unusable weights, 130/143 stopped by Ctrl-C/SIGTERM (open tracks written)")
    io = p.add_argument_group("input and output")
    io.add_argument("sources", nargs="+", help="video files, folders of them, globs, stream URLs (rtsp://, "
                                               "http://, ...) or camera indices (0, 1, ...)")
    io.add_argument("--save-dir", metavar="DIR", help="write the annotated video of each source and the best "
                                                      "frame of each track here (default: none)")
    add_video_arguments(io)
    speed = add_reader_arguments(p, "folder with the weights of both stages (default: the shipped ones)", inputs=io)
    speed.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                       help=f"refuse video frames with more pixels (height x width) (default: {DEFAULT_MAX_PIXELS})")
    return p


def _single(record: dict) -> Iterator[dict]:
    yield record


def main(argv=None) -> int:
    """Run ``python -m lpr.video`` on ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Ctrl-C (SIGINT) and SIGTERM stop the reading cleanly: the open tracks of the source being read
    are written, then one line on stderr says how many records were written; status 130 or 143.
    """
    from lpr.cli import Interrupts, OutputClosed, RecordWriter
    from lpr.options import reader_config
    from lprcore.cli import setup_runtime
    from lprcore.files import prepare_output_dir
    from lprcore.manifest import WeightsError

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_runtime(args)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    config = reader_config(args, parser)
    if args.save_dir:
        try:
            prepare_output_dir(args.save_dir)
        except OSError as e:
            parser.error(f"--save-dir {e}")
    try:
        reader = PlateReader(config, weights_dir=args.weights_dir, backend=args.backend, device=args.device,
                             threads=args.threads)
    except (WeightsError, ImportError, RuntimeError) as e:
        print_stderr(f"error: {e}")
        return 2
    options = video_options(args)
    out = RecordWriter()
    failed = 0
    with Interrupts() as interrupts:
        try:
            for source, error in expand_sources(args.sources):
                if error:
                    records: Iterator[dict] = _single({"video": source, "error": error})
                else:
                    records = video_records(source, reader, options)
                pending: Optional[BaseException] = None
                while True:
                    try:
                        record = next(records) if pending is None else records.throw(pending)
                        pending = None
                    except StopIteration:
                        break
                    try:
                        failed += "error" in record
                        with interrupts.hold():  # a whole line, or none
                            out.write(record)
                    except KeyboardInterrupt as e:  # arrived while writing: the source still ends its tracks
                        pending = e
                if pending is not None:
                    raise pending
        except OutputClosed as e:
            print_stderr(f"error: standard output closed after {out.count} record(s) ({e}); stopped")
            return 1
        except KeyboardInterrupt as e:
            signum = getattr(e, "signum", signal.SIGINT)
            print_stderr(f"interrupted by {signal.Signals(signum).name}: stopped after {out.count} record(s)")
            return 128 + signum
    if failed:
        print_stderr(f"{failed} source(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
