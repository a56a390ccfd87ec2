"""Chinese plate types of GA 36-2018 (the national plate standard): sizes, layouts, colours, text rules.

The one home of what a plate of each type looks like in millimetres and which texts it can carry;
the renderer (:mod:`platesynth.render`) draws from it and the annotation reader
(:mod:`ccpd.sources`) names colours and layouts with it.

Geometry (GA 36-2018, sec. 5 and annex A; millimetres, (height, width) as everywhere):

* single-row plates, 140 x 440: 7 characters 90 x 45, 12 apart, a 34 gap with the separator dot
  after the second character, 15.5 margins;
* double-row plates, 220 x 440: top row province + letter, 60 x 80, at x 110 and 250; bottom row 5
  characters 110 x 65, 15 apart, from x 27.5;
* new-energy plates, 140 x 480: 8 characters 90 x 43 (the province 45), 9 apart, a 49 gap after the
  second character.

Text rules (GA 36-2018 sec. 4; letters I and O are never used):

* ordinary plates: province + issuing-office letter + 5 of letters/digits (at most 2 letters);
* small new-energy (green): province + letter + D or F + letter/digit + 4 digits;
* large new-energy (yellow-green): province + letter + 5 digits + D or F;
* coach (学), trailer (挂), police (警, red): province + letter + 4 letters/digits + the mark;
* Hong Kong / Macau crossing (black): 粤 Z + 4 letters/digits + 港 or 澳.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

PROVINCES = "京沪津渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新"
#: Letters of plates: the Latin alphabet without I and O.
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"
#: Characters that mark a plate's use, in the last position (使 first).
MARKS = "警学挂港澳使领"

#: Plate colours (background) and layouts used in labels.
COLOURS = ("blue", "yellow", "green", "white", "black")
LAYOUTS = ("single", "double")


@dataclass(frozen=True)
class PlateType:
    """One plate type of GA 36-2018.

    Attributes:
        name: key of :data:`PLATE_TYPES`, e.g. ``"blue"``, ``"yellow_double"``.
        colour: background colour, one of :data:`COLOURS` (``"green"`` for both new-energy plates).
        layout: ``"single"`` or ``"double"`` row.
        size_mm: (height, width) of the plate in millimetres.
        ink: BGR colour of the characters.
        mark_ink: BGR colour of the last character when it differs (red 警), else ``None``.
        length: number of characters.
    """

    name: str
    colour: str
    layout: str
    size_mm: Tuple[int, int]
    ink: Tuple[int, int, int]
    length: int
    mark_ink: Optional[Tuple[int, int, int]] = None


WHITE_INK, BLACK_INK, RED_INK = (245, 245, 245), (20, 20, 20), (30, 30, 200)

PLATE_TYPES: Dict[str, PlateType] = {t.name: t for t in (
    PlateType("blue", "blue", "single", (140, 440), WHITE_INK, 7),
    PlateType("yellow", "yellow", "single", (140, 440), BLACK_INK, 7),
    PlateType("yellow_double", "yellow", "double", (220, 440), BLACK_INK, 7),
    PlateType("coach", "yellow", "single", (140, 440), BLACK_INK, 7),
    PlateType("trailer", "yellow", "double", (220, 440), BLACK_INK, 7),
    PlateType("green_small", "green", "single", (140, 480), BLACK_INK, 8),
    PlateType("green_large", "green", "single", (140, 480), BLACK_INK, 8),
    PlateType("police", "white", "single", (140, 440), BLACK_INK, 7, mark_ink=RED_INK),
    PlateType("black", "black", "single", (140, 440), WHITE_INK, 7),
    PlateType("hk_macau", "black", "single", (140, 440), WHITE_INK, 7),
)}

#: Default mix of types for synthetic data: every type, common ones more often.
DEFAULT_TYPE_WEIGHTS: Dict[str, float] = {
    "blue": 0.30, "yellow": 0.14, "yellow_double": 0.12, "coach": 0.04, "trailer": 0.04,
    "green_small": 0.14, "green_large": 0.06, "police": 0.06, "black": 0.05, "hk_macau": 0.05,
}


def char_boxes(plate: PlateType) -> Tuple[Tuple[float, float, float, float], ...]:
    """Boxes (x1, y1, x2, y2) in millimetres of each character of a plate type, in text order."""
    if plate.layout == "double":
        top = ((110.0, 15.0, 190.0, 75.0), (250.0, 15.0, 330.0, 75.0))
        bottom = tuple((27.5 + k * 80.0, 90.0, 27.5 + k * 80.0 + 65.0, 200.0) for k in range(5))
        return top + bottom
    if plate.length == 8:
        xs = [15.5]
        widths = [45.0] + [43.0] * 7
        for k in range(1, 8):
            xs.append(xs[-1] + widths[k - 1] + (49.0 if k == 2 else 9.0))
        return tuple((x, 25.0, x + w, 115.0) for x, w in zip(xs, widths))
    xs = [15.5]
    for k in range(1, 7):
        xs.append(xs[-1] + 45.0 + (34.0 if k == 2 else 12.0))
    return tuple((x, 25.0, x + 45.0, 115.0) for x in xs)


def dot_centre(plate: PlateType) -> Optional[Tuple[float, float]]:
    """(x, y) in millimetres of the separator dot, or ``None`` (double-row plates have it in the top row)."""
    boxes = char_boxes(plate)
    if plate.layout == "double":
        return ((boxes[0][2] + boxes[1][0]) / 2, 45.0)
    return ((boxes[1][2] + boxes[2][0]) / 2, 70.0)


def random_text(plate: PlateType, rng: np.random.Generator,
                province_weights: Optional[Sequence[float]] = None) -> str:
    """A text that a plate of this type can carry (rules in the module docstring).

    Args:
        plate: the plate type.
        rng: random generator.
        province_weights: 31 weights in :data:`PROVINCES` order (default: uniform).
    """
    p = None if province_weights is None else np.asarray(province_weights, float) / np.sum(province_weights)
    province = PROVINCES[rng.choice(len(PROVINCES), p=p)]
    letter = LETTERS[rng.integers(len(LETTERS))]
    alnum = LETTERS + DIGITS

    def serial(n: int, max_letters: int) -> str:
        out, letters = [], 0
        for _ in range(n):
            if letters < max_letters and rng.random() < 0.3:
                out.append(LETTERS[rng.integers(len(LETTERS))])
                letters += 1
            else:
                out.append(DIGITS[rng.integers(10)])
        return "".join(out)

    name = plate.name
    if name == "green_small":
        return province + letter + "DF"[rng.integers(2)] + alnum[rng.integers(len(alnum))] + serial(4, 0)
    if name == "green_large":
        return province + letter + serial(5, 0) + "DF"[rng.integers(2)]
    if name == "coach":
        return province + letter + serial(4, 1) + "学"
    if name == "trailer":
        return province + letter + serial(4, 1) + "挂"
    if name == "police":
        return province + letter + serial(4, 1) + "警"
    if name == "hk_macau":
        return "粤Z" + serial(4, 2) + "港澳"[rng.integers(2)]
    return province + letter + serial(5, 2)


def is_valid_text(text: str) -> bool:
    """True when ``text`` follows the rules of some plate type (see the module docstring), also
    consulate plates (province + letter + 4 letters/digits + 领; 使 likewise). Lenient where real
    series vary: the number of letters of an ordinary plate's serial is not checked."""
    if len(text) not in (7, 8) or text[0] not in PROVINCES or text[1] not in LETTERS:
        return False
    rest = text[2:]
    alnum = set(LETTERS + DIGITS)
    if len(text) == 8:
        return (rest[0] in "DF" and rest[1] in alnum and rest[2:].isdigit()) or \
               (rest[:5].isdigit() and rest[5] in "DF")
    if rest[-1] in "港澳" and text[:2] != "粤Z":
        return False
    if rest[-1] in MARKS:
        return all(c in alnum for c in rest[:-1])
    return all(c in alnum for c in rest)
