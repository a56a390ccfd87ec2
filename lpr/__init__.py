"""The application: the two stages joined into a plate reader, the command line, drawing, and the
end-to-end benchmark.

* :mod:`lpr.pipeline`: :class:`~lpr.pipeline.PlateReader` and ``read_plates`` (the Python API);
  :mod:`lpr.config`: its configuration, :class:`~lpr.config.ReaderConfig`;
* :mod:`lpr.cli`: the command line (``python -m lpr``, ``python main.py``, ``lpr-read``), with its
  options in :mod:`lpr.options`;
* :mod:`lpr.draw`: annotated images; :mod:`lpr.evaluate`: end-to-end accuracy per CCPD subset.

This is the top layer: it imports :mod:`MTCNN`, :mod:`LPRNet`, :mod:`ccpd` and :mod:`lprcore`, and
nothing imports it (see ARCHITECTURE.md).
"""
from lpr.config import ReaderConfig, ReadingOptions
from lpr.draw import draw_plates
from lpr.pipeline import Plate, PlateReader, read_plates
from MTCNN.cascade import DetectorConfig

__all__ = ["PlateReader", "ReaderConfig", "ReadingOptions", "DetectorConfig", "Plate", "read_plates", "draw_plates"]
