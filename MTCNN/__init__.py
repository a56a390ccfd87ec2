"""Plate detection: a PNet/ONet cascade (MTCNN adapted to plates).

* :mod:`MTCNN.cascade`: the cascade as NumPy functions and :class:`~MTCNN.cascade.DetectorConfig`
  (no torch);
* :mod:`MTCNN.nets`: PNet and ONet (torch); :mod:`MTCNN.detector`: :class:`~MTCNN.detector.TorchDetector`
  on torch; :mod:`MTCNN.onnx_detector`: the same on ONNX Runtime, without torch;
* :mod:`MTCNN.prepare`, :mod:`MTCNN.train`, :mod:`MTCNN.evaluate`: the scripts.

Importing this package imports no torch; the names below load their module on first use.
"""
from importlib import import_module

_LAZY = {"box_iou": "MTCNN.boxes", "nms": "MTCNN.boxes", "DetectorConfig": "MTCNN.cascade",
         "ONET_INPUT": "MTCNN.cascade", "PNET_CELL": "MTCNN.cascade", "PNET_STRIDE": "MTCNN.cascade",
         "Detector": "MTCNN.cascade", "TorchDetector": "MTCNN.detector", "OnnxDetector": "MTCNN.onnx_detector", "ONet": "MTCNN.nets", "PNet": "MTCNN.nets"}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'MTCNN' has no attribute {name!r}")
