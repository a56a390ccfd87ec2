"""LPRNet character table: the one home of the class indices of the recognizer.

The order is that of the original LPRNet_Pytorch / MTCNN+LPRNet projects so that their checkpoints
load: 31 provinces, 10 digits, 24 letters, ``I``, ``O``, and the CTC blank ``-`` last.
"""
from __future__ import annotations

from typing import List

PROVINCE_CHARS = "京沪津渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新"
DIGITS = "0123456789"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
#: All classes; index -> character.
CHARS: tuple = tuple(PROVINCE_CHARS + DIGITS + LETTERS + "IO-")
#: Index of the CTC blank (the last class).
BLANK: int = len(CHARS) - 1
#: Number of classes (68).
NUM_CLASSES: int = len(CHARS)
#: Character -> index.
CHAR_TO_INDEX = {c: i for i, c in enumerate(CHARS)}

assert NUM_CLASSES == 68 and CHARS[BLANK] == "-"


def encode(text: str) -> List[int]:
    """Plate text -> class indices.

    Raises:
        ValueError: a character of ``text`` is not a class (the message names it).
    """
    try:
        return [CHAR_TO_INDEX[c] for c in text]
    except KeyError as e:
        raise ValueError(f"plate text {text!r}: character {e.args[0]!r} is not in the LPRNet table") from None


def is_encodable(text: str) -> bool:
    """True when every character of ``text`` is a non-blank class."""
    return all(c in CHAR_TO_INDEX and c != CHARS[BLANK] for c in text)
