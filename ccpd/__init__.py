"""CCPD data set formats: file-name annotations, subsets and splits, plate types, label sources.

This package imports only the base layer :mod:`lprcore`; ``MTCNN``, ``LPRNet``, ``platesynth`` and ``lpr`` build on it.
"""
from ccpd.annotations import (
    ADS,
    ALPHABETS,
    PROVINCES,
    CCPDNameError,
    CCPDRecord,
    format_name,
    parse_name,
    parse_path,
)

__all__ = [
    "ADS",
    "ALPHABETS",
    "PROVINCES",
    "CCPDNameError",
    "CCPDRecord",
    "format_name",
    "parse_name",
    "parse_path",
]
