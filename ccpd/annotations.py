"""Parse and format CCPD file names (CCPD2019 blue plates, CCPD2020 green new-energy plates).

A CCPD image carries its annotation in its name, seven fields joined by ``-``
(Xu et al., "Towards End-to-End License Plate Detection and Recognition: A Large Dataset and
Baseline", ECCV 2018; README of github.com/detectRecog/CCPD)::

    area - tiltH_tiltV - x1&y1_x2&y2 - x&y_x&y_x&y_x&y - p_a_c_c_c_c_c[_c] - brightness - blur .jpg

* ``area``: ratio of plate area to image area, digits as written in the dataset (kept verbatim).
* ``tilt``: horizontal and vertical tilt in degrees.
* bbox: top-left and bottom-right corners of the plate, pixels.
* vertices: the 4 plate corners, pixels, starting from the bottom-right corner, clockwise
  (bottom-right, bottom-left, top-left, top-right).
* plate indices: one into :data:`PROVINCES`, one into :data:`ALPHABETS`, then 5 (CCPD2019) or 6
  (CCPD2020) into :data:`ADS`.
* brightness and blurriness: integers.

This module is the one home of the CCPD index tables.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Tuple

from lprcore.imageio import IMAGE_EXTENSIONS

#: Province table of CCPD (index -> character). ``O`` (last) marks "no character".
PROVINCES: Tuple[str, ...] = tuple("皖沪津渝冀晋蒙辽吉黑苏浙京闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新警学O")
#: Letter table of CCPD for the second plate character. ``O`` (last) marks "no character".
ALPHABETS: Tuple[str, ...] = tuple("ABCDEFGHJKLMNPQRSTUVWXYZO")
#: Table for the remaining characters (letters then digits). ``O`` (last) marks "no character".
ADS: Tuple[str, ...] = tuple("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789O")
#: The character that marks an empty slot in all three tables.
NO_CHAR = "O"
#: Number of characters: CCPD2019 blue plates and CCPD2020 green new-energy plates.
PLATE_LENGTHS = (7, 8)


class CCPDNameError(ValueError):
    """A file name that is not a valid CCPD annotation; the message names the bad field."""


@dataclass(frozen=True)
class CCPDRecord:
    """The annotation of one CCPD image.

    Attributes:
        area: the area field verbatim (digits), e.g. ``"025"``.
        tilt: (horizontal, vertical) tilt in degrees.
        bbox: (x1, y1, x2, y2) in pixels, top-left and bottom-right corner.
        vertices: 4 (x, y) corners in pixels: bottom-right, bottom-left, top-left, top-right.
        indices: plate character indices (7 or 8): province, alphabet, then ads indices.
        brightness: brightness field (integer).
        blur: blurriness field (integer).
    """

    area: str
    tilt: Tuple[int, int]
    bbox: Tuple[int, int, int, int]
    vertices: Tuple[Tuple[int, int], ...]
    indices: Tuple[int, ...]
    brightness: int
    blur: int

    @property
    def text(self) -> str:
        """Plate text, e.g. ``"皖A12345"``; ``O`` entries (no character) are left out."""
        chars = [PROVINCES[self.indices[0]], ALPHABETS[self.indices[1]]]
        chars += [ADS[i] for i in self.indices[2:]]
        return "".join(c for c in chars if c != NO_CHAR)

    @property
    def corners(self) -> Tuple[Tuple[int, int], ...]:
        """The 4 vertices clockwise from the top-left (TL, TR, BR, BL), the project's corner order."""
        br, bl, tl, tr = self.vertices
        return (tl, tr, br, bl)

    @property
    def is_green(self) -> bool:
        """True for an 8-character (CCPD2020 new-energy) plate."""
        return len(self.indices) == 8

    @classmethod
    def from_text(cls, text: str, bbox, vertices, area: str = "0", tilt=(90, 90),
                  brightness: int = 100, blur: int = 100) -> "CCPDRecord":
        """Build a record from a plate text such as ``"皖A12345"`` or ``"皖AD12345"``.

        Raises:
            CCPDNameError: a character is not in the table of its position, or the length is
                not 7 or 8.
        """
        if len(text) not in PLATE_LENGTHS:
            raise CCPDNameError(f"plate text {text!r}: expected 7 or 8 characters, got {len(text)}")
        try:
            idx = [PROVINCES.index(text[0]), ALPHABETS.index(text[1])]
            idx += [ADS.index(c) for c in text[2:]]
        except ValueError:
            raise CCPDNameError(f"plate text {text!r}: a character is not in the CCPD tables") from None
        bbox = tuple(int(round(v)) for v in bbox)
        vertices = tuple((int(round(x)), int(round(y))) for x, y in vertices)
        return cls(area, tuple(tilt), bbox, vertices, tuple(idx), int(brightness), int(blur))


def _ints(field: str, sep: str, count: int, what: str, name: str) -> Tuple[int, ...]:
    parts = field.split(sep)
    if len(parts) != count:
        raise CCPDNameError(f"{name!r}: {what} field {field!r} should have {count} numbers joined by {sep!r}")
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise CCPDNameError(f"{name!r}: {what} field {field!r} holds a non-integer") from None


def _point(field: str, what: str, name: str) -> Tuple[int, int]:
    x, y = _ints(field, "&", 2, what, name)
    return (x, y)


def parse_name(name: str) -> CCPDRecord:
    """Parse a CCPD file name (with or without directory and extension) into a record.

    Args:
        name: e.g. ``"025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg"``.

    Returns:
        The :class:`CCPDRecord`.

    Raises:
        CCPDNameError: the name does not have 7 fields, or a field is malformed or out of its table;
            the message names the field.
    """
    base = os.path.basename(name)
    stem, ext = os.path.splitext(base)
    if ext.lower() not in IMAGE_EXTENSIONS:
        stem = base
    fields = stem.split("-")
    if len(fields) != 7:
        raise CCPDNameError(f"{base!r}: expected 7 fields joined by '-', found {len(fields)}")
    area, tilt, bbox, verts, plate, bright, blur = fields
    if not area.isdigit():
        raise CCPDNameError(f"{base!r}: area field {area!r} should be digits")
    tilt_t = _ints(tilt, "_", 2, "tilt", base)
    corners = bbox.split("_")
    if len(corners) != 2:
        raise CCPDNameError(f"{base!r}: bbox field {bbox!r} should be x1&y1_x2&y2")
    (x1, y1), (x2, y2) = (_point(c, "bbox", base) for c in corners)
    if x2 < x1 or y2 < y1:
        raise CCPDNameError(f"{base!r}: bbox field {bbox!r} has x2 < x1 or y2 < y1")
    vparts = verts.split("_")
    if len(vparts) != 4:
        raise CCPDNameError(f"{base!r}: vertices field {verts!r} should hold 4 points x&y joined by '_'")
    vertices = tuple(_point(v, "vertices", base) for v in vparts)
    pparts = plate.split("_")
    if len(pparts) not in PLATE_LENGTHS:
        raise CCPDNameError(f"{base!r}: plate field {plate!r} should hold 7 or 8 indices")
    idx = _ints(plate, "_", len(pparts), "plate", base)
    tables = (PROVINCES, ALPHABETS) + (ADS,) * (len(idx) - 2)
    for pos, (i, table) in enumerate(zip(idx, tables)):
        if not 0 <= i < len(table):
            raise CCPDNameError(f"{base!r}: plate field {plate!r}: index {i} at position {pos} "
                                f"is outside its table (0..{len(table) - 1})")
    try:
        brightness, blurness = int(bright), int(blur)
    except ValueError:
        raise CCPDNameError(f"{base!r}: brightness {bright!r} / blur {blur!r} should be integers") from None
    return CCPDRecord(area, tilt_t, (x1, y1, x2, y2), vertices, idx, brightness, blurness)


def parse_path(path: str) -> CCPDRecord:
    """:func:`parse_name` on the base name of ``path``."""
    return parse_name(os.path.basename(path))


def format_name(record: CCPDRecord, ext: str = ".jpg") -> str:
    """Format a record back into a CCPD file name; ``parse_name(format_name(r)) == r``."""
    x1, y1, x2, y2 = record.bbox
    verts = "_".join(f"{x}&{y}" for x, y in record.vertices)
    plate = "_".join(str(i) for i in record.indices)
    return (f"{record.area}-{record.tilt[0]}_{record.tilt[1]}-{x1}&{y1}_{x2}&{y2}-{verts}-{plate}"
            f"-{record.brightness}-{record.blur}{ext}")
