"""The crop the pipeline feeds to STN + LPRNet is the crop the recognizer was trained on.

Training crops come from ``LPRNet.prepare`` lists through ``LPRNet.dataset.PlateTextDataset`` (no
augmentation); pipeline crops are what ``lpr.pipeline.PlateReader`` hands to the recognizer for a box.
A shift of 2 pixels between the two cost 3 points of accuracy once, so they must agree to 1 pixel.
"""
import cv2
import numpy as np
import pytest
import torch

from ccpd.annotations import parse_name
from lpr.config import ReaderConfig, ReadingOptions
from lpr.pipeline import PlateReader
from lprcore.imageio import imread
from LPRNet.crops import warp_to_input
from LPRNet.dataset import PlateTextDataset
from LPRNet.model import crops_to_input
from LPRNet.prepare import RECTIFIED_SIZE, main as prepare
from MTCNN.cascade import Detections


@pytest.fixture(scope="module")
def training_set(tmp_path_factory, synth_dir):
    out = tmp_path_factory.mktemp("lpr_lists")
    assert prepare(["--ccpd", str(synth_dir), "--out", str(out), "--name", "t", "--workers", "1"]) == 0
    return PlateTextDataset([str(out / "t.txt")])


def is_rectified(dataset: PlateTextDataset, k: int) -> bool:
    """Sample ``k`` is a vertex-rectified crop (stored at ``RECTIFIED_SIZE``), not a bbox crop."""
    return dataset.items[k][0].shape[:2] == RECTIFIED_SIZE


def pipeline_input(reader: PlateReader, image: np.ndarray, box) -> torch.Tensor:
    """The tensor the pipeline's recognizer receives when the detector returns ``box``."""
    seen = []
    reader.detector.detect = lambda img: Detections(np.asarray([[*box, 1.0]], np.float32), None)
    hook = reader.recognizer.model.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    try:
        reader(image)
    finally:
        hook.remove()
    assert len(seen) == 1
    return seen[0]


def shift(a: np.ndarray, b: np.ndarray) -> float:
    """Translation in pixels between two crops, by phase correlation of their grey images."""
    ga, gb = (cv2.cvtColor(x, cv2.COLOR_BGR2GRAY).astype(np.float64) for x in (a, b))
    (dx, dy), _ = cv2.phaseCorrelate(ga, gb)
    return float(np.hypot(dx, dy))


def test_pipeline_box_crop_equals_the_training_crop(training_set, synth_dir, random_weights):
    reader = PlateReader(ReaderConfig(reading=ReadingOptions(second_look=False, rotated_retry=False, stretched_retry=False)),
                         weights_dir=random_weights)  # one read per box
    checked = 0
    for path in sorted(synth_dir.iterdir()):
        rec = parse_name(path.name)
        image = imread(path)
        got = pipeline_input(reader, image, rec.bbox)
        # the bbox sample of this image in the training list: same text, not the rectified one
        i = next(k for k in range(len(training_set.items)) if training_set.text(k) == rec.text
                 and not is_rectified(training_set, k))
        want = crops_to_input([training_set.crop(i)])
        assert got.shape == want.shape == (1, 3, 24, 94)
        # identical pixels up to rounding: the same warp of the same pixels (much tighter than 1 px)
        assert (got - want).abs().max().item() <= 1.0 * 0.0078125 + 1e-6, path.name
        checked += 1
    assert checked == len(list(synth_dir.iterdir()))


def test_rectified_training_crop_matches_the_vertex_warp_within_one_pixel(training_set, synth_dir):
    """The vertex-rectified samples (CCPD order BR, BL, TL, TR) line up with a warp of the same
    quadrilateral in clockwise-from-top-left order, as the pipeline will cut plates from corners."""
    for path in sorted(synth_dir.iterdir()):
        rec = parse_name(path.name)
        br, bl, tl, tr = rec.vertices
        direct = warp_to_input(imread(path), np.float32([tl, tr, br, bl]))
        i = next(k for k in range(len(training_set.items)) if training_set.text(k) == rec.text
                 and is_rectified(training_set, k))
        assert shift(training_set.crop(i), direct) <= 1.0, path.name
