"""Detector stages: pyramid, cell-to-box mapping, empty results, boxes inside the image."""
import numpy as np
import pytest
import torch

from MTCNN.cascade import PNET_CELL, PNET_STRIDE, DetectorConfig, cells_to_boxes, crop_boxes, pyramid_scales
from MTCNN.detector import PlateDetector, run_onet, run_pnet
from MTCNN.nets import ONet, PNet


def test_pyramid_first_scale_maps_min_plate_to_one_cell():
    scales = pyramid_scales((1160, 720), (24, 94), 0.5)  # (height, width) both
    assert scales[0] == pytest.approx(max(PNET_CELL[1] / 94, PNET_CELL[0] / 24))
    assert all(b == pytest.approx(a * 0.5) for a, b in zip(scales, scales[1:]))
    assert 720 * scales[-1] >= PNET_CELL[1] and 720 * scales[-1] * 0.5 < PNET_CELL[1]
    assert pyramid_scales((1, 1), (12, 40), 0.7) == []


def test_cells_to_boxes_uses_stride_and_cell():
    probs = np.zeros((4, 5), np.float32)
    probs[2, 3] = 0.9
    offsets = np.zeros((4, 4, 5), np.float32)
    offsets[:, 2, 3] = [0.1, 0.2, 0.3, 0.4]
    out = cells_to_boxes(probs, offsets, scale=0.5, threshold=0.5)
    sh, sw = PNET_STRIDE
    ch, cw = PNET_CELL
    np.testing.assert_allclose(out[0, :4], [3 * sw / 0.5, 2 * sh / 0.5, (3 * sw + cw) / 0.5, (2 * sh + ch) / 0.5])
    np.testing.assert_allclose(out[0, 4:], [0.9, 0.1, 0.2, 0.3, 0.4], rtol=1e-6)
    assert cells_to_boxes(probs, offsets, 1.0, 0.95).shape == (0, 9)


def test_config_validation():
    with pytest.raises(ValueError, match="min_plate_size"):
        DetectorConfig(min_plate_size=(0, 10))
    with pytest.raises(ValueError, match=r"\(height, width\).*did you mean \(16, 60\)"):
        DetectorConfig(min_plate_size=(60, 16))  # the old (width, height) order
    with pytest.raises(ValueError, match="scale_factor"):
        DetectorConfig(scale_factor=1.5)
    with pytest.raises(ValueError, match="onet_threshold"):
        DetectorConfig(onet_threshold=2)


def test_nothing_found_gives_an_empty_array_not_a_made_up_box():
    pnet, onet = PNet().eval(), ONet().eval()
    with torch.no_grad():
        pnet.conv4_1.bias.copy_(torch.tensor([10.0, -10.0]))  # never a plate
    img = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    with torch.inference_mode():
        props = run_pnet(pnet, img, DetectorConfig(), torch.device("cpu"))
        assert props.shape == (0, 5)
        boxes, corners = run_onet(onet, img, props, DetectorConfig(), torch.device("cpu"))
        assert boxes.shape == (0, 5) and corners.shape == (0, 4, 2)


def test_boxes_stay_inside_the_image(random_weights):
    det = PlateDetector(random_weights, DetectorConfig(min_plate_size=(16, 60)))
    img = np.random.default_rng(1).integers(0, 255, (150, 260, 3), dtype=np.uint8)
    boxes = det.detect(img)
    assert boxes.ndim == 2 and boxes.shape[1] == 5 and len(boxes) > 0
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 2] <= 260).all() and (boxes[:, 3] <= 150).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (np.diff(boxes[:, 4]) <= 0).all()
    assert det.detect(np.zeros((1, 1, 3), np.uint8)).shape == (0, 5)


def test_crop_boxes_pads_outside_with_black():
    img = np.full((10, 20, 3), 200, np.uint8)
    crops = crop_boxes(img, np.array([[-10, 0, 10, 10]], np.float32), (10, 20))
    assert crops.shape == (1, 10, 20, 3)
    assert crops[0, :, :8].max() == 0 and crops[0, :, 12:].min() == 200


def test_options_are_defined_once_and_round_trip():
    import argparse
    from dataclasses import asdict, fields

    p = argparse.ArgumentParser()
    DetectorConfig.add_arguments(p)
    assert DetectorConfig.from_args(p.parse_args([])) == DetectorConfig()
    args = p.parse_args(["--min-plate-size", "12", "40", "--pnet-scale-nms", "0.3", "--nms-mode", "union",
                         "--max-proposals", "50"])
    config = DetectorConfig.from_args(args)
    assert config.min_plate_size == (12, 40) and config.pnet_scale_nms == 0.3
    assert config.onet_nms_mode == "union" and config.max_proposals == 50
    assert len([a for a in p._actions if a.dest.startswith("det_")]) == len(fields(DetectorConfig))
    assert set(asdict(config)) == {f.name for f in fields(DetectorConfig)}
    with pytest.raises(ValueError, match="pnet_scale_nms"):
        DetectorConfig.from_args(p.parse_args(["--pnet-scale-nms", "1.5"]))


def test_per_scale_nms_follows_its_option():
    """The NMS inside each pyramid scale uses ``pnet_scale_nms`` (it was a hard-coded 0.5)."""
    pnet = PNet().eval()
    with torch.no_grad():
        pnet.conv4_1.bias.copy_(torch.tensor([-5.0, 5.0]))  # every cell is a plate
    img = np.random.default_rng(2).integers(0, 255, (120, 200, 3), dtype=np.uint8)

    def count(scale_nms):
        config = DetectorConfig(min_plate_size=(20, 80), pnet_scale_nms=scale_nms, pnet_nms=1.0,
                                max_proposals=100000, pnet_pre_nms=100000)
        with torch.inference_mode():
            return len(run_pnet(pnet, img, config, torch.device("cpu")))

    assert count(0.05) < count(0.5) < count(1.0)
