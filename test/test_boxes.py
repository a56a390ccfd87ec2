"""Box operations against a plain reference implementation, including ties and threshold cases."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from MTCNN.boxes import (box_iou, calibrate_boxes, clip_boxes, nms,
                         regression_targets, remove_small_boxes)


def ref_overlap(a, b, mode="union"):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    denom = area_a + area_b - inter if mode == "union" else min(area_a, area_b)
    return inter / denom if denom > 0 else 0.0


def ref_nms(boxes, scores, thr, mode="union"):
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if all(ref_overlap(boxes[i], boxes[k], mode) <= thr for k in keep):
            keep.append(i)
    return keep


box = st.tuples(st.integers(0, 100), st.integers(0, 100), st.integers(1, 60), st.integers(1, 60)).map(
    lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])


@settings(max_examples=150, deadline=None)
@given(st.lists(box, min_size=0, max_size=25), st.sampled_from([0.0, 0.3, 0.5, 0.7]),
       st.sampled_from(["union", "min"]), st.data())
def test_nms_matches_reference(boxes, thr, mode, data):
    # small integer scores make ties common
    scores = data.draw(st.lists(st.integers(0, 3), min_size=len(boxes), max_size=len(boxes)))
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    got = nms(b, np.asarray(scores, dtype=np.float32), thr, mode).tolist()
    assert got == ref_nms(boxes, scores, thr, mode)


@settings(max_examples=100, deadline=None)
@given(st.lists(box, min_size=1, max_size=8), st.lists(box, min_size=1, max_size=8),
       st.sampled_from(["union", "min"]))
def test_iou_matches_reference(a, b, mode):
    got = box_iou(np.asarray(a, np.float32), np.asarray(b, np.float32), mode)
    want = np.array([[ref_overlap(x, y, mode) for y in b] for x in a])
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_nms_box_exactly_at_threshold_is_kept():
    # IoU of these two is exactly 1/3 (area 2, intersection 1, union 3)
    b = np.array([[0, 0, 2, 1], [1, 0, 3, 1]], dtype=np.float32)
    assert box_iou(b[:1], b[1:])[0, 0] == pytest.approx(1 / 3)
    assert nms(b, np.array([0.9, 0.8]), 1 / 3).tolist() == [0, 1]
    assert nms(b, np.array([0.9, 0.8]), 0.33).tolist() == [0]


def test_nms_ties_keep_the_lower_index_and_sort_by_score():
    b = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], dtype=np.float32)
    assert nms(b, np.array([0.5, 0.5, 0.9]), 0.5).tolist() == [2, 0]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_min_mode_suppresses_a_box_inside_another():
    b = np.array([[0, 0, 100, 30], [10, 5, 40, 20]], dtype=np.float32)
    assert nms(b, np.array([0.9, 0.8]), 0.5, "union").tolist() == [0, 1]
    assert nms(b, np.array([0.9, 0.8]), 0.5, "min").tolist() == [0]
    with pytest.raises(ValueError, match="mode"):
        box_iou(b, b, "max")
    with pytest.raises(ValueError, match="mode"):
        nms(b, np.array([0.9, 0.8]), 0.5, "max")


def test_calibrate_inverts_regression_targets():
    rng = np.random.default_rng(0)
    boxes = np.sort(rng.uniform(0, 500, (20, 4)).reshape(20, 2, 2), axis=1).transpose(0, 2, 1).reshape(20, 4)
    boxes = boxes[:, [0, 2, 1, 3]]  # x1, y1, x2, y2 with x1 < x2, y1 < y2
    gts = boxes + rng.uniform(-10, 10, boxes.shape)
    out = calibrate_boxes(boxes, regression_targets(boxes, gts))
    np.testing.assert_allclose(out, gts, rtol=1e-4, atol=1e-2)


def test_calibrate_keeps_score_column():
    b = np.array([[10, 10, 20, 30, 0.7]], dtype=np.float32)
    out = calibrate_boxes(b, np.array([[0.1, 0.0, -0.1, 0.5]]))
    np.testing.assert_allclose(out, [[11, 10, 19, 40, 0.7]], rtol=1e-6)


def test_clip_and_small():
    b = np.array([[-5, -5, 50, 20], [90, 40, 120, 70]], dtype=np.float32)
    np.testing.assert_array_equal(clip_boxes(b, (60, 100)), [[0, 0, 50, 20], [90, 40, 100, 60]])
    assert remove_small_boxes(np.array([[0, 0, 1, 5], [0, 0, 5, 5]], np.float32), 2).tolist() == [1]
