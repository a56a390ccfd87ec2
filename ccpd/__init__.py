"""CCPD data layer: file-name annotations, subsets and splits, image reading, synthetic CCPD.

This package imports nothing else of the project; ``MTCNN``, ``LPRNet`` and ``lpr`` build on it.
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
