"""The record of one read image: what ``python -m lpr`` writes as a JSON line and what
``python -m lpr serve`` answers, built in one place.

* a read image: ``{"image": NAME, "plates": [Plate.to_json(), ...], "ms": T}`` (a video frame adds
  ``"frame": K`` after ``"image"``); ``T`` is the reading time in milliseconds, 0.1 ms steps,
  decoding not included;
* an image that could not be read: ``{"image": NAME, "error": MESSAGE}``.

``NAME`` is the command line's path, or the service's uploaded file name (``"body"`` for a photo
sent as the raw request body).
"""
from __future__ import annotations

import time
from typing import List, Optional, Sequence, Tuple

import numpy as np

from lpr.pipeline import Plate, PlateReader


def plates_record(name: str, plates: Sequence[Plate], ms: float, frame: Optional[int] = None) -> dict:
    """The record of an image read: ``{"image": name[, "frame": frame], "plates": [...], "ms": ms}``
    with each plate's :meth:`lpr.pipeline.Plate.to_json` and ``ms`` (milliseconds) rounded to 0.1."""
    return {"image": name, **({"frame": frame} if frame is not None else {}),
            "plates": [p.to_json() for p in plates], "ms": round(ms, 1)}


def error_record(name: str, error: str) -> dict:
    """The record of an input that could not be read: ``{"image": name, "error": error}``."""
    return {"image": name, "error": error}


def read_record(reader: PlateReader, image: np.ndarray, name: str, factor: int = 1,
                frame: Optional[int] = None) -> Tuple[dict, List[Plate]]:
    """Read one image with ``reader`` and make its record (:func:`plates_record`), timed.

    Args:
        reader: the plate reader (its ``config.reading`` decides which reads are kept).
        image: ``ndarray[H, W, 3]`` uint8, BGR, decoded at ``1 / factor`` of the photo's size
            (:func:`lpr.pipeline.decode_photo`, :func:`lpr.pipeline.decode_photo_bytes`).
        name: the record's ``"image"``.
        factor: the decode reduction (1: full size); boxes and corners come in the full photo's pixels
            (:meth:`lpr.pipeline.PlateReader.read_reduced`).
        frame: a video frame's index, or ``None``.

    Returns:
        ``(record, plates)``: the JSON-ready record and the :class:`lpr.pipeline.Plate` list (to draw).

    Raises:
        ValueError: ``image`` is not a BGR uint8 array, or ``factor`` not a positive integer.
        lprcore.imageio.ImageTooLargeError: the image is too large for the detector's pyramid limit.
    """
    t0 = time.perf_counter()
    plates = reader.read_reduced(image, factor)
    return plates_record(name, plates, (time.perf_counter() - t0) * 1000, frame), plates
