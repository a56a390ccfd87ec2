"""ONNX Runtime sessions, loaded like weights: the file checked against its folder's MANIFEST.json
SHA-256, every error naming the file. Imports no torch (and imports ``onnxruntime`` only when a
session is made).
"""
from __future__ import annotations

import importlib.util
import os
from typing import List, Sequence

import numpy as np

from lprcore.manifest import WeightsError, check_weight_file, short_message


def onnxruntime_available() -> bool:
    """Whether ``onnxruntime`` is installed (found without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def check_threads(threads: int) -> int:
    """``threads``, the CPU threads asked of a backend (ONNX Runtime or torch; 0: the backend's own
    choice), when it is in [0, ``os.cpu_count()``]: more threads than CPUs only contend (and 100,000
    took minutes and gigabytes to start).

    Raises:
        ValueError: ``threads`` is negative, not an integer, or more than the machine's CPUs (the
            message gives the limit).
    """
    limit = os.cpu_count() or 1
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 0 <= threads <= limit:
        raise ValueError(f"threads must be an integer in [0, {limit}] (0: the backend's default; {limit}: "
                         f"the CPUs of this machine, os.cpu_count()), got {threads!r}")
    return int(threads)


class OnnxNet:
    """One ONNX model on ONNX Runtime's CPU provider, called like a net: arrays in, arrays out.

    Args:
        path: the ``.onnx`` file.
        what: the net's name for messages, e.g. ``"ONet"``.
        threads: intra-op threads, 0 to ``os.cpu_count()`` (0: ONNX Runtime's default, one per core;
            :func:`check_threads`).
        varying_shapes: the input's height and width change from call to call (PNet over an image
            pyramid): ONNX Runtime's memory arena and memory patterns are turned off, which would
            otherwise keep the largest input's buffers for good (hundreds of MB after a large photo).
        sources: the torch weight files beside ``path`` it was exported from (e.g. ``("pnet.pth",)``):
            checked with it, so that a stale or mismatched export is refused
            (:func:`lprcore.manifest.check_weight_file`).

    Attributes:
        input_names, output_names: the graph's input and output names.

    Raises:
        ValueError: ``threads`` out of range (:func:`check_threads`).
        WeightsError: ``onnxruntime`` is not installed, or the file is missing, empty, differs from
            its manifest's SHA-256, is not the export of the ``sources`` beside it, or is not a valid
            ONNX model; the message names the file.
    """

    def __init__(self, path: str | os.PathLike, what: str, threads: int = 0, varying_shapes: bool = False,
                 sources: Sequence[str] = ()):
        threads = check_threads(threads)
        path = check_weight_file(path, sources)
        try:
            import onnxruntime as ort
        except ImportError:
            raise WeightsError(f"{what} {path}: the ONNX backend needs onnxruntime "
                               "(pip install onnxruntime, or use the torch backend)") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # idle threads sleep instead of spinning: the pipeline runs 4 sessions one after the other,
        # and a session's spinning threads took the cores from the next one (2x slower end to end)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if varying_shapes:
            options.enable_cpu_mem_arena = False
            options.enable_mem_pattern = False
        try:
            self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as e:  # invalid protobuf, unsupported opset ...
            raise WeightsError(f"{what} {path} could not be loaded by ONNX Runtime: {short_message(e)}") from None
        self.path, self.what = path, what
        self.input_names: List[str] = [i.name for i in self.session.get_inputs()]
        self.output_names: List[str] = [o.name for o in self.session.get_outputs()]

    def __call__(self, *arrays: np.ndarray) -> Sequence[np.ndarray]:
        """Run the model on float32 inputs (in the graph's input order); returns its outputs."""
        feed = {name: np.ascontiguousarray(a, np.float32) for name, a in zip(self.input_names, arrays)}
        return self.session.run(None, feed)
