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

    assert prepare(["--ccpd", str(synth_dir), "--out", str(tmp_path / "d"), "--workers", "1"]) == 0
    lst = str(tmp_path / "d" / "train.txt")
    base, tuned, out = _folder(tmp_path / "a", 0), _folder(tmp_path / "b", 1), tmp_path / "out"
    assert interpolate_main(["--base", str(base), "--tuned", str(tuned), "--alpha", "0", "--out", str(out),
                             "--val", lst]) == 0
    figures = json.loads((out / "MANIFEST.json").read_text(encoding="utf-8"))["files"]["stn.pth"]["figures"]
    assert figures["val"] == [lst]
    for k in ("accuracy", "base_accuracy", "tuned_accuracy"):
        assert 0.0 <= figures[k] <= 1.0
    assert figures["accuracy"] == figures["base_accuracy"]  # alpha 0 is the base itself
