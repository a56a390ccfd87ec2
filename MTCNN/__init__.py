"""Plate detection: a PNet/ONet cascade (MTCNN adapted to plates)."""
from MTCNN.boxes import box_iou, nms
from MTCNN.detector import DetectorConfig, PlateDetector
from MTCNN.nets import ONET_INPUT, PNET_CELL, PNET_STRIDE, ONet, PNet

__all__ = ["box_iou", "nms", "DetectorConfig", "PlateDetector", "ONET_INPUT", "PNET_CELL",
           "PNET_STRIDE", "ONet", "PNet"]
