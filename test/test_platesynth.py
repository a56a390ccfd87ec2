"""The synthetic-plate generator: GA 36 geometry, text rules, labels, determinism, compositing, assets."""
import logging

import cv2
import numpy as np
import pytest

from ccpd.plates import LETTERS, PLATE_TYPES, char_boxes, is_valid_text, random_text
from ccpd.sources import read_source
from lprcore.imageio import imread
from platesynth import render
from platesynth.cli import main as synth_cli
from platesynth.generate import _cover_quad, generate, paste, synth_crop, synth_scene
from platesynth.render import AssetError, AssetGlyphs, FontGlyphs, load_glyphs, render_plate


@pytest.mark.parametrize("name", list(PLATE_TYPES))
def test_every_type_renders_at_ga36_proportions_with_glyphs_inside(name):
    t = PLATE_TYPES[name]
    rng = np.random.default_rng(0)
    text = random_text(t, rng)
    assert len(text) == t.length and is_valid_text(text), text
    img = render_plate(text, name, rng, scale=0.5)
    assert img.dtype == np.uint8 and img.shape == (round(t.size_mm[0] * 0.5), round(t.size_mm[1] * 0.5), 3)
    h_mm, w_mm = t.size_mm
    boxes = char_boxes(t)
    assert len(boxes) == t.length
    for x1, y1, x2, y2 in boxes:
        assert 0 < x1 < x2 < w_mm and 0 < y1 < y2 < h_mm
    for a, b in zip(boxes, boxes[1:]):  # characters do not overlap within a row
        assert a[2] <= b[0] or a[3] <= b[1]


def test_single_row_spacing_follows_the_standard():
    boxes = char_boxes(PLATE_TYPES["blue"])
    assert [round(b[2] - b[0]) for b in boxes] == [45] * 7 and boxes[0][1] == 25 and boxes[0][3] == 115
    gaps = [round(b[0] - a[2], 1) for a, b in zip(boxes, boxes[1:])]
    assert gaps == [12, 34, 12, 12, 12, 12]
    green = char_boxes(PLATE_TYPES["green_small"])
    assert [round(b[0] - a[2]) for a, b in zip(green, green[1:])] == [9, 49, 9, 9, 9, 9, 9]


def test_texts_follow_the_rules_of_their_type():
    rng = np.random.default_rng(1)
    for name, t in PLATE_TYPES.items():
        for _ in range(50):
            text = random_text(t, rng)
            assert is_valid_text(text) and "I" not in text and "O" not in text, (name, text)
            assert text[1] in LETTERS
    rng = np.random.default_rng(2)
    assert all(random_text(PLATE_TYPES["green_small"], rng)[2] in "DF" for _ in range(20))
    assert all(random_text(PLATE_TYPES["green_large"], rng)[-1] in "DF" for _ in range(20))
    assert random_text(PLATE_TYPES["police"], rng).endswith("警")
    assert random_text(PLATE_TYPES["hk_macau"], rng)[:2] == "粤Z"
    weights = [0.0] * 31
    weights[12] = 1.0  # 皖 only
    assert {random_text(PLATE_TYPES["blue"], rng, weights)[0] for _ in range(20)} == {"皖"}
    assert not is_valid_text("皖I12345") and not is_valid_text("皖A1234") and is_valid_text("皖AD12345")
    assert is_valid_text("粤Z1234港") and not is_valid_text("皖A1234港") and is_valid_text("沪A1234领")


def test_crops_labels_round_trip_through_the_annotation_reader(tmp_path):
    written = generate("crops", str(tmp_path), 6, seed=3, workers=1)
    scan = read_source(tmp_path)
    assert scan.skipped == [] and len(scan.samples) == 6
    for w, s in zip(written, scan.samples):
        assert s.text == w.text and s.colour == w.colour and s.layout == w.layout and s.plate_type == w.plate_type
        img = imread(s.path)
        x1, y1, x2, y2 = s.bbox
        assert 0 <= x1 < x2 <= img.shape[1] and 0 <= y1 < y2 <= img.shape[0]
        np.testing.assert_allclose(s.bbox, w.bbox, atol=0.06)
        np.testing.assert_allclose(np.min(s.vertices, 0), s.bbox[:2], atol=0.1)


def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    generate("crops", str(tmp_path / "a"), 4, seed=5, workers=1)
    generate("crops", str(tmp_path / "b"), 4, seed=5, workers=2)
    generate("crops", str(tmp_path / "c"), 4, seed=6, workers=1)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes(), n
    assert (tmp_path / "a" / "0000000.jpg").read_bytes() != (tmp_path / "c" / "0000000.jpg").read_bytes()


def inside(point, quad) -> bool:
    """Point inside a convex quadrilateral (either orientation), boundary included."""
    signs = []
    for a, b in zip(quad, np.roll(quad, -1, axis=0)):
        d, e = b - a, np.asarray(point) - a
        signs.append(d[0] * e[1] - d[1] * e[0])
    return all(s >= -1e-3 for s in signs) or all(s <= 1e-3 for s in signs)


def test_vertex_replaced_ccpd_scene_covers_the_real_plate_and_touches_nothing_else(synth_dir):
    base = read_source(synth_dir).samples[0]
    for aspect in (440 / 140, 440 / 220, 480 / 140):  # single, double-row, new-energy plates
        quad = _cover_quad(base, aspect)
        assert all(inside(v, quad) for v in np.float32(base.vertices)), aspect
    image = imread(base.path)
    quad = _cover_quad(base, 440 / 140)
    out = paste(image, np.full((70, 220, 3), 255, np.uint8), quad)
    changed = np.argwhere(np.any(out != image, axis=2))
    assert len(changed)
    x1, y1 = quad.min(0) - 3
    x2, y2 = quad.max(0) + 3
    assert (changed[:, 1] >= x1).all() and (changed[:, 1] <= x2).all()
    assert (changed[:, 0] >= y1).all() and (changed[:, 0] <= y2).all()
    scene, samples = synth_scene(0, 1, {"blue": 1.0}, [base])
    assert scene.shape == image.shape and len(samples) == 1 and samples[0].plate_type == "blue"
    assert all(inside(v, np.float32(samples[0].vertices)) for v in np.float32(base.vertices))


def test_scenes_from_labelled_photos_write_boxes_both_stages_read(tmp_path, synth_dir):
    generate("scenes", str(tmp_path), 3, seed=2, photos=[str(synth_dir)], workers=1)
    scan = read_source(tmp_path)
    assert len(scan.samples) == 3 and all(s.bbox and s.vertices and s.colour for s in scan.samples)
    from MTCNN.prepare import images_with_boxes
    images, skipped = images_with_boxes([str(tmp_path)])
    assert len(images) == 3 and skipped == []


def test_bad_asset_folders_give_errors_naming_the_file(tmp_path, monkeypatch, caplog, capsys):
    with pytest.raises(AssetError, match="missing"):
        AssetGlyphs(tmp_path / "nowhere")
    (tmp_path / "font_model").mkdir()
    (tmp_path / "plate_model").mkdir()
    with pytest.raises(AssetError, match=r"plate_model/\w+_140\.PNG is missing"):
        AssetGlyphs(tmp_path)
    # templates present but not images
    for name in set(render.TEMPLATES.values()):
        (tmp_path / "plate_model" / name).write_bytes(b"not a png")
    with pytest.raises(AssetError, match=r"\.PNG is not a readable colour image"):
        AssetGlyphs(tmp_path)
    assert synth_cli(["crops", "--out", str(tmp_path / "o"), "--count", "1", "--assets", str(tmp_path / "nowhere")]) == 2
    assert "missing" in capsys.readouterr().err
    # without usable default assets: the font renderer, with a warning
    monkeypatch.setattr(render, "DEFAULT_ASSETS", tmp_path / "nowhere")
    load_glyphs.cache_clear()
    with caplog.at_level(logging.WARNING):
        glyphs = load_glyphs()
    load_glyphs.cache_clear()
    assert isinstance(glyphs, FontGlyphs) and "falling back" in caplog.text
    img = render_plate("皖A12345", "blue", np.random.default_rng(0), glyphs=glyphs)
    assert img.shape == (84, 264, 3) and img.std() > 10


def test_cli_options(tmp_path, capsys):
    assert synth_cli(["crops", "--out", str(tmp_path), "--count", "2", "--types", "police,trailer", "--workers", "1",
                      "--province-weights", "皖=1,苏=0"]) == 0
    scan = read_source(tmp_path)
    assert {s.plate_type for s in scan.samples} <= {"police", "trailer"} and len(scan.samples) == 2
    with pytest.raises(SystemExit) as e:
        synth_cli(["crops", "--out", str(tmp_path), "--count", "1", "--types", "purple"])
    assert e.value.code == 2 and "unknown plate type" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        synth_cli(["crops", "--out", str(tmp_path), "--count", "1", "--province-weights", "X=1"])


def test_contact_sheet(tmp_path, synth_dir):
    assert synth_cli(["sheet", "--out", str(tmp_path / "s.png"), "--real", str(synth_dir), "--per-type", "2"]) == 0
    sheet = imread(tmp_path / "s.png")
    assert sheet.shape[1] > 700 and sheet.shape[0] > 10 * 48


def test_synth_crop_is_deterministic_and_labelled():
    a, sa = synth_crop(7, 0, {"yellow_double": 1.0})
    b, sb = synth_crop(7, 0, {"yellow_double": 1.0})
    assert np.array_equal(a, b) and sa == sb and sa.layout == "double" and sa.colour == "yellow"


def test_a_missing_glyph_is_named(tmp_path, shared_data):
    """A good asset folder (the shared MIT set) that lacks one glyph names the glyph."""
    import shutil
    good = tmp_path / "good"
    shutil.copytree(shared_data / "plate_assets" / "pengfei8324", good)
    AssetGlyphs(good)  # complete: loads
    (good / "font_model" / "140_A.jpg").unlink()
    with pytest.raises(AssetError, match=r"140_A\.jpg"):
        render_plate("皖A12345", "blue", np.random.default_rng(0), glyphs=AssetGlyphs(good))


def test_a_squeezed_scene_is_the_same_scene_narrower_with_its_labels(synth_dir):
    base = read_source(synth_dir).samples[0]
    scene, samples = synth_scene(0, 1, {"blue": 1.0}, [base])
    narrow, squeezed = synth_scene(0, 1, {"blue": 1.0}, [base], squeeze=(0.5, 0.5))
    h, w = scene.shape[:2]
    assert narrow.shape == (h, round(w * 0.5), 3)
    k = narrow.shape[1] / w
    assert [s.text for s in squeezed] == [s.text for s in samples]      # the same plates, only narrower
    np.testing.assert_allclose(np.float32(squeezed[0].vertices), np.float32(samples[0].vertices) * [k, 1], atol=1e-3)
    np.testing.assert_allclose(squeezed[0].bbox, np.float32(samples[0].bbox) * [k, 1, k, 1], atol=1e-3)
    again = cv2.resize(scene, (narrow.shape[1], h), interpolation=cv2.INTER_AREA)
    assert np.abs(again.astype(int) - narrow).max() <= 1                # the scene made without it, resized


def test_squeeze_is_for_scenes_within_0_and_1(tmp_path, capsys):
    with pytest.raises(ValueError, match="squeeze"):
        generate("crops", str(tmp_path), 1, squeeze=(0.5, 0.8))
    with pytest.raises(SystemExit) as e:
        synth_cli(["scenes", "--out", str(tmp_path), "--count", "1", "--squeeze", "0.8", "0.5"])
    assert e.value.code == 2 and "--squeeze" in capsys.readouterr().err
    with pytest.raises(SystemExit):                                      # not an option of crops
        synth_cli(["crops", "--out", str(tmp_path), "--count", "1", "--squeeze", "0.5", "0.8"])


def test_an_inset_scene_is_the_scene_made_smaller_in_a_larger_photo_with_its_labels(synth_dir):
    base = read_source(synth_dir).samples[0]
    scene, samples = synth_scene(0, 1, {"blue": 1.0}, [base])
    photo, inset = synth_scene(0, 1, {"blue": 1.0}, [base], inset=(1080, 1920, 40, 40))
    assert photo.shape == (1080, 1920, 3) and [s.text for s in inset] == [s.text for s in samples]
    x1, y1, x2, y2 = inset[0].bbox
    assert x2 - x1 == pytest.approx(40, abs=1)                           # the plate as wide as asked
    k = (x2 - x1) / (samples[0].bbox[2] - samples[0].bbox[0])
    quad, src = np.float32(inset[0].vertices), np.float32(samples[0].vertices)
    np.testing.assert_allclose(quad - quad.min(0), (src - src.min(0)) * k, atol=0.5)   # the same quad, scaled
    assert 0 <= x1 and x2 <= 1920 and 0 <= y1 and y2 <= 1080
    # the scene's pixels are where the labels say (its plate region matches the scene resized)
    ox, oy = quad[0] - src[0] * k
    h, w = scene.shape[:2]
    small = cv2.resize(scene, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
    oxi, oyi = round(ox), round(oy)
    assert np.median(np.abs(photo[oyi:oyi + small.shape[0], oxi:oxi + small.shape[1]].astype(int) - small)) <= 1


def test_inset_is_for_scenes_with_a_sensible_canvas(tmp_path, capsys):
    with pytest.raises(ValueError, match="inset"):
        generate("crops", str(tmp_path), 1, inset=(1080, 1920, 20, 40))
    with pytest.raises(SystemExit) as e:
        synth_cli(["scenes", "--out", str(tmp_path), "--count", "1", "--inset", "1080", "1920", "40", "20"])
    assert e.value.code == 2 and "--inset" in capsys.readouterr().err
