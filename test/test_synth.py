"""The synthetic CCPD generator: valid names that agree with what it drew."""
import cv2
import numpy as np
import pytest

from ccpd.annotations import PROVINCES, parse_name
from lprcore.imageio import imread
from ccpd.synth import BLUE, GREEN, main as synth_main, random_text, render_plate, synth_image


def test_random_texts_are_valid():
    rng = np.random.default_rng(0)
    for _ in range(200):
        blue, green = random_text(rng), random_text(rng, green=True)
        assert len(blue) == 7 and len(green) == 8
        assert blue[0] in PROVINCES[:31] and "I" not in blue + green and "O" not in blue + green
        assert ("D" in (green[2], green[7])) or ("F" in (green[2], green[7]))


def test_plate_sizes_follow_the_standard():
    rng = np.random.default_rng(0)
    assert render_plate("皖A12345", rng).shape == (BLUE.height, BLUE.width, 3)
    assert render_plate("皖AD12345", rng).shape == (GREEN.height, GREEN.width, 3)
    with pytest.raises(ValueError):
        render_plate("皖A1", rng)


def test_blue_and_green_colours():
    rng = np.random.default_rng(0)
    blue = render_plate("皖A12345", rng)
    green = render_plate("皖AD12345", rng)
    b, g, r = blue[5:20, 5:20].reshape(-1, 3).mean(0)
    assert b > r + 60
    b, g, r = green[-20:-5, 5:20].reshape(-1, 3).mean(0)
    assert g > r and g > b


def test_names_agree_with_the_drawn_plate():
    for index in range(4):
        image, rec = synth_image(index, seed=3, green_ratio=0.5, size=(580, 360))
        again, rec2 = synth_image(index, seed=3, green_ratio=0.5, size=(580, 360))
        assert rec == rec2 and np.array_equal(image, again)  # deterministic
        x1, y1, x2, y2 = rec.bbox
        assert 0 <= x1 < x2 < 360 and 0 <= y1 < y2 < 580
        for x, y in rec.vertices:
            assert x1 - 1 <= x <= x2 + 1 and y1 - 1 <= y <= y2 + 1
        # the plate lies inside the quadrilateral: masking it out changes the image there, and
        # rectifying it by the vertices gives a plate-coloured patch
        br, bl, tl, tr = np.float32(rec.vertices)
        m = cv2.getPerspectiveTransform(np.stack([tl, tr, br, bl]), np.float32([[0, 0], [220, 0], [220, 70], [0, 70]]))
        plate = cv2.warpPerspective(image, m, (220, 70))
        hsv = cv2.cvtColor(plate[15:55, 10:210], cv2.COLOR_BGR2HSV)
        hue = np.median(hsv[..., 0])
        assert (95 <= hue <= 130) if not rec.is_green else (35 <= hue <= 90), (rec.text, hue)


def test_cli_writes_parseable_ccpd_names(tmp_path):
    assert synth_main(["--out", str(tmp_path), "--count", "3", "--seed", "1", "--size", "400", "300",
                       "--workers", "1", "--green-ratio", "1"]) == 0
    files = sorted(tmp_path.iterdir())
    assert len(files) == 3
    for f in files:
        rec = parse_name(f.name)
        assert rec.is_green and imread(f).shape == (400, 300, 3)
    with pytest.raises(SystemExit):
        synth_main(["--out", str(tmp_path), "--count", "1", "--size", "12"])
