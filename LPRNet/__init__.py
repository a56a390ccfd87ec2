"""Plate recognition: STN rectification + LPRNet + greedy CTC decoding.

This package imports only :mod:`lprcore` and :mod:`ccpd`, never :mod:`MTCNN`.
"""
from LPRNet.chars import BLANK, CHARS, NUM_CLASSES
from LPRNet.model import INPUT_SIZE, TIME_STEPS, LPRNet
from LPRNet.stn import STNet

__all__ = ["BLANK", "CHARS", "NUM_CLASSES", "INPUT_SIZE", "TIME_STEPS", "LPRNet", "STNet"]
