"""Large JPEGs decoded at a reduced size for the search, and the per-photo time budget."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from lpr.config import ReaderConfig, ReadingOptions
from lpr.pipeline import Plate, PlateReader, decode_photo, scale_plate
from lprcore.imageio import imread_reduced
from MTCNN.cascade import (DECODE_REDUCTIONS, PLATE_VIEW_WIDTH, DetectorConfig, decode_reduction, pyramid_scales,
                           reduced_config, smallest_plate)

DEMO = sorted((Path(__file__).resolve().parent.parent / "lpr" / "demo").glob("*.jpg"))[0]


def level_sizes(size, config):
    return [(round(size[0] * s), round(size[1] * s))
            for s in pyramid_scales(size, config.min_plate_size, config.scale_factor, config.max_level_side)]


@pytest.mark.parametrize("size", [(400, 640), (720, 1160), (1192, 1920), (2483, 4000), (2448, 3264), (6000, 8000)])
def test_the_reduction_keeps_the_smallest_searched_plate_as_wide_as_the_nets_views_and_the_grid(size):
    config = DetectorConfig()
    r = decode_reduction(size, config)
    width = smallest_plate(size, config)[1]
    assert r in (1, *DECODE_REDUCTIONS)
    assert width / r >= PLATE_VIEW_WIDTH or r == 1
    if r < max(DECODE_REDUCTIONS):
        assert width / (2 * r) < PLATE_VIEW_WIDTH        # the largest reduction that keeps it
    small = (math.ceil(size[0] / r), math.ceil(size[1] / r))
    # the reduced photo is searched on the full photo's levels (same sizes within rounding)
    full_levels, reduced_levels = level_sizes(size, config), level_sizes(small, reduced_config(config, r))
    assert len(full_levels) == len(reduced_levels)
    assert np.abs(np.subtract(full_levels, reduced_levels)).max() <= 1
    assert decode_reduction(size, DetectorConfig(max_level_side=0)) == 1   # full-resolution search: full decode


def test_small_photos_are_decoded_whole_and_large_ones_reduced():
    config = DetectorConfig()
    assert decode_reduction((720, 1160), config) == 1 and decode_reduction((1192, 1920), config) == 1
    assert decode_reduction((2483, 4000), config) == 2 and decode_reduction((6000, 8000), config) == 4
    with pytest.raises(ValueError):
        reduced_config(config, 0)
    assert reduced_config(config, 2).min_plate_size == (8.0, 30.0) and config.min_plate_size == (16, 60)


def test_imread_reduced_reduces_jpegs_only(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (301, 457, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a.jpg"), image)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    for factor in (1, 2, 4, 8):
        out, used = imread_reduced(tmp_path / "a.jpg", factor=factor)
        assert used == factor and out.shape == (math.ceil(301 / factor), math.ceil(457 / factor), 3)
        assert out.dtype == np.uint8
    out, used = imread_reduced(tmp_path / "a.png", factor=4)      # nothing to gain: decoded whole
    assert used == 1 and np.array_equal(out, image)
    with pytest.raises(ValueError, match="1, 2, 4 or 8"):
        imread_reduced(tmp_path / "a.jpg", factor=3)


def test_scale_plate_maps_points_to_the_centre_of_the_pixels_they_stood_for():
    p = Plate((0.0, 1.0, 10.0, 5.0), 0.9, "皖A12345", 0.99,
              corners=((0.0, 1.0), (10.0, 1.0), (10.0, 5.0), (0.0, 5.0)))
    q = scale_plate(p, 2)
    assert q.box == (0.5, 2.5, 20.5, 10.5) and q.corners[2] == (20.5, 10.5)
    assert (q.text, q.score, q.confidence) == (p.text, p.score, p.confidence)
    assert scale_plate(Plate((1.0, 1.0, 2.0, 2.0), 0.5, "", 0.0), 4).corners is None


@pytest.fixture(scope="module")
def big_photo(tmp_path_factory):
    """A 4000x1200 JPEG holding the demo's blue plate at 1.3x the smallest plate searched for."""
    demo = cv2.imread(str(DEMO))
    plate = demo[904:1006, 178:422]                      # the blue plate (about 165 x 61) with a margin
    size = (1200, 4000)
    factor = 1.3 * smallest_plate(size, DetectorConfig())[1] / 165
    canvas = np.full((*size, 3), 128, np.uint8)
    p = cv2.resize(plate, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    canvas[400:400 + p.shape[0], 1700:1700 + p.shape[1]] = p
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    cv2.imwrite(str(path), canvas, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


@pytest.fixture(scope="module")
def reader():
    return PlateReader(backend="onnx", threads=1)


def test_a_large_jpeg_read_at_a_reduced_size_reads_as_the_full_photo(big_photo, reader):
    image, factor = decode_photo(big_photo, reader.config.detector)
    assert factor == 2 and image.shape[:2] == (600, 2000)
    timings = {}
    reduced = reader.read_file(big_photo, timings=timings)
    full = reader(cv2.imread(str(big_photo)))
    assert timings["decode"] > 0 and "onet" in timings
    assert [p.text for p in reduced] == [p.text for p in full] and len(full) == 1
    width = full[0].box[2] - full[0].box[0]
    assert width > 300                                   # boxes in the full photo's pixels
    # ONet's box is loose (the plate's corners are what it is cut by): the box within 8 % of the
    # plate's width, the corners within 3 %
    np.testing.assert_allclose(reduced[0].box, full[0].box, atol=0.08 * width)
    np.testing.assert_allclose(reduced[0].corners, full[0].corners, atol=0.03 * width)
    # the full-resolution search option decodes whole
    assert decode_photo(big_photo, DetectorConfig(max_level_side=0))[1] == 1
    assert decode_photo(big_photo, reader.config.detector, reduce=False)[1] == 1


def test_the_command_line_decodes_reduced_unless_it_draws(big_photo, tmp_path, capsys):
    from lpr.cli import main

    assert main([str(big_photo), "--backend", "onnx", "--threads", "1"]) == 0
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(rec["plates"]) == 1 and rec["plates"][0]["valid"]
    x1, y1, x2, y2 = rec["plates"][0]["box"]
    assert 1600 < x1 < x2 < 4000 and 300 < y1 < y2 < 1200
    assert main([str(big_photo), "--backend", "onnx", "--threads", "1", "--save-dir", str(tmp_path)]) == 0
    drawn = cv2.imread(str(tmp_path / "big.jpg"))
    assert drawn.shape[:2] == (1200, 4000)               # drawn on the full photo
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [p["text"] for p in again["plates"]] == [p["text"] for p in rec["plates"]]


def test_the_time_budget_skips_retries_that_do_not_fit(reader):
    blank = np.full((400, 640, 3), 120, np.uint8)        # no plate: every retry would run
    timings = {}
    reader(blank, timings)
    assert "retries skipped" not in timings and timings["retries"] > 0
    tight = PlateReader(ReaderConfig(reading=ReadingOptions(time_budget_ms=0.001)), backend="onnx", threads=1)
    timings = {}
    assert tight(blank, timings) == []
    assert timings["retries skipped"] == 2               # the rotated and the stretched retry
    roomy = PlateReader(ReaderConfig(reading=ReadingOptions(time_budget_ms=60_000)), backend="onnx", threads=1)
    timings = {}
    roomy(blank, timings)
    assert "retries skipped" not in timings
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="time_budget_ms"):
            ReadingOptions(time_budget_ms=bad)


def test_the_time_budget_option_is_checked_on_the_command_line(capsys):
    from lpr.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--time-budget", "-5"])
    assert e.value.code == 2 and "--time-budget" in capsys.readouterr().err


def test_the_fine_retry_finds_a_plate_smaller_than_the_first_pass_looks_for(reader):
    from lpr.pipeline import FINE_RETRY_SIDE, fine_passes

    demo = cv2.imread(str(DEMO))
    plate = demo[904:1006, 178:422]                      # the blue plate (about 165 x 61) with a margin
    size = (1080, 1920)
    first_w = smallest_plate(size, DetectorConfig())[1]
    fine_w = smallest_plate(size, DetectorConfig(max_level_side=FINE_RETRY_SIDE))[1]
    factor = 1.4 * fine_w / 165                          # between what the retry and the first pass look for
    assert 165 * factor < first_w
    canvas = np.full((*size, 3), 128, np.uint8)
    p = cv2.resize(plate, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    canvas[600:600 + p.shape[0], 900:900 + p.shape[1]] = p
    assert len(reader.detector.detect(canvas).boxes) == 0            # the first pass does not see it
    found = reader(canvas)
    assert len(found) == 1 and found[0].valid
    assert 880 < found[0].box[0] < found[0].box[2] < 900 + p.shape[1] + 30
    off = PlateReader(ReaderConfig(reading=ReadingOptions(fine_retry=False, rotated_retry=False,
                                                          stretched_retry=False)), backend="onnx", threads=1)
    assert off(canvas) == []
    # nothing to add: a small photo (its levels all searched) or a full-resolution first pass
    assert reader.fine_retry_side((400, 640)) == 0 and reader.fine_retry_side(size) == FINE_RETRY_SIDE
    full = PlateReader(ReaderConfig(detector=DetectorConfig(max_level_side=0)), backend="onnx", threads=1)
    assert full.fine_retry_side(size) == 0
    assert fine_passes(size, DetectorConfig(), FINE_RETRY_SIDE) > 2  # what the time budget weighs


def test_a_dark_photo_with_no_read_gets_the_contrast_retry_and_a_bright_one_does_not(reader, monkeypatch):
    from lpr.pipeline import equalise_contrast, is_dark

    dark = np.full((200, 320, 3), 20, np.uint8)
    dark[80:120, 100:220] = 45                           # a dim patch: CLAHE stretches it
    bright = np.full((200, 320, 3), 150, np.uint8)
    assert is_dark(dark) and not is_dark(bright)
    out = equalise_contrast(dark)
    assert out.shape == dark.shape and out.dtype == np.uint8
    assert int(out[100, 160, 0]) - int(out[10, 10, 0]) > 25 - 0   # the patch stands out more than before
    calls = []
    monkeypatch.setattr(PlateReader, "retry_contrast", lambda self, image: calls.append(image.shape) or [])
    reader(dark)
    assert calls == [dark.shape]                         # nothing read on a dark photo: retried once
    reader(bright)
    assert calls == [dark.shape]                         # a bright photo: not
    off = PlateReader(ReaderConfig(reading=ReadingOptions(contrast_retry=False)), backend="onnx", threads=1)
    off(dark)
    assert calls == [dark.shape]
