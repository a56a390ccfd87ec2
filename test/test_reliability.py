"""Issue 13, hardening: no input, file name, stream or checkpoint stops a batch, exhausts memory or runs
code. One regression test (or more) per numbered failure of the issue, named after it (``test_NN_...``),
and a property-based fuzz test of the command line's per-input path."""
from __future__ import annotations

import errno
import json
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

from lpr import cli
from lprcore.engine import CheckpointError, FitConfig, fit, make_loader
from lprcore.imageio import ImageReadError, ImageTooLargeError, imread, to_bgr8

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
    code, records, _ = run_cli(capsys, [str(d), "--save-dir", str(tmp_path / "out"), "--video-step", "5",
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
                                        "--max-pyramid-mb", "1024"])
    assert time.perf_counter() - t0 < 10  # refused from the header, nothing allocated
    assert code == 1 and "--max-pyramid-mb 1024" in records[0]["error"] and "MiB" in records[0]["error"]
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
    code, records, _ = run_cli(capsys, [str(video_files / "truncated.avi"), "--video-step", "2",
                                        *weights_args(random_weights)])
    assert code == 1 and [r.get("frame") for r in records[:-1]] == list(range(0, 2 * len(records) - 2, 2))
    assert "truncated" in records[-1]["error"] and "of 10 frames" in records[-1]["error"]
    code, records, _ = run_cli(capsys, [str(video_files / "full.avi"), "--video-step", "3",
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
