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

Text rules. GA 36-2018's text is not published (its register entry withholds it), nor is GA 36-2014's;
the clauses named are those of GA 36-2007, the last edition in public, whose coding rules the later
editions kept as far as any public source tells; the new-energy rules come from the Ministry of Public
Security's announcements. Sources and examples: ``docs/design.md``, "Plate text rules (GA 36)".

* elements (GA 36-2007 sec. 3.2): province + issuing-office code (a letter) + serial + for some types a
  mark character (:data:`MARKS`);
* serial letters (sec. 5.9.1): never I or O; at most 2 letters in a serial (:data:`MAX_SERIAL_LETTERS`);
* ordinary plates: province + office letter + 5-character serial, e.g. 京A12345, 浙BAB987;
* O series (annex A: office code O is the provincial public-security traffic department's own vehicle
  office; it registers the vehicles of public-security, court, procuratorate, state-security and
  justice organs): province + O + 5-character serial (粤O12345, 京OA1234), and the police form
  province + O + 4 + 警 (陕O1313警); O is never a serial character, and no O form of the other marks
  or of new-energy plates is known, so none is accepted;
* small new-energy (green; MPS 2016-11-21): province + letter + energy letter + letter/digit + 4
  digits, e.g. 粤BD12345, 粤BDF1234;
* large new-energy (yellow-green): province + letter + 5 digits + energy letter, e.g. 粤B12345D;
* energy letters (:data:`ENERGY_LETTERS`): D battery electric, F other new energy; offices whose D or
  F series run out open A B C E (battery) and G H J K (others), in both positions;
* coach (学), trailer (挂), consulate (领), police (警, red): province + office letter + 4-character
  serial + the mark (sec. 5.10), e.g. 京A1234学, 沪A0023领;
* Hong Kong / Macau crossing (black): 粤Z + 4-character serial + 港 or 澳 (office code Z is Guangdong's
  for these plates only, annex A note 9), e.g. 粤Z1234港, 粤ZA123澳; 粤Z without 港/澳 is no plate;
* embassy: 使 + 6 digits, no province (sec. 5.1.2 gives it a layout of its own), e.g. 使224009.

Lenient where the public sources do not settle a rule: the letter positions of a serial (GA 36-2007
table 3 allows 11 patterns, which later editions may have changed; owners may compose their numbers),
the police serial (the layout annex of the police-car regulation is not published), the offices
that use the O series (several provinces gave it up), and which offices have opened A B C E / G H J K.
Stricter in one point: GA 36-2007 also added office code I, but no office using it was found, so
a read I in second place (likelier a misread 1) stays invalid.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

PROVINCES = "京沪津渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新"
#: Letters of plates: the Latin alphabet without I and O (never in a serial, GA 36-2007 sec. 5.9.1).
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"
#: Characters that mark a plate's use: the last character (警学挂港澳领), but 使 the first (embassy plates).
MARKS = "警学挂港澳使领"
#: Issuing-office code of the provincial public-security vehicle office (the O series; never in a serial).
OFFICE_O = "O"
#: Issuing-office codes, the second character: :data:`LETTERS` and :data:`OFFICE_O`.
OFFICE_CODES = LETTERS + OFFICE_O
#: Energy letters of new-energy serials: D, then A B C E (battery electric); F, then G H J K (others).
ENERGY_LETTERS = "DABCEFGHJK"
#: Most letters in a serial (GA 36-2007 sec. 5.9.1 c)).
MAX_SERIAL_LETTERS = 2

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
    while province == "粤" and letter == "Z":  # 粤Z is the Hong Kong / Macau office only
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


_LETTER_SET = frozenset(LETTERS)
_DIGIT_SET = frozenset(DIGITS)
_OFFICE_SET = frozenset(OFFICE_CODES)


def _is_serial(serial: str) -> bool:
    """True for letters (of :data:`LETTERS`) and digits only, at most :data:`MAX_SERIAL_LETTERS` letters."""
    letters = 0
    for c in serial:
        if c in _LETTER_SET:
            letters += 1
        elif c not in _DIGIT_SET:
            return False
    return letters <= MAX_SERIAL_LETTERS


def is_valid_text(text: str) -> bool:
    """True when ``text`` follows the text rules of some plate type (module docstring, "Text rules"):
    ordinary and O-series, small and large new-energy, coach, trailer, police, consulate, Hong Kong /
    Macau and embassy plates. Lenient where the public sources leave a rule open: the letter positions
    of a serial are not checked. One pass over at most 8 characters (it runs on every read); never
    raises for a ``str``."""
    n = len(text)
    if n == 7 and text[0] == "使":                       # embassy: 使 + 6 digits
        return all(c in _DIGIT_SET for c in text[1:])
    if (n != 7 and n != 8) or text[0] not in PROVINCES:
        return False
    office = text[1]
    if office == "Z" and text[0] == "粤":                # Hong Kong / Macau: 粤Z + 4 + 港 or 澳 only
        return n == 7 and (text[6] == "港" or text[6] == "澳") and _is_serial(text[2:6])
    if n == 8:                                            # new-energy: 6-character serial
        s = text[2:]
        return office in _LETTER_SET and (
            (s[0] in ENERGY_LETTERS and (s[1] in _LETTER_SET or s[1] in _DIGIT_SET)
             and all(c in _DIGIT_SET for c in s[2:]))     # small: energy letter first
            or (all(c in _DIGIT_SET for c in s[:5]) and s[5] in ENERGY_LETTERS))  # large: last
    last = text[6]
    if last == "警":
        return office in _OFFICE_SET and _is_serial(text[2:6])
    if last == "学" or last == "挂" or last == "领":
        return office in _LETTER_SET and _is_serial(text[2:6])
    return office in _OFFICE_SET and _is_serial(text[2:])   # ordinary and O series; 港/澳 fail here
