"""LPRNet.interpolate: weights between the recognizer before and after a fine-tuning round."""
import json
import shutil

import pytest
import torch

from LPRNet.interpolate import interpolate_states, main as interpolate_main
from LPRNet.model import LPRNet
from LPRNet.stn import STNet


def _folder(path, seed):
    """A recognizer weights folder (stn.pth, lprnet.pth) of seeded random nets."""
    path.mkdir()
    torch.manual_seed(seed)
    torch.save(STNet().state_dict(), path / "stn.pth")
    lpr = LPRNet()
    with torch.no_grad():
        for p in lpr.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    torch.save(lpr.state_dict(), path / "lprnet.pth")
    return path


def test_interpolate_states_mixes_floats_and_keeps_counters():
    base = {"w": torch.zeros(2, 3), "n": torch.tensor(5), "h": torch.zeros(2, dtype=torch.float16)}
    tuned = {"w": torch.ones(2, 3) * 4, "n": torch.tensor(9), "h": torch.ones(2, dtype=torch.float16)}
    out = interpolate_states(base, tuned, 0.25)
    assert torch.equal(out["w"], torch.ones(2, 3))
    assert out["n"].item() == 9 and out["n"].dtype == torch.int64
    assert out["h"].dtype == torch.float16 and torch.allclose(out["h"].float(), torch.full((2,), 0.25))
    assert torch.equal(interpolate_states(base, tuned, 0.0)["w"], base["w"])
    assert torch.equal(interpolate_states(base, tuned, 1.0)["w"], tuned["w"])


@pytest.mark.parametrize("tuned,match", [
    ({"w": torch.zeros(2, 3), "extra": torch.zeros(1)}, "differ in tensors"),
    ({"w": torch.zeros(3, 3)}, "shape of 1 tensor"),
])
def test_interpolate_states_refuses_other_architectures(tuned, match):
    with pytest.raises(ValueError, match=match):
        interpolate_states({"w": torch.zeros(2, 3)}, tuned, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        interpolate_states({"w": torch.zeros(1)}, {"w": torch.zeros(1)}, 1.5)


def test_command_writes_the_midpoint_with_its_manifest(tmp_path):
    base, tuned, out = _folder(tmp_path / "a", 0), _folder(tmp_path / "b", 1), tmp_path / "out"
    assert interpolate_main(["--base", str(base), "--tuned", str(tuned), "--alpha", "0.5", "--out", str(out)]) == 0
    for name in ("stn.pth", "lprnet.pth"):
        a, b = torch.load(base / name, weights_only=True), torch.load(tuned / name, weights_only=True)
        got = torch.load(out / name, weights_only=True)
        assert set(got) == set(a)
        for k, v in got.items():
            if torch.is_floating_point(v):
                torch.testing.assert_close(v, (a[k] + b[k]) / 2, rtol=0, atol=1e-6)
    files = json.loads((out / "MANIFEST.json").read_text(encoding="utf-8"))["files"]
    entry = files["lprnet.pth"]
    assert entry["alpha"] == 0.5 and entry["command"].startswith("python -m LPRNet.interpolate")
    assert entry["interpolated"]["base"]["path"] == str(base) and len(entry["charset"]) > 60
    assert set(files) == {"stn.pth", "lprnet.pth"}


def test_command_writes_over_its_base_and_names_bad_inputs(tmp_path, capsys):
    base, tuned = _folder(tmp_path / "a", 0), _folder(tmp_path / "b", 1)
    before = torch.load(base / "stn.pth", weights_only=True)
    assert interpolate_main(["--base", str(base), "--tuned", str(tuned), "--alpha", "1", "--out", str(base)]) == 0
    after, want = torch.load(base / "stn.pth", weights_only=True), torch.load(tuned / "stn.pth", weights_only=True)
    assert all(torch.equal(after[k], want[k]) for k in want) and not all(torch.equal(after[k], before[k]) for k in want)

    assert interpolate_main(["--base", str(tmp_path / "missing"), "--tuned", str(tuned), "--alpha", "0.5",
                             "--out", str(tmp_path / "o")]) == 2
    assert "missing" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(tuned, broken)
    (broken / "lprnet.pth").write_bytes(b"not a weight file")
    assert interpolate_main(["--base", str(tuned), "--tuned", str(broken), "--alpha", "0.5",
                             "--out", str(tmp_path / "o2")]) == 2
    assert "lprnet.pth" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        interpolate_main(["--base", str(base), "--tuned", str(tuned), "--alpha", "2", "--out", str(tmp_path / "o3")])


def test_figures_on_the_validation_lists(tmp_path, synth_dir):
    from LPRNet.prepare import main as prepare
    from LPRNet.reading import WEIGHTS_DIR as SHIPPED

    assert prepare(["--ccpd", str(synth_dir), "--out", str(tmp_path / "d"), "--workers", "1"]) == 0
    lst = str(tmp_path / "d" / "train.txt")
    untrained = _folder(tmp_path / "random", 1)
    runs = {}
    for alpha in ("0", "1"):  # the shipped recognizer reads synthetic plates; a random one reads none
        out = tmp_path / f"out{alpha}"
        assert interpolate_main(["--base", str(SHIPPED), "--tuned", str(untrained), "--alpha", alpha,
                                 "--out", str(out), "--val", lst]) == 0
        runs[alpha] = json.loads((out / "MANIFEST.json").read_text(encoding="utf-8"))["files"]["lprnet.pth"]["figures"]
    f0, f1 = runs["0"], runs["1"]
    assert f0["val"] == [lst] and f0["base_accuracy"] > 0.1 and f0["tuned_accuracy"] == 0.0
    assert f0["accuracy"] == f0["base_accuracy"] and f1["accuracy"] == f1["tuned_accuracy"] == 0.0
    assert f1["base_accuracy"] == f0["base_accuracy"]


def test_inputs_that_are_not_recognizers_are_named(tmp_path, capsys):
    base = _folder(tmp_path / "a", 0)
    detector = tmp_path / "det"
    detector.mkdir()
    (detector / "pnet.pth").write_bytes(b"x")
    cases = [
        (["--tuned", str(base / "lprnet.pth")], "not a recognizer"),           # a bare lprnet.pth
        (["--tuned", str(detector)], "needs stn.pth and lprnet.pth"),           # a detector's folder
        (["--tuned", str(base), "--val", str(tmp_path / "none.txt")], "--val"),  # a missing list
        (["--tuned", str(base), "--out", str(base / "stn.pth")], "not a folder"),
    ]
    for extra, message in cases:
        argv = ["--base", str(base), "--alpha", "0.5", "--out", str(tmp_path / "o")] + extra
        assert interpolate_main(argv) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "o" / "stn.pth").exists()


def test_a_broken_run_record_beside_the_checkpoint_is_named(tmp_path, capsys):
    from LPRNet.recognizer import RecognizerNet

    base = _folder(tmp_path / "a", 0)
    run = tmp_path / "run"
    run.mkdir()
    torch.save(RecognizerNet().state_dict(), run / "best.pth")
    (run / "args.json").write_text("{not json", encoding="utf-8")
    assert interpolate_main(["--base", str(base), "--tuned", str(run / "best.pth"), "--alpha", "0.5",
                             "--out", str(tmp_path / "o")]) == 2
    assert "args.json" in capsys.readouterr().err
