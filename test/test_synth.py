"""Synthetic CCPD (``python -m platesynth ccpd``): valid names that agree with what it drew."""
import cv2
import numpy as np
import pytest

from ccpd.annotations import parse_name
from ccpd.plates import PLATE_TYPES, is_valid_text, random_text
from lprcore.imageio import imread
from platesynth.ccpd_scenes import GREEN_TYPES, synth_image
from platesynth.cli import main as synth_cli
from platesynth.render import render_plate


def plate_hue(plate: np.ndarray):
    """Median (hue, saturation) of a plate's inside, OpenCV HSV (hue 0..180)."""
    h, w = plate.shape[:2]
    hsv = cv2.cvtColor(plate[h * 3 // 14:h * 11 // 14, w // 22:w * 21 // 22], cv2.COLOR_BGR2HSV)
    return np.median(hsv[..., 0]), np.median(hsv[..., 1])


def test_the_plate_types_of_ccpd_scenes_are_blue_and_green():
    rng = np.random.default_rng(0)
    for name in ["blue", *GREEN_TYPES]:
        plate = render_plate(random_text(PLATE_TYPES[name], rng), name, rng)
        hue, _ = plate_hue(plate)
        assert (95 <= hue <= 130) if name == "blue" else (35 <= hue <= 90), (name, hue)


def test_texts_and_colours_follow_the_green_ratio():
    records = [synth_image(i, seed=1, green_ratio=r, size=(160, 100))[1] for r in (0.0, 1.0) for i in range(6)]
    assert [r.is_green for r in records] == [False] * 6 + [True] * 6
    assert all(is_valid_text(r.text) for r in records)


def test_names_agree_with_the_drawn_plate():
    coloured = 0
    for index in range(8):
        image, rec = synth_image(index, seed=3, green_ratio=0.5, size=(580, 360))
        again, rec2 = synth_image(index, seed=3, green_ratio=0.5, size=(580, 360))
        assert rec == rec2 and np.array_equal(image, again)  # deterministic
        x1, y1, x2, y2 = rec.bbox
        assert 0 <= x1 < x2 < 360 and 0 <= y1 < y2 < 580
        for x, y in rec.vertices:
            assert x1 - 1 <= x <= x2 + 1 and y1 - 1 <= y <= y2 + 1
        # rectifying the image by the vertices gives a plate-coloured patch (unless the camera took
        # the colour away: near-infrared, greyscale, fog)
        br, bl, tl, tr = np.float32(rec.vertices)
        m = cv2.getPerspectiveTransform(np.stack([tl, tr, br, bl]), np.float32([[0, 0], [220, 0], [220, 70], [0, 70]]))
        hue, saturation = plate_hue(cv2.warpPerspective(image, m, (220, 70)))
        if saturation >= 60:
            coloured += 1
            assert (95 <= hue <= 130) if not rec.is_green else (35 <= hue <= 90), (rec.text, hue)
    assert coloured >= 6


def test_cli_writes_parseable_ccpd_names(tmp_path, capsys):
    argv = ["ccpd", "--count", "3", "--seed", "1", "--size", "400", "300", "--green-ratio", "1"]
    assert synth_cli([*argv, "--out", str(tmp_path / "a"), "--workers", "1"]) == 0
    assert synth_cli([*argv, "--out", str(tmp_path / "b"), "--workers", "2"]) == 0
    assert synth_cli([*argv, "--out", str(tmp_path / "c"), "--province-weights", "皖=1e9"]) == 0
    assert {parse_name(f.name).text[0] for f in (tmp_path / "c").iterdir()} == {"皖"}
    files = sorted((tmp_path / "a").iterdir())
    assert [f.name for f in files] == sorted(f.name for f in (tmp_path / "b").iterdir())
    assert len(files) == 3
    for f in files:
        rec = parse_name(f.name)
        assert rec.is_green and imread(f).shape == (400, 300, 3)
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes()  # same bytes whatever the workers
    for bad in (["--size", "12", "12"], ["--green-ratio", "1.5"]):
        with pytest.raises(SystemExit) as e:
            synth_cli(["ccpd", "--out", str(tmp_path / "d"), "--count", "1", *bad])
        assert e.value.code == 2
    assert "--green-ratio must be in [0, 1]" in capsys.readouterr().err
