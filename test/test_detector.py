"""Detector stages: pyramid, cell-to-box mapping, empty results, boxes inside the image."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from MTCNN.cascade import PNET_CELL, PNET_STRIDE, DetectorConfig, cells_to_boxes, crop_boxes, pyramid_scales
from MTCNN.detector import TorchDetector, run_onet, run_pnet
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
    det = TorchDetector(random_weights, DetectorConfig(min_plate_size=(16, 60)))
    img = np.random.default_rng(1).integers(0, 255, (150, 260, 3), dtype=np.uint8)
    boxes = det.detect(img).boxes
    assert boxes.ndim == 2 and boxes.shape[1] == 5 and len(boxes) > 0
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 2] <= 260).all() and (boxes[:, 3] <= 150).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (np.diff(boxes[:, 4]) <= 0).all()
    assert det.detect(np.zeros((1, 1, 3), np.uint8)).boxes.shape == (0, 5)


def test_crop_boxes_pads_outside_with_black():
    img = np.full((10, 20, 3), 200, np.uint8)
    crops = crop_boxes(img, np.array([[-10, 0, 10, 10]], np.float32), (10, 20))
    assert crops.shape == (1, 10, 20, 3)
    assert crops[0, :, :8].max() == 0 and crops[0, :, 12:].min() == 200


def test_options_are_defined_once_and_round_trip():
    import argparse
    from dataclasses import asdict, fields

    from MTCNN.options import add_detector_arguments, detector_config

    p = argparse.ArgumentParser()
    add_detector_arguments(p)
    assert detector_config(p.parse_args([])) == DetectorConfig()
    args = p.parse_args(["--min-plate-size", "12", "40", "--pnet-scale-nms", "0.3", "--nms-mode", "union",
                         "--max-proposals", "50", "--no-refine"])
    config = detector_config(args)
    assert config.min_plate_size == (12, 40) and config.pnet_scale_nms == 0.3 and config.refine is False
    assert config.onet_nms_mode == "union" and config.max_proposals == 50
    assert len([a for a in p._actions if a.dest.startswith("det_")]) == len(fields(DetectorConfig))
    assert set(asdict(config)) == {f.name for f in fields(DetectorConfig)}
    with pytest.raises(ValueError, match="pnet_scale_nms"):
        detector_config(p.parse_args(["--pnet-scale-nms", "1.5"]))


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


def _bright_rect_onet(x: np.ndarray):
    """A stand-in ONet (NumPy in, NumPy out) that sees one bright rectangle perfectly: plate logit
    from the crop's bright share, bbox offsets and vertices onto the bright pixels' extent."""
    n, _, h, w = x.shape
    logits, offsets, vertices = np.zeros((n, 2), np.float32), np.zeros((n, 4), np.float32), np.zeros((n, 8), np.float32)
    for i in range(n):
        bright = x[i, 0] > 0
        logits[i, 1] = 20 * bright.mean() - 5  # plate when over a quarter of the crop is bright
        if bright.any():
            ys, xs = np.nonzero(bright)
            x1, x2, y1, y2 = xs.min() / w, (xs.max() + 1) / w, ys.min() / h, (ys.max() + 1) / h
            offsets[i] = [x1, y1, x2 - 1, y2 - 1]
            vertices[i] = [x1, y1, x2, y1, x2, y2, x1, y2]
    return logits, offsets, vertices


def test_refine_moves_a_loose_box_and_its_corners_onto_the_plate_and_drops_a_false_box():
    from MTCNN.cascade import REFINE_VIEWS, refine_stage

    img = np.zeros((200, 400, 3), np.uint8)
    img[80:120, 100:250] = 255  # the plate: x 100..250, y 80..120
    truth = np.array([[100, 80], [250, 80], [250, 120], [100, 120]], np.float32)
    boxes = np.array([[85, 70, 262, 128, 0.95],     # loose box around the plate
                      [300, 150, 390, 190, 0.90]],  # a false box on black
                     np.float32)
    corners = np.stack([truth + 10, np.zeros((4, 2), np.float32)])  # first-pass corners 14 px off
    out, out_corners = refine_stage(_bright_rect_onet, img, boxes, corners, DetectorConfig())
    assert out.shape == (1, 5) and out_corners.shape == (1, 4, 2)
    assert out.dtype == out_corners.dtype == np.float32
    assert out[0, 4] == pytest.approx(0.95)  # the first-pass score is kept
    np.testing.assert_allclose(out[0, :4], [100, 80, 250, 120], atol=2.5)
    # every view finds the plate (up to the 24x94 crop's pixels); the first pass's error is 1 of 8 parts
    first = np.linalg.norm(corners[0] - truth, axis=1).mean()
    error = np.linalg.norm(out_corners[0] - truth, axis=1).mean()
    assert error == pytest.approx(first / (len(REFINE_VIEWS) + 1), abs=1.0)


class _ScriptedOnet:
    """A stand-in ONet whose plate logits are given per call and box (no offsets, no corners);
    records the batch size of each call."""

    def __init__(self, *plate_logits):
        self.plate_logits, self.batches = list(plate_logits), []

    def __call__(self, x):
        n = len(x)
        logits = np.zeros((n, 2), np.float32)
        given = np.asarray(self.plate_logits[len(self.batches)], np.float32)
        logits[: len(given), 1] = given
        self.batches.append(n)
        return logits, np.zeros((n, 4), np.float32)


def test_refine_keeps_a_box_by_the_mean_of_its_two_looks_and_merges_boxes_on_one_plate():
    from MTCNN.cascade import refine_stage

    img = np.zeros((100, 300, 3), np.uint8)
    boxes = np.array([[10, 10, 60, 30, 0.99], [100, 10, 150, 30, 0.98], [200, 10, 250, 30, 0.97],
                      [202, 11, 251, 31, 0.9]], np.float32)
    # looks A (the final boxes) then B (the same boxes, no regression): plate probability 0.99 / 0.12
    # (mean over 0.5: kept), 0.12 / 0.12 (dropped), 0.99 / 0.99 twice (one plate: merged by NMS)
    net = _ScriptedOnet([4.6, -2.0, 4.6, 4.6], [-2.0, -2.0, 4.6, 4.6])
    out, corners = refine_stage(net, img, boxes, None, DetectorConfig())
    assert corners is None and net.batches == [4, 4]  # without corners, one view: 2 batches of K
    np.testing.assert_array_equal(out, boxes[[0, 2]])
    out, _ = refine_stage(_ScriptedOnet([4.6] * 4, [-2.0] * 4), img, boxes, None, DetectorConfig(refine_threshold=0.6))
    assert len(out) == 0


def test_refine_edge_cases():
    from MTCNN.cascade import refine_stage

    img = np.zeros((100, 200, 3), np.uint8)
    img[30:60, 40:160] = 255
    boxes = np.array([[35, 25, 165, 65, 0.9]], np.float32)
    out, corners = refine_stage(lambda x: _bright_rect_onet(x)[:2], img, boxes, None, DetectorConfig())
    assert corners is None
    np.testing.assert_allclose(out[0, :4], [40, 30, 160, 60], atol=2.0)
    empty, no_corners = refine_stage(_bright_rect_onet, img, np.zeros((0, 5)), np.zeros((0, 4, 2)), DetectorConfig())
    assert empty.shape == (0, 5) and empty.dtype == np.float32 and no_corners.shape == (0, 4, 2)
    with pytest.raises(ValueError, match="first view"):
        refine_stage(_bright_rect_onet, img, boxes, None, DetectorConfig(), views=[(1.2, 1.2), (1.0, 1.0)])


def test_the_detector_is_the_first_pass_then_the_refinement(random_weights):
    from MTCNN.cascade import refine_stage
    from MTCNN.detector import torch_net

    img = np.random.default_rng(3).integers(0, 255, (150, 260, 3), dtype=np.uint8)
    det = TorchDetector(random_weights, DetectorConfig(vertex_rounds=0))  # VNet after the refinement: test_vnet.py
    loose = TorchDetector(random_weights, DetectorConfig(refine=False, vertex_rounds=0)).detect(img)
    with torch.inference_mode():
        props = run_pnet(det.pnet_model, img, det.config, torch.device("cpu"))
        boxes, corners = run_onet(det.onet_model, img, props, det.config, torch.device("cpu"))
        expected = refine_stage(torch_net(det.onet_model, torch.device("cpu")), img, boxes, corners, det.config)
    assert len(boxes) > 0
    np.testing.assert_array_equal(loose.boxes, boxes)
    np.testing.assert_array_equal(loose.corners, corners)
    refined = det.detect(img)
    np.testing.assert_allclose(refined.boxes, expected[0], atol=1e-4)
    np.testing.assert_allclose(refined.corners, expected[1], atol=1e-3)


def test_the_search_size_bounds_the_pyramid_whatever_the_photo_size():
    from MTCNN.cascade import smallest_plate

    config = DetectorConfig()
    for size in [(400, 640), (720, 1160), (1192, 1920), (2483, 4000)]:
        scales = pyramid_scales(size, config.min_plate_size, config.scale_factor, config.max_level_side)
        assert scales and max(size) * scales[0] <= config.max_level_side
        # the kept levels are the full-resolution grid's, from the first that fits
        full = pyramid_scales(size, config.min_plate_size, config.scale_factor)
        assert full[len(full) - len(scales):] == scales
        h, w = smallest_plate(size, config)
        full_h, full_w = smallest_plate(size, DetectorConfig(max_level_side=0))
        assert h >= full_h and w >= full_w and full_w == pytest.approx(config.min_plate_size[1])
        assert w <= 47 / 640 * max(size) / config.scale_factor + 1e-6    # about 7 % of the longest side
    assert smallest_plate((400, 640), config) == smallest_plate((400, 640), DetectorConfig(max_level_side=0))
    assert smallest_plate((2483, 4000), DetectorConfig(max_level_side=0)) == pytest.approx((15.32, 60.0), abs=0.01)
    for bad in (-1, 1, 46):
        with pytest.raises(ValueError, match="max_level_side"):
            DetectorConfig(max_level_side=bad)


def test_a_plate_at_the_smallest_searched_size_is_found_and_a_tiny_one_at_full_resolution():
    from MTCNN.cascade import smallest_plate
    from MTCNN.onnx_detector import OnnxDetector

    demo = cv2.imread(str(sorted((Path(__file__).parent.parent / "lpr" / "demo").glob("*.jpg"))[0]))
    plate = demo[904:1006, 178:422]                      # the blue plate (about 165 x 61) with a margin
    size = (1200, 4000)
    _, min_w = smallest_plate(size, DetectorConfig())
    assert min_w > 300                                   # a 4000-pixel-wide photo: plates of ~7 % and more

    def photo(factor):
        canvas = np.full((*size, 3), 128, np.uint8)
        p = cv2.resize(plate, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        canvas[500:500 + p.shape[0], 1800:1800 + p.shape[1]] = p
        return canvas, 165 * factor

    detector = OnnxDetector(config=DetectorConfig(), threads=1)
    big, width = photo(1.15 * min_w / 165)               # just over the smallest searched plate
    assert width > min_w and len(detector.detect(big).boxes) >= 1
    tiny, width = photo(1.0)                             # a 165-pixel plate in the 4000-pixel photo
    assert width < min_w and len(detector.detect(tiny).boxes) == 0
    full = OnnxDetector(config=DetectorConfig(max_level_side=0), threads=1)
    found = full.detect(tiny).boxes
    assert len(found) >= 1 and found[0, 0] == pytest.approx(1800 + 40, abs=40)
