"""Per-stage data preparation end to end on generated images; IoU labelling."""
import os

import numpy as np
import pytest

from LPRNet.prepare import main as lpr_prepare, read_list as read_lpr_list
from MTCNN.prepare import (NEGATIVE, PART, POSITIVE, label_boxes, main as mtcnn_prepare,
                           read_list as read_box_list)


def test_iou_labels():
    gt = np.array([[100, 100, 200, 130]], np.float32)
    boxes = np.array([
        [100, 100, 200, 130],   # IoU 1 -> positive
        [110, 100, 210, 130],   # IoU 0.818 -> positive
        [130, 100, 230, 130],   # IoU 0.538 -> part
        [150, 100, 250, 130],   # IoU 0.333 -> unused
        [160, 100, 260, 130],   # IoU 0.25 -> negative
        [400, 400, 500, 430],   # IoU 0 -> negative
    ], np.float32)
    labels, offsets = label_boxes(boxes, gt)
    assert labels.tolist() == [POSITIVE, POSITIVE, PART, 2, NEGATIVE, NEGATIVE]
    np.testing.assert_allclose(offsets[1], [-0.1, 0, -0.1, 0], atol=1e-6)
    assert not offsets[4:].any()


@pytest.mark.parametrize("net,size", [("pnet", (12, 47)), ("onet", (24, 94))])
def test_mtcnn_prepare_end_to_end(tmp_path, synth_dir, random_weights, net, size):
    import shutil

    src = tmp_path / "src"  # three of the images: ONet's samples run the cascade, twice here
    src.mkdir()
    for f in sorted(synth_dir.iterdir())[:3]:
        shutil.copy(f, src / f.name)
    out = tmp_path / net
    argv = ["--net", net, "--ccpd", str(src), "--out", str(out), "--workers", "1"]
    if net == "onet":
        argv += ["--pnet-weights", str(random_weights / "pnet.pth"), "--onet-weights",
                 str(random_weights / "onet.pth")]
    assert mtcnn_prepare(argv) == 0
    entries = read_box_list(out / "train.txt")
    labels = {e[1] for e in entries}
    assert labels == {POSITIVE, PART, NEGATIVE}
    # CCPD names give the corners: every positive and part carries vertex targets, no negative does
    assert all(e[3] is not None for e in entries if e[1] != NEGATIVE)
    assert all(e[3] is None for e in entries if e[1] == NEGATIVE)
    positives = np.array([e[3] for e in entries if e[1] == POSITIVE]).reshape(-1, 4, 2)
    assert (positives[:, 1, 0] > positives[:, 0, 0]).all() and (positives[:, 3, 1] > positives[:, 0, 1]).all()
    from lprcore.imageio import imread
    assert imread(entries[0][0]).shape == (*size, 3)
    assert not list(out.glob("*.tmp*"))
    first = (out / "train.txt").read_text()
    assert mtcnn_prepare(argv) == 0  # a re-run overwrites cleanly and is deterministic
    assert (out / "train.txt").read_text() == first


def test_vertex_targets_round_trip_and_follow_the_box():
    from MTCNN.boxes import vertex_targets, vertices_to_corners
    from MTCNN.prepare import label_boxes_vertices

    gt = np.array([[100, 100, 200, 130]], np.float32)
    quad = np.array([[[102, 101], [199, 104], [198, 129], [100, 127]]], np.float32)
    boxes = np.array([[100, 100, 200, 130], [90, 95, 210, 135], [400, 400, 500, 430]], np.float32)
    labels, _, vertices = label_boxes_vertices(boxes, gt, quad)
    assert labels.tolist() == [POSITIVE, PART, NEGATIVE]  # parts carry corners too
    np.testing.assert_allclose(vertices[0], [0.02, 1 / 30, 0.99, 4 / 30, 0.98, 29 / 30, 0.0, 27 / 30], atol=1e-5)
    assert np.isnan(vertices[2]).all()  # no corners for a negative
    np.testing.assert_allclose(vertices_to_corners(boxes[:2], vertices[:2]), np.repeat(quad, 2, 0), atol=1e-4)
    np.testing.assert_allclose(vertex_targets(boxes[:2], np.repeat(quad, 2, 0)), vertices[:2])
    _, _, unknown = label_boxes_vertices(boxes, gt, np.full((1, 4, 2), np.nan, np.float32))
    assert np.isnan(unknown).all()


def test_box_list_reads_both_line_forms_and_names_a_bad_line(tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text("a.png 0 0 0 0 0\nb.png 1 0.1 0 0 0 0 0 1 0 1 1 0 1\n")
    entries = read_box_list(lst)
    assert entries[0][3] is None and entries[1][3] == (0, 0, 1, 0, 1, 1, 0, 1)
    lst.write_text("a.png 0 0 0 0 0\nb.png 1 0.1 0 0 0 0 0\n")
    with pytest.raises(ValueError, match=r"l\.txt:2"):
        read_box_list(lst)


def test_prepare_refuses_output_inside_the_source(tmp_path, synth_dir):
    with pytest.raises(SystemExit):
        mtcnn_prepare(["--net", "pnet", "--ccpd", str(synth_dir), "--out", str(synth_dir / "x")])


def test_lprnet_prepare_from_ccpd_and_crops(tmp_path, synth_dir):
    crops = tmp_path / "crops"
    crops.mkdir()
    from lprcore.imageio import imwrite
    imwrite(crops / "皖A12345.jpg", np.full((40, 140, 3), 120, np.uint8))
    imwrite(crops / "not-a-plate.jpg", np.full((40, 140, 3), 120, np.uint8))
    out = tmp_path / "lpr"
    assert lpr_prepare(["--ccpd", str(synth_dir), "--crops", str(crops), "--out", str(out), "--workers", "1"]) == 0
    entries = read_lpr_list(out / "train.txt")
    n_ccpd = len(list(synth_dir.iterdir()))
    assert len(entries) == 2 * n_ccpd + 1  # bbox crop + rectified crop per plate, one crop
    assert "皖A12345" in [e.text for e in entries]
    for path, text, (x1, y1, x2, y2), colour, layout in entries:
        assert os.path.isfile(path) and len(text) in (7, 8) and x2 > x1 and y2 > y1
        assert (colour, layout) in (("blue", "single"), ("green", "single"), ("", ""))  # crops: unknown


def test_lprnet_prepare_real_sample(tmp_path, shared_data):
    import shutil
    src = tmp_path / "src"
    src.mkdir()
    for f in sorted((shared_data / "ccpd_sample" / "val").iterdir())[:3]:
        shutil.copy(f, src / f.name)
    assert lpr_prepare(["--ccpd", str(src), "--crops", str(shared_data / "plate_crops"), "--out",
                        str(tmp_path / "o"), "--workers", "2", "--no-rectified"]) == 0
    entries = read_lpr_list(tmp_path / "o" / "train.txt")
    assert len(entries) >= 3 + 1900


@pytest.mark.parametrize("stage", ["mtcnn", "lprnet"])
def test_preparation_resumes_after_a_kill_and_gives_the_same_list(tmp_path, synth_dir, monkeypatch, stage):
    import LPRNet.prepare as lpr_module
    import MTCNN.prepare as mtcnn_module

    module, run = (mtcnn_module, lambda out, *extra: mtcnn_prepare(
        ["--net", "pnet", "--ccpd", str(synth_dir), "--out", str(out), "--workers", "1", *extra])) \
        if stage == "mtcnn" else (lpr_module, lambda out, *extra: lpr_prepare(
            ["--ccpd", str(synth_dir), "--out", str(out), "--workers", "1", *extra]))
    assert run(tmp_path / "straight") == 0
    want = (tmp_path / "straight" / "train.txt").read_text()

    real, calls = module._job, []

    def dies_on_the_fourth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the run is killed here
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "_job", dies_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "killed")
    monkeypatch.setattr(module, "_job", real)
    journal = tmp_path / "killed" / "train.journal"
    assert not (tmp_path / "killed" / "train.txt").exists() and journal.is_file()
    with open(journal, "a", encoding="utf-8") as fh:  # an item cut short while being written
        fh.write("3\thalf a line of item 3\n")
    done = [line for line in journal.read_text().splitlines() if line.endswith("\x00end")]
    assert len(done) == 3
    redone = []
    monkeypatch.setattr(module, "_job", lambda *a, **k: redone.append(1) or real(*a, **k))
    assert run(tmp_path / "killed", "--resume") == 0
    assert len(redone) == len(list(synth_dir.iterdir())) - 3  # the 3 finished images are not done again
    assert (tmp_path / "killed" / "train.txt").read_text() == want
    assert not journal.exists()


def test_a_journal_of_other_inputs_is_not_resumed(tmp_path):
    from lprcore.files import Journal

    j = Journal(tmp_path / "j", resume=False, fingerprint="a")
    j.add(0, ["x 1", "y 2"])
    j.add(1, ["z 3"])
    j.close()
    resumed = Journal(tmp_path / "j", resume=True, fingerprint="a")
    resumed.close()
    assert resumed.done == {0, 1}
    fresh = Journal(tmp_path / "j", resume=True, fingerprint="b")  # other options: indices mean other items
    assert fresh.done == set()
    fresh.add(0, ["w 9"])
    assert fresh.write_list(tmp_path / "list.txt") == 1 and (tmp_path / "list.txt").read_text() == "w 9\n"
    fresh.close()
