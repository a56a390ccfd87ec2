"""The benchmark scripts print per-subset tables (weights here are untrained: behaviour, not accuracy)."""
import os
import shutil

import numpy as np
import pytest

from lpr.config import ReaderConfig, ReadingOptions
from lpr.evaluate import main as e2e_main
from lprcore.report import format_table, pct
from LPRNet.evaluate import main as lpr_main
from MTCNN.evaluate import main as det_main, match


@pytest.fixture(scope="module")
def ccpd_root(tmp_path_factory, synth_dir):
    root = tmp_path_factory.mktemp("ccpd")
    files = sorted(synth_dir.iterdir())
    for sub, chunk in (("ccpd_base", files[:2]), ("ccpd_weather", files[2:3])):
        (root / sub).mkdir()
        for f in chunk:
            shutil.copy(f, root / sub / f.name)
    return root


def test_match_is_one_to_one():
    gts = np.array([[0, 0, 100, 30]], np.float32)
    boxes = np.array([[0, 0, 100, 30, 0.9], [2, 0, 100, 30, 0.8], [300, 0, 400, 30, 0.7]], np.float32)
    assert match(boxes, gts) == 1
    assert match(boxes[2:], gts) == 0 and match(boxes[:0], gts) == 0


def test_table_format():
    t = format_table({"acc": {"a": "1.0", "b": "2.5"}}, ["a", "b", "c"], "x")
    lines = t.splitlines()
    assert lines[0].split("|")[1:-1] == [" x   ", " a   ", " b   ", " c "]
    assert "-" in lines[2] and pct(1, 3) == "33.3" and pct(1, 0) == "-"


def test_detection_benchmark_table(capsys, ccpd_root, random_weights):
    assert det_main([str(ccpd_root), "--weights-dir", str(random_weights), "--min-plate-size", "20", "80"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[1]
    assert "ccpd_base" in header and "ccpd_weather" in header and "all" in header
    for row in ("recall@0.5 %", "precision@0.5 %", "recall@0.7 %", "precision@0.7 %", "false boxes/img",
                "corner error %", "ms/image"):
        assert row in out


def test_detection_scores_iou_thresholds_false_boxes_and_corner_error():
    from MTCNN.evaluate import Image, corner_error, score_image

    quad = np.float32([[10, 10], [110, 10], [110, 40], [10, 40]])
    image = Image("x.jpg", np.float32([[10, 10, 110, 40]]), quad[None])
    found = np.float32([[10, 10, 110, 40, 0.9],     # the plate
                        [300, 10, 400, 40, 0.8]])   # a false box
    corners = np.stack([quad + [5, 0], quad])     # the plate's corners 5 px to the right
    c = score_image(found, corners, image, 0.1)
    assert (c.plates, c.detections, c.tp, c.tp_strict, c.false_boxes) == (1, 2, 1, 1, 1)
    assert c.corner_n == 1 and c.corner_sum == pytest.approx(0.05)  # 5 px of a 100 px wide plate
    assert corner_error(quad, quad) == 0
    loose = score_image(np.float32([[10, 10, 160, 40, 0.9]]), None, image, 0.1)  # IoU 0.67: at 0.5 only
    assert (loose.tp, loose.tp_strict, loose.corner_n) == (1, 0, 0)
    row = c.row()
    assert row["recall@0.5 %"] == "100.0" and row["precision@0.5 %"] == "50.0" and row["false boxes/img"] == "1.000"


def test_recognition_benchmark_table(capsys, ccpd_root, random_weights):
    assert lpr_main([str(ccpd_root), "--weights-dir", str(random_weights)]) == 0
    out = capsys.readouterr().out
    assert "ccpd_base" in out and "ccpd_weather" in out and "crops/s" in out
    assert "by colour" in out and "confidence thresholds" in out
    row = next(line for line in out.splitlines() if line.startswith("| plates"))
    assert [c.strip() for c in row.split("|")[2:-1]] == ["2", "1", "3"]


def test_recognition_benchmark_reads_labels_tsv_sources_with_use(capsys, tmp_path, synth_dir, random_weights):
    """A labels.tsv source (as plate_crops_more) is read with its colour and use columns."""
    import shutil

    files = sorted(synth_dir.iterdir())[:3]
    lines = ["file\ttext\tcolour\tuse"]
    for k, f in enumerate(files):
        shutil.copy(f, tmp_path / f"c{k}.jpg")
        lines.append(f"c{k}.jpg\t皖A1234{k}\t{'yellow' if k else 'blue'}\t{'val' if k < 2 else 'train'}")
    (tmp_path / "labels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert lpr_main([str(tmp_path), "--use", "val", "--weights-dir", str(random_weights)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| plates"))
    assert row.split("|")[-2].strip() == "2"  # the train row is left out
    assert "yellow" in out and "blue" in out


def test_end_to_end_benchmark_table(capsys, ccpd_root, random_weights):
    assert e2e_main([str(ccpd_root), "--weights-dir", str(random_weights), "--min-plate-size", "20", "80",
                     "--max-proposals", "2", "--show-errors"]) == 0  # untrained nets: a few boxes keep it fast
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| images"))
    assert [c.strip() for c in row.split("|")[2:-1]] == ["2", "1", "3"]


def test_end_to_end_on_labelled_scenes_counts_images_and_extra_reads(capsys, tmp_path, synth_dir, random_weights):
    """A labels.tsv folder (as ../shared/data/scenes) is scored per image: is the main plate read."""
    import shutil

    from lpr.evaluate import evaluate_scenes
    from lpr.pipeline import PlateReader
    from MTCNN.cascade import DetectorConfig

    files = sorted(synth_dir.iterdir())[:2]
    lines = ["file\ttext\tsource"]
    for k, f in enumerate(files):
        shutil.copy(f, tmp_path / f"s{k}.jpg")
        lines.append(f"s{k}.jpg\t皖A1234{k}\tsrc{k % 2}")
    (tmp_path / "labels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    reader = PlateReader(ReaderConfig(detector=DetectorConfig(min_plate_size=(20, 80), max_proposals=2),
                                      reading=ReadingOptions(all_reads=True, second_look=False, rotated_retry=False, stretched_retry=False)),
                         weights_dir=random_weights)  # either might chance on a valid text
    counts = evaluate_scenes(reader, str(tmp_path))
    assert set(counts) == {"src0", "src1", "all"} and counts["all"].n == 2
    assert counts["all"].right == 0 and counts["all"].extra_reads == counts["all"].reads  # untrained nets
    assert e2e_main([str(tmp_path), "--weights-dir", str(random_weights), "--min-plate-size", "20", "80",
                     "--max-proposals", "2"]) == 0
    out = capsys.readouterr().out
    assert "image accuracy %" in out and "extra reads / image" in out
    assert "min confidence" in out and "all reads" in out  # the threshold table


def test_scene_counts_follow_the_read_filter():
    from lpr.evaluate import SceneRead, count_scenes
    from lpr.pipeline import Plate

    def plate(text, conf):
        return Plate((0, 0, 10, 10), 0.9, text, conf)
    reads = [SceneRead("a.jpg", "皖A12345", "s", (plate("皖A12345", 0.6), plate("皖A12345", 0.5), plate("HELLO", 0.9)), 0.1),
             SceneRead("b.jpg", "苏E12345", "s", (plate("苏E1234S", 0.95),), 0.1)]
    default = count_scenes(reads)["all"]
    assert (default.n, default.right, default.reads, default.extra_reads) == (2, 1, 2, 1)
    strict = count_scenes(reads, min_confidence=0.7)["all"]
    assert (strict.right, strict.reads) == (0, 1)
    every = count_scenes(reads, all_reads=True)["all"]
    assert (every.right, every.reads, every.extra_reads) == (1, 4, 3)


def test_scene_accuracy_by_the_main_plates_width_bands():
    from lpr.evaluate import SceneRead, accuracy_by_width
    from lpr.pipeline import Plate

    def read(text, width, got):
        return SceneRead("x.jpg", text, "s", tuple(Plate((0, 0, 10, 10), 0.9, t, 0.9) for t in got), 0.1, width)
    reads = [read("皖A12345", 30.0, ["皖A12345"]), read("皖A12346", 35.0, []), read("皖A12347", 150.0, ["皖A12347"]),
             read("皖A12348", 10.0, []), read("皖A12349", None, ["皖A12349"])]
    assert accuracy_by_width(reads) == {"<20": (0, 1), "20-40": (1, 2), "100+": (1, 1)}   # no box: left out
    assert list(accuracy_by_width(reads)) == ["<20", "20-40", "100+"]                     # by increasing width
    assert accuracy_by_width(reads, min_confidence=0.95)["20-40"] == (0, 2)
    assert accuracy_by_width(reads[-1:]) == {}


def test_recognition_benchmark_cuts_double_row_plates_row_by_row(tmp_path):
    """A plate labelled double-row is read as the pipeline reads one: its rows side by side."""
    import cv2
    from types import SimpleNamespace

    from ccpd.sources import PlateSample
    from LPRNet.crops import box_to_quad, crop_plates, warp_double_row
    from LPRNet.evaluate import read_all, sample_crop

    image = np.random.default_rng(0).integers(0, 255, (80, 120, 3), dtype=np.uint8)
    box = (10.0, 8.0, 90.0, 60.0)
    double = PlateSample(path="d.jpg", text="甘A12345", layout="double", bbox=box)
    single = PlateSample(path="s.jpg", text="甘A12345", layout="single", bbox=box)
    cut = sample_crop(image, double)
    assert np.array_equal(cut, crop_plates(image, np.asarray([box]), ["double"])[0])
    assert np.array_equal(cut, warp_double_row(image, box_to_quad(box)))  # the training cut (LPRNet.dataset)
    assert np.array_equal(sample_crop(image, single), crop_plates(image, np.asarray([box]))[0])
    assert not np.array_equal(cut, sample_crop(image, single))
    whole = PlateSample(path="w.jpg", text="甘A12345", layout="double")  # a double-row crop without a box
    assert np.array_equal(sample_crop(image, whole), crop_plates(image, np.asarray([(0, 0, 120, 80)]), ["double"])[0])
    assert sample_crop(image, PlateSample(path="p.jpg", text="甘A12345")) is image  # a crop is read whole

    seen = []

    def reader(crops):
        seen.extend(crops)
        return [SimpleNamespace(text="甘A12345", confidence=1.0) for _ in crops]

    path = str(tmp_path / "d.png")
    cv2.imwrite(path, image)
    reads, _, failed = read_all(SimpleNamespace(recognize_crops=reader), [(PlateSample(path=path, text="甘A12345", layout="double", bbox=box), "g")])
    assert not failed and [r.sample.path for r in reads] == [path] and reads[0].exact
    assert np.array_equal(seen[0], crop_plates(image, np.asarray([box]), ["double"])[0])


@pytest.mark.parametrize("second_look", [True, False])
def test_speed_benchmark_times_the_second_look_only_when_asked(monkeypatch, second_look):
    from lpr import bench
    from LPRNet.reading import Recognizer
    calls = []
    real = Recognizer.second_look
    monkeypatch.setattr(Recognizer, "second_look",
                        lambda self, *a, below: calls.append(below) or real(self, *a, below=below))
    demo = os.path.join(os.path.dirname(bench.__file__), "demo")
    reading = ReadingOptions(second_look=second_look, rotated_retry=False, stretched_retry=False, second_look_below=0.9)
    out = bench.measure("auto", [demo], 1, 2, 4, reading)
    figures = out["folders"][demo]
    assert figures["images"] == 2 and figures["reader"]["median"] > 0
    assert figures["pipeline"]["median"] >= figures["detector"]["median"]
    assert out["batches"] and all(v["crops_per_s"] > 0 for v in out["batches"].values())
    assert calls == ([0.9] * len(calls) if second_look else [])
    assert bool(calls) is second_look  # every demo photo holds a plate the shipped detector finds


@pytest.mark.parametrize("flags, below, look", [([], None, True), (["--second-look-below", "0.5"], 0.5, True),
                                                (["--no-second-look"], None, False)])
def test_end_to_end_evaluator_passes_the_second_look_flags_to_the_reader(tmp_path, monkeypatch, capsys, flags, below,
                                                                         look):
    import lpr.evaluate as ev
    from LPRNet.crops import SECOND_LOOK_BELOW
    from lprcore.manifest import WeightsError
    seen = {}

    def fake_reader(config, **kwargs):  # records how the evaluator builds its reader, then stops it
        seen["reading"] = config.reading
        raise WeightsError("stop here")

    monkeypatch.setattr(ev, "PlateReader", fake_reader)
    assert ev.main([str(tmp_path)] + flags) == 2 and "stop here" in capsys.readouterr().err
    reading = seen["reading"]
    assert reading.second_look is look and reading.second_look_below == (SECOND_LOOK_BELOW if below is None else below)
    assert reading.all_reads  # the evaluator filters the reads itself


def test_offset_box_cuts_or_shifts_the_sides_by_fractions_of_the_width():
    from LPRNet.evaluate import offset_box

    box = (10.0, 5.0, 110.0, 35.0)  # 100 pixels wide
    assert offset_box(box, (0.06, 0.0)) == pytest.approx((16.0, 5.0, 110.0, 35.0))   # left side cut
    assert offset_box(box, (0.0, -0.09)) == pytest.approx((10.0, 5.0, 101.0, 35.0))  # right side cut
    assert offset_box(box, (0.06, 0.06)) == pytest.approx((16.0, 5.0, 116.0, 35.0))  # shifted right
    x1, _, x2, _ = offset_box(box, (0.6, -0.6))  # crossed edges keep one pixel
    assert x2 - x1 == pytest.approx(1.0)


def one_plate_source(tmp_path, monkeypatch, seed: int, text_of):
    """A labels.tsv source of one 40x140 random image with the plate 皖A12345 at box (20, 5, 120, 35),
    and ``LPRNet.evaluate``'s recognizer replaced by one reading ``text_of(crop)``; returns the image
    and the list of every crop the recognizer is given."""
    import cv2
    from types import SimpleNamespace

    import LPRNet.evaluate as ev

    image = np.random.default_rng(seed).integers(0, 255, (40, 140, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "c0.png"), image)
    (tmp_path / "labels.tsv").write_text("file\ttext\tbbox\nc0.png\t皖A12345\t20,5,120,35\n", encoding="utf-8")
    seen = []

    class Reader:
        def __init__(self, *args, **kwargs):
            pass

        def recognize_crops(self, crops):
            seen.extend(crops)
            return [SimpleNamespace(text=text_of(c), confidence=1.0) for c in crops]

    monkeypatch.setattr(ev, "TorchRecognizer", Reader)
    return image, seen


def test_recognition_benchmark_cut_offset_moves_every_cut(tmp_path, monkeypatch, capsys):
    """--cut-offset reads each plate from its box moved as asked (a crop without a box: the image's; a
    double-row plate row by row), says so in the title, and refuses offsets outside [-0.5, 0.5]."""
    import LPRNet.evaluate as ev
    from ccpd.sources import PlateSample
    from LPRNet.crops import crop_plates

    image, seen = one_plate_source(tmp_path, monkeypatch, 1, lambda crop: "皖A12345")
    assert ev.main([str(tmp_path), "--cut-offset", "0.1", "0"]) == 0
    assert "left edge +0.1, right edge +0 of the width" in capsys.readouterr().out
    assert np.array_equal(seen[0], crop_plates(image, np.float32([[30, 5, 120, 35]]))[0])
    for bad in (["0.6", "0"], ["0", "-0.6"]):
        with pytest.raises(SystemExit):
            ev.main([str(tmp_path), "--cut-offset", *bad])
        assert "--cut-offset" in capsys.readouterr().err

    whole = PlateSample(path="w.png", text="皖A12345")  # a crop without a box: its box is the image
    assert np.array_equal(ev.sample_crop(image, whole, (0.1, 0.0)), crop_plates(image, np.float32([[14, 0, 140, 40]]))[0])
    double = PlateSample(path="d.png", text="甘A12345", layout="double", bbox=(20, 5, 120, 35))
    assert np.array_equal(ev.sample_crop(image, double, (0.0, -0.1)),
                          crop_plates(image, np.float32([[20, 5, 110, 35]]), ["double"])[0])


def test_cut_sweep_reads_every_cut_and_averages_the_moved_ones(tmp_path, monkeypatch, capsys):
    """--cut-sweep reads each plate once more per cut of CUT_SWEEP; a reader that reads only the unmoved
    cut right scores 100 % at the box and 0 % on every moved cut (mean 0)."""
    import LPRNet.evaluate as ev
    from LPRNet.crops import crop_plates

    unmoved = []
    image, seen = one_plate_source(
        tmp_path, monkeypatch, 2, lambda crop: "皖A12345" if np.array_equal(crop, unmoved[0]) else "苏B12345")
    unmoved.append(crop_plates(image, np.float32([[20, 5, 120, 35]]))[0])
    assert ev.main([str(tmp_path), "--cut-sweep"]) == 0
    out = capsys.readouterr().out
    assert len(seen) == 1 + len(ev.CUT_SWEEP)
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("| cut"))
    assert [c.strip() for c in lines[at].split("|")[2:-1]] == [label for label, _ in ev.CUT_SWEEP] + ["mean moved"]
    exact, province = lines[at + 2], lines[at + 3]
    assert exact.startswith("| exact %") and province.startswith("| province right %")
    assert [c.strip() for c in exact.split("|")[2:-1]] == ["100.0"] + ["0.0"] * (len(ev.CUT_SWEEP) - 1) + ["0.0"]
    assert province.split("|")[2].strip() == "100.0" and province.split("|")[-2].strip() == "0.0"


def test_ladder_profile_times_every_stage_at_every_size():
    from lpr import bench
    demo = os.path.join(os.path.dirname(bench.__file__), "demo")
    reading = ReadingOptions(rotated_retry=False, stretched_retry=False)
    out = bench.measure_ladder("onnx", [demo], 1, 1, reading, sizes=((240, 400), None))
    small, native = out["rows"]["400x240 demo"], out["rows"]["native demo"]
    for row in (small, native):
        assert row["photos"] == 1 and row["read"] in (0.0, 1.0) and row["levels"] >= 1
        staged = sum(row[k] for k in bench.STAGES)
        assert 0.5 * row["mean"] <= staged <= row["mean"] * 1.001  # the stages are most of the photo's time
        assert row["pnet level 0"] > 0 and row["onet"] > 0 and row["retries"] == 0.0
    assert native["read"] == 1.0                       # the first demo plate, read at its own size
    assert native["levels"] >= small["levels"]         # a larger photo, as many pyramid levels or more
    table = bench.ladder_table([out])
    assert "| onnx native demo" in table and "pnet level 0 ms" in table


def test_detector_recall_by_plate_width_bands():
    from MTCNN.evaluate import recall_by_width, width_band

    assert [width_band(w) for w in (5, 20, 39.9, 40, 99, 100, 800)] == ["<20", "20-40", "20-40", "40-60", "60-100",
                                                                         "100+", "100+"]
    gts = np.float32([[0, 0, 30, 10], [100, 100, 150, 115], [200, 0, 400, 60]])   # 30, 50 and 200 wide
    bands = {}
    recall_by_width(np.float32([[0, 0, 30, 10, 0.9], [201, 1, 399, 59, 0.8]]), gts, bands)
    recall_by_width(np.zeros((0, 5), np.float32), gts[:1], bands)                   # a missed 30-wide plate
    assert bands == {"20-40": [1, 2], "40-60": [0, 1], "100+": [1, 1]}
