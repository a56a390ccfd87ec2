"""Pseudo-labels: a crop is kept only when its two reads agree on a valid, confident single-row text."""
from types import SimpleNamespace

import numpy as np

from lprcore.imageio import imwrite
from LPRNet.pseudo_label import BRIGHTNESS, CONTRAST, pseudo_label


class _Reader:
    """Reads each crop by its mean brightness; the second view (24 x 94) reads the second text."""

    def __init__(self, texts):
        self.texts = texts  # brightness -> (first read, second read, confidence, layout)

    def _key(self, crop):
        mean = float(crop.mean())
        if crop.shape[:2] == (24, 94):  # the second view: undo its contrast and brightness
            mean = (mean - BRIGHTNESS) / CONTRAST
        return int(round(mean / 10)) * 10

    def recognize_crops(self, crops):
        second = all(c.shape[:2] == (24, 94) for c in crops)
        return [SimpleNamespace(text=self.texts[self._key(c)][1 if second else 0],
                                confidence=self.texts[self._key(c)][2]) for c in crops]

    def attributes(self, crops):
        return [("blue", self.texts[self._key(c)][3]) for c in crops]


def test_only_agreeing_valid_confident_single_row_reads_are_kept(tmp_path):
    texts = {40: ("皖A12345", "皖A12345", 0.99, "single"),    # kept
             80: ("皖A12345", "皖A12346", 0.99, "single"),    # the reads disagree
             120: ("HELLO", "HELLO", 0.99, "single"),        # no plate rule
             160: ("皖B12345", "皖B12345", 0.5, "single"),    # not confident
             200: ("皖C12345", "皖C12345", 0.99, "double")}   # double-row: not pseudo-labelled
    files = []
    for value in texts:
        path = tmp_path / f"{value}.png"
        imwrite(str(path), np.full((40, 140, 3), value, np.uint8))
        files.append(str(path))
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    kept, counts = pseudo_label(_Reader(texts), files + [str(tmp_path / "broken.jpg")], threshold=0.9, batch_size=2)
    assert [(s.path, s.text, s.colour, s.layout, s.use) for s in kept] == [(files[0], "皖A12345", "blue", "single",
                                                                            "train")]
    assert counts == {"read": 5, "agree": 4, "valid": 2, "kept": 1, "unreadable": 1}
