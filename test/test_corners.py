"""Plate corners: ONet's vertex branch, the plausibility check, and the pipeline cutting plates by them."""
import shutil

import numpy as np
import pytest
import torch

from lprcore.imageio import imread
from lpr.config import ReaderConfig, ReadingOptions
from lpr.pipeline import PlateReader
from LPRNet.crops import crop_quads, expand_quad
from MTCNN.boxes import plausible_corners
from MTCNN.dataset import mirror_vertices
from MTCNN.cascade import DetectorConfig
from MTCNN.nets import ONet

RECT = np.float32([[10, 20], [110, 20], [110, 50], [10, 50]])


def test_plausible_corners_accepts_a_tilted_plate_and_refuses_broken_quads():
    box = np.float32([[10, 20, 110, 50]])
    tilted = RECT + np.float32([[0, 4], [0, -4], [0, -4], [0, 4]])
    assert plausible_corners(np.stack([RECT, tilted]), np.repeat(box, 2, 0)).tolist() == [True, True]
    crossed = RECT[[0, 1, 3, 2]]  # a bow tie
    counter_clockwise = RECT[[0, 3, 2, 1]]
    collapsed = np.repeat(RECT[:1], 4, 0)
    elsewhere = RECT + 500
    bad = np.stack([crossed, counter_clockwise, collapsed, elsewhere])
    assert not plausible_corners(bad, np.repeat(box, 4, 0)).any()
    assert plausible_corners(np.zeros((0, 4, 2)), np.zeros((0, 4))).shape == (0,)


def test_mirrored_vertices_are_the_corners_of_the_flipped_crop():
    v = torch.tensor([0.1, 0.2, 0.8, 0.1, 0.9, 0.9, 0.05, 0.8])
    m = mirror_vertices(v).reshape(4, 2)
    # the flipped crop's top-left corner is the mirrored top-right one, and so on
    torch.testing.assert_close(m[0], torch.tensor([1 - 0.8, 0.1]))
    torch.testing.assert_close(m[1], torch.tensor([1 - 0.1, 0.2]))
    torch.testing.assert_close(m[2], torch.tensor([1 - 0.05, 0.8]))
    torch.testing.assert_close(m[3], torch.tensor([1 - 0.9, 0.9]))
    torch.testing.assert_close(mirror_vertices(mirror_vertices(v)), v)


def test_pipeline_cuts_plates_by_their_corners_and_reports_them(tmp_path, random_weights, synth_dir):
    weights = tmp_path / "w"
    shutil.copytree(random_weights, weights)
    onet = ONet()
    onet.load_state_dict(torch.load(random_weights / "onet.pth", weights_only=True))
    with torch.no_grad():  # corners = a box inside the ONet candidate: plausible, not the box itself
        onet.conv6_3.weight.zero_()
        onet.conv6_3.bias.copy_(torch.tensor([0.05, 0.1, 0.95, 0.1, 0.95, 0.9, 0.05, 0.9]))
        onet.conv6_2.weight.zero_()
        onet.conv6_2.bias.zero_()
    torch.save(onet.state_dict(), weights / "onet.pth")
    # without the refinement, whose averaged views would move these fixed fractions (tested apart)
    # and without the second look and the rotated retry, which cut plates again from other quads
    reader = PlateReader(ReaderConfig(detector=DetectorConfig(min_plate_size=(20, 80), refine=False),
                                      reading=ReadingOptions(all_reads=True, second_look=False, rotated_retry=False, stretched_retry=False)),
                         weights_dir=weights)
    image = imread(sorted(synth_dir.iterdir())[0])
    plates = reader(image)
    assert plates and all(p.corners is not None for p in plates)
    for p in plates:
        x1, y1, x2, y2 = p.box
        w, h = x2 - x1, y2 - y1
        np.testing.assert_allclose(p.corners[0], (x1 + 0.05 * w, y1 + 0.1 * h), atol=0.05)
        np.testing.assert_allclose(p.corners[2], (x1 + 0.95 * w, y1 + 0.9 * h), atol=0.05)
        assert len(p.to_json()["corners"]) == 4
    # the plate is cut from its corners grown by the margin, not from its box
    crops = crop_quads(image, [expand_quad(np.float32(p.corners)) for p in plates])
    assert [p.text for p in plates] == [d.text for d in reader.recognizer.recognize_crops(crops)]
    assert [p.confidence for p in plates] == pytest.approx([d.confidence for d in reader.recognizer.recognize_crops(crops)], abs=1e-5)


def test_expand_quad_grows_along_the_plate_edges():
    grown = expand_quad(RECT, (0.1, 0.5))
    np.testing.assert_allclose(grown, [[0, 5], [120, 5], [120, 65], [0, 65]])
    tilted = np.float32([[0, 0], [100, 10], [97, 40], [-3, 30]])
    g = expand_quad(tilted, (0.1, 0.0))
    np.testing.assert_allclose(g[1] - g[0], (tilted[1] - tilted[0]) * 1.2, atol=1e-4)  # along the top edge
