"""Shared fixtures: untrained weights in a temp folder, synthetic CCPD images, the shared data."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from LPRNet.model import LPRNet
from LPRNet.stn import STNet
from MTCNN.nets import ONet, PNet, VNet
from platesynth.ccpd_scenes import generate

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()

# One torch thread for the whole session: the tests run tiny convolutions, where a second thread gains
# little, and on a busy 2-core machine (CI, or other work beside the tests) two spinning threads per
# process made the shipped-weight tests up to 5x slower. Child processes set their own (--threads 1,
# OMP_NUM_THREADS=1).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip when it is absent (a user's fresh clone)."""
    if not (SHARED_DATA / "ccpd_sample").is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> Path:
    """A folder with untrained pnet/onet/vnet/stn/lprnet weights (seeded), for behaviour tests.

    ONet's plate bias is raised so that untrained nets still pass boxes to the recognizer; VNet's
    last layer gets small random weights, so that it moves the corners a little (untrained, it
    would return them unchanged).
    """
    d = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    pnet, onet = PNet(), ONet()
    with torch.no_grad():
        pnet.conv4_1.bias.copy_(torch.tensor([-3.0, 3.0]))
        onet.conv6_1.bias.copy_(torch.tensor([-5.0, 5.0]))
    torch.save(pnet.state_dict(), d / "pnet.pth")
    torch.save(onet.state_dict(), d / "onet.pth")
    vnet = VNet()
    with torch.no_grad():
        vnet.corners.weight.normal_(0, 1e-3)
    torch.save(vnet.eval().state_dict(), d / "vnet.pth")
    torch.save(STNet().state_dict(), d / "stn.pth")
    torch.save(LPRNet().eval().state_dict(), d / "lprnet.pth")
    return d


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    """Six small synthetic CCPD images (two green plates likely), 360x580."""
    d = tmp_path_factory.mktemp("synth")
    generate(str(d), 6, seed=7, green_ratio=0.34, size=(580, 360), workers=1)
    return d
