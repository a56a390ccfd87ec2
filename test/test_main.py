"""``main.py`` on a folder of generated good and bad inputs; weight errors; annotated output."""
import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from lpr import cli
from lprcore.imageio import imwrite
from MTCNN.nets import ONet


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory, synth_dir):
    d = tmp_path_factory.mktemp("mixed")
    good = sorted(synth_dir.iterdir())[:2]
    # the photos at half size (290 x 180): untrained weights read every box, so pixels cost time
    img = cv2.resize(cv2.imread(str(good[0])), (180, 290), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(d / "good.jpg"), img)
    imwrite(d / "皖A12345.jpg", cv2.resize(cv2.imread(str(good[1])), (180, 290), interpolation=cv2.INTER_AREA))  # Chinese file name
    data = (d / "good.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 3])       # handled or a clear error
    (d / "empty.jpg").write_bytes(b"")
    (d / "notes.png").write_text("this is not an image")
    cv2.imwrite(str(d / "tiny.png"), img[:1, :1])                    # 1x1 image
    cv2.imwrite(str(d / "gray.png"), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(d / "rgba.png"), cv2.cvtColor(img, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(d / "deep.png"), img.astype(np.uint16) * 257)   # 16-bit
    (d / "sub").mkdir()
    shutil.copy(d / "good.jpg", d / "sub" / "nested.jpg")
    return d


#: Untrained weights find boxes everywhere, and every box is read again by the second look and the
#: retries: a few proposals keep each photo cheap (the options reach the reader all the same).
FEW = ["--max-proposals", "2"]


def run(capsys, argv):
    code = cli.main(argv)
    out = capsys.readouterr()
    records = [json.loads(line) for line in out.out.splitlines() if line.strip()]
    return code, records, out.err


def test_folder_of_mixed_files_reports_each(capsys, mixed_folder, random_weights, tmp_path):
    missing = str(mixed_folder / "missing.jpg")
    code, records, err = run(capsys, [str(mixed_folder), missing, "--weights-dir", str(random_weights),
                                      "--min-plate-size", "20", "80", "--save-dir", str(tmp_path / "out"),
                                      "--all-reads", *FEW])  # random weights read garbage texts
    by_name = {r["image"].replace("\\", "/").split("/")[-1]: r for r in records}
    assert code == 1 and "failed" in err
    for ok in ("good.jpg", "皖A12345.jpg", "tiny.png", "gray.png", "rgba.png", "deep.png", "nested.jpg"):
        assert "plates" in by_name[ok], by_name[ok]
        assert by_name[ok]["ms"] >= 0
    assert by_name["tiny.png"]["plates"] == []
    assert "empty" in by_name["empty.jpg"]["error"]
    assert "not a readable image" in by_name["notes.png"]["error"]
    assert "no such file" in by_name["missing.jpg"]["error"]
    assert "plates" in by_name["truncated.jpg"] or "error" in by_name["truncated.jpg"]
    plate = by_name["good.jpg"]["plates"][0]
    assert len(plate["box"]) == 4 and set(plate) >= {"box", "score", "text", "confidence"}
    saved = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "good.jpg" in saved and "皖A12345.jpg" in saved and len(saved) == 7


def test_all_good_exits_zero_and_glob(capsys, mixed_folder, random_weights):
    code, records, _ = run(capsys, [str(mixed_folder / "g*.jpg"), "--weights-dir", str(random_weights), *FEW])
    assert code == 0 and [r["image"].split("/")[-1] for r in records] == ["good.jpg"]
    code, records, _ = run(capsys, [str(mixed_folder / "nothing*.jpg"), "--weights-dir", str(random_weights)])
    assert code == 1 and "no file matches" in records[0]["error"]


def test_read_filter_options_reach_the_reader(capsys, mixed_folder, random_weights):
    good = str(mixed_folder / "good.jpg")
    args = [good, "--weights-dir", str(random_weights), "--min-plate-size", "20", "80", "--all-reads",
            "--max-proposals", "4"]  # a few plates, for confidences to cut between
    _, every, _ = run(capsys, args)
    confidences = sorted(p["confidence"] for p in every[0]["plates"])
    assert len(confidences) >= 2 and any(p["valid"] is False for p in every[0]["plates"])  # garbage texts
    cut = (confidences[0] + confidences[-1]) / 2
    _, some, _ = run(capsys, args + ["--min-confidence", str(cut)])
    assert 0 < len(some[0]["plates"]) < len(confidences)
    assert all(p["confidence"] >= cut for p in some[0]["plates"])


def test_second_look_flags_reach_the_reader(capsys, mixed_folder, random_weights, monkeypatch):
    from LPRNet.crops import SECOND_LOOK_BELOW
    from LPRNet.reading import Recognizer
    calls = []
    real = Recognizer.second_look
    monkeypatch.setattr(Recognizer, "second_look",
                        lambda self, *a, below: calls.append(below) or real(self, *a, below=below))
    args = [str(mixed_folder / "good.jpg"), "--weights-dir", str(random_weights), "--min-plate-size", "20", "80", *FEW]
    run(capsys, args)
    assert calls and set(calls) == {SECOND_LOOK_BELOW}  # on by default, at its default threshold
    calls.clear()
    run(capsys, args + ["--second-look-below", "1"])
    assert calls and set(calls) == {1.0}
    calls.clear()
    run(capsys, args + ["--no-second-look"])
    assert calls == []


def test_no_rotated_retry_reaches_the_reader(capsys, mixed_folder, random_weights, monkeypatch):
    from lpr.pipeline import PlateReader
    calls = []
    real = PlateReader.retry_rotated
    monkeypatch.setattr(PlateReader, "retry_rotated", lambda self, *a: calls.append(1) or real(self, *a))
    args = [str(mixed_folder / "good.jpg"), "--weights-dir", str(random_weights), "--min-plate-size", "20", "80",
            "--no-second-look", *FEW]
    run(capsys, args)
    assert calls  # on by default: random weights read no valid text
    calls.clear()
    run(capsys, args + ["--no-rotated-retry"])
    assert calls == []


def test_no_stretched_retry_reaches_the_reader(capsys, mixed_folder, random_weights, monkeypatch):
    from lpr.pipeline import PlateReader
    calls = []
    real = PlateReader.retry_stretched
    monkeypatch.setattr(PlateReader, "retry_stretched", lambda self, *a: calls.append(1) or real(self, *a))
    args = [str(mixed_folder / "good.jpg"), "--weights-dir", str(random_weights), "--min-plate-size", "20", "80",
            "--no-second-look", "--no-rotated-retry", *FEW]
    run(capsys, args)
    assert calls  # on by default: random weights read no valid text
    calls.clear()
    run(capsys, args + ["--no-stretched-retry"])
    assert calls == []


def test_weight_errors_stop_before_reading_images(capsys, mixed_folder, random_weights, tmp_path):
    code, records, err = run(capsys, [str(mixed_folder), "--weights-dir", str(tmp_path)])
    assert code == 2 and records == [] and "pnet.pth" in err and "not found" in err
    for name in ("pnet.pth", "stn.pth", "lprnet.pth"):
        shutil.copy(random_weights / name, tmp_path / name)
    torch.save(ONet().state_dict(), tmp_path / "onet.pth")
    (tmp_path / "onet.pth").write_bytes(b"corrupt")
    code, records, err = run(capsys, [str(mixed_folder), "--weights-dir", str(tmp_path)])
    assert code == 2 and "onet.pth" in err and "could not be read" in err
    shutil.copy(random_weights / "pnet.pth", tmp_path / "onet.pth")  # PNet weights where ONet's belong
    code, records, err = run(capsys, [str(mixed_folder), "--weights-dir", str(tmp_path)])
    assert code == 2 and "onet.pth" in err and "does not fit ONet" in err


def test_bad_options(capsys, random_weights):
    with pytest.raises(SystemExit) as e:  # a usage error: argparse's message, status 2
        cli.main(["--onet-threshold", "3", "--weights-dir", str(random_weights)])
    assert e.value.code == 2 and "onet_threshold" in capsys.readouterr().err
    assert cli.main(["--device", "banana", "--weights-dir", str(random_weights)]) == 2
    assert "--device banana" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--nms-mode", "max"])


def test_video_frames(capsys, mixed_folder, random_weights, tmp_path):
    img = cv2.imread(str(mixed_folder / "good.jpg"))
    path = str(tmp_path / "clip.avi")
    vw = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 5, (img.shape[1], img.shape[0]))
    if not vw.isOpened():
        pytest.skip("OpenCV has no MJPG writer here")
    for _ in range(4):
        vw.write(img)
    vw.release()
    code, records, _ = run(capsys, [path, "--per-frame", "--video-step", "2", "--weights-dir", str(random_weights), *FEW])
    assert code == 0 and [r["frame"] for r in records] == [0, 2]


def test_the_command_line_runs_as_a_module_and_through_main_py():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for argv, prog in ((["-m", "lpr"], "python -m lpr"), (["main.py"], "python main.py")):
        r = subprocess.run([sys.executable, *argv, "--help"], cwd=root, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"usage: {prog} ") and "--pnet-scale-nms" in r.stdout and "--weights-dir" in r.stdout


def test_demo_images_and_weights_are_package_data():
    """``lpr-read`` with no argument works from any folder once installed: the demo images, the weights
    and their manifests are declared package data of the installed packages."""
    import fnmatch
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    data = project["tool"]["setuptools"]["package-data"]
    assert project["project"]["scripts"]["lpr-read"] == "lpr.cli:main"
    assert cli.DEMO_DIR.parent == root / "lpr" and list(cli.DEMO_DIR.glob("*.jpg"))
    wanted = list(cli.DEMO_DIR.iterdir()) + list((root / "MTCNN" / "weights").iterdir()) \
        + list((root / "LPRNet" / "weights").iterdir())
    for f in wanted:
        pkg, rel = f.relative_to(root).parts[0], "/".join(f.relative_to(root).parts[1:])
        assert any(fnmatch.fnmatch(rel, pat) for pat in data.get(pkg, [])), f"{f} is not package data"
    assert set(project["tool"]["setuptools"]["packages"]) == {p.parent.name for p in root.glob("*/__init__.py")}
