"""One annotation format for every source of plates: :class:`PlateSample`, read by :func:`read_source`.

A source is a folder; its format is found from what it holds:

* ``labels.tsv`` (tab-separated, a header line, ``#`` comment lines ignored): columns ``file`` and
  ``text`` required; optional ``colour``, ``layout``, ``type``, ``source``, ``use`` (train / val),
  ``bbox`` (``x1,y1,x2,y2``), ``vertices`` (``x,y;x,y;x,y;x,y``, clockwise from the top-left). A
  ``boxes.tsv`` beside it (``file, text, box``; several boxes joined by ``;``, the named plate first)
  adds boxes. This is the format of ``../shared/data/plate_crops_more``, ``scenes``,
  ``scenes_train`` and of :mod:`platesynth`'s output.
* otherwise every image is read by its name: a CCPD name (bbox, vertices, text; colour blue for 7
  characters and green for 8), or a crop named by its text (``皖A12345.jpg``, ``皖A12345_3.jpg``).

Boxes are ``(x1, y1, x2, y2)`` float pixels; vertices run clockwise from the top-left (TL, TR, BR,
BL), converted from CCPD's order by :attr:`ccpd.annotations.CCPDRecord.corners`.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

from ccpd.annotations import CCPDNameError, parse_name
from ccpd.plates import COLOURS, DIGITS, LAYOUTS, OFFICE_CODES, PROVINCES
from lprcore.files import atomic_write
from lprcore.imageio import list_images

LABELS_FILE = "labels.tsv"
BOXES_FILE = "boxes.tsv"
#: Columns written by :func:`write_labels`, in order.
LABEL_COLUMNS = ("file", "text", "colour", "layout", "type", "bbox", "vertices", "source", "use")

Box = Tuple[float, float, float, float]
Quad = Tuple[Tuple[float, float], Tuple[float, float], Tuple[float, float], Tuple[float, float]]


class LabelError(ValueError):
    """A malformed labels file or row; the message names the file and line."""


@dataclass(frozen=True)
class PlateSample:
    """One plate of one image, whatever the source.

    Attributes:
        path: image file.
        text: plate text, e.g. ``"皖A12345"`` (may hold 警 学 挂 港 澳 使 领).
        colour: one of ``ccpd.plates.COLOURS`` or ``None`` when unknown.
        layout: ``"single"``, ``"double"`` or ``None`` when unknown.
        bbox: the plate's box in the image, pixels, or ``None``: the image is a crop of the plate.
        vertices: the plate's 4 corners (TL, TR, BR, BL), pixels, or ``None`` when unknown.
        source: where the sample came from (``"ccpd"``, ``"crops"`` or the labels' ``source`` column).
        use: the labels' ``use`` column (``"train"`` / ``"val"``) or ``None``.
        plate_type: a key of ``ccpd.plates.PLATE_TYPES`` when known (synthetic data), else ``None``.
        other_boxes: boxes of further plates in the same image whose text is unknown.
    """

    path: str
    text: str
    colour: Optional[str] = None
    layout: Optional[str] = None
    bbox: Optional[Box] = None
    vertices: Optional[Quad] = None
    source: str = ""
    use: Optional[str] = None
    plate_type: Optional[str] = None
    other_boxes: Tuple[Box, ...] = ()

    @property
    def province(self) -> str:
        """The first character of the text (the province for most plates)."""
        return self.text[:1]


@dataclass
class SourceScan:
    """Samples of a source and the entries skipped, each with the reason."""

    samples: List[PlateSample] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)


def looks_like_plate_text(text: str) -> bool:
    """True for a province (or 使) + issuing-office code (or a digit, after 使) + 5 or 6 more characters."""
    return len(text) in (7, 8) and (text[0] in PROVINCES or text[0] == "使") and text[1] in OFFICE_CODES + DIGITS


def parse_box(text: str, where: str) -> Box:
    """``"x1,y1,x2,y2"`` -> box; raises :class:`LabelError` naming ``where``."""
    try:
        x1, y1, x2, y2 = (float(v) for v in text.split(","))
    except ValueError:
        raise LabelError(f"{where}: box {text!r} should be x1,y1,x2,y2") from None
    if x2 <= x1 or y2 <= y1:
        raise LabelError(f"{where}: box {text!r} has x2 <= x1 or y2 <= y1")
    return (x1, y1, x2, y2)


def parse_quad(text: str, where: str) -> Quad:
    """``"x,y;x,y;x,y;x,y"`` -> 4 corners; raises :class:`LabelError` naming ``where``."""
    try:
        pts = tuple(tuple(float(v) for v in p.split(",")) for p in text.split(";"))
    except ValueError:
        raise LabelError(f"{where}: vertices {text!r} should be x,y;x,y;x,y;x,y") from None
    if len(pts) != 4 or any(len(p) != 2 for p in pts):
        raise LabelError(f"{where}: vertices {text!r} should be 4 points x,y joined by ';'")
    return pts  # type: ignore[return-value]


def _read_tsv(path: str) -> List[Tuple[int, dict]]:
    with open(path, encoding="utf-8") as fh:
        lines = [(n, line) for n, line in enumerate(fh, 1) if line.strip() and not line.startswith("#")]
    if not lines:
        return []
    reader = csv.DictReader(io.StringIO("".join(line for _, line in lines)), delimiter="\t",
                            quoting=csv.QUOTE_NONE)
    if not reader.fieldnames or "file" not in reader.fieldnames:
        raise LabelError(f"{path}:{lines[0][0]}: the header must name a 'file' column")
    return [(lines[k + 1][0], row) for k, row in enumerate(reader)]


def read_labels(folder: str, use: Optional[str] = None) -> SourceScan:
    """Samples of a folder with ``labels.tsv`` (and optionally ``boxes.tsv``); see the module docstring.

    Args:
        folder: the folder.
        use: keep only rows whose ``use`` column equals this (rows without the column are kept).

    Raises:
        LabelError: the header lacks ``file``/``text``, or a bbox/vertices field is malformed.
        FileNotFoundError: no ``labels.tsv``.
    """
    path = os.path.join(folder, LABELS_FILE)
    rows = _read_tsv(path)
    if rows and "text" not in rows[0][1]:
        raise LabelError(f"{path}: the header must name a 'text' column")
    boxes = {}
    box_path = os.path.join(folder, BOXES_FILE)
    if os.path.isfile(box_path):
        for n, row in _read_tsv(box_path):
            if row.get("box"):
                boxes[row["file"]] = [parse_box(b, f"{box_path}:{n}") for b in row["box"].split(";") if b.strip()]
    scan = SourceScan()
    for n, row in rows:
        where = f"{path}:{n}"
        if use is not None and row.get("use") not in (None, "", use):
            continue
        text = (row.get("text") or "").strip()
        file = os.path.join(folder, row["file"])
        if not text:
            scan.skipped.append((file, f"{where}: no text"))
            continue
        colour = row.get("colour") or None
        layout = row.get("layout") or None
        if colour is not None and colour not in COLOURS:
            colour = None  # "unknown" and the like
        if layout is not None and layout not in LAYOUTS:
            raise LabelError(f"{where}: layout {layout!r} is not one of {LAYOUTS}")
        bbox = parse_box(row["bbox"], where) if row.get("bbox") else None
        vertices = parse_quad(row["vertices"], where) if row.get("vertices") else None
        extra: Tuple[Box, ...] = ()
        if bbox is None and row["file"] in boxes:
            bbox, *rest = boxes[row["file"]]
            extra = tuple(rest)
        scan.samples.append(PlateSample(file, text, colour, layout, bbox, vertices,
                                        row.get("source") or os.path.basename(os.path.normpath(folder)),
                                        row.get("use") or None, row.get("type") or None, extra))
    return scan


def read_named_images(folder: str) -> SourceScan:
    """Samples of a folder of CCPD-named images and/or crops named by their text (recursive)."""
    scan = SourceScan()
    for p in list_images(folder):
        try:
            rec = parse_name(p)
        except CCPDNameError as e:
            text = os.path.splitext(os.path.basename(p))[0].split("_")[0]
            if looks_like_plate_text(text):
                scan.samples.append(PlateSample(p, text, None, None, source="crops"))
            else:
                scan.skipped.append((p, f"neither a CCPD name ({e}) nor a plate text"))
            continue
        scan.samples.append(PlateSample(p, rec.text, "green" if rec.is_green else "blue", "single",
                                        tuple(float(v) for v in rec.bbox),
                                        tuple((float(x), float(y)) for x, y in rec.corners), "ccpd"))
    return scan


def read_source(folder: str | os.PathLike, use: Optional[str] = None) -> SourceScan:
    """Samples of any source folder (format detected; see the module docstring).

    Raises:
        FileNotFoundError: ``folder`` is not a folder.
        LabelError: a malformed labels file.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: not a folder")
    if os.path.isfile(os.path.join(folder, LABELS_FILE)):
        return read_labels(folder, use)
    return read_named_images(folder)


def read_sources(folders: Iterable[str | os.PathLike], use: Optional[str] = None) -> SourceScan:
    """:func:`read_source` of each folder, joined."""
    out = SourceScan()
    for f in folders:
        part = read_source(f, use)
        out.samples += part.samples
        out.skipped += part.skipped
    return out


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def format_row(sample: PlateSample, folder: str) -> List[str]:
    """The :data:`LABEL_COLUMNS` fields of ``sample`` with its path relative to ``folder``."""
    return [os.path.relpath(sample.path, folder).replace(os.sep, "/"), sample.text, sample.colour or "",
            sample.layout or "", sample.plate_type or "",
            ",".join(_fmt(v) for v in sample.bbox) if sample.bbox else "",
            ";".join(f"{_fmt(x)},{_fmt(y)}" for x, y in sample.vertices) if sample.vertices else "",
            sample.source, sample.use or ""]


def write_labels(folder: str, samples: Sequence[PlateSample]) -> str:
    """Write ``folder/labels.tsv`` (atomically) for samples whose images lie under ``folder``; returns its path."""
    path = os.path.join(folder, LABELS_FILE)
    with atomic_write(path, "w") as fh:
        fh.write("\t".join(LABEL_COLUMNS) + "\n")
        for s in samples:
            fh.write("\t".join(format_row(s, folder)) + "\n")
    return path
