"""Plate recognition: STN rectification + LPRNet + greedy CTC decoding.

* :mod:`LPRNet.inputs` (input contract), :mod:`LPRNet.crops` (cutting plates), :mod:`LPRNet.ctc`
  (decoding), :mod:`LPRNet.reading` (the reading steps around any backend): no torch;
* :mod:`LPRNet.model`, :mod:`LPRNet.stn`, :mod:`LPRNet.attributes` (nets) and
  :mod:`LPRNet.recognizer` (:class:`~LPRNet.recognizer.TorchRecognizer` on torch);
  :mod:`LPRNet.onnx_recognizer`: the same on ONNX Runtime, without torch.

This package imports only :mod:`lprcore` and :mod:`ccpd`, never :mod:`MTCNN`. Importing it imports
no torch; the names below load their module on first use.
"""
from importlib import import_module

_LAZY = {"BLANK": "LPRNet.chars", "CHARS": "LPRNet.chars", "NUM_CLASSES": "LPRNet.chars",
         "INPUT_SIZE": "LPRNet.inputs", "TIME_STEPS": "LPRNet.inputs", "LPRNet": "LPRNet.model",
         "STNet": "LPRNet.stn", "Recognizer": "LPRNet.reading", "TorchRecognizer": "LPRNet.recognizer",
         "OnnxRecognizer": "LPRNet.onnx_recognizer"}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'LPRNet' has no attribute {name!r}")
