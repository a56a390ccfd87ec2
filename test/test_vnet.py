"""VNet, the corner refiner: the rectified view, the refinement stage, its data and its training."""
import json

import cv2
import numpy as np
import pytest
import torch

from MTCNN.cascade import (VNET_FRAME, VNET_FRAME_CONVENTION, VNET_INPUT, WEIGHTS_DIR, DetectorConfig, warn_old_vnet_frame, crop_fractions_to_pixels, crop_pixels_to_fractions,
                           frame_corners, frame_fractions, preshrink_factors, rectify_quads, unwarp_points, vertex_stage)
from MTCNN.dataset import QuadSampleDataset, perturb_quad
from MTCNN.nets import VNet
from MTCNN.prepare import VNET_REGION_SIZE, main as mtcnn_prepare, plate_region
from MTCNN.train import main as mtcnn_train

H, W = VNET_INPUT


def white_quad_image(quad, size=(400, 600)):
    """A black BGR image with a filled white quadrilateral."""
    img = np.zeros((*size, 3), np.uint8)
    cv2.fillConvexPoly(img, np.round(np.asarray(quad)).astype(np.int32), (255, 255, 255))
    return img


def white_bounds(crop):
    """(x1, y1, x2, y2) of the bright pixels of a crop."""
    ys, xs = np.nonzero(crop[:, :, 0] > 127)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


@pytest.mark.parametrize("scale", [1.0, 4.0])  # 4: a plate far wider than the crop is shrunk first
def test_rectify_puts_the_corners_on_the_frame_and_unwarp_inverts_it(scale):
    quad = np.float32([[100, 80], [220, 95], [215, 135], [98, 118]]) * [scale, scale]
    img = white_quad_image(quad, (int(200 * scale), int(300 * scale)))
    crops, hs = rectify_quads(img, quad[None])
    assert crops.shape == (1, H, W, 3) and crops.dtype == np.uint8 and hs.shape == (1, 3, 3)
    frame = frame_corners()
    x1, y1, x2, y2 = white_bounds(crops[0])
    assert abs(x1 - frame[0, 0]) <= 1.5 and abs(x2 - frame[1, 0]) <= 1.5
    assert abs(y1 - frame[0, 1]) <= 1.5 and abs(y2 - frame[2, 1]) <= 1.5
    np.testing.assert_allclose(unwarp_points(frame[None], hs)[0], quad, atol=1e-3 * scale)


def test_frame_is_the_margin_of_the_crop_centred_in_pixel_centre_convention():
    f = frame_corners()
    mx, my = VNET_FRAME
    np.testing.assert_allclose(f, np.float32([[mx * W, my * H], [(1 - mx) * W, my * H], [(1 - mx) * W, (1 - my) * H],
                                              [mx * W, (1 - my) * H]]) - 0.5)
    # OpenCV centres pixel i at i: the crop spans [-0.5, W - 0.5], so its centre is ((W - 1) / 2, (H - 1) / 2)
    np.testing.assert_allclose(f.mean(axis=0), [(W - 1) / 2, (H - 1) / 2], atol=1e-5)
    np.testing.assert_allclose(crop_pixels_to_fractions(f), frame_fractions(), atol=1e-6)
    np.testing.assert_allclose(crop_fractions_to_pixels([[0, 0], [1, 1]]), [[-0.5, -0.5], [W - 0.5, H - 0.5]])


def test_rectified_plate_is_symmetric_in_the_crop():
    # an axis-aligned white plate: its crop's white part is as far from the left edge as from the right
    quad = np.float32([[50.5, 40.5], [150.5, 40.5], [150.5, 70.5], [50.5, 70.5]])  # pixel edges at .5: exact
    crop = rectify_quads(white_quad_image_exact(quad), quad[None])[0][0][:, :, 0].astype(np.float64)
    cols, rows = crop.sum(axis=0), crop.sum(axis=1)
    np.testing.assert_allclose(cols, cols[::-1], atol=255 * 0.6 * H * 0.05)
    np.testing.assert_allclose(rows, rows[::-1], atol=255 * 0.8 * W * 0.05)


def white_quad_image_exact(quad, size=(120, 220)):
    """A black image with white pixels whose centres lie inside an axis-aligned quadrilateral."""
    img = np.zeros((*size, 3), np.uint8)
    (x1, y1), (x2, y2) = quad.min(axis=0), quad.max(axis=0)
    img[int(np.ceil(y1)):int(np.floor(y2)) + 1, int(np.ceil(x1)):int(np.floor(x2)) + 1] = 255
    return img


@pytest.mark.parametrize("size,angle,expect", [
    ((100, 24), 0, (1.0, 1.0)),          # already at the frame's scale: no shrink
    ((400, 96), 0, (0.375, 0.375)),      # 4x the frame: shrunk to 1.5x on both axes
    ((300, 150), 0, (0.51, 0.24)),       # a double-row plate: shrunk by its height along y, not its width
])
def test_preshrink_factors_per_axis(size, angle, expect):
    fw, fh = 102.4, 24.0
    w, h = size
    quad = np.float64([[0, 0], [w, 0], [w, h], [0, h]])
    sx, sy = preshrink_factors(quad, (fw, fh))
    want = [min(1.0, 1.5 * fw / w), min(1.0, 1.5 * fh / h)]
    np.testing.assert_allclose([sx, sy], want, rtol=1e-6)
    np.testing.assert_allclose([sx, sy], expect, atol=0.01)


def test_preshrink_factors_of_a_turned_plate_cover_both_demands():
    fw, fh = 102.4, 24.0
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    quad = np.float64([[0, 0], [300, 0], [300, 150], [0, 150]]) @ np.float64([[c, s], [-s, c]])
    sx, sy = preshrink_factors(quad, (fw, fh))
    assert sx == pytest.approx(sy)
    # a crop step along the plate's height moves 150 / 24 image pixels: after the shrink at most 1.5 per axis
    assert 150 / fh * s * sy <= 1.5 + 1e-9 and 300 / fw * c * sx <= 1.5 + 1e-9


def test_double_row_plate_is_not_aliased_in_height():
    # horizontal stripes 2 pixels apart on a 300 x 150 plate: a linear 6x shrink in height would alias
    # them into bands; area averaging first turns them into an even grey
    img = np.zeros((400, 600, 3), np.uint8)
    img[::4] = 255
    img[1::4] = 255
    quad = np.float32([[150, 125], [450, 125], [450, 275], [150, 275]])
    crop = rectify_quads(img, quad[None])[0][0][:, :, 0].astype(np.float64)
    inside = crop[10:30, 15:110]
    assert abs(inside.mean() - 127.5) < 20 and inside.std() < 25


def test_vertex_stage_maps_the_nets_crop_corners_back_to_the_image():
    quad = np.float32([[100, 80], [228, 80], [228, 120], [100, 120]])  # axis-aligned, 128 x 40 pixels
    img = white_quad_image(quad)
    frame = frame_fractions()
    calls = []

    def identity(x):
        calls.append(x.shape)
        return [np.tile(frame.reshape(1, 8), (len(x), 1)).astype(np.float32)]

    np.testing.assert_allclose(vertex_stage(identity, img, quad[None]), quad[None], atol=1e-3)
    assert calls == [(1, 3, H, W)]
    shift = 0.02  # the net moves every corner 2 % of the crop's width to the right
    moved = lambda x: [np.tile((frame + [shift, 0]).reshape(1, 8), (len(x), 1)).astype(np.float32)]
    frame_w = (1 - 2 * VNET_FRAME[0]) * W
    out = vertex_stage(moved, img, quad[None], rounds=2)  # twice: two shifts
    np.testing.assert_allclose(out[0] - quad, [[2 * shift * W * 128 / frame_w, 0]] * 4, atol=1e-2)
    np.testing.assert_allclose(vertex_stage(moved, img, quad[None], rounds=0), quad[None])
    assert vertex_stage(identity, img, np.zeros((0, 4, 2), np.float32)).shape == (0, 4, 2)


def test_vertex_stage_leaves_degenerate_quads_and_failed_rounds_alone():
    img = np.zeros((200, 300, 3), np.uint8)
    quads = np.float32([[[10, 10], [110, 10], [110, 40], [10, 40]],   # a plate
                        [[10, 10], [110, 10], [60, 10], [10, 10]],    # collinear: no frame to rectify
                        [[np.nan, 1], [5, 1], [5, 5], [1, 5]]])        # not a number
    frame = frame_fractions().reshape(1, 8)
    seen = []

    def shift(x):
        seen.append(len(x))
        return [np.tile(frame + [0.01, 0] * 4, (len(x), 1)).astype(np.float32)]

    out = vertex_stage(shift, img, quads)
    assert seen == [1]  # only the plate went to the net
    assert (out[0, :, 0] > quads[0, :, 0]).all()
    np.testing.assert_array_equal(out[1:], quads[1:])
    for bad in (np.nan, -1.0):  # NaN corners, or corners out of order (a mirrored plate): kept as they were
        crossed = lambda x: [np.tile(frame[:, [2, 3, 0, 1, 6, 7, 4, 5]] if bad == -1.0 else frame * bad,
                                     (len(x), 1)).astype(np.float32)]
        np.testing.assert_array_equal(vertex_stage(crossed, img, quads[:1]), quads[:1])


def test_quad_size_is_the_mean_edge_lengths():
    from MTCNN.boxes import quad_size

    w, h = quad_size(np.float32([[0, 0], [100, 0], [110, 40], [0, 30]]))
    np.testing.assert_allclose(w, [(100 + np.hypot(110, 10)) / 2])
    np.testing.assert_allclose(h, [(30 + np.hypot(10, 40)) / 2])


def test_vnet_shapes_and_identity_start():
    net = VNet().eval()
    with torch.no_grad():
        out = net(torch.zeros(3, 3, H, W))
    assert out.shape == (3, 8)
    np.testing.assert_allclose(out.numpy(), np.tile(frame_fractions().reshape(1, 8), (3, 1)), atol=1e-6)


def test_vertex_rounds_is_checked():
    assert DetectorConfig(vertex_rounds=0).vertex_rounds == 0
    for bad in (-1, 6):
        with pytest.raises(ValueError, match="vertex_rounds"):
            DetectorConfig(vertex_rounds=bad)


def test_perturbed_corners_stay_near_the_plate():
    quad = np.float32([[0, 0], [440, 0], [440, 140], [0, 140]])
    rng = np.random.default_rng(0)
    d = np.stack([perturb_quad(quad, rng) - quad for _ in range(2000)])
    assert 0.03 < (d[:, :, 0] / 440).std() < 0.08 and 0.04 < (d[:, :, 1] / 140).std() < 0.12
    assert abs(d.mean()) < 2


def region_file(path, n=3):
    """A VNet sample file of ``n`` white plates, each at its own place in a black region."""
    rh, rw = VNET_REGION_SIZE
    regions, quads = [], []
    for i in range(n):
        q = np.float32([[60 + 4 * i, 30], [190, 28 + i], [192, 66], [62, 64 + i]])
        regions.append(white_quad_image(q, (rh, rw)))
        quads.append(q)
    np.savez(path, regions=np.asarray(regions), quads=np.asarray(quads))
    return quads


@pytest.mark.parametrize("augment", [False, True])
def test_quad_samples_target_the_true_corners_in_the_crop(tmp_path, augment):
    region_file(tmp_path / "r.npz")
    ds = QuadSampleDataset([str(tmp_path / "r.npz")], augment=augment)
    assert len(ds) == 3
    np.random.seed(1)
    for i in list(range(3)) * (4 if augment else 1):
        x, target = ds[i]
        assert x.shape == (3, H, W) and x.dtype == torch.float32 and target.shape == (8,)
        t = np.clip(target.numpy().reshape(4, 2) * [W, H], 0, [W, H])  # a corner may fall outside the crop
        m = x.numpy().mean(axis=0)
        ys, xs = np.nonzero(m > (np.percentile(m, 5) + np.percentile(m, 95)) / 2)  # the plate (white)
        # the true corners bound the plate's pixels in the perturbed view
        assert abs(xs.min() - t[:, 0].min()) <= 2.5 and abs(xs.max() + 1 - t[:, 0].max()) <= 2.5
        assert abs(ys.min() - t[:, 1].min()) <= 2.5 and abs(ys.max() + 1 - t[:, 1].max()) <= 2.5
        assert t[0, 0] < t[1, 0] and t[3, 0] < t[2, 0] and t[0, 1] < t[3, 1]  # TL, TR, BR, BL kept after a flip
    if not augment:  # fixed per index: a steady validation set
        np.testing.assert_array_equal(ds[1][1].numpy(), ds[1][1].numpy())


def test_quad_samples_refuse_a_file_that_is_not_theirs(tmp_path):
    np.savez(tmp_path / "bad.npz", regions=np.zeros((2, 4, 4, 3), np.uint8), quads=np.zeros((3, 4, 2), np.float32))
    with pytest.raises(ValueError, match="bad.npz"):
        QuadSampleDataset([str(tmp_path / "bad.npz")])
    np.savez(tmp_path / "no_quads.npz", regions=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="no_quads.npz"):
        QuadSampleDataset([str(tmp_path / "no_quads.npz")])
    region_file(tmp_path / "a.npz")
    np.savez(tmp_path / "other_size.npz", regions=np.zeros((3, 8, 8, 3), np.uint8), quads=np.zeros((3, 4, 2), np.float32))
    with pytest.raises(ValueError, match="other_size.npz"):
        QuadSampleDataset([str(tmp_path / "a.npz"), str(tmp_path / "other_size.npz")])


def test_plate_region_keeps_the_corners_on_the_plate():
    quad = np.float32([[300, 200], [520, 215], [515, 285], [298, 268]])
    region, inside = plate_region(white_quad_image(quad, (600, 900)), quad)
    assert region.shape == (*VNET_REGION_SIZE, 3)
    x1, y1, x2, y2 = white_bounds(region)
    assert abs(x1 - inside[:, 0].min()) <= 1.5 and abs(x2 - inside[:, 0].max()) <= 1.5
    assert abs(y1 - inside[:, 1].min()) <= 1.5 and abs(y2 - inside[:, 1].max()) <= 1.5


def test_plate_region_area_averages_a_side_that_shrinks_while_the_other_grows():
    # a tall plate (60 x 120): its padded box is 96 x 264 pixels, the region 256 x 96, so the width
    # grows and the height shrinks 2.75x; averaging in height damps pixel noise, interpolating does not
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(128, 40, (600, 400, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    quad = np.float32([[170, 240], [230, 240], [230, 360], [170, 360]])
    region, inside = plate_region(img, quad)
    assert region.shape == (*VNET_REGION_SIZE, 3)
    assert region[10:86, 20:236, 0].std() < 0.55 * img[..., 0].std()  # linear in both: 0.66, averaged: 0.46


def test_prepare_and_train_vnet_end_to_end(tmp_path, synth_dir):
    out = tmp_path / "vnet"
    assert mtcnn_prepare(["--net", "vnet", "--ccpd", str(synth_dir), "--out", str(out), "--workers", "1"]) == 0
    with np.load(out / "train.npz") as z:
        regions, quads = z["regions"], z["quads"]
    assert regions.shape == (6, *VNET_REGION_SIZE, 3) and quads.shape == (6, 4, 2)  # one plate per image
    rh, rw = VNET_REGION_SIZE
    assert (quads[:, :, 0] > 0).all() and (quads[:, :, 0] < rw).all() and (quads[:, :, 1] < rh).all()
    weights = tmp_path / "pnet.pth"
    weights.write_bytes(b"an existing file")
    for extra in (["--pnet-weights", str(weights)], ["--resume"]):  # options of the PNet/ONet samples only
        with pytest.raises(SystemExit) as e:
            mtcnn_prepare(["--net", "vnet", "--ccpd", str(synth_dir), "--out", str(out)] + extra)
        assert e.value.code == 2
    run = tmp_path / "run"
    argv = ["--net", "vnet", "--train", str(out / "train.npz"), "--val", str(out / "train.npz"), "--out", str(run),
            "--epochs", "2", "--batch-size", "4", "--workers", "0", "--export", str(tmp_path / "w")]
    assert mtcnn_train(argv) == 0
    figures = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(figures) == 2 and all(0 < f["corner_error"] < 0.5 and f["score"] == -f["corner_error"]
                                     for f in figures)
    state = torch.load(tmp_path / "w" / "vnet.pth", weights_only=True)
    VNet().load_state_dict(state)
    entry = json.loads((tmp_path / "w" / "MANIFEST.json").read_text())["files"]["vnet.pth"]
    assert entry["frame"] == VNET_FRAME_CONVENTION  # the convention it was trained with travels with it
    assert not warn_old_vnet_frame(tmp_path / "w")
    assert mtcnn_train(argv[:2] + ["--train", str(tmp_path / "nothing.npz")] + argv[4:]) == 2


def test_detector_refines_onets_corners_with_vnet_when_its_weights_are_there(random_weights, tmp_path):
    import shutil

    from MTCNN.detector import TorchDetector

    image = cv2.imread(str(sorted((__import__("pathlib").Path(__file__).parent.parent / "lpr" / "demo").glob("*.jpg"))[0]))
    with_vnet = TorchDetector(random_weights)
    assert with_vnet.has_vnet and with_vnet.vnet_model is not None
    refined = with_vnet.detect(image)
    onet_only = TorchDetector(random_weights, DetectorConfig(vertex_rounds=0)).detect(image)
    assert len(refined.boxes) and refined.corners.shape == onet_only.corners.shape
    np.testing.assert_array_equal(refined.boxes, onet_only.boxes)  # VNet moves corners only
    assert not np.allclose(refined.corners, onet_only.corners)
    bare = tmp_path / "no_vnet"  # a folder without vnet.pth: ONet's corners, as before VNet
    shutil.copytree(random_weights, bare)
    (bare / "vnet.pth").unlink()
    plain = TorchDetector(bare)
    assert not plain.has_vnet and plain.vnet_model is None
    np.testing.assert_array_equal(plain.detect(image).corners, onet_only.corners)


def test_plausible_corners_without_a_box_checks_shape_and_order_only():
    from MTCNN.boxes import plausible_corners

    plate = [[1, 1], [50, 1], [50, 15], [1, 15]]
    quads = np.float32([plate, [[np.nan, 1], *plate[1:]], [[np.inf, 1], *plate[1:]], [plate[1], plate[0], plate[3], plate[2]]])
    assert plausible_corners(quads, None).tolist() == [True, False, False, False]
    far_box = np.float32([[500, 500, 600, 530]] * 4)  # with a box, the overlap counts too
    assert not plausible_corners(quads, far_box).any()


def test_vnet_weights_from_before_the_centred_frame_get_a_warning(tmp_path, caplog):
    import shutil

    from lprcore.manifest import read_manifest, update_manifest
    from MTCNN.detector import TorchDetector

    assert not warn_old_vnet_frame(WEIGHTS_DIR)  # the shipped VNet records its convention
    assert read_manifest(WEIGHTS_DIR)["vnet.onnx"]["frame"] == VNET_FRAME_CONVENTION
    old = tmp_path / "old"
    old.mkdir()
    for name in ("pnet.pth", "onet.pth", "vnet.pth"):
        shutil.copy(WEIGHTS_DIR / name, old / name)
        entry = {k: v for k, v in read_manifest(WEIGHTS_DIR)[name].items() if k not in ("sha256", "frame")}
        update_manifest(old, name, **entry)
    with caplog.at_level("WARNING", logger="MTCNN.cascade"):
        TorchDetector(old)
    assert any("vnet.pth" in r.getMessage() and "half a pixel" in r.getMessage() for r in caplog.records)
    (old / "MANIFEST.json").unlink()  # no manifest: the loaders' own warning covers it, not this one
    assert not warn_old_vnet_frame(old)
