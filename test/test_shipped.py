"""The weights that ship in the packages: they load strictly, hold no denormal floats, and
``python main.py`` with no argument finds and reads the plates of the bundled demo images
(accuracy is measured by the benchmark scripts, not here)."""
import json

import numpy as np
import pytest
import torch

from lpr import cli
from ccpd.annotations import parse_name
from lprcore.weights import read_state_dict
from LPRNet.recognizer import LPRNET_WEIGHTS, STN_WEIGHTS
from LPRNet.recognizer import WEIGHTS_DIR as LPR_DIR
from MTCNN.boxes import box_iou
from MTCNN.detector import ONET_WEIGHTS, PNET_WEIGHTS
from MTCNN.detector import WEIGHTS_DIR as DET_DIR

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
    for r in records:
        truth = np.asarray([parse_name(r["image"]).bbox], np.float32)  # the demo names carry the truth
        boxes = np.asarray([p["box"] for p in r["plates"]], np.float32).reshape(-1, 4)
        assert len(boxes) and box_iou(boxes, truth).max() >= 0.5, r
        assert all(p["text"] for p in r["plates"]), r
