"""Shared infrastructure of the toolkit (weight loading, training engine) and the joining of the stages.

``lpr.weights`` and ``lpr.engine`` import no other package of the project, so ``MTCNN`` and ``LPRNet``
can use them; ``lpr.pipeline`` (the detector + recognizer join behind ``main.py``) imports both.
"""
