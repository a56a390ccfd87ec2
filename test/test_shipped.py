"""The weights that ship in the packages: they load strictly, hold no denormal floats, and
``python main.py`` with no argument reads the bundled demo images with them."""
import json

import pytest
import torch

import main as cli
from ccpd.annotations import parse_name
from lpr.weights import read_state_dict
from LPRNet.recognizer import LPRNET_WEIGHTS, STN_WEIGHTS, WEIGHTS_DIR as LPR_DIR
from MTCNN.detector import ONET_WEIGHTS, PNET_WEIGHTS, WEIGHTS_DIR as DET_DIR

SHIPPED = [DET_DIR / PNET_WEIGHTS, DET_DIR / ONET_WEIGHTS, LPR_DIR / STN_WEIGHTS, LPR_DIR / LPRNET_WEIGHTS]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_weights_have_no_denormals(path):
    tiny = torch.finfo(torch.float32).tiny
    for name, t in read_state_dict(path).items():
        if torch.is_floating_point(t):
            assert not ((t != 0) & (t.abs() < tiny)).any(), name


def test_main_without_arguments_reads_the_demo_images(capsys):
    assert cli.main([]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == len(list(cli.DEMO_DIR.iterdir())) >= 3
    right = total = 0
    for r in records:
        assert r["plates"], r
        truth = parse_name(r["image"]).text  # the demo names carry the truth
        got = r["plates"][0]["text"]          # the best detection
        assert len(got) in (7, 8), got
        right += sum(a == b for a, b in zip(got, truth))
        total += len(truth)
    assert right / total >= 0.7, (right, total)
