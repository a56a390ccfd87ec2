"""Training augmentation: the edge cut of ``LPRNet.dataset.jitter_quad`` (``LPRNet.train --edge-cut``)."""
import numpy as np
import pytest

from LPRNet.dataset import EDGE_CUT_RANGE, PlateTextDataset, jitter_quad
from LPRNet.train import main as train_main

BOX = (20.0, 10.0, 220.0, 70.0)  # 200 x 60 pixels


def test_no_edge_cut_draws_as_before():
    """edge_cut 0 (the default) draws nothing more, so earlier recipes' augmentation is unchanged: the
    quad of release 0.14 (before the option) for seed 0, and the same number of draws."""
    before = np.float32([[17.198238, 17.776308], [218.29408, 17.116575], [217.53795, 64.73317], [17.229239, 61.37677]])
    assert np.allclose(jitter_quad(BOX, np.random.default_rng(0)), before, atol=1e-4)
    for seed in range(20):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        assert np.array_equal(jitter_quad(BOX, a), jitter_quad(BOX, b, edge_cut=0.0))
        assert a.random() == b.random()  # the same number of draws


def test_edge_cut_puts_one_side_inside_the_plate():
    """With no other jitter (strength 0), an edge cut moves exactly one side edge inside the box, by a
    fraction of its width in EDGE_CUT_RANGE; both sides are cut over many draws."""
    lo, hi = EDGE_CUT_RANGE
    sides = set()
    for seed in range(200):
        q = jitter_quad(BOX, np.random.default_rng(seed), strength=0.0, edge_cut=1.0)
        left, right = q[0, 0] - BOX[0], BOX[2] - q[1, 0]
        assert q[0, 0] == q[3, 0] and q[1, 0] == q[2, 0]
        assert np.allclose(q[[0, 2], 1], [BOX[1], BOX[3]])
        cut = (left, "left") if left > 0 else (right, "right")
        assert (left == 0) != (right == 0)
        assert lo * 200 - 1e-3 <= cut[0] <= hi * 200 + 1e-3
        sides.add(cut[1])
    assert sides == {"left", "right"}
    never = [jitter_quad(BOX, np.random.default_rng(s), strength=0.0, edge_cut=0.0) for s in range(20)]
    assert all(np.allclose(q[[0, 2]], [[BOX[0], BOX[1]], [BOX[2], BOX[3]]]) for q in never)


def test_edge_cut_share_follows_the_probability():
    rng = np.random.default_rng(0)
    quads = [jitter_quad(BOX, rng, strength=0.0, edge_cut=0.25) for _ in range(2000)]
    cut = sum(q[0, 0] != BOX[0] or q[1, 0] != BOX[2] for q in quads)
    assert 0.2 < cut / 2000 < 0.3


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_dataset_refuses_an_edge_cut_outside_zero_one(bad):
    with pytest.raises(ValueError, match="edge_cut"):
        PlateTextDataset([], augment=True, edge_cut=bad)


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_train_cli_refuses_an_edge_cut_outside_zero_one(bad, tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_main(["--train", str(tmp_path / "t.txt"), "--out", str(tmp_path / "run"), "--edge-cut", str(bad)])
    assert "--edge-cut" in capsys.readouterr().err
