"""The base layer of the toolkit: what every stage uses and nothing specific to plates or CCPD.

Modules: :mod:`lprcore.files` (atomic writes, SHA-256), :mod:`lprcore.imageio` (finding, reading and
writing images), :mod:`lprcore.parallel` (a parallel map with a progress bar), :mod:`lprcore.fonts`
(a CJK font), :mod:`lprcore.augment` (photometric augmentation), :mod:`lprcore.engine` (the one
training engine), :mod:`lprcore.weights` (safe, checked weight loading), :mod:`lprcore.manifest`
(``args.json`` and ``MANIFEST.json``), :mod:`lprcore.report` (benchmark tables and options).

This package imports no other package of the project. The layers above it::

    lprcore  <-  ccpd (data set formats)  <-  MTCNN, LPRNet (the two stages)  <-  lpr (the application)

Conventions, the same in every package:

* **Images** are ``ndarray[H, W, 3]`` uint8 in **BGR** order, as OpenCV reads them. A net that wants
  another order converts inside the one function of its module that makes its input tensor
  (``MTCNN.cascade.images_to_array``, ``LPRNet.inputs.crops_to_array``; their torch forms
  ``MTCNN.nets.images_to_input``, ``LPRNet.model.crops_to_input``).
* **Sizes** are ``(height, width)`` in pixels, the order of NumPy shapes and ``Tensor[N, C, H, W]``,
  everywhere: in code, in options (``--min-plate-size H W``) and in tables. Only calls into OpenCV
  (``cv2.resize``, ``cv2.warpPerspective``), which take ``(width, height)``, flip them.
* **Boxes** are ``(x1, y1, x2, y2)`` float pixels, continuous coordinates (width ``x2 - x1``);
  points are ``(x, y)``; plate corners run clockwise from the top-left (TL, TR, BR, BL) except in
  CCPD file names, whose order :mod:`ccpd.annotations` converts.
"""
