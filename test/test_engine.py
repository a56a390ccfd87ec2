"""The training engine: atomic checkpoints, exact resume, non-finite loss, LPRNet/MTCNN train entry points."""
import json

import pytest
import torch
from torch import nn

from lprcore.engine import FitConfig, NonFiniteLossError, fit


def _setup():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(5)]
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)

    def loss_fn(m, batch):
        x, y = batch
        return ((m(x) - y) ** 2).mean(), {}

    return model, data, opt, sched, loss_fn


def test_resume_continues_exactly(tmp_path):
    model, data, opt, sched, loss_fn = _setup()
    fit(model, opt, data, loss_fn, None, FitConfig(epochs=4, out_dir=str(tmp_path / "a")), sched)
    straight = model.weight.detach().clone()

    model, data, opt, sched, loss_fn = _setup()
    fit(model, opt, data, loss_fn, None, FitConfig(epochs=2, out_dir=str(tmp_path / "b")), sched)
    model, _, opt, sched, _ = _setup()  # a fresh process: new model and optimizer
    fit(model, opt, data, loss_fn, None, FitConfig(epochs=4, out_dir=str(tmp_path / "b"), resume=True), sched)
    assert torch.equal(model.weight, straight)
    lines = (tmp_path / "b" / "log.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [0, 1, 2, 3]
    assert not list((tmp_path / "b").glob("*.tmp*"))


def test_non_finite_loss_stops_with_a_message(tmp_path):
    model, data, opt, sched, _ = _setup()
    with pytest.raises(NonFiniteLossError, match="epoch 0, step 0"):
        fit(model, opt, data, lambda m, b: (m(b[0]).sum() * float("nan"), {}), None,
            FitConfig(epochs=1, out_dir=str(tmp_path)))


def test_lprnet_train_runs_and_exports(tmp_path, synth_dir):
    from lprcore.weights import load_weights
    from LPRNet.model import LPRNet
    from LPRNet.prepare import main as prepare
    from LPRNet.stn import STNet
    from LPRNet.train import main as train
    assert prepare(["--ccpd", str(synth_dir), "--out", str(tmp_path / "d"), "--workers", "1"]) == 0
    lst = str(tmp_path / "d" / "train.txt")
    assert train(["--train", lst, "--val", lst, "--out", str(tmp_path / "run"), "--epochs", "1",
                  "--batch-size", "4", "--workers", "0", "--export", str(tmp_path / "w")]) == 0
    load_weights(STNet(), tmp_path / "w" / "stn.pth", "STNet")
    load_weights(LPRNet(), tmp_path / "w" / "lprnet.pth", "LPRNet")
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert "accuracy" in log[0] and log[0]["train_loss"] > 0
    # the run describes itself, and the exported weights say where they came from
    from LPRNet.chars import CHARS
    from lprcore.files import sha256_file
    run = json.loads((tmp_path / "run" / "args.json").read_text())
    assert run["command"].startswith("python -m LPRNet.train --train ")
    assert run["options"]["epochs"] == 1 and run["options"]["batch_size"] == 4
    assert "git_commit" in run and run["data"] == [{"path": lst, "sha256": sha256_file(lst)}] * 2
    manifest = json.loads((tmp_path / "w" / "MANIFEST.json").read_text())["files"]
    assert set(manifest) == {"stn.pth", "lprnet.pth"}
    for name, entry in manifest.items():
        assert entry["sha256"] == sha256_file(tmp_path / "w" / name)
        assert entry["command"] == run["command"] and entry["data"] == run["data"]
        assert entry["epoch"] == 0 and "accuracy" in entry["figures"]
    assert manifest["lprnet.pth"]["charset"] == "".join(CHARS)


def test_mtcnn_train_runs_and_exports(tmp_path, synth_dir):
    from lprcore.weights import load_weights
    from MTCNN.nets import PNet
    from MTCNN.prepare import main as prepare
    from MTCNN.train import main as train
    assert prepare(["--net", "pnet", "--ccpd", str(synth_dir), "--out", str(tmp_path / "d"), "--workers", "1"]) == 0
    lst = str(tmp_path / "d" / "train.txt")
    assert train(["--net", "pnet", "--train", lst, "--val", lst, "--out", str(tmp_path / "run"),
                  "--epochs", "2", "--batch-size", "32", "--workers", "0", "--export", str(tmp_path / "w")]) == 0
    load_weights(PNet(), tmp_path / "w" / "pnet.pth", "PNet")
    assert train(["--net", "pnet", "--train", lst, "--out", str(tmp_path / "run"), "--epochs", "3",
                  "--batch-size", "32", "--workers", "0", "--resume"]) == 0
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [0, 1, 2] and 0 <= log[1]["accuracy"] <= 1
    manifest = json.loads((tmp_path / "w" / "MANIFEST.json").read_text())["files"]
    assert list(manifest) == ["pnet.pth"] and manifest["pnet.pth"]["command"].startswith("python -m MTCNN.train")


def test_resume_reads_the_checkpoint_with_weights_only(tmp_path, monkeypatch):
    """``--resume`` must not unpickle arbitrary objects: every torch.load of the engine is weights_only."""
    model, data, opt, sched, _ = _setup()
    fit(model, opt, data, lambda m, b: (m(b[0]).pow(2).mean(), {}), None,
        FitConfig(epochs=1, out_dir=str(tmp_path)), scheduler=sched)
    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k.get("weights_only")) or real_load(*a, **k))
    model, data, opt, sched, _ = _setup()
    fit(model, opt, data, lambda m, b: (m(b[0]).pow(2).mean(), {}), None,
        FitConfig(epochs=2, out_dir=str(tmp_path), resume=True), scheduler=sched)
    assert calls == [True]


def test_lprnet_fine_tunes_from_a_68_class_weights_folder_and_attributes_train(tmp_path, synth_dir):
    """--init takes a weights folder (the shipped 68-class recognizer is grown to 75 classes), and
    the colour/layout classifier trains and exports beside it."""
    from LPRNet.chars import CHARS
    from LPRNet.prepare import main as prepare
    from LPRNet.reading import WEIGHTS_DIR
    from LPRNet.recognizer import TorchRecognizer
    from LPRNet.train import main as train
    from LPRNet.train_attributes import main as train_attributes

    assert prepare(["--ccpd", str(synth_dir), "--out", str(tmp_path / "d"), "--workers", "1"]) == 0
    lst = str(tmp_path / "d" / "train.txt")
    assert train(["--train", lst, "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "4",
                  "--workers", "0", "--init", str(WEIGHTS_DIR), "--export", str(tmp_path / "w")]) == 0
    assert train_attributes(["--train", lst, "--val", lst, "--out", str(tmp_path / "attr"), "--epochs", "1",
                             "--batch-size", "4", "--workers", "0", "--export", str(tmp_path / "w")]) == 0
    manifest = json.loads((tmp_path / "w" / "MANIFEST.json").read_text())["files"]
    assert set(manifest) == {"stn.pth", "lprnet.pth", "attributes.pth"}
    assert manifest["lprnet.pth"]["charset"] == "".join(CHARS)
    predictor = TorchRecognizer(tmp_path / "w")
    assert predictor.chars == CHARS and predictor.attribute_model is not None
    log = [json.loads(x) for x in (tmp_path / "attr" / "log.jsonl").read_text().splitlines()]
    assert 0 <= log[0]["colour_accuracy"] <= 1 and 0 <= log[0]["layout_accuracy"] <= 1


def test_onet_trains_its_vertex_branch_from_an_original_layout_onet(tmp_path, synth_dir):
    import torch
    from MTCNN.detector import load_onet
    from MTCNN.nets import ONet
    from MTCNN.prepare import main as prepare
    from MTCNN.train import main as train
    assert prepare(["--net", "onet", "--ccpd", str(synth_dir), "--out", str(tmp_path / "d"), "--workers", "1"]) == 0
    lst = str(tmp_path / "d" / "train.txt")
    original = ONet(vertices=False)
    torch.save(original.state_dict(), tmp_path / "original.pth")
    assert train(["--net", "onet", "--train", lst, "--val", lst, "--out", str(tmp_path / "run"), "--epochs", "1",
                  "--batch-size", "32", "--workers", "0", "--init", str(tmp_path / "original.pth"),
                  "--export", str(tmp_path / "w")]) == 0
    onet = load_onet(tmp_path / "w" / "onet.pth")
    assert onet.has_vertices
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert log[0]["corner_error"] > 0 and log[0]["train_vertex"] > 0
    assert train(["--net", "onet", "--train", lst, "--out", str(tmp_path / "run2"), "--epochs", "1",
                  "--workers", "0", "--init", str(tmp_path / "missing.pth")]) == 2
