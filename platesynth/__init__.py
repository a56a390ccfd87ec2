"""Synthetic plates of every common Chinese type, and synthetic scenes made with them: the project's one generator.

* :mod:`platesynth.render`: front-on plates from glyph and template images (GA 36-2018 layout);
* :mod:`platesynth.camera`: camera and scene effects (perspective, blur, noise, exposure, night ...);
* :mod:`platesynth.generate`: plate crops and composited scenes with labels, ``python -m platesynth``;
* :mod:`platesynth.ccpd_scenes`: synthetic CCPD, scenes saved under CCPD names (``python -m platesynth ccpd``);
* :mod:`platesynth.sheet`: a contact sheet of synthetic plates beside real crops.

This package imports :mod:`lprcore` and :mod:`ccpd` only (the plate standard is :mod:`ccpd.plates`).
"""
