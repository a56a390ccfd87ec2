"""The ONNX Runtime backend: export checked against torch, inference without torch, the same texts."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from lpr.config import ReaderConfig, ReadingOptions
from lpr.pipeline import PlateReader, choose_backend, stale_onnx
from lprcore.imageio import imread, list_images
from lprcore.manifest import WeightsError
from LPRNet.reading import RECOGNIZER_ONNX
from LPRNet.reading import WEIGHTS_DIR as LPR_DIR
from MTCNN.cascade import ONET_ONNX, PNET_ONNX, VNET_ONNX
from MTCNN.cascade import WEIGHTS_DIR as DET_DIR

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = (DET_DIR / PNET_ONNX).is_file() and (DET_DIR / ONET_ONNX).is_file() and (LPR_DIR / RECOGNIZER_ONNX).is_file()
needs_shipped = pytest.mark.skipif(not SHIPPED, reason="no exported ONNX models beside the shipped weights")

#: Run in a fresh interpreter where ``import torch`` fails: the ONNX path must not need it.
NO_TORCH = """
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, Block())
from lpr.cli import main
status = main(sys.argv[1:])
assert "torch" not in sys.modules, "the ONNX path imported torch"
sys.exit(status)
"""


@needs_shipped
def test_plates_are_read_without_torch(tmp_path):
    demo = ROOT / "lpr" / "demo"
    run = subprocess.run([sys.executable, "-c", NO_TORCH, str(demo), "--backend", "onnx", "--all-reads", "--save-dir",
                          str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-2000:]
    records = [json.loads(line) for line in run.stdout.splitlines()]
    photos = list_images(demo)
    assert len(records) == len(photos) and all(r["plates"] for r in records)
    torch_reader = PlateReader(ReaderConfig(reading=ReadingOptions(all_reads=True)),
                               backend="torch")  # this process may import torch: the reference
    want = {f: [p.text for p in torch_reader(imread(f))] for f in photos}
    assert {r["image"]: [p["text"] for p in r["plates"]] for r in records} == want
    assert len(list((tmp_path / "out").iterdir())) == len(photos)


@needs_shipped
def test_onnx_and_torch_read_the_same_texts_and_corners(shared_data):
    torch_reader = PlateReader(ReaderConfig(reading=ReadingOptions(all_reads=True)), backend="torch")
    onnx_reader = PlateReader(ReaderConfig(reading=ReadingOptions(all_reads=True)), backend="onnx")
    assert (torch_reader.backend, onnx_reader.backend) == ("torch", "onnx")
    files = list_images(shared_data / "ccpd_sample" / "val")[:40:4]  # 10 photos: reading all 100 is the floor tests' job
    for f in files:
        image = imread(f)
        a, b = torch_reader(image), onnx_reader(image)
        assert [p.text for p in a] == [p.text for p in b], f
        np.testing.assert_allclose([p.box for p in a], [p.box for p in b], atol=0.05)
        for pa, pb in zip(a, b):
            assert (pa.corners is None) == (pb.corners is None)
            if pa.corners is not None:
                np.testing.assert_allclose(pa.corners, pb.corners, atol=0.05)


@pytest.fixture(scope="module")
def check_photo(tmp_path_factory, synth_dir):
    """A folder with one small photo (64 x 200, around a synthetic plate) to check exports on: the demo
    photos, the default, take random weights about 20 s to read with both backends. It is large enough
    for PNet's check at both of its pyramid scales (at least 48 x 188)."""
    from ccpd.annotations import parse_name

    d = tmp_path_factory.mktemp("check")
    path = sorted(synth_dir.iterdir())[0]
    x1, y1, x2, y2 = parse_name(path.name).bbox
    image = imread(path)
    h, w = image.shape[:2]
    top, left = min(max(0, (y1 + y2) // 2 - 32), h - 64), min(max(0, (x1 + x2) // 2 - 100), w - 200)
    cv2.imwrite(str(d / "plate.png"), image[top:top + 64, left:left + 200])
    assert imread(d / "plate.png").shape == (64, 200, 3)
    return d


@pytest.fixture(scope="module")
def exported(tmp_path_factory, random_weights, check_photo):
    """Random weights exported to ONNX by ``python -m lpr.export`` (checked on one small photo)."""
    from lpr.export import main as export

    d = tmp_path_factory.mktemp("exported")
    shutil.copytree(random_weights, d, dirs_exist_ok=True)
    assert export(["--detector-weights", str(d), "--recognizer-weights", str(d), "--check", str(check_photo)]) == 0
    return d


def test_export_writes_checked_models_with_their_manifest(exported):
    manifest = json.loads((exported / "MANIFEST.json").read_text())["files"]
    for name in (PNET_ONNX, ONET_ONNX, VNET_ONNX, RECOGNIZER_ONNX):
        entry = manifest[name]
        assert entry["opset"] >= 20 and entry["check"]["texts_identical"]
        assert entry["check"]["max_abs_difference"] <= 2e-4
        assert set(entry["exported_from"]) and entry["input"].startswith("float32[N, 3,")
    assert len(manifest[RECOGNIZER_ONNX]["charset"]) == 75
    assert not list(exported.glob("*.tmp")) and not list(exported.glob("*.check.onnx"))
    assert choose_backend("auto", exported, exported) == "onnx"
    assert stale_onnx(exported, [PNET_ONNX, RECOGNIZER_ONNX]) == []


def test_retrained_weights_make_the_export_stale(exported, tmp_path):
    import torch

    from lprcore.manifest import update_manifest
    from MTCNN.nets import PNet

    d = tmp_path / "w"
    shutil.copytree(exported, d)
    torch.save(PNet().state_dict(), d / "pnet.pth")  # "retrained" without re-exporting
    update_manifest(d, "pnet.pth", command="test")
    assert stale_onnx(d, [PNET_ONNX, ONET_ONNX]) == [PNET_ONNX]
    assert choose_backend("auto", d, d) == "torch"  # falls back, with a warning
    assert choose_backend("onnx", d, d) == "onnx"   # asked for explicitly: chosen, and refused when loaded


def test_damaged_or_missing_onnx_model_is_named(exported, tmp_path):
    d = tmp_path / "w"
    shutil.copytree(exported, d)
    (d / RECOGNIZER_ONNX).unlink()
    with pytest.raises(WeightsError, match="recognizer.onnx"):
        choose_backend("onnx", d, d)
    shutil.copy(exported / RECOGNIZER_ONNX, d / RECOGNIZER_ONNX)
    (d / ONET_ONNX).write_bytes(b"not an onnx model")
    with pytest.raises(WeightsError, match=r"onet\.onnx"):
        PlateReader(weights_dir=d, backend="onnx")


def test_export_refuses_a_model_that_differs_from_torch(random_weights, tmp_path, monkeypatch, check_photo):
    from lpr import export

    d = tmp_path / "w"
    shutil.copytree(random_weights, d)
    real = export.OnnxNet

    class Off(real):  # ONNX Runtime's outputs, shifted: the check must catch it
        def __call__(self, *arrays):
            return [o + 1e-3 for o in super().__call__(*arrays)]

    monkeypatch.setattr(export, "OnnxNet", Off)
    assert export.main(["--detector-weights", str(d), "--recognizer-weights", str(d), "--check", str(check_photo)]) == 1
    assert not list(d.glob("*.onnx*")) and "onnx" not in (d / "MANIFEST.json").read_text() \
        if (d / "MANIFEST.json").exists() else not list(d.glob("*.onnx*"))


def test_auto_backend_is_torch_on_a_gpu_device(exported):
    assert choose_backend("auto", exported, exported, device="cuda") == "torch"
    assert choose_backend("auto", exported, exported, device="cpu") == "onnx"
