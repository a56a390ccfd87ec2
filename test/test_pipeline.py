"""The Python API and the drawing of plates."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lprcore.imageio import imread
from lpr.config import ReaderConfig, ReadingOptions
from lpr.draw import draw_plates
from ccpd.plates import is_valid_text
from lpr.pipeline import (ROTATED_RETRY_ANGLES, STRETCH_RETRY_FACTORS, Plate, PlateReader, detect_rotated,
                          detect_stretched, keep_plates, map_points)
from LPRNet.crops import SECOND_LOOK_BELOW, box_to_quad, scale_quad
from LPRNet.reading import Recognizer, Recognition, needs_second_look, vote
from lprcore.weights import WeightsError
from MTCNN.cascade import DetectorConfig, Detections


@pytest.fixture(scope="module")
def reader(random_weights):
    # random weights read garbage texts: keep every read, as first read (no second look, no rotated retry)
    return PlateReader(ReaderConfig(detector=DetectorConfig(min_plate_size=(20, 80)),
                                    reading=ReadingOptions(all_reads=True, second_look=False, rotated_retry=False, stretched_retry=False)),
                       weights_dir=random_weights)


def test_reader_returns_plates_inside_the_image(reader, synth_dir):
    path = sorted(synth_dir.iterdir())[0]
    image = imread(path)
    plates = reader(image)
    assert plates and all(isinstance(p, Plate) for p in plates)
    h, w = image.shape[:2]
    for p in plates:
        x1, y1, x2, y2 = p.box
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
        assert 0 <= p.score <= 1 and 0 <= p.confidence <= 1
        assert len(p.char_confidences) == len(p.text)
        assert p.valid == is_valid_text(p.text)
        d = p.to_json()
        assert set(d) - {"corners"} == {"box", "score", "text", "confidence", "char_confidences", "valid"}


def test_all_plates_of_an_image_read_as_one_batch_match_one_by_one(reader, synth_dir):
    image = imread(sorted(synth_dir.iterdir())[1])
    plates = reader(image)
    assert len(plates) > 1
    from LPRNet.crops import crop_plates
    crops = crop_plates(image, np.array([p.box for p in plates]))
    single = [reader.recognizer.recognize_crops([c])[0] for c in crops]
    assert [p.text for p in plates] == [s.text for s in single]
    np.testing.assert_allclose([p.confidence for p in plates], [s.confidence for s in single], atol=1e-4)


def test_bad_image_argument(reader):
    with pytest.raises(ValueError, match="BGR uint8"):
        reader(np.zeros((10, 10), np.uint8))


def test_missing_weights_fail_before_any_image(tmp_path):
    with pytest.raises(WeightsError, match=r"pnet\.pth not found"):
        PlateReader(weights_dir=tmp_path)


def test_draw_renders_chinese_text():
    image = np.full((120, 300, 3), 90, np.uint8)
    a = draw_plates(image, [Plate((20, 60, 200, 100), 0.9, "皖A12345", 0.8)])
    b = draw_plates(image, [Plate((20, 60, 200, 100), 0.9, "京A12345", 0.8)])
    assert a.shape == image.shape and not np.array_equal(a, image)
    label = (slice(0, 60), slice(20, 60))  # the first character sits above the box
    assert not np.array_equal(a[label], b[label])
    assert np.array_equal(draw_plates(image, []), image)


def test_colour_and_layout_come_with_an_attribute_classifier_and_double_rows_are_recut(random_weights, tmp_path,
                                                                                      synth_dir, monkeypatch):
    import shutil

    import torch

    from LPRNet import crops as crops_module
    from LPRNet.attributes import PlateAttributeNet
    from LPRNet.reading import ATTRIBUTES_WEIGHTS

    weights = tmp_path / "w"
    shutil.copytree(random_weights, weights)
    net = PlateAttributeNet()
    with torch.no_grad():
        net.layout.bias.copy_(torch.tensor([-10.0, 10.0]))  # always "double"
    torch.save(net.state_dict(), weights / ATTRIBUTES_WEIGHTS)
    # without the second look and the rotated retry, which cut plates again (the second look every
    # plate, the retry a photo with no valid read: random weights read none)
    reader = PlateReader(ReaderConfig(detector=DetectorConfig(min_plate_size=(20, 80)),
                                      reading=ReadingOptions(all_reads=True, second_look=False, rotated_retry=False, stretched_retry=False)),
                         weights_dir=weights)
    calls = []
    real = crops_module.warp_double_row
    monkeypatch.setattr(crops_module, "warp_double_row", lambda *a: calls.append(1) or real(*a))
    plates = reader(imread(sorted(synth_dir.iterdir())[0]))
    assert plates and all(p.layout == "double" and p.colour in ("blue", "yellow", "green", "white", "black")
                          for p in plates)
    assert len(calls) == len(plates)  # every plate re-cut row by row
    assert {"colour", "layout"} <= set(plates[0].to_json())


def _plate(text, confidence=0.9, score=0.9):
    return Plate((0, 0, 10, 10), score, text, confidence)


def test_only_valid_plate_texts_are_reported_each_once_unless_all_reads_are_asked_for():
    plates = [_plate("皖A12345", 0.95), _plate("皖A1234"), _plate("皖A12345", 0.99, score=0.5), _plate(""),
              _plate("粤BD12345", 0.4), _plate("京A1234警")]
    assert [p.text for p in keep_plates(plates)] == ["皖A12345", "粤BD12345", "京A1234警"]
    assert keep_plates(plates)[0].confidence == 0.95  # the better detection of a repeated text
    assert [p.text for p in keep_plates(plates, min_confidence=0.5)] == ["皖A12345", "京A1234警"]
    assert keep_plates(plates, all_reads=True) == plates
    assert [p.text for p in keep_plates(plates, min_confidence=0.5, all_reads=True)] == \
        ["皖A12345", "皖A1234", "皖A12345", "", "京A1234警"]
    # validity comes from the text, not from a flag a caller may have left at its default
    assert keep_plates([Plate((0, 0, 10, 10), 0.9, "HELLO", 0.9)]) == []


def test_min_confidence_outside_zero_to_one_is_refused(random_weights):
    with pytest.raises(ValueError, match="min_confidence"):
        PlateReader(ReaderConfig(reading=ReadingOptions(min_confidence=1.5)), weights_dir=random_weights)


@given(st.lists(st.floats(-500, 500), min_size=8, max_size=8), st.floats(0.5, 2.0), st.floats(0.5, 2.0))
@settings(max_examples=50, deadline=None)
def test_scaled_quad_keeps_its_centre_and_scales_its_extent(coords, sx, sy):
    quad = np.float32(coords).reshape(4, 2)
    out = scale_quad(quad, sx, sy)
    assert out.shape == (4, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out.mean(0), quad.mean(0), atol=1e-2)
    np.testing.assert_allclose(np.ptp(out, 0), np.ptp(quad, 0) * [sx, sy], rtol=1e-4, atol=1e-2)


def test_scaled_quad_refuses_a_factor_that_is_not_positive():
    with pytest.raises(ValueError, match="positive"):
        scale_quad(np.zeros((4, 2)), 0.0, 1.0)


class _WidthReader(Recognizer):
    """Reads a text that depends only on the width of the quad it is given (no model)."""

    def __init__(self, texts_by_width):
        self.texts_by_width, self.calls = texts_by_width, []

    def recognize(self, image, quads):
        self.calls.append(len(quads))
        out = []
        for q in quads:
            text, conf = self.texts_by_width.get(round(float(np.ptp(q[:, 0]))), ("", 0.0))
            out.append(Recognition(text, conf, ()))
        return out


def test_second_look_cuts_every_plate_again_and_takes_the_text_most_cuts_read():
    quad_a = box_to_quad((0, 0, 100, 30))    # read right the first time; two new cuts agree, one does not
    quad_b = box_to_quad((0, 0, 200, 60))    # first read drops a character; the new cuts tie 1-1
    quad_c = box_to_quad((0, 0, 300, 90))    # not a plate: no cut reads a valid text
    scales = ((0.9, 1.0), (1.1, 1.0), (1.2, 1.0))
    reader = _WidthReader({90: ("皖A12345", 0.9), 110: ("皖A12845", 0.99), 120: ("皖A12345", 0.97),
                           180: ("皖A1234", 0.99), 220: ("皖A12345", 0.8), 240: ("皖A12346", 0.9),
                           270: ("HELLO", 0.99)})
    first = [Recognition("皖A12345", 0.95, ()), Recognition("皖A1234", 0.99, ()), Recognition("HELLO", 0.7, ())]
    out = reader.second_look(None, [quad_a, quad_b, quad_c], first, scales, below=1.0)
    assert out[0].text == "皖A12345" and out[0].confidence == 0.97  # 3 votes to 1, its most confident cut
    assert out[1].text == "皖A12346"            # 1 vote each: the higher confidence; the invalid first read has none
    assert out[2] is first[2]                   # nothing valid: the first read stays
    assert reader.calls == [9]                  # 3 plates x 3 scales, one batch
    with pytest.raises(ValueError, match="readings"):
        reader.second_look(None, [quad_a], first, scales)
    assert reader.second_look(None, [], [], scales) == [] and reader.second_look(None, [quad_b], first[1:2], ()) \
        == first[1:2] and reader.calls == [9]            # nothing to read, or no scales: nothing read


def test_second_look_cuts_again_only_plates_read_invalidly_or_below_its_threshold():
    quad_a = box_to_quad((0, 0, 100, 30))    # valid and confident: kept as first read
    quad_b = box_to_quad((0, 0, 200, 60))    # valid but under the threshold: the cuts vote
    quad_c = box_to_quad((0, 0, 300, 90))    # confident but invalid: the cuts vote
    scales = ((0.9, 1.0), (1.1, 1.0))
    reader = _WidthReader({90: ("皖A12346", 0.99), 110: ("皖A12346", 0.99),
                           180: ("皖B12345", 0.9), 220: ("皖B12345", 0.9),
                           270: ("皖C12345", 0.9), 330: ("皖C12345", 0.9)})
    first = [Recognition("皖A12345", 0.99, ()), Recognition("皖B12845", 0.97, ()), Recognition("皖C1234", 0.999, ())]
    out = reader.second_look(None, [quad_a, quad_b, quad_c], first, scales, below=0.98)
    assert out[0] is first[0] and [r.text for r in out[1:]] == ["皖B12345", "皖C12345"]
    assert reader.calls == [4]                   # 2 plates x 2 scales, one batch; plate a not cut again
    out = reader.second_look(None, [quad_a], first[:1], scales, below=1.0)  # 1: every plate
    assert out[0].text == "皖A12346" and reader.calls == [4, 2]
    assert reader.second_look(None, [quad_a], first[:1], scales, below=0.0) == first[:1] and reader.calls == [4, 2]
    assert reader.second_look(None, [quad_a], first[:1], scales, below=0.99) == first[:1]  # at the threshold: kept
    assert reader.calls == [4, 2] and reader.second_look(None, [quad_a], first[:1], scales, below=0.991)[0].text \
        == "皖A12346" and reader.calls == [4, 2, 2]                                       # just under it: cut again
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="below"):
            reader.second_look(None, [quad_a], first[:1], scales, below=bad)
    assert needs_second_look(Recognition("皖A12345", 0.979, ())) and not needs_second_look(Recognition("皖A12345", 0.98, ()))
    assert needs_second_look(Recognition("", 0.0, ()), below=0.0) and needs_second_look(Recognition("皖A12345", 1.0, ()), 1.0)


def test_second_look_threshold_flag_reaches_the_reader_and_is_checked(random_weights):
    from lpr.cli import build_parser
    assert build_parser().parse_args(["x.jpg"]).second_look_below == SECOND_LOOK_BELOW
    assert build_parser().parse_args(["x.jpg", "--second-look-below", "0.5"]).second_look_below == 0.5
    with pytest.raises(SystemExit):
        build_parser().parse_args(["x.jpg", "--second-look-below", "1.5"])
    reader = PlateReader(ReaderConfig(reading=ReadingOptions(second_look_below=0.7)), weights_dir=random_weights)
    assert reader.config.reading.second_look_below == 0.7
    with pytest.raises(ValueError, match="second_look_below"):
        ReadingOptions(second_look_below=-1)


def test_vote_prefers_more_cuts_then_more_summed_confidence_then_the_first_read():
    a, b = Recognition("皖A12345", 0.6, ()), Recognition("皖B12345", 0.9, ())
    assert vote(a, [Recognition("皖A12345", 0.5, ()), b]).text == "皖A12345"          # 2 cuts beat 1
    assert vote(a, [b]) is b                                                         # tie: 0.9 > 0.6
    assert vote(a, [Recognition("皖B12345", 0.6, ())]) is a                         # full tie: the first read
    two_two = [Recognition("皖A12345", 0.1, ()), Recognition("皖B12345", 0.6, ()), Recognition("皖B12345", 0.6, ())]
    assert vote(Recognition("皖A12345", 0.9, ()), two_two).text == "皖B12345"  # 2-2: summed 1.2 beats 1.0 (not the max)
    assert vote(Recognition("", 0.0, ()), [Recognition("XYZ", 1.0, ())]).text == ""  # none valid


def test_second_look_is_on_by_default_and_off_with_its_flag():
    from lpr.cli import build_parser
    assert build_parser().parse_args(["x.jpg"]).second_look is True
    assert build_parser().parse_args(["x.jpg", "--no-second-look"]).second_look is False


@pytest.mark.parametrize("second_look", [True, False])
def test_the_reader_takes_a_second_look_unless_told_not_to(random_weights, synth_dir, monkeypatch, second_look):
    reader = PlateReader(ReaderConfig(detector=DetectorConfig(min_plate_size=(20, 80), max_proposals=4),
                                      reading=ReadingOptions(all_reads=True, second_look=second_look)),
                         weights_dir=random_weights)  # a few boxes: the retries read them again
    calls = []

    def second(image, quads, readings, below):  # stands in for a second look whose cuts agree on a valid text
        calls.append(len(quads))
        assert below == SECOND_LOOK_BELOW
        return [Recognition("皖A12345", 0.5, (0.5,) * 7) for _ in readings]

    monkeypatch.setattr(reader.recognizer, "second_look", second)
    plates = reader(imread(sorted(synth_dir.iterdir())[0]))
    assert plates, "random weights find boxes in a synthetic scene"
    if second_look:
        assert calls == [len(plates)] and all(p.text == "皖A12345" for p in plates)
    else:
        assert calls == [] and all(p.text != "皖A12345" for p in plates)


class _FixedDetector:
    """Finds one plate, always at the same box of whatever image it is given (no corners)."""

    def __init__(self, box, config=None):
        self.box, self.images = box, []
        self.config = config or DetectorConfig()

    def detect(self, image):
        self.images.append(image)
        return Detections(np.float32([[*self.box, 0.9]]), None)


class _BrightDetector:
    """Boxes the bright pixels of whatever image it is given (no corners)."""

    def detect(self, image):
        ys, xs = np.nonzero(image[:, :, 0] > 127)
        return Detections(np.float32([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, 0.9]]), None)


@pytest.mark.parametrize("angle", [-15.0, 15.0])
def test_the_plate_mapped_back_from_a_rotated_photo_covers_it_on_the_photo(angle):
    image = np.zeros((120, 200, 3), np.uint8)
    image[50:70, 60:140] = 255
    boxes, quads, _, _ = detect_rotated(_BrightDetector(), image, angle)
    x1, y1, x2, y2, _ = boxes[0]
    assert x1 <= 61 and y1 <= 51 and x2 >= 139 and y2 >= 69          # the bar, in the photo's pixels
    # and no more than the detected (axis-aligned) box of the rotated bar, turned back: about 90 x 60
    assert (x2 - x1) < 95 and (y2 - y1) < 65


def test_nothing_found_on_an_empty_image_or_outside_the_photo():
    assert detect_rotated(_FixedDetector((0, 0, 10, 10)), np.zeros((0, 5, 3), np.uint8), 15.0)[0].shape == (0, 5)
    assert map_points(np.zeros((0, 4, 2)), np.eye(2, 3)).shape == (0, 4, 2)
    # a box in the repeated corner of the rotated photo maps outside the photo: left out
    boxes, quads, _, good = detect_rotated(_FixedDetector((0, 0, 30, 10)), np.zeros((120, 200, 3), np.uint8), 15.0)
    assert boxes.shape == (0, 5) and quads == [] and good.shape == (0,)


@pytest.mark.parametrize("angle", [-15.0, 0.0, 15.0, 90.0])
def test_a_plate_found_on_a_rotated_photo_is_mapped_back_onto_the_photo(angle):
    import cv2
    image = np.zeros((120, 200, 3), np.uint8)
    image[50:70, 60:140] = 255   # a bright bar in the middle of the photo
    detector = _FixedDetector((60, 50, 140, 70))
    boxes, quads, corners, good = detect_rotated(detector, image, angle)
    (seen,) = detector.images
    assert seen.shape == image.shape and (angle == 0.0) == np.array_equal(seen, image)
    forward = cv2.getRotationMatrix2D((100, 60), angle, 1.0)
    # the quad cut from the photo is the detected box of the rotated photo, mapped back
    np.testing.assert_allclose(map_points(quads[0], forward), box_to_quad((60, 50, 140, 70)), atol=1e-3)
    assert corners is None and good.tolist() == [False]
    x1, y1, x2, y2, score = boxes[0]
    assert score == pytest.approx(0.9) and 0 <= x1 < x2 <= 200 and 0 <= y1 < y2 <= 120
    np.testing.assert_allclose([x1, y1, x2, y2], [*np.clip(quads[0].min(0), 0, [200, 120]),
                                                  *np.clip(quads[0].max(0), 0, [200, 120])], atol=1e-3)


def test_the_retries_run_only_while_nothing_valid_was_read(random_weights):
    # the black test photo is dark: the contrast retry is tested in test_reduced_decode.py
    reader = PlateReader(ReaderConfig(reading=ReadingOptions(all_reads=True, second_look=False, contrast_retry=False)),
                         weights_dir=random_weights)
    detector = _FixedDetector((60, 50, 140, 70))
    reader.detector = detector
    texts = []

    def recognize(image, quads):  # the next texts, one per quad
        return [Recognition(texts.pop(0), 0.9, (0.9,) * 7) for _ in quads]

    def run(*next_texts):
        detector.images.clear()
        texts[:] = list(next_texts)
        plates = reader(image)
        assert texts == []                                   # every text given was read
        return [p.text for p in plates], [im.shape[1] for im in detector.images]

    reader.recognizer.recognize = recognize
    image = np.zeros((120, 200, 3), np.uint8)
    assert run("皖A12345") == (["皖A12345"], [200])         # valid at once: one detection
    # invalid: detected again at each retry angle; one of them valid, so no stretched retry
    assert len(ROTATED_RETRY_ANGLES) == 6 and STRETCH_RETRY_FACTORS == (2.0,)
    assert run("HELLO", "XX", "粤B12345") == (["HELLO", "XX", "粤B12345"], [200, 200, 200])
    # a pair at a time: nothing valid at ±15, read at -30 and +30 (a text each), not at ±45
    assert run("HELLO", "XX", "YY", "粤B12345", "ZZ") == (["HELLO", "XX", "YY", "粤B12345", "ZZ"], [200] * 5)
    # nothing valid after all the rotations: the photo stretched x2, the plate mapped back to x / 2
    texts_read, widths = run("HELLO", "A1", "A2", "A3", "A4", "A5", "A6", "粤B12345")
    assert texts_read == ["HELLO", "A1", "A2", "A3", "A4", "A5", "A6", "粤B12345"] and widths == [200] * 7 + [400]
    detector.images.clear()
    texts[:] = ["HELLO", "A1", "A2", "A3", "A4", "A5", "A6", "粤B12345"]
    stretched = reader(image)[-1]
    assert stretched.box == pytest.approx((30, 50, 70, 70), abs=1e-3)
    reader.config.reading.rotated_retry = False              # the stretched retry alone
    assert run("HELLO", "粤B12345") == (["HELLO", "粤B12345"], [200, 400])
    reader.config.reading.stretched_retry = False            # neither
    assert run("HELLO") == (["HELLO"], [200])


def test_a_plate_found_on_a_stretched_photo_is_mapped_back_onto_the_photo():
    image = np.zeros((120, 200, 3), np.uint8)
    image[50:70, 60:100] = 255                               # a narrow bright bar: a plate seen from the side
    boxes, quads, corners, good = detect_stretched(_BrightDetector(), image, 2.0)
    assert corners is None and good.tolist() == [False]
    np.testing.assert_allclose(boxes[0, :4], [60, 50, 100, 70], atol=1.0)  # found at x 120..200 of 400
    np.testing.assert_allclose(quads[0], box_to_quad(boxes[0, :4]), atol=1.0)
    with pytest.raises(ValueError, match="positive"):
        detect_stretched(_BrightDetector(), image, 0.0)
    empty = detect_stretched(_BrightDetector(), np.zeros((0, 10, 3), np.uint8), 2.0)
    assert empty[0].shape == (0, 5) and empty[1] == []


_TEXTS = st.sampled_from(["皖A12345", "皖B12345", "苏E8JE92", "XYZ", ""])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_TEXTS, st.floats(0.0, 1.0)), min_size=1, max_size=8))
def test_vote_returns_a_reading_of_the_most_read_valid_text(reads):
    readings = [Recognition(t, c, ()) for t, c in reads]
    out = vote(readings[0], readings[1:])
    assert any(out is r for r in readings)                       # one of the readings, whole
    valid = [r for r in readings if is_valid_text(r.text)]
    if not valid:
        assert out is readings[0]
        return
    count = {t: sum(r.text == t for r in valid) for t in {r.text for r in valid}}
    assert is_valid_text(out.text) and count[out.text] == max(count.values())
    assert out.confidence == max(r.confidence for r in valid if r.text == out.text)


def test_a_stretch_too_large_for_the_detector_is_skipped_not_fatal(random_weights):
    from lprcore.imageio import ImageTooLargeError

    class _NarrowOnly(_FixedDetector):
        def detect(self, image):
            if image.shape[1] > 200:
                raise ImageTooLargeError("stretched photo: too large")
            return super().detect(image)

    reader = PlateReader(ReaderConfig(reading=ReadingOptions(all_reads=True, second_look=False, rotated_retry=False,
                                                             contrast_retry=False)), weights_dir=random_weights)
    reader.detector = _NarrowOnly((60, 50, 140, 70))
    reader.recognizer.recognize = lambda image, quads: [Recognition("HELLO", 0.9, (0.9,) * 5) for _ in quads]
    assert reader.retry_stretched(np.zeros((120, 200, 3), np.uint8)) == []          # refused by the detector
    assert [p.text for p in reader(np.zeros((120, 200, 3), np.uint8))] == ["HELLO"]   # the first pass's read stays
    # refused by the size check before the stretched photo is built: the detector never sees it
    reader.detector = _FixedDetector((60, 50, 140, 70), DetectorConfig(max_pyramid_mb=1))
    assert reader.retry_stretched(np.zeros((1000, 2000, 3), np.uint8)) == [] and reader.detector.images == []
