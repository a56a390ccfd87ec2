"""The application: the two stages joined into a plate reader, the command line, drawing, and the
end-to-end benchmark.

* :mod:`lpr.pipeline`: :class:`~lpr.pipeline.PlateReader` and ``read_plates`` (the Python API);
* :mod:`lpr.cli`: the command line (``python -m lpr``, ``python main.py``, ``lpr-read``);
* :mod:`lpr.draw`: annotated images; :mod:`lpr.evaluate`: end-to-end accuracy per CCPD subset.

This is the top layer: it imports :mod:`MTCNN`, :mod:`LPRNet`, :mod:`ccpd` and :mod:`lprcore`, and
nothing imports it (see ARCHITECTURE.md).
"""
