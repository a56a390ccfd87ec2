"""Hardening: no input, file name, stream, signal, option value or weight file stops a batch, exhausts
memory, runs code or is trusted unchecked. One regression test (or more) per numbered failure of the
first round (``test_NN_...``) and of the second (issue 29, ``test_29_NN_...``), and a property-based
fuzz test of the command line's per-input path."""
from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from torch import nn

import LPRNet.train
import MTCNN.train
from lpr import PlateReader, cli
from lpr.pipeline import choose_backend
from lprcore.engine import CheckpointError, FitConfig, fit, make_loader
from lprcore.files import write_bytes_atomic
from lprcore.imageio import ImageReadError, ImageTooLargeError, imread, to_bgr8
from lprcore.manifest import MANIFEST_NAME, WeightsError, update_manifest
from LPRNet.reading import RECOGNIZER_ONNX
from LPRNet.reading import WEIGHTS_DIR as LPR_DIR
from MTCNN.cascade import PNET_ONNX, DetectorConfig, pyramid_bytes, pyramid_scales
from MTCNN.cascade import WEIGHTS_DIR as DET_DIR
from MTCNN.nets import PNet

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------------------- helpers

def run_cli(capsys, argv):
    """``lpr.cli.main`` in this process: (status, records, stderr)."""
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, [json.loads(line) for line in out.out.splitlines() if line.strip()], out.err


def run_cli_process(args, shell_redirect="", timeout=60, **kw):
    """``python -m lpr ARGS REDIRECT`` in a child process (a real stdout/stderr, closed or piped)."""
    cmd = ["bash", "-c", f'exec "$0" -m lpr "$@" {shell_redirect}', sys.executable, *map(str, args), "--threads", "1"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=timeout, **kw)


def png_header(height: int, width: int) -> bytes:
    """A PNG whose header declares ``height x width`` RGB pixels but holds almost no data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def good_jpg(synth_dir, tmp_path_factory) -> Path:
    """A small (180x290) synthetic CCPD photo."""
    img = cv2.imread(str(sorted(synth_dir.iterdir())[0]))
    path = tmp_path_factory.mktemp("good") / "good.jpg"
    cv2.imwrite(str(path), cv2.resize(img, (180, 290)))
    return path


@pytest.fixture(scope="module")
def video_files(good_jpg, tmp_path_factory):
    """A 10-frame MJPG video, the same cut in half, and one with no frame."""
    d = tmp_path_factory.mktemp("video")
    img = cv2.imread(str(good_jpg))
    h, w = img.shape[:2]
    vw = cv2.VideoWriter(str(d / "full.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 5, (w, h))
    if not vw.isOpened():
        pytest.skip("OpenCV has no MJPG writer here")
    for _ in range(10):
        vw.write(img)
    vw.release()
    vw = cv2.VideoWriter(str(d / "zero.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 5, (w, h))
    vw.release()
    data = (d / "full.avi").read_bytes()
    (d / "truncated.avi").write_bytes(data[: len(data) // 2])
    return d


def weights_args(random_weights):
    """Untrained weights, and settings that keep them fast: they find boxes everywhere and read no valid
    text, so by default every box would be read again (second look) and every photo searched again
    (rotated and stretched retries). These tests are about inputs and outputs, not about reading: the
    fuzz test and test_main.py run the whole reader."""
    return ["--weights-dir", str(random_weights), "--min-plate-size", "20", "80", "--max-proposals", "2",
            "--no-second-look", "--no-rotated-retry", "--no-stretched-retry"]


# ------------------------------------------------------- 1. a file name that is not valid UTF-8

def test_01_non_utf8_file_name_does_not_abort_the_batch(capsys, good_jpg, video_files, random_weights, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(good_jpg, d / "a.jpg")
    bad = os.path.join(os.fsencode(d), b"plate-\xff\xfe.jpg")  # Latin-1 bytes: not UTF-8
    shutil.copy(good_jpg, bad)
    bad_video = os.path.join(os.fsencode(d), b"plate-\xff\xfe.avi")  # cv2.VideoCapture crashed on it
    shutil.copy(video_files / "full.avi", bad_video)
    shutil.copy(good_jpg, d / "z.jpg")
    code, records, _ = run_cli(capsys, [str(d), "--save-dir", str(tmp_path / "out"), "--video-step", "5", "--per-frame",
                                        *weights_args(random_weights)])
    assert code == 0 and len(records) == 5, records
    video, odd = records[1:3], records[3]
    assert os.fsencode(odd["image"]) == bad and "plates" in odd  # surrogate escapes give the bytes back
    assert [os.fsencode(r["image"]) for r in video] == [bad_video] * 2 and [r["frame"] for r in video] == [0, 5]
    assert b"plate-\xff\xfe.jpg" in os.listdir(os.fsencode(tmp_path / "out"))
    line = cli.json_line(odd)
    assert "\\udcff" in line and line.encode("utf-8")  # valid UTF-8 JSON


# --------------------------------------------------- 2. --resume must not run a crafted checkpoint

class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-checkpoint",))


def _linear_setup(seed=0):
    torch.manual_seed(seed)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(3)]
    return model, opt, data


def _mse(m, batch):
    x, y = batch
    return ((m(x) - y) ** 2).mean(), {}


def test_02_resume_checkpoint_is_weights_only_and_bad_ones_are_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, opt, data = _linear_setup()
    fit(model, opt, data, _mse, None, FitConfig(epochs=1, out_dir="run"))
    ckpt = torch.load("run/last.pth", weights_only=True)  # everything in it loads without code
    assert ckpt["seed"] == 0 and ckpt["epochs"] == 1
    last = tmp_path / "run" / "last.pth"
    cases = {"crafted": lambda: torch.save({**ckpt, "history": _Evil()}, last),
             "empty": lambda: last.write_bytes(b""),
             "truncated": lambda: last.write_bytes(good[: len(good) // 2]),
             "nan": lambda: torch.save({**ckpt, "model": {k: v * np.nan for k, v in ckpt["model"].items()}}, last)}
    good = last.read_bytes()
    for name, make in cases.items():
        make()
        model, opt, data = _linear_setup()
        with pytest.raises(CheckpointError, match="last.pth") as e:
            fit(model, opt, data, _mse, None, FitConfig(epochs=2, out_dir="run", resume=True))
        assert {"empty": "empty", "nan": "NaN"}.get(name, "could not be read") in str(e.value), name
    assert not (tmp_path / "pwned-by-checkpoint").exists()


# ------------------------------------------------------------ 3. images with huge declared sizes

def test_03_huge_declared_image_is_refused_from_its_header_and_the_batch_goes_on(
        capsys, good_jpg, random_weights, tmp_path):
    (tmp_path / "a_huge.png").write_bytes(png_header(100_000, 100_000))   # 10 gigapixels declared
    (tmp_path / "b_big.png").write_bytes(png_header(12_000, 12_000))      # 144 megapixels
    shutil.copy(good_jpg, tmp_path / "c_good.jpg")
    t0 = time.perf_counter()
    code, records, _ = run_cli(capsys, [str(tmp_path), *weights_args(random_weights)])
    assert time.perf_counter() - t0 < 10
    assert code == 1 and [Path(r["image"]).name for r in records] == ["a_huge.png", "b_big.png", "c_good.jpg"]
    assert "too large" in records[0]["error"] and "too large" in records[1]["error"]
    assert "--max-pixels" in records[1]["error"] and "plates" in records[2]


def test_03_imread_raises_image_read_errors_not_cv2_error(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(png_header(100_000, 100_000))
    with pytest.raises(ImageTooLargeError, match="huge.png"):
        imread(path)
    with pytest.raises(ImageReadError, match="huge.png"):  # beyond OpenCV's own limit: not cv2.error
        imread(path, max_pixels=None)


def test_03_pyramid_memory_estimate_and_min_plate_floor(capsys, random_weights, tmp_path):
    (tmp_path / "photo48mp.png").write_bytes(png_header(6000, 8000))  # under --max-pixels
    t0 = time.perf_counter()
    code, records, _ = run_cli(capsys, [str(tmp_path / "photo48mp.png"), *weights_args(random_weights),
                                        "--max-pyramid-mb", "200"])
    assert time.perf_counter() - t0 < 10  # refused from the header, nothing allocated (the image alone: 275 MiB)
    assert code == 1 and "--max-pyramid-mb 200" in records[0]["error"] and "MiB" in records[0]["error"]
    with pytest.raises(SystemExit) as e:
        cli.main([str(tmp_path / "photo48mp.png"), *weights_args(random_weights), "--min-plate-size", "1", "1"])
    assert e.value.code == 2 and "floor" in capsys.readouterr().err


# ------------------------------------------------------------- 4. stderr closed or full

def test_04_closed_stderr_does_not_stop_the_run(good_jpg, random_weights, tmp_path):
    for i in range(5):  # more than PROGRESS_MIN inputs: the progress bar is wanted
        shutil.copy(good_jpg, tmp_path / f"{i}.jpg")
    r = run_cli_process([tmp_path, *weights_args(random_weights)], "2>&-")
    assert r.returncode == 0, r.stdout
    assert len([json.loads(x) for x in r.stdout.decode().splitlines()]) == 5


class _FullTerminal:
    """A terminal that cannot be written (ENOSPC), as stderr."""

    def isatty(self):
        return True

    closed = False

    def write(self, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_04_full_stderr_terminal_does_not_stop_the_run(capsys, monkeypatch, good_jpg, random_weights, tmp_path):
    for i in range(5):
        shutil.copy(good_jpg, tmp_path / f"{i}.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"junk")
    monkeypatch.setattr(sys, "stderr", _FullTerminal())
    code = cli.main([str(tmp_path), *weights_args(random_weights)])
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 1 and len(records) == 6 and "error" in records[-1]


# ------------------------------------------------- 5. a failed save: two records and a .tmp file

def test_05_failed_save_gives_one_record_and_leaves_no_tmp_file(capsys, good_jpg, random_weights, tmp_path):
    shutil.copy(good_jpg, tmp_path / "good.jpg")
    out = tmp_path / "out"
    (out / "good.jpg").mkdir(parents=True)  # the annotated copy's name is taken by a folder
    code, records, _ = run_cli(capsys, [str(tmp_path / "good.jpg"), "--save-dir", str(out),
                                        *weights_args(random_weights)])
    assert code == 1 and len(records) == 1
    assert "plates" in records[0] and "annotated image not saved" in records[0]["error"]
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_05_unusable_save_dir_is_found_before_any_image(capsys, good_jpg, random_weights, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as e:
        cli.main([str(good_jpg), "--save-dir", str(tmp_path / "file" / "sub"), *weights_args(random_weights)])
    out = capsys.readouterr()
    assert e.value.code == 2 and out.out == "" and "--save-dir" in out.err


# ------------------------------------------------------- 6. bad options: status 2, not a traceback

@pytest.mark.parametrize("bad", [["--save-dir", "FILE"], ["--threads", "-1"], ["--pnet-threshold", "-0.5"],
                                 ["--onet-threshold", "nan"], ["--video-step", "0"], ["--max-pixels", "-5"],
                                 ["--max-pyramid-mb", "0"], ["--max-proposals", "-1"],
                                 ["--min-confidence", "1.5"], ["--min-confidence", "-0.1"]])
def test_06_bad_options_are_usage_errors_with_status_2(capsys, bad, good_jpg, random_weights, tmp_path):
    (tmp_path / "FILE").write_text("x")
    bad = [str(tmp_path / "FILE") if a == "FILE" else a for a in bad]
    with pytest.raises(SystemExit) as e:
        cli.main([str(good_jpg), *weights_args(random_weights), *bad])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "usage:" in err and "error:" in err and "Traceback" not in err


@pytest.mark.parametrize("bad", [["--workers", "-1"], ["--epochs", "0"], ["--lr", "-1"], ["--out", "FILE"]])
def test_06_bad_training_options_are_usage_errors(capsys, bad, tmp_path):
    from MTCNN.train import main as train
    (tmp_path / "FILE").write_text("x")
    bad = [str(tmp_path / "FILE") if a == "FILE" else a for a in bad]
    argv = ["--net", "pnet", "--train", "x.txt", "--out", str(tmp_path / "run"), *bad]
    with pytest.raises(SystemExit) as e:
        train(argv)
    assert e.value.code == 2 and "error:" in capsys.readouterr().err


def test_06_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "exit status:" in out and "usage error" in out and "--max-pixels" in out


# -------------------------------------------------------- 7. zero-frame and truncated videos

def test_07_zero_frame_and_truncated_videos_are_reported(capsys, video_files, random_weights):
    code, records, _ = run_cli(capsys, [str(video_files / "zero.avi"), *weights_args(random_weights)])
    assert code == 1 and len(records) == 1 and "no readable frame" in records[0]["error"]
    code, records, _ = run_cli(capsys, [str(video_files / "truncated.avi"), "--video-step", "2", "--per-frame",
                                        *weights_args(random_weights)])
    assert code == 1 and [r.get("frame") for r in records[:-1]] == list(range(0, 2 * len(records) - 2, 2))
    assert "truncated" in records[-1]["error"] and "of 10 frames" in records[-1]["error"]
    code, records, _ = run_cli(capsys, [str(video_files / "full.avi"), "--video-step", "3", "--per-frame",
                                        *weights_args(random_weights)])
    assert code == 0 and [r["frame"] for r in records] == [0, 3, 6, 9]


# ------------------------------------------------ 8. exact --resume with DataLoader workers

class _NoisyRange(torch.utils.data.Dataset):
    """Sample ``i`` is ``(i, noise)`` with noise from NumPy's global RNG, as the augmentations draw it."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        return torch.tensor([float(i), float(np.random.randint(0, 2**31))])


def _train_noisy(out_dir, epochs, stop_at=None, resume=False):
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-12)
    seen = []

    def loss_fn(m, batch):
        seen.append(batch.tolist())
        return m(batch / 2**31).pow(2).mean(), {}

    def on_epoch_start(epoch):
        if epoch == stop_at:
            raise KeyboardInterrupt  # the run is killed here

    loader = make_loader(_NoisyRange(), batch_size=4, workers=2)
    try:
        fit(model, opt, loader, loss_fn, None, FitConfig(epochs=epochs, out_dir=str(out_dir), seed=3, resume=resume),
            on_epoch_start=on_epoch_start)
    except KeyboardInterrupt:
        pass
    return seen, model.weight.detach().clone()


def test_08_resume_with_workers_repeats_the_data_order_and_augmentation(tmp_path):
    straight, w_straight = _train_noisy(tmp_path / "a", 3)
    first, _ = _train_noisy(tmp_path / "b", 3, stop_at=1)
    rest, w_resumed = _train_noisy(tmp_path / "b", 3, resume=True)
    assert len(straight) == 9 and len(first) == 3 and len(rest) == 6
    assert first + rest == straight  # same order and same worker-side random numbers, epoch by epoch
    assert torch.equal(w_straight, w_resumed)
    assert straight[:3] != straight[3:6]  # and the epochs do differ from each other


def test_08_train_scripts_use_the_seeded_loader():
    import LPRNet.train
    import MTCNN.train
    for mod in (LPRNet.train, MTCNN.train):
        src = Path(mod.__file__).read_text(encoding="utf-8")
        assert "make_loader(" in src and "persistent_workers" not in src, mod.__name__


# -------------------------------------------- 9. --resume with more --epochs: the schedule goes on

def _cosine_run(out_dir, epochs, stop_at=None, resume=False):
    model, opt, data = _linear_setup()
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=0.002)

    def on_epoch_start(epoch):
        if epoch == stop_at:
            raise KeyboardInterrupt

    try:
        fit(model, opt, data, _mse, None, FitConfig(epochs=epochs, out_dir=str(out_dir), resume=resume),
            scheduler=sched, on_epoch_start=on_epoch_start)
    except KeyboardInterrupt:
        pass
    return [json.loads(x)["lr"] for x in (out_dir / "log.jsonl").read_text().splitlines()]


def test_09_resume_with_more_epochs_continues_the_cosine_schedule(tmp_path):
    # a finished 4-epoch run extended to 7: the rate stays at its minimum (it used to rise again)
    lrs = _cosine_run(tmp_path / "a", 4)
    lrs = _cosine_run(tmp_path / "a", 7, resume=True)
    assert len(lrs) == 7 and all(b <= a + 1e-12 for a, b in zip(lrs, lrs[1:]))
    assert lrs[-1] == pytest.approx(0.002)
    # a run stopped at epoch 2 of 4 and resumed with --epochs 8: anneals on to the minimum at epoch 7
    _cosine_run(tmp_path / "b", 4, stop_at=2)
    lrs = _cosine_run(tmp_path / "b", 8, resume=True)
    assert len(lrs) == 8 and all(b < a for a, b in zip(lrs, lrs[1:])) and lrs[-1] == pytest.approx(0.002)
    # the extended run is itself resumed exactly
    _cosine_run(tmp_path / "c", 4, stop_at=2)
    _cosine_run(tmp_path / "c", 8, stop_at=5, resume=True)
    assert _cosine_run(tmp_path / "c", 8, resume=True) == pytest.approx(lrs)


def test_09_schedules_fixed_by_the_total_refuse_a_new_epoch_count(tmp_path):
    model, opt, data = _linear_setup()
    sched = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=2)
    fit(model, opt, data, _mse, None, FitConfig(epochs=2, out_dir=str(tmp_path)), scheduler=sched)
    model, opt, data = _linear_setup()
    sched = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=4)
    with pytest.raises(CheckpointError, match="--epochs 2"):
        fit(model, opt, data, _mse, None, FitConfig(epochs=4, out_dir=str(tmp_path), resume=True), scheduler=sched)


# ---------------------------------------------------------------------------- 10. grayscale photos

def test_10_augmentation_makes_a_share_of_grayscale_crops():
    from lprcore.augment import GRAY_P, photometric
    crop = np.random.default_rng(0).integers(0, 255, (24, 94, 3), dtype=np.uint8)
    rng = np.random.default_rng(1)
    gray = [photometric(crop, rng, gray_p=1.0) for _ in range(20)]
    assert all((g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all() for g in gray)
    assert len({int(g.mean()) for g in gray}) > 5  # various looks (luminance, infrared-like mixes)
    rng = np.random.default_rng(2)
    share = np.mean([(lambda g: (g[..., 0] == g[..., 2]).all())(photometric(crop, rng)) for _ in range(400)])
    assert GRAY_P == 0.1 and 0.05 < share < 0.16
    rng = np.random.default_rng(3)
    assert not any((lambda g: (g[..., 0] == g[..., 2]).all())(photometric(crop, rng, gray_p=0.0)) for _ in range(50))


def test_10_evaluate_reads_grayscale_versions(capsys, synth_dir, random_weights, tmp_path):
    from lpr.evaluate import main as evaluate, to_grayscale
    img = np.random.default_rng(0).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    g = to_grayscale(img)
    assert g.shape == img.shape and (g[..., 0] == g[..., 2]).all()
    root = tmp_path / "ccpd_base"
    root.mkdir()
    shutil.copy(sorted(synth_dir.iterdir())[0], root)
    assert evaluate([str(tmp_path), "--grayscale", "--min-plate-size", "20", "80", *weights_args(random_weights)]) == 0
    assert "grayscale" in capsys.readouterr().out


@pytest.mark.slow  # 40 reads of real photos with the shipped weights: about 6 s
def test_10_grayscale_photos_are_read_within_5_points_of_colour(shared_data):
    from lpr.evaluate import to_grayscale
    from lpr.pipeline import PlateReader
    from ccpd.subsets import scan_root
    samples = [s for s in scan_root(str(shared_data / "ccpd_sample" / "val")).samples if s.record][:20]
    reader = PlateReader()
    colour = gray = 0
    for s in samples:
        image = imread(s.path)
        colour += any(p.text == s.record.text for p in reader(image))
        gray += any(p.text == s.record.text for p in reader(to_grayscale(image)))
    assert gray >= colour - 0.05 * len(samples)


# ------------------------------------------------------------------------------------ 11. smaller

def test_11_broken_pipe_stops_cleanly_with_status_1(good_jpg, random_weights, tmp_path):
    for i in range(30):
        shutil.copy(good_jpg, tmp_path / f"{i:02d}.jpg")
    cmd = [sys.executable, "-m", "lpr", str(tmp_path), *weights_args(random_weights), "--threads", "1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 1 and json.loads(first)["image"].endswith("00.jpg")
    assert "standard output closed" in err and "Traceback" not in err and "Exception ignored" not in err


def test_11_closed_stdout_exits_1(good_jpg, random_weights):
    r = run_cli_process([good_jpg, *weights_args(random_weights)], "1>&-")
    assert r.returncode == 1 and b"standard output is closed" in r.stderr


def test_11_fifo_and_device_inputs_are_refused_not_waited_on(capsys, good_jpg, random_weights, tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")
    shutil.copy(good_jpg, tmp_path / "z.jpg")

    class Hung(BaseException):  # not an OSError: the command line must not turn it into a record
        pass

    def timeout(*_):
        raise Hung()

    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    try:
        code, records, _ = run_cli(capsys, [str(tmp_path), os.devnull, *weights_args(random_weights)])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    by_name = {Path(r["image"]).name: r for r in records}
    assert code == 1 and "FIFO" in by_name["pipe.jpg"]["error"] and "device" in by_name["null"]["error"]
    assert "plates" in by_name["z.jpg"]


def test_11_unreadable_subfolder_is_reported(capsys, monkeypatch, good_jpg, random_weights, tmp_path):
    (tmp_path / "locked").mkdir()
    shutil.copy(good_jpg, tmp_path / "locked" / "hidden.jpg")
    shutil.copy(good_jpg, tmp_path / "a.jpg")
    real_scandir = os.scandir

    def scandir(path="."):  # chmod 000 does not stop root, so refuse the listing here
        if os.fspath(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, records, _ = run_cli(capsys, [str(tmp_path), *weights_args(random_weights)])
    assert code == 1 and len(records) == 2
    assert records[0]["image"].endswith("locked") and "Permission denied" in records[0]["error"]


@pytest.mark.parametrize("damage", ["empty", "truncated", "nan", "inf"])
def test_11_damaged_weights_are_refused_naming_the_file(capsys, damage, good_jpg, random_weights, tmp_path):
    for f in random_weights.iterdir():
        shutil.copy(f, tmp_path / f.name)
    target = tmp_path / "lprnet.pth"
    if damage == "empty":
        target.write_bytes(b"")
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:1000])
    else:
        state = torch.load(target, weights_only=True)
        key = next(k for k, v in state.items() if v.is_floating_point())
        state[key].view(-1)[0] = float(damage)
        torch.save(state, target)
    code, records, err = run_cli(capsys, [str(good_jpg), "--weights-dir", str(tmp_path)])
    assert code == 2 and records == [] and "lprnet.pth" in err
    assert {"empty": "empty", "truncated": "could not be read", "nan": "NaN", "inf": "infinite"}[damage] in err


# ------------------------------------------------------------------------------ fuzzing (hypothesis)

_DTYPES = [np.uint8, np.uint16, np.int8, np.int16, np.int32, np.float16, np.float32, np.float64, np.bool_]


@st.composite
def _arrays(draw):
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(0, 40), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(_DTYPES))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.random(shape) * draw(st.sampled_from([1.0, 255.0, 65535.0, 1e9]))
    if dtype in (np.float32, np.float64) and a.size and draw(st.booleans()):
        a.flat[0] = np.nan
    with np.errstate(all="ignore"):  # overflowing casts are part of the test
        return a.astype(dtype)


_NAME_BYTES = st.binary(min_size=1, max_size=60).map(lambda b: b.replace(b"/", b"_").replace(b"\0", b"_"))
_EXTS = st.sampled_from([b".jpg", b".png", b".tif", b".bmp", b".webp", b".avi", b".mp4", b""])


@st.composite
def _inputs(draw):
    """(file name bytes, file content bytes) for one input."""
    name = draw(_NAME_BYTES).lstrip(b".") or b"x"
    name = name[:200] + draw(_EXTS)
    kind = draw(st.sampled_from(["bytes", "array", "image"]))
    if kind == "bytes":
        return name, draw(st.binary(max_size=300))
    a = draw(_arrays()) if kind == "array" else \
        np.random.default_rng(draw(st.integers(0, 99))).integers(0, 255, (draw(st.integers(1, 90)),
                                                                     draw(st.integers(1, 160)), 3), dtype=np.uint8)
    ext = draw(st.sampled_from([".png", ".tif", ".bmp", ".jpg"]))
    try:
        ok, buf = cv2.imencode(ext, a)
    except Exception:  # cv2.error, or a dtype OpenCV does not take
        ok, buf = False, None
    data = buf.tobytes() if ok else a.tobytes()
    if data and draw(st.booleans()):
        data = data[: draw(st.integers(1, len(data)))]  # truncated
    return name, data


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs=st.lists(_inputs(), min_size=1, max_size=3))
def test_fuzz_per_input_path_gives_one_valid_record_per_input(inputs, fuzz_reader):
    with tempfile.TemporaryDirectory() as d:
        save = os.path.join(d, "out")
        os.mkdir(save)
        opts = cli.InputOptions(save_dir=save, video_step=3, max_pixels=1_000_000)
        used: dict = {}
        for i, (name, data) in enumerate(inputs):
            path = os.path.join(os.fsencode(d), b"%d-" % i + name)
            with open(path, "wb") as fh:
                fh.write(data)
            records = list(cli.read_input(os.fsdecode(path), fuzz_reader, opts, used))
            is_video = os.fsdecode(path).lower().endswith(cli.VIDEO_EXTENSIONS)
            assert len(records) == 1 or (is_video and records), records
            for rec in records:
                assert rec["image"] == os.fsdecode(path) and ("plates" in rec or "error" in rec)
                assert json.loads(cli.json_line(rec).encode("utf-8")) == rec
        assert not [n for n in os.listdir(save) if b".tmp" in os.fsencode(n)]


@settings(max_examples=150, deadline=None)
@given(a=_arrays())
def test_fuzz_any_array_becomes_bgr8_or_a_read_error(a):
    try:
        out = to_bgr8(a, "x")
    except ImageReadError:
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and out.shape[:2] == a.shape[:2]


@pytest.fixture(scope="module")
def fuzz_reader(random_weights):
    from lpr.config import ReaderConfig, ReadingOptions
    from lpr.pipeline import PlateReader
    from MTCNN.cascade import DetectorConfig
    # the whole per-image path with the retries (odd shapes rotated and stretched), on one proposal a
    # pass and without the second look (the same boxes read at other scales): untrained weights read
    # no valid text, so each photo costs 4 detections, and hypothesis draws many photos
    return PlateReader(ReaderConfig(detector=DetectorConfig(min_plate_size=(20, 80), max_proposals=1),
                                    reading=ReadingOptions(all_reads=True, second_look=False)),
                       weights_dir=random_weights)

# ---------- issue 29: threads, pyramid levels and memory, --resume
# Issue 29, items 1, 2, 10 and the ``--resume`` extra: no option value starts an unbounded run (threads,
# pyramid levels), the pyramid budget bounds the real peak memory, a resume without a checkpoint says so.
# One regression test per item, named after it (``test_29_NN_...``).

CPUS = os.cpu_count() or 1


def run_main(capsys, argv):
    """``lpr.cli.main`` in this process: (status, stderr)."""
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


# ------------------------------------------------------------------ 1. --threads above the CPUs

@pytest.mark.parametrize("threads", [CPUS + 1, 2000, 100000])
def test_29_01_threads_above_the_cpus_are_refused(capsys, tmp_path, threads):
    # the parser first: before the fix, the reader below started that many threads (minutes, gigabytes)
    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args(["--threads", str(threads)])
    err = capsys.readouterr().err
    assert e.value.code == 2
    line = [l for l in err.splitlines() if "error" in l]
    assert len(line) == 1 and "--threads" in line[0] and f"[0, {CPUS}]" in line[0]
    t0 = time.perf_counter()
    assert run_main(capsys, [str(tmp_path / "none.jpg"), "--threads", str(threads)])[0] == 2
    assert time.perf_counter() - t0 < 5
    for train in (MTCNN.train, LPRNet.train):  # training's --threads too
        with pytest.raises(SystemExit) as e:
            train.main(["--out", str(tmp_path / "run"), "--threads", str(threads)])
        assert e.value.code == 2 and "--threads" in capsys.readouterr().err.strip().splitlines()[-1]
        assert not (tmp_path / "run").exists()
    # the Python API: the reader (either backend) and the ONNX nets
    from lprcore.onnx import OnnxNet
    from MTCNN.onnx_detector import OnnxDetector
    for make in (lambda: PlateReader(threads=threads), lambda: PlateReader(backend="torch", threads=threads),
                 lambda: OnnxDetector(threads=threads), lambda: OnnxNet(tmp_path / "none.onnx", "PNet", threads)):
        with pytest.raises(ValueError, match=rf"threads .*\[0, {CPUS}\].*os.cpu_count"):
            make()
    assert cli.build_parser().parse_args(["--threads", str(CPUS)]).threads == CPUS  # the limit itself is fine


# --------------------------------------------------------- 2. pyramid levels without a bound

def test_29_02_scale_factor_near_one_is_a_usage_error_and_levels_are_bounded(capsys, tmp_path):
    for factor in ("0.999999", "0.99", "1", "nan"):
        with pytest.raises(ValueError, match="scale_factor"):
            DetectorConfig(scale_factor=float(factor))
        t0 = time.perf_counter()
        code, err = run_main(capsys, [str(tmp_path / "none.jpg"), "--scale-factor", factor])
        assert code == 2 and time.perf_counter() - t0 < 5
        assert "--scale-factor" in err and "0.95" in err
        # the pyramid itself stays bounded whatever its caller passes (1 looped for ever before the fix)
        with pytest.raises(ValueError, match="scale_factor"):
            pyramid_scales((720, 1160), (16, 60), float(factor))
    config = DetectorConfig(scale_factor=0.95)  # the largest accepted
    t0 = time.perf_counter()
    levels = len(pyramid_scales((8000, 8000), config.min_plate_size, config.scale_factor))
    assert levels < 150 and time.perf_counter() - t0 < 0.1
    assert len(pyramid_scales((720, 1160), (16, 60), 0.709)) < levels


# -------------------------------------------------- 10. the pyramid budget bounds the real peak

#: The child: the reader loaded and run once on the photo (so that the nets' working memory, which
#: ONNX Runtime's arenas keep, is sized by the batches this photo gives), the C heap's free pages given
#: back (glibc); then the photo read again as the command line does (its size checked from the header,
#: decoded, read with both retries on). Prints the growth of its resident memory from before that read
#: to its peak, bytes: VmHWM, reset before the read (``/proc/self/clear_refs``). Not ``ru_maxrss``,
#: which starts at the parent's peak (Linux keeps the larger across fork and exec): the pytest process's.
PEAK_CHILD = r"""
import ctypes, json, sys
from lprcore.imageio import image_size, imread
from lpr import PlateReader
from lpr.config import ReaderConfig
from MTCNN.cascade import DetectorConfig, check_image_size

def status(key):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(key + ":"))

backend, path, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = ReaderConfig(detector=DetectorConfig(max_pyramid_mb=mb))
reader = PlateReader(config, backend=backend, threads=1)
reader(imread(path, None))
getattr(ctypes.CDLL(None), "malloc_trim", lambda pad: 0)(0)
before = status("VmRSS")
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # VmHWM from here on
except OSError:  # not allowed here: VmHWM holds the first read's peak too, about the same
    pass
check_image_size(image_size(path), config.detector, path)
plates = reader(imread(path, None))
print(json.dumps({"growth": status("VmHWM") - before, "backend": reader.backend, "plates": len(plates)}))
"""
#: What a read may take beyond the estimate whatever the photo's size: glibc serves buffers up to 32 MiB
#: from its heap, where a PNet run leaves some fragmented, and ONNX Runtime's scratch. Measured: a photo
#: estimated at 149 MiB peaked 157 MiB above the loaded reader on ONNX Runtime, 140 on torch (before
#: the fix: 326 and 200); at 99 MiB, up to 124; at 998 MiB, 967.
FIXED_OVERHEAD_MB = 40


def photo_near_budget(path: Path, mb: int) -> Path:
    """A plate-less photo (smooth noise: no valid read, so both retries run), square, the largest
    whose estimate (:func:`MTCNN.cascade.pyramid_bytes`) is within ``mb`` MiB."""
    config = DetectorConfig(max_pyramid_mb=mb)
    side = 64
    while pyramid_bytes((side + 8, side + 8), config) <= mb * 2**20:
        side += 8
    rng = np.random.default_rng(0)
    cv2.imwrite(str(path), cv2.resize(rng.integers(0, 256, (side // 16, side // 16, 3), np.uint8), (side, side),
                                      interpolation=cv2.INTER_CUBIC))
    return path


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("backend", ["onnx", pytest.param("torch", marks=pytest.mark.slow)])
def test_29_10_peak_memory_stays_within_the_pyramid_budget(tmp_path, backend):
    mb = 150
    photo = photo_near_budget(tmp_path / "photo.jpg", mb)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", PEAK_CHILD, backend, str(photo), str(mb)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["backend"] == backend
    assert out["growth"] <= (mb + FIXED_OVERHEAD_MB) * 2**20, \
        f"{backend}: peak grew by {out['growth'] / 2**20:.0f} MiB reading a photo within --max-pyramid-mb {mb}"


# ---------------------------------------------------------- extra: --resume without last.pth

def test_29_resume_without_a_checkpoint_warns(tmp_path, caplog):
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    data = [(torch.randn(4, 2), torch.randn(4, 1))]
    loss = lambda m, batch: (nn.functional.mse_loss(m(batch[0]), batch[1]), {})
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), data, loss, None,
            FitConfig(epochs=1, out_dir=str(out), resume=True))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("last.pth" in m and "resume" in m.lower() for m in warnings), warnings
    assert (out / "last.pth").is_file()  # a new run was started and saved
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # a resume that finds it says nothing
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), data, loss, None,
            FitConfig(epochs=2, out_dir=str(out), resume=True))
    assert not [r for r in caplog.records if "last.pth" in r.getMessage() and r.levelno == logging.WARNING]

def test_29_resume_help_says_what_happens_without_a_checkpoint(capsys):
    for train in (MTCNN.train, LPRNet.train):
        with pytest.raises(SystemExit):
            train.main(["--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--resume continue from OUT/last.pth (without one: a warning, and a new run starts)" in text

# ---------- issue 29: the weight files every backend checks
# Issue 29, items 3-5: every backend checks the weight files it was told to trust, or says it did not.
# One regression test per item, named after it (``test_29_NN_...``).

#: The weight-check tests need the shipped ONNX exports beside the shipped torch weights.
needs_exports = pytest.mark.skipif(not ((DET_DIR / PNET_ONNX).is_file() and (LPR_DIR / RECOGNIZER_ONNX).is_file()),
                                   reason="no ONNX exports beside the shipped weights")


def shipped_folder(d: Path) -> Path:
    """The shipped detector and recognizer weights (torch and ONNX) in one folder ``d``, their two
    MANIFEST.json merged into one."""
    d.mkdir()
    files = {}
    for src in (DET_DIR, LPR_DIR):
        for f in src.iterdir():
            if f.name != MANIFEST_NAME:
                shutil.copy(f, d / f.name)
        files.update(json.loads((src / MANIFEST_NAME).read_text(encoding="utf-8"))["files"])
    (d / MANIFEST_NAME).write_text(json.dumps({"format": 1, "files": files}), encoding="utf-8")
    return d


def small_photo(d: Path) -> str:
    path = d / "photo.png"
    cv2.imwrite(str(path), np.zeros((64, 200, 3), np.uint8))
    return str(path)


def run_cli_err(capsys, argv):
    """``lpr.cli.main`` in this process: (status, stderr)."""
    code = cli.main(argv)
    return code, capsys.readouterr().err


@needs_exports
def test_29_03_stale_export_is_refused_by_onnx_and_named_under_auto(tmp_path, capsys, caplog):
    d = shipped_folder(tmp_path / "w")
    torch.manual_seed(1)
    torch.save(PNet().state_dict(), d / "pnet.pth")  # "retrained", manifest updated, pnet.onnx not re-exported
    update_manifest(d, "pnet.pth", command="retrained")

    code, err = run_cli_err(capsys, [small_photo(tmp_path), "--weights-dir", str(d), "--backend", "onnx"])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "pnet.onnx is stale" in err and "pnet.pth" in err and "python -m lpr.export" in err
    with pytest.raises(WeightsError, match=r"pnet\.onnx is stale: pnet\.pth beside it"):
        PlateReader(weights_dir=d, backend="onnx")

    with caplog.at_level(logging.WARNING):
        assert choose_backend("auto", d, d) == "torch"  # the documented fallback, with a warning that says why
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 1 and "pnet.onnx is stale: pnet.pth beside it has SHA-256" in messages[0]
    assert "reading with torch" in messages[0] and "python -m lpr.export" in messages[0]


@needs_exports
def test_29_04_a_torch_file_that_differs_from_its_manifest_is_refused_by_every_backend(tmp_path, capsys):
    photo = small_photo(tmp_path)
    for damage in ("manifest", "file"):
        d = shipped_folder(tmp_path / damage)
        if damage == "manifest":  # the manifest's SHA-256 of stn.pth no longer matches the file
            manifest = json.loads((d / MANIFEST_NAME).read_text(encoding="utf-8"))
            manifest["files"]["stn.pth"]["sha256"] = "0" * 64
            (d / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
        else:  # stn.pth itself changed (one bit), the manifest as shipped
            data = bytearray((d / "stn.pth").read_bytes())
            data[-100] ^= 1
            (d / "stn.pth").write_bytes(bytes(data))
        for backend in ("auto", "onnx", "torch"):
            code, err = run_cli_err(capsys, [photo, "--weights-dir", str(d), "--backend", backend])
            assert code == 2 and len(err.strip().splitlines()) == 1, (damage, backend, err)
            assert "stn.pth" in err and "SHA-256 differs from the one in MANIFEST.json" in err, (damage, backend, err)
            with pytest.raises(WeightsError, match=r"stn\.pth"):
                PlateReader(weights_dir=d, backend=backend)


@needs_exports
def test_29_05_a_folder_without_manifest_is_named_in_one_warning(tmp_path, caplog):
    for backend, want in (("auto", "torch"), ("onnx", "onnx"), ("torch", "torch")):
        d = shipped_folder(tmp_path / backend)
        (d / MANIFEST_NAME).unlink()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert PlateReader(weights_dir=d, backend=backend).backend == want
            PlateReader(weights_dir=d, backend=backend)  # the same folder again: said once
        messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(messages) == 1, (backend, messages)
        assert f"weights folder {d} has no MANIFEST.json: nothing in it was checked" in messages[0]
        assert "stale" not in messages[0] and "re-export" not in messages[0]  # the export is not to blame

# ---------- issue 29: file names, signals, no-torch install, video wording, input order
# Issue 29, items 6-9 and two extras: long file names with --save-dir, SIGTERM and Ctrl-C during a
# run, the torch backend on the install without torch, the video errors' wording, records in argument
# order. One test (or more) per item, named after it (``test_29_NN_...``).

#: ``python -m lpr`` on an install without torch: ``import torch`` fails as there.
NO_TORCH = "import runpy, sys; sys.modules['torch'] = None; runpy.run_module('lpr', run_name='__main__')"
#: ``python -m lpr`` whose renames into $LPR_TEST_OUT after the first sleep until a signal comes (a
#: slow disk): $LPR_TEST_MARKER is created when the second rename starts.
SLOW_RENAME = """
import os, runpy, time
real, calls = os.replace, []
def replace(src, dst, *a, **k):
    if os.fspath(dst).startswith(os.environ["LPR_TEST_OUT"]):
        calls.append(dst)
        if len(calls) > 1:
            open(os.environ["LPR_TEST_MARKER"], "w").close()
            time.sleep(60)
    return real(src, dst, *a, **k)
os.replace = replace
runpy.run_module("lpr", run_name="__main__")
"""


def fast_args(random_weights):
    return [*weights_args(random_weights), "--threads", "1"]


def temp_files(folder) -> list:
    return [n for n in os.listdir(folder) if ".tmp" in n]


def stop_after_first_record(cmd, sig, wait_for=None, env=None):
    """Start ``cmd``, read its first record, wait for the file ``wait_for`` (if given), send ``sig``;
    returns (exit status, stdout lines, stderr lines but the logged warnings about the weights)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        first = proc.stdout.readline()
        deadline = time.monotonic() + 30
        while wait_for is not None and not os.path.exists(wait_for) and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(sig)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, (first + rest).decode().splitlines(), messages(err)


def messages(stderr: bytes) -> list:
    """The lines of ``stderr`` but those of ``logging`` warnings (untrained weights have no manifest)."""
    return [line for line in stderr.decode().splitlines() if not line.startswith("WARNING ")]


# ------------------------------------------------------ 6. file names near NAME_MAX (255 bytes)

def test_29_06_long_file_names_are_saved_under_name_max(capsys, good_jpg, video_files, random_weights, tmp_path):
    long = "皖" * 82  # 246 bytes in UTF-8: + ".jpg" is 250, + the old ".tmp<pid>" over 255
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        shutil.copy(good_jpg, tmp_path / d / f"{long}.jpg")
    shutil.copy(video_files / "full.avi", tmp_path / "a" / f"{long}.avi")  # frames add "_f000000"
    out = tmp_path / "out"
    code, records, _ = run_cli(capsys, [str(tmp_path / "a"), str(tmp_path / "b"), "--save-dir", str(out),
                                        "--per-frame", *weights_args(random_weights)])
    assert code == 0 and len(records) == 4 and not [r for r in records if "error" in r], records
    saved = os.listdir(out)
    assert len(set(saved)) == 4 and max(len(os.fsencode(n)) for n in saved) <= 255 and not temp_files(out)
    assert f"{long}.jpg" in saved  # a name that fits is kept as it is
    write_bytes_atomic(tmp_path / ("x" * 255), b"data")  # the longest name itself
    assert (tmp_path / ("x" * 255)).read_bytes() == b"data" and not temp_files(tmp_path)


# ------------------------------------------------ 7. SIGTERM or Ctrl-C during a save: no litter

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_29_07_signal_during_a_save_leaves_no_temporary_file(sig, good_jpg, random_weights, tmp_path):
    for i in range(3):
        shutil.copy(good_jpg, tmp_path / f"{i}.jpg")
    out, marker = tmp_path / "out", tmp_path / "renaming"
    env = {**os.environ, "LPR_TEST_OUT": str(out), "LPR_TEST_MARKER": str(marker)}
    cmd = [sys.executable, "-c", SLOW_RENAME, *map(str, [tmp_path / "0.jpg", tmp_path / "1.jpg", tmp_path / "2.jpg",
                                                         "--save-dir", out]), *fast_args(random_weights)]
    code, lines, err = stop_after_first_record(cmd, sig, wait_for=marker, env=env)
    assert marker.exists()  # the signal came during the second save
    assert code == 128 + sig and len(err) == 1 and "Traceback" not in err[0], err
    assert [json.loads(line)["image"] for line in lines] == [str(tmp_path / "0.jpg")]
    assert sorted(os.listdir(out)) == ["0.jpg"] and not temp_files(out)


# ------------------------------------------------- 8. Ctrl-C: one line on stderr, status 130

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_29_08_interrupt_gives_one_line_and_status_130_or_143(sig, good_jpg, random_weights, tmp_path):
    for i in range(40):
        shutil.copy(good_jpg, tmp_path / f"{i:02d}.jpg")
    code, lines, err = stop_after_first_record([sys.executable, "-m", "lpr", str(tmp_path),
                                                "--save-dir", str(tmp_path / "out"), *fast_args(random_weights)], sig)
    assert code == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig], err
    assert len(err) == 1 and f"after {len(lines)} record(s)" in err[0] and signal.Signals(sig).name in err[0], err
    assert 1 <= len(lines) < 40 and all("plates" in json.loads(line) for line in lines)  # whole lines only
    assert not temp_files(tmp_path / "out")


# --------------------------------------- 9. the torch backend on the install without torch

@pytest.mark.parametrize("option", [["--backend", "torch"], ["--device", "cuda"], []])
def test_29_09_torch_backend_without_torch_is_a_one_line_usage_error(option, good_jpg, random_weights):
    # random_weights has no ONNX export: with no option too, the reader needs torch
    r = subprocess.run([sys.executable, "-c", NO_TORCH, str(good_jpg), *option, *fast_args(random_weights)],
                       cwd=ROOT, capture_output=True, timeout=60)
    err = messages(r.stderr)
    assert r.returncode == 2 and r.stdout == b"" and len(err) == 1, err
    assert err[0].startswith("error: ") and "pip install torch" in err[0] and "Install" in err[0]
    assert (option[0] if option else "ONNX export") in err[0]


# ------------------------------------------ extra: video errors worded as README.md's table

def test_29_video_wording_every_video_failure_says_truncated_or_damaged(capsys, video_files, random_weights,
                                                                         tmp_path):
    (tmp_path / "empty.avi").write_bytes(b"")
    (tmp_path / "junk.avi").write_bytes(b"not a video " * 50)
    inputs = [video_files / "zero.avi", tmp_path / "empty.avi", tmp_path / "junk.avi", video_files / "truncated.avi"]
    code, records, _ = run_cli(capsys, [*map(str, inputs), *weights_args(random_weights)])
    errors = [r["error"] for r in records if "error" in r]
    assert code == 1 and len(errors) == 4, records
    for path, error in zip(inputs, errors):  # README: "PATH: video truncated or damaged: 5 of 10 frames read"
        assert error.startswith(f"{path}: video truncated or damaged: "), error
    assert "no readable frame" in errors[0] and "empty file (0 bytes)" in errors[1] and "of 10 frames read" in errors[3]


# ------------------------------------------------ extra: records in the order of the arguments

def test_29_input_order_records_follow_the_arguments(capsys, good_jpg, random_weights, tmp_path):
    (tmp_path / "nothing").mkdir()
    paths = [str(good_jpg), str(tmp_path / "missing.jpg"), str(good_jpg), str(tmp_path / "nomatch*.png"),
             str(tmp_path / "nothing"), str(good_jpg)]
    code, records, _ = run_cli(capsys, [*paths, *weights_args(random_weights)])
    assert code == 1 and [r["image"] for r in records] == paths
    assert ["error" in r for r in records] == [False, True, False, True, True, False]
