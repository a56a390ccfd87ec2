"""Deprecation aliases: old public names that still work, with a ``DeprecationWarning``.

:data:`RENAMES` is the one list of public names that were renamed or moved (CHANGELOG.md repeats
it for users). A module that lost a name resolves it through :func:`moved_names` (its module-level
``__getattr__``, PEP 562); a class that renamed a method keeps the old one as :func:`renamed_method`.
The aliases go in a later major release.
"""
from __future__ import annotations

import warnings
from importlib import import_module
from typing import Callable, Dict, Tuple

#: ``old module:old name -> new module:new name``, one a line (the renames of 0.17.0).
RENAMES = """
MTCNN.detector:PlateDetector -> MTCNN.detector:TorchDetector
MTCNN.onnx_detector:OnnxPlateDetector -> MTCNN.onnx_detector:OnnxDetector
LPRNet.reading:CropReader -> LPRNet.reading:Recognizer
LPRNet.reading:PlateReading -> LPRNet.reading:Recognition
LPRNet.recognizer:RecognitionPredictor -> LPRNet.recognizer:TorchRecognizer
LPRNet.recognizer:PlateRecognizer -> LPRNet.recognizer:RecognizerNet
LPRNet.onnx_recognizer:OnnxRecognitionPredictor -> LPRNet.onnx_recognizer:OnnxRecognizer
lpr.pipeline:add_read_filter_arguments -> lpr.options:add_reading_arguments
lpr.pipeline:add_backend_argument -> lpr.options:add_backend_argument
lprcore.report:nonnegative_int -> lprcore.cli:nonnegative_int
lprcore.report:positive_int -> lprcore.cli:positive_int
lprcore.report:positive_float -> lprcore.cli:positive_float
lprcore.report:nonnegative_float -> lprcore.cli:nonnegative_float
lprcore.report:probability -> lprcore.cli:probability
lprcore.report:add_runtime_args -> lprcore.cli:add_runtime_args
lprcore.report:setup_runtime -> lprcore.cli:setup_runtime
lprcore.engine:output_dir -> lprcore.cli:output_dir
lprcore.engine:add_training_args -> lprcore.cli:add_training_args
"""


def renames() -> Dict[Tuple[str, str], Tuple[str, str]]:
    """:data:`RENAMES` as ``{(old module, old name): (new module, new name)}``."""
    out = {}
    for line in RENAMES.strip().splitlines():
        old, new = (part.strip().split(":") for part in line.split("->"))
        out[tuple(old)] = tuple(new)
    return out


def moved_names(module: str) -> Callable[[str], object]:
    """A module ``__getattr__`` that resolves the old names :data:`RENAMES` gives ``module``.

    Args:
        module: the ``__name__`` of the module that had the old names.

    Returns:
        ``__getattr__(name)``: the new object for an old name (``DeprecationWarning`` naming the
        new place); ``AttributeError`` for any other name.
    """
    names = {old: new for (mod, old), new in renames().items() if mod == module}

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target_module, target = names[name]
        warnings.warn(f"{module}.{name} is deprecated: use {target_module}.{target}", DeprecationWarning,
                      stacklevel=2)
        return getattr(import_module(target_module), target)

    return __getattr__


def renamed_method(old: str, new: str) -> Callable:
    """A method ``old`` that calls the method ``new`` of the same object, with a ``DeprecationWarning``."""

    def method(self, *args, **kwargs):
        warnings.warn(f"{type(self).__name__}.{old} is deprecated: use {type(self).__name__}.{new}",
                      DeprecationWarning, stacklevel=2)
        return getattr(self, new)(*args, **kwargs)

    method.__name__ = old
    method.__doc__ = f"Deprecated alias of :meth:`{new}`."
    return method
