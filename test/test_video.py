"""Videos, streams and cameras read as plate tracks (lpr.video), with the shipped weights on small
generated videos: track records, --per-frame, --save-dir, the live queue, reconnects (a file-backed
stand-in and a local HTTP server), clean stops; the test video and the benchmark that reads it."""
import glob
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from lpr import track_eval
from lpr import video
from lpr.config import ReaderConfig
from lpr.pipeline import PlateReader
from lpr.video import VideoError, VideoOptions, VideoSource, video_records
from platesynth import cli as platesynth_cli
from platesynth.render import DEFAULT_ASSETS

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "lpr" / "demo" / "0000000.jpg"
DEMO_TEXT = "青H10D0K"


def write_video(path, frames, fps=25.0):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return str(path)


@pytest.fixture(scope="module")
def reader():
    return PlateReader(backend="onnx", threads=1)


@pytest.fixture(scope="module")
def plate_assets():
    """The plate glyphs in ../shared/data: without them platesynth draws flat font plates, which the
    tests that expect every plate of the test video read exactly skip."""
    if not (DEFAULT_ASSETS / "font_model").is_dir():
        pytest.skip("the plate assets of ../shared/data are not present")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 3 s test video (45 frames at 15 fps, 640x360) with 3 plates overlapping in time, made by
    ``python -m platesynth video``; returns its ground truth with ``"dir"`` and ``"path"``."""
    d = tmp_path_factory.mktemp("clip")
    assert platesynth_cli.main(["video", "--out", str(d), "--seed", "6", "--frames", "45", "--tracks", "3"]) == 0
    truth = json.loads((d / "tracks.json").read_text(encoding="utf-8"))
    return {**truth, "dir": str(d), "path": str(d / "clip.mp4")}


@pytest.fixture(scope="module")
def still(tmp_path_factory):
    """30 identical frames of the demo plate (580x360, 25 fps): the issue's example."""
    image = cv2.resize(cv2.imread(str(DEMO)), (360, 580), interpolation=cv2.INTER_AREA)
    return write_video(tmp_path_factory.mktemp("still") / "still.mp4", [image] * 30)


class NullReader:
    """A reader stand-in that finds nothing (for the I/O tests), ``delay`` seconds a frame."""

    def __init__(self, delay=0.0):
        self.config = ReaderConfig()
        self.detector = SimpleNamespace(config=self.config.detector)
        self.delay, self.calls = delay, 0

    def __call__(self, image):
        self.calls += 1
        time.sleep(self.delay)
        return []


class FlakyCapture:
    """A ``cv2.VideoCapture`` of a file that stands in for a live stream: it gives ``frames`` frames and
    then fails, as a dropped stream does; with ``frames`` 0 it does not open. No frame count."""

    def __init__(self, path, frames):
        self.cap, self.left = cv2.VideoCapture(path), frames

    def isOpened(self):
        return self.left > 0 and self.cap.isOpened()

    def read(self):
        if self.left <= 0:
            return False, None
        self.left -= 1
        return self.cap.read()

    def get(self, key):
        return self.cap.get(key) if key == cv2.CAP_PROP_FPS else 0.0

    def release(self):
        self.cap.release()


def flaky(path, plan):
    """``capture`` for :class:`VideoSource`: the n-th open gives ``plan[n]`` frames (0 after the plan);
    ``opens`` gets the time of each open."""
    opens = []

    def capture(source):
        opens.append(time.monotonic())
        n = plan[len(opens) - 1] if len(opens) <= len(plan) else 0
        return FlakyCapture(path, n)

    capture.opens = opens
    return capture


# -- one record per track

def test_identical_frames_of_one_plate_give_one_record(reader, still):
    # the issue: 30 identical frames of one plate gave 6 records (one per 5th frame)
    per_frame = list(video_records(still, reader, VideoOptions(step=5, per_frame=True)))
    assert len(per_frame) == 6 and all(r["plates"][0]["text"] == DEMO_TEXT for r in per_frame)
    [record] = video_records(still, reader, VideoOptions(step=5))
    assert record["text"] == DEMO_TEXT and record["votes"] == {DEMO_TEXT: 6} and record["valid"] is True
    assert record["agreement"] == [1.0] * 7 and record["frames_read"] == 6
    assert (record["first_frame"], record["last_frame"]) == (0, 25)
    assert (record["first_time"], record["last_time"]) == (0.0, 1.0)   # seconds at 25 fps
    assert record["video"] == still and record["track_id"] == 1


def test_each_plate_of_the_test_video_is_one_track_read_right(reader, clip, plate_assets):
    records = list(video_records(clip["path"], reader, VideoOptions(step=3)))
    assert sorted(r["text"] for r in records) == sorted(t["text"] for t in clip["tracks"])
    assert len({r["track_id"] for r in records}) == len(records)
    fields = {"video", "track_id", "text", "valid", "confidence", "votes", "agreement", "frames_read",
              "first_frame", "last_frame", "first_time", "last_time", "best_frame", "box", "corners",
              "colour", "layout"}
    for r in records:
        truth = next(t for t in clip["tracks"] if t["text"] == r["text"])
        assert fields <= set(r) and r["video"] == clip["path"]
        assert truth["frames"][0] <= r["first_frame"] <= r["best_frame"] <= r["last_frame"] <= truth["frames"][-1]
        assert all(k % 3 == 0 for k in (r["first_frame"], r["best_frame"], r["last_frame"]))
        assert r["first_time"] == pytest.approx(r["first_frame"] / clip["fps"], abs=1e-3)
        assert r["last_time"] == pytest.approx(r["last_frame"] / clip["fps"], abs=1e-3)
        assert r["colour"] == truth["colour"] and r["layout"] == truth["layout"]
        assert r["votes"][r["text"]] >= 2 and len(r["agreement"]) == len(r["text"])
        assert r["frames_read"] >= sum(r["votes"].values())
    # records come when tracks end: ordered by their last frame
    assert [r["last_frame"] for r in records] == sorted(r["last_frame"] for r in records)


def test_video_fps_samples_by_video_time(reader, clip):
    got = []
    list(video_records(clip["path"], reader, VideoOptions(fps=5.0), on_frame=lambda f, p, j: got.append(f.index)))
    assert got == list(range(0, 45, 3))   # 5 of the 15 frames of each second


def test_per_frame_keeps_todays_records(reader, clip):
    records = list(video_records(clip["path"], reader, VideoOptions(step=5, per_frame=True)))
    assert [r["frame"] for r in records] == list(range(0, 45, 5))
    assert all(set(r) == {"image", "frame", "plates", "ms"} and r["image"] == clip["path"] for r in records)


def test_save_dir_writes_the_annotated_video_and_each_tracks_best_frame(reader, clip, tmp_path):
    records = list(video_records(clip["path"], reader, VideoOptions(step=3, save_dir=str(tmp_path))))
    names = sorted(os.listdir(tmp_path))
    assert names == sorted(["clip_tracks.mp4"] + [f"clip_track{r['track_id']}.jpg" for r in records])
    cap = cv2.VideoCapture(str(tmp_path / "clip_tracks.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 15 and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(5)
    ok, first = cap.read()
    assert ok and first.shape == (360, 640, 3)
    best = cv2.imread(str(tmp_path / f"clip_track{records[0]['track_id']}.jpg"))
    assert best.shape == (360, 640, 3)
    # a second source of the same name does not overwrite the first's outputs
    options = VideoOptions(step=15, save_dir=str(tmp_path / "two"))
    for _ in range(2):
        list(video_records(clip["path"], reader, options))
    assert {"clip_tracks.mp4", "clip_1_tracks.mp4"} <= set(os.listdir(tmp_path / "two"))


def test_a_file_name_that_is_not_utf8_or_is_long_is_read_and_its_outputs_saved(reader, still, tmp_path):
    odd = os.path.join(os.fsencode(tmp_path), b"plate-\xff\xfe.mp4")   # cv2.VideoCapture/VideoWriter crash on it
    long = tmp_path / ("皖" * 82 + ".mp4")                             # 250 bytes: + "_tracks.mp4" is over 255
    for path in (odd, long):
        Path(os.fsdecode(path)).write_bytes(Path(still).read_bytes())
    out = tmp_path / "out"
    options = VideoOptions(step=10, save_dir=str(out))
    for path in (os.fsdecode(odd), str(long)):
        [record] = video_records(path, reader, options)
        assert record["text"] == DEMO_TEXT and record["video"] == path
    saved = os.listdir(os.fsencode(out))
    assert b"plate-\xff\xfe_tracks.mp4" in saved and b"plate-\xff\xfe_track1.jpg" in saved
    assert len(saved) == 4 and max(len(n) for n in saved) <= 255 and not [n for n in saved if b".tmp" in n]


def test_a_bad_source_gets_an_error_record_naming_it(reader, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    for path, words in ((tmp_path / "missing.mp4", "no such file"), (empty, "empty file"), (junk, "cannot be opened")):
        [record] = video_records(str(path), reader)
        assert record["video"] == str(path) and str(path) in record["error"] and words in record["error"]


# -- live sources: the bounded queue, reconnects, clean stops

def test_a_live_source_drops_the_oldest_frames_when_reading_is_behind_and_counts_them(still):
    src = VideoSource(still, live=True, queue_size=2, reconnect_attempts=0, capture=flaky(still, [30]))
    got = []
    with pytest.raises(VideoError, match="stream lost"):
        for frame in src:
            got.append(frame.index)
            time.sleep(0.05)
    assert src.frames_read == src.frames_sampled == 30
    assert src.dropped > 0 and len(got) + src.dropped == 30
    assert got == sorted(got) and got[-1] == 29          # the newest frames are kept
    # a file is read at its own pace: nothing dropped
    src = VideoSource(still)
    got = []
    for frame in src:
        got.append(frame.index)
        time.sleep(0.01)
    assert got == list(range(30)) and src.dropped == 0


def test_a_dropped_stream_reconnects_with_backoff_then_gets_an_error_record_after_its_tracks(reader, still):
    capture = flaky(still, [5, 0, 5])   # 5 frames, a failed reconnect, 5 frames, then nothing
    options = VideoOptions(step=1, live=True, queue_size=16, reconnect_attempts=2, reconnect_delay=0.05)
    records = list(video_records(still, reader, options, capture=capture))
    track, error = records
    assert track["text"] == DEMO_TEXT and track["frames_read"] == 10 and track["frames_dropped"] == 0
    assert [r for r in records if "error" in r] == [error] and error["video"] == still
    assert re.search(r"stream lost: no frame after 2 reconnect attempt\(s\) \(10 frames read\)", error["error"])
    opens = capture.opens
    assert len(opens) == 6                      # 1 + a reconnect + 1 + 3 failed attempts
    gaps = np.diff(opens)
    assert gaps[1] >= 0.1 and gaps[3] >= 0.1 and gaps[4] >= 0.2   # the delay doubles after each failure


class _Mp4Handler(BaseHTTPRequestHandler):
    """Serves ``server.data`` with byte ranges (FFmpeg seeks in an mp4); refuses (503) an opening
    request (no range or one from byte 0) past ``server.opens_left``."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        data = self.server.data
        m = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        start = int(m.group(1)) if m else 0
        if start == 0:
            self.server.opens_left -= 1
            if self.server.opens_left < 0:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        end = int(m.group(2)) if m and m.group(2) else len(data) - 1
        body = data[start:end + 1]
        self.send_response(206 if m else 200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if m:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def http_clip(clip):
    """``clip.mp4`` served on loopback: ``(url, server)``; ``server.opens_left`` limits the openings."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Mp4Handler)
    server.daemon_threads = True
    server.data = Path(clip["path"]).read_bytes()
    server.opens_left = 100
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/clip.mp4", server
    server.shutdown()
    server.server_close()


def test_an_http_url_is_read_with_opencv_and_reconnected_when_it_drops(http_clip):
    url, server = http_clip
    # a video file over HTTP declares its frame count: read once, as a file
    src = VideoSource(url, step=1)
    frames = list(src)
    assert len(frames) == 45 and not src.live and frames[15].time == pytest.approx(1.0)
    # read as a live stream it is opened again when it ends, until the server refuses
    server.opens_left = 2
    src = VideoSource(url, step=1, live=True, queue_size=1000, reconnect_attempts=1, reconnect_delay=0.01)
    got = []
    with pytest.raises(VideoError, match=r"stream lost: no frame after 1 reconnect attempt"):
        for frame in src:
            got.append(frame)
    assert len(got) == src.frames_read == 90 and src.reconnects == 2 and src.dropped == 0
    assert [f.index for f in got] == list(range(90))


def test_a_dead_stream_gets_an_error_record_after_its_attempts():
    [record] = video_records("rtsp://127.0.0.1:9/none", NullReader(),
                             VideoOptions(reconnect_attempts=1, reconnect_delay=0.01))
    assert record == {"video": "rtsp://127.0.0.1:9/none",
                      "error": "rtsp://127.0.0.1:9/none: stream cannot be opened or gives no frame (2 attempt(s))"}


def test_a_stop_ends_the_open_tracks_with_their_records(reader, still):
    stop = threading.Event()

    def on_frame(frame, plates, joined):
        if frame.index >= 10:
            stop.set()

    [record] = video_records(still, reader, VideoOptions(step=5, stop=stop), on_frame=on_frame)
    assert record["text"] == DEMO_TEXT and record["last_frame"] == 10 and record["frames_read"] == 3


class InterruptingReader:
    """The tracking reader of ``reader``, raising KeyboardInterrupt (a Ctrl-C) at its ``at``-th frame."""

    def __init__(self, reader, at):
        self.inner, self.at, self.calls = video.tracking_reader(reader), at, 0
        self.config, self.detector = reader.config, reader.detector

    def __call__(self, image):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.inner(image)


def test_ctrl_c_ends_the_open_tracks_with_their_records_then_stops(reader, still, tmp_path):
    records = []
    with pytest.raises(KeyboardInterrupt):
        for r in video_records(still, InterruptingReader(reader, 3), VideoOptions(step=5, save_dir=str(tmp_path))):
            records.append(r)
    [record] = records
    assert record["text"] == DEMO_TEXT and record["frames_read"] == 2 and record["last_frame"] == 5
    assert sorted(os.listdir(tmp_path)) == ["still_track1.jpg", "still_tracks.mp4"]  # written whole, no temporary file


def test_sigterm_stops_the_command_cleanly_writing_the_open_track(tmp_path):
    image = cv2.resize(cv2.imread(str(DEMO)), (360, 580), interpolation=cv2.INTER_AREA)
    long_clip = write_video(tmp_path / "long.mp4", [image] * 150)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "lpr.video", long_clip, "--video-step", "1", "--threads", "1",
                             "--save-dir", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 60
        while not glob.glob(str(out / ".*.tmp.mp4")):   # the annotated video is begun at the first frame
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr.decode()
    [record] = [json.loads(line) for line in stdout.decode().splitlines()]
    assert record["text"] == DEMO_TEXT and 0 < record["frames_read"] < 150
    assert "interrupted by SIGTERM: stopped after 1 record(s)" in stderr.decode()
    assert sorted(os.listdir(out)) == ["long_track1.jpg", "long_tracks.mp4"]


# -- the command lines

def test_the_command_reads_each_source_and_reports_the_ones_that_fail(capsys, clip, plate_assets):
    code = video.main([clip["path"], "missing.mp4", "--video-step", "3", "--threads", "1"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert sorted(r["text"] for r in lines if "text" in r) == sorted(t["text"] for t in clip["tracks"])
    assert lines[-1] == {"video": "missing.mp4", "error": "no such file, folder, stream URL or camera"}


def test_video_options_come_from_the_command_line():
    args = video.build_parser().parse_args(["a.mp4", "--video-fps", "4", "--track-timeout", "2.5",
                                            "--min-track-reads", "3", "--per-frame", "--reconnect", "0"])
    options = video.video_options(args)
    assert (options.fps, options.track_timeout, options.min_reads, options.per_frame, options.reconnect_attempts) \
        == (4.0, 2.5, 3, True, 0)
    with pytest.raises(SystemExit):
        video.build_parser().parse_args(["a.mp4", "--track-timeout", "0"])
    with pytest.raises(ValueError):
        VideoOptions(step=0)


def test_sources_are_told_apart():
    assert video.is_stream_source("rtsp://cam/1") and video.is_stream_source("0") and video.is_stream_source(2)
    assert not video.is_stream_source("clip.mp4") and not video.is_stream_source("ftp://x/clip.mp4")
    assert video.output_stem("rtsp://10.0.0.2:554/live/main") == "10.0.0.2_554_live_main"
    assert video.output_stem("1") == "camera1" and video.output_stem("dir/clip.mp4") == "clip"


def test_the_test_video_and_its_ground_truth(clip):
    cap = cv2.VideoCapture(clip["path"])
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 45 and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(15)
    assert (clip["size"], clip["fps"], clip["seed"]) == ([360, 640], 15.0, 6)
    for t in clip["tracks"]:
        assert len(t["frames"]) == len(t["boxes"]) == len(t["corners"]) > 0
        assert all(0 <= b[0] < b[2] <= 640 and 0 <= b[1] < b[3] <= 360 for b in t["boxes"])
    starts = sorted((t["frames"][0], t["frames"][-1]) for t in clip["tracks"])
    assert any(a[1] > b[0] for a, b in zip(starts, starts[1:]))   # plates overlap in time


def test_the_benchmark_prints_its_table(capsys, clip, plate_assets):
    assert track_eval.main([clip["dir"], "--video-step", "3", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| --video-step 3"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:9] == ["3 (3)", "100.0", cells[5], "0.00", "0.00", "0"]
