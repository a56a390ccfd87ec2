"""LPRNet character tables: the one home of the class indices of the recognizer.

Two tables, the second extending the first, so that both kinds of checkpoint load:

* :data:`ORIGINAL_CHARS` (68 classes), the order of the original LPRNet_Pytorch / MTCNN+LPRNet
  projects: 31 provinces, 10 digits, 24 letters, ``I``, ``O``, and the CTC blank ``-`` (index 67);
* :data:`CHARS` (75 classes): the same 68, then the marks of special plates 警 学 挂 港 澳 使 领
  (GA 36-2018) at 68..74. The blank stays at index 67 in both.

The table a checkpoint was trained with travels with it (the ``charset`` of its ``MANIFEST.json``,
else the size of its last layer): :func:`charset_for` maps a class count to its table.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

from ccpd.plates import DIGITS, LETTERS
from ccpd.plates import MARKS as MARK_CHARS
from ccpd.plates import PROVINCES as PROVINCE_CHARS

# The characters come from their one home, :mod:`ccpd.plates` (31 provinces, 10 digits, 24 letters
# without I and O, the 7 marks 警学挂港澳使领 of police, coach, trailer, Hong Kong, Macau, embassy and
# consulate plates); the order of the tables below is fixed by the checkpoints and must not change.

#: The original 68 classes; index -> character.
ORIGINAL_CHARS: Tuple[str, ...] = tuple(PROVINCE_CHARS + DIGITS + LETTERS + "IO-")
#: All classes of the current table (75); index -> character.
CHARS: Tuple[str, ...] = ORIGINAL_CHARS + tuple(MARK_CHARS)
#: Index of the CTC blank in both tables.
BLANK: int = 67
#: Number of classes of the current table (75).
NUM_CLASSES: int = len(CHARS)
#: Character -> index (current table).
CHAR_TO_INDEX = {c: i for i, c in enumerate(CHARS)}

assert len(ORIGINAL_CHARS) == 68 and CHARS[BLANK] == ORIGINAL_CHARS[BLANK] == "-" and NUM_CLASSES == 75


def charset_for(num_classes: int) -> Tuple[str, ...]:
    """The table of a net with ``num_classes`` outputs (68: original, 75: current).

    Raises:
        ValueError: no table has that many classes.
    """
    for table in (ORIGINAL_CHARS, CHARS):
        if len(table) == num_classes:
            return table
    raise ValueError(f"no character table has {num_classes} classes (known: 68, 75)")


def encode(text: str, chars: Sequence[str] = CHARS) -> List[int]:
    """Plate text -> class indices of the table ``chars``.

    Raises:
        ValueError: a character of ``text`` is not a class (the message names it).
    """
    index = CHAR_TO_INDEX if chars is CHARS else {c: i for i, c in enumerate(chars)}
    try:
        return [index[c] for c in text]
    except KeyError as e:
        raise ValueError(f"plate text {text!r}: character {e.args[0]!r} is not in the LPRNet table") from None


def is_encodable(text: str, chars: Sequence[str] = CHARS) -> bool:
    """True when every character of ``text`` is a non-blank class of ``chars``."""
    return all(c in chars and c != chars[BLANK] for c in text)
