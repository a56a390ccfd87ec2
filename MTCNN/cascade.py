"""The PNet -> ONet cascade as plain NumPy functions (MTCNN, Zhang et al. 2016, arXiv:1604.02878,
Sec. 2.1), whatever runs the nets: torch (:mod:`MTCNN.detector`) or ONNX Runtime
(:mod:`MTCNN.onnx_detector`). This module imports no torch.

Data flow: BGR image -> image pyramid -> PNet on every scale -> per-scale NMS -> NMS across scales ->
bbox regression -> clip -> 24x94 crops -> ONet re-scoring, bbox regression and (with its vertex
branch) the plate's 4 corners -> clip -> NMS -> check and refinement of the few boxes left: ONet once more on
each, kept if still a plate, box regressed again, corners averaged over several views, NMS
(:func:`refine_stage`).

**Input contract of both nets** (stated here only): ``float32[N, 3, H, W]``, channels in **RGB**
order (the original project trained on RGB), values ``(x - 127.5) * 0.0078125`` (about [-1, 1]);
:func:`images_to_array` is the one function that makes it from BGR uint8 images. PNet takes any
``H >= 12, W >= 47``; ONet takes ``24 x 94``. Both return logits (no softmax), see
:mod:`MTCNN.nets`. A net is given to the stage functions as a callable from that array to the
net's outputs as NumPy arrays (:data:`NetFn`).

This module is the one home of the PNet cell size and stride, the ONet input size, the cascade's
thresholds (:class:`DetectorConfig`) and the names of the shipped weight files.
"""
from __future__ import annotations

import copy
import logging
import ctypes
import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from lprcore.compat import renamed_method
from lprcore.imageio import ImageTooLargeError
from lprcore.manifest import ManifestError, read_manifest
from lprcore.report import add_time
from MTCNN.boxes import (NmsMode, calibrate_boxes, clip_boxes, nms, plausible_corners, quad_size, remove_small_boxes,
                         vertices_to_corners)

log = logging.getLogger(__name__)

#: Cells of PNet's output step by this many pixels (height, width) of its input: the pooling stride.
PNET_STRIDE: Tuple[int, int] = (2, 5)
#: Receptive field of one PNet output cell, (height, width) pixels: PNet trains on crops of this size.
PNET_CELL: Tuple[int, int] = (12, 47)
#: ONet input size, (height, width) pixels.
ONET_INPUT: Tuple[int, int] = (24, 94)
#: (width, height) factors about a final box's centre at which ONet looks again (:func:`refine_stage`);
#: the views' corners are averaged, the first (the box) also re-scores it.
#: Measured: docs/tuning.md#refine_views
REFINE_VIEWS: Tuple[Tuple[float, float], ...] = (
    (1.0, 1.0), (0.95, 0.95), (1.1, 1.1), (1.2, 1.2), (1.05, 1.15), (1.1, 1.3), (1.2, 1.5))
#: VNet input size (height, width) pixels: the plate rectified through its corners spans about
#: 102 x 24 of it, the recognizer's scale. Measured: docs/tuning.md#vnet_input
VNET_INPUT: Tuple[int, int] = (40, 128)
#: Where :func:`rectify_quads` puts the corners in VNet's crop (``[mx, 1 - mx] x [my, 1 - my]``): room
#: for corners off by up to 12 % of the plate's width, 33 % of its height. Measured: docs/tuning.md#vnet_frame
VNET_FRAME: Tuple[float, float] = (0.1, 0.2)
#: A plate larger than this many times its size in VNet's crop (along an image axis) is first
#: area-averaged down, so the linear warp does not alias (:func:`preshrink_factors`). Measured: docs/tuning.md#vnet_max_downscale
VNET_MAX_DOWNSCALE = 1.5
#: Scaling of the input: ``(x - INPUT_MEAN) * INPUT_SCALE``.
INPUT_MEAN, INPUT_SCALE = 127.5, 0.0078125

#: Folder of the weights that ship with the package: torch state dicts and their ONNX exports
#: (``python -m lpr.export``).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
PNET_WEIGHTS, ONET_WEIGHTS = "pnet.pth", "onet.pth"
PNET_ONNX, ONET_ONNX = "pnet.onnx", "onet.onnx"
#: The vertex net is optional: a weights folder without it gives ONet's corners.
VNET_WEIGHTS, VNET_ONNX = "vnet.pth", "vnet.onnx"
#: How VNet's outputs map to its crop (:func:`crop_fractions_to_pixels`: the frame centred), recorded
#: as ``frame`` in the MANIFEST.json entries of the VNet weights that ``MTCNN.train`` and ``lpr.export``
#: write; weights without it were trained with the frame half a pixel off (:func:`warn_old_vnet_frame`).
VNET_FRAME_CONVENTION = "centred"

#: A net as the stage functions call it: ``float32[N, 3, H, W]`` (:func:`images_to_array`) -> its
#: outputs as NumPy arrays (PNet: logits ``[N, 2, h, w]``, offsets ``[N, 4, h, w]``; ONet: logits
#: ``[N, 2]``, offsets ``[N, 4]`` and, with the vertex branch, corners ``[N, 8]``; VNet: corners
#: ``[N, 8]``).
NetFn = Callable[[np.ndarray], Sequence[np.ndarray]]


def images_to_array(images: np.ndarray) -> np.ndarray:
    """BGR uint8 images -> the PNet/ONet input (RGB, scaled; see the module docstring).

    Args:
        images: ``ndarray[N, H, W, 3]`` or ``[H, W, 3]`` uint8, **BGR** (as ``cv2.imread`` gives).

    Returns:
        ``ndarray[N, 3, H, W]`` float32, RGB, ``(x - 127.5) * 0.0078125`` (about [-1, 1]).

    Raises:
        ValueError: ``images`` is not uint8 with 3 channels last.
    """
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 BGR images [N, H, W, 3], got {images.dtype} {images.shape}")
    # OpenCV's blob: BGR -> RGB, (x - mean) * scale, NCHW float32 in one pass (exact: the scale is 2^-7)
    return cv2.dnn.blobFromImages(list(images), scalefactor=INPUT_SCALE, mean=(INPUT_MEAN,) * 3, swapRB=True)


def softmax_plate(logits: np.ndarray) -> np.ndarray:
    """Plate probability from 2-class logits along axis 1 (index 1 = plate), float32."""
    logits = np.asarray(logits, np.float32)
    return 1.0 / (1.0 + np.exp(logits[:, 0] - logits[:, 1]))


#: Smallest ``min_plate_size`` (height, width) accepted: half a PNet cell, so the first pyramid scale
#: enlarges an image at most 2x (a smaller plate has no legible characters; ``(1, 1)`` would enlarge
#: a photo 47x and need tens of GB).
MIN_PLATE_FLOOR: Tuple[int, int] = (PNET_CELL[0] // 2, (PNET_CELL[1] + 1) // 2)
#: Peak bytes PNet needs per pixel of its input (float32 input, conv1 output and its PReLU), for
#: :func:`pyramid_bytes`: ONNX Runtime's, the larger backend's. Measured: docs/tuning.md#pnet_bytes_per_pixel
PNET_BYTES_PER_PIXEL = 120
#: Bytes per pixel of a BGR uint8 image: the image searched and the one more of its size that
#: :func:`pyramid_bytes` counts (a retry's warped copy of a photo).
IMAGE_BYTES_PER_PIXEL = 3
#: Largest ``scale_factor``: the pyramid's levels, and PNet's time (the sum of their areas,
#: ``1 / (1 - factor**2)`` times the first's), grow without bound as it nears 1; 0.95 has about
#: 7 times the levels and 5 times the PNet time of the default 0.709 (0.99: 25 times the time;
#: 0.999999, 2.5 million levels, never ended).
MAX_SCALE_FACTOR = 0.95


@dataclass
class DetectorConfig:
    """Thresholds of the cascade.

    Defaults find plates 16 pixels high and 60 wide and larger; a smaller ``min_plate_size`` finds
    smaller plates at a cost that grows with the square of the first pyramid scale ((12, 40) costs
    about 2.5x the PNet time of (16, 60) on a 1160x720 (height x width) photo).

    Attributes:
        min_plate_size: (height, width) in pixels of the smallest plate to find; sets the first
            pyramid scale so such a plate covers one 12x47 PNet cell.
        scale_factor: ratio between pyramid scales, in (0, :data:`MAX_SCALE_FACTOR`] (0.95): closer
            to 1, more levels and more time, without bound.
        pnet_threshold: plate probability for a PNet cell to become a proposal.
        pnet_scale_nms: IoU above which proposals of one pyramid scale are merged.
        pnet_nms: IoU above which proposals are merged across scales.
        pnet_pre_nms: at most this many cells (highest scores) per scale go into NMS, which
            bounds the time spent on an image where PNet fires everywhere.
        max_proposals: at most this many PNet proposals (highest score) go to ONet, whose time
            grows with their number; raise it for photos of many plates (measured:
            docs/tuning.md#max_proposals).
        onet_threshold: plate probability for ONet to keep a box.
        onet_nms: overlap above which final boxes are merged.
        onet_nms_mode: ``"union"`` (IoU) or ``"min"`` (intersection over the smaller box).
        refine: run :func:`refine_stage` on the final boxes (2 more small ONet batches: a box is
            kept only when ONet still finds a plate there, and its box and corners are refined);
            off, boxes and corners are those of the proposals' pass.
        refine_threshold: mean plate probability of :func:`refine_stage`'s two looks to keep a box.
        vertex_rounds: rounds of corner refinement by VNet (:func:`vertex_stage`) after ONet, when
            the weights folder has VNet; 0 keeps ONet's corners (measured: docs/tuning.md#vertex_rounds).
        max_pyramid_mb: largest memory, in MiB, searching an image may need (:func:`pyramid_bytes`:
            the image, a retry's warped copy of it and PNet on the largest pyramid level); a larger
            image is refused with :class:`lprcore.imageio.ImageTooLargeError` before any is
            allocated. A 12-megapixel photo needs about 96 MiB with the default ``max_level_side``
            (0.9 GiB at full resolution); a 50-megapixel one about 315 MiB (3.8 GiB at full
            resolution, within the default 4096).
        max_level_side: the longest side, in pixels, of the largest image-pyramid level searched:
            larger levels are left out, so a photo of any size costs about the same, and plates
            narrower than about ``47 / max_level_side`` of the photo's longest side (7 % at 640) are
            not searched for (:func:`smallest_plate`); the plates are still cut and read from the
            full-resolution photo. 0: search at full resolution (from ``min_plate_size``; the time
            grows with the photo's pixels). Measured: docs/tuning.md#max_level_side
    """

    min_plate_size: Tuple[int, int] = (16, 60)
    scale_factor: float = 0.709
    pnet_threshold: float = 0.7
    pnet_scale_nms: float = 0.5
    pnet_nms: float = 0.6
    pnet_pre_nms: int = 2000
    max_proposals: int = 60
    onet_threshold: float = 0.8
    onet_nms: float = 0.5
    onet_nms_mode: NmsMode = "min"
    refine: bool = True
    refine_threshold: float = 0.5
    vertex_rounds: int = 1
    max_pyramid_mb: int = 4096
    max_level_side: int = 640

    def __post_init__(self):
        h, w = self.min_plate_size
        if h <= 0 or w <= 0:
            raise ValueError(f"min_plate_size must be positive (height, width), got {self.min_plate_size}")
        if h > w:
            raise ValueError(f"min_plate_size is (height, width) and plates are wider than high; got "
                             f"{tuple(self.min_plate_size)}: did you mean {tuple(self.min_plate_size)[::-1]}?")
        if h < MIN_PLATE_FLOOR[0] or w < MIN_PLATE_FLOOR[1]:
            raise ValueError(f"min_plate_size {tuple(self.min_plate_size)} is below the floor "
                             f"{MIN_PLATE_FLOOR} (height, width): smaller plates are not legible, and the "
                             "image pyramid would enlarge the image many times")
        if not 0.0 < self.scale_factor <= MAX_SCALE_FACTOR:
            raise ValueError(f"scale_factor must be in (0, {MAX_SCALE_FACTOR}], got {self.scale_factor} (closer to 1, "
                             "the image pyramid has ever more levels)")
        for name in ("pnet_threshold", "pnet_scale_nms", "pnet_nms", "onet_threshold", "onet_nms", "refine_threshold"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if self.max_level_side != 0 and self.max_level_side < max(PNET_CELL):
            raise ValueError(f"max_level_side must be 0 (full resolution) or at least {max(PNET_CELL)} (one PNet "
                             f"cell), got {self.max_level_side}")
        for name in ("pnet_pre_nms", "max_proposals", "max_pyramid_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.vertex_rounds <= 5:
            raise ValueError(f"vertex_rounds must be in [0, 5], got {self.vertex_rounds}")
        if self.onet_nms_mode not in ("union", "min"):
            raise ValueError(f"onet_nms_mode must be 'union' or 'min', got {self.onet_nms_mode!r}")


def pyramid_scales(size: Tuple[int, int], min_plate_size: Tuple[int, int], factor: float,
                   max_side: int = 0) -> List[float]:
    """Scales of the image pyramid for an image of ``size = (height, width)`` pixels.

    The first scale maps a ``min_plate_size = (height, width)`` plate onto one PNet cell; each next
    scale is ``factor`` times smaller, down to where the image no longer holds one cell. With
    ``max_side`` > 0, the levels whose longest side would exceed it are left out (the rest of the
    grid is unchanged): the search costs about the same however large the photo, and its smallest
    plate grows with the photo (:func:`smallest_plate`).

    Raises:
        ValueError: ``factor`` is not in (0, :data:`MAX_SCALE_FACTOR`] (closer to 1 the levels grow
            without bound; 1 would never end).
    """
    if not 0.0 < factor <= MAX_SCALE_FACTOR:
        raise ValueError(f"scale_factor must be in (0, {MAX_SCALE_FACTOR}], got {factor}")
    h, w = size
    cell_h, cell_w = PNET_CELL
    scale = max(cell_h / min_plate_size[0], cell_w / min_plate_size[1])
    scales = []
    while h * scale >= cell_h and w * scale >= cell_w:
        if not max_side or max(h, w) * scale <= max_side:
            scales.append(scale)
        scale *= factor
    return scales


def smallest_plate(size: Tuple[int, int], config: DetectorConfig) -> Tuple[float, float]:
    """The smallest plate, (height, width) in pixels, the detector searches for in an image of
    ``size = (height, width)``: a PNet cell at the largest pyramid level it searches; at least
    ``config.min_plate_size``, larger when ``config.max_level_side`` leaves the large levels out.
    ``(inf, inf)`` when the image holds no PNet cell."""
    scales = pyramid_scales(size, config.min_plate_size, config.scale_factor, config.max_level_side)
    if not scales:
        return float("inf"), float("inf")
    return PNET_CELL[0] / scales[0], PNET_CELL[1] / scales[0]


#: Decode reductions :func:`decode_reduction` chooses from, largest first: JPEG's DCT scaling
#: (OpenCV's ``IMREAD_REDUCED_COLOR_8/4/2``), which decodes a large photo in a fraction of the time.
DECODE_REDUCTIONS: Tuple[int, ...] = (8, 4, 2)
#: Width in pixels the smallest plate searched for keeps in a reduced decode: the plate's span in
#: VNet's view (:data:`VNET_INPUT` inside :data:`VNET_FRAME`, 102 pixels), the widest view of a plate
#: any net takes (ONet and LPRNet take 94), so no net enlarges a plate the full photo had sharper.
#: Measured: docs/tuning.md#decode_reductions
PLATE_VIEW_WIDTH: float = VNET_INPUT[1] * (1.0 - 2.0 * VNET_FRAME[0])


def decode_reduction(size: Tuple[int, int], config: DetectorConfig) -> int:
    """The largest factor r of :data:`DECODE_REDUCTIONS` (else 1) by which a photo of
    ``size = (height, width)`` pixels may be decoded smaller and searched on the same pyramid grid
    (:func:`reduced_config`): the smallest plate searched for (:func:`smallest_plate`) is still at
    least :data:`PLATE_VIEW_WIDTH` pixels wide at 1/r size. Always 1 at full-resolution search
    (``config.max_level_side == 0``), where the smallest plate is ``config.min_plate_size``."""
    if not config.max_level_side:
        return 1
    width = smallest_plate(size, config)[1]
    return next((r for r in DECODE_REDUCTIONS if width / r >= PLATE_VIEW_WIDTH), 1)


def reduced_config(config: DetectorConfig, factor: int) -> DetectorConfig:
    """A copy of ``config`` for a photo decoded at ``1 / factor`` of its size: ``min_plate_size``
    divided by ``factor``, so the pyramid's levels are the photo's own (same sizes, same smallest
    plate) and only their source is the smaller image. Not checked against :data:`MIN_PLATE_FLOOR`,
    which bounds how far a pyramid enlarges a photo: this one enlarges nothing the full photo's would not.

    Raises:
        ValueError: ``factor`` is not a positive integer.
    """
    if int(factor) != factor or factor < 1:
        raise ValueError(f"decode reduction must be a positive integer, got {factor}")
    out = copy.copy(config)
    out.min_plate_size = (config.min_plate_size[0] / factor, config.min_plate_size[1] / factor)
    return out


def pyramid_bytes(size: Tuple[int, int], config: DetectorConfig) -> int:
    """Estimated peak memory, in bytes, of searching an image of ``size = (height, width)``, the limit
    ``config.max_pyramid_mb`` bounds.

    The image itself and one more image of its size (:data:`IMAGE_BYTES_PER_PIXEL` each: the reader
    holds a photo and a retry's warped copy of it together; a copy the size of the photo fits the
    photo's estimate, a larger one is checked on its own size), plus PNet on the largest pyramid
    level, which dominates: :data:`PNET_BYTES_PER_PIXEL` per pixel of its input and the resized
    uint8 level. Memory the C heap kept from earlier work is given back before each level of a
    search near the limit (:func:`pnet_stage`), so it does not add to this. Not counted: the nets'
    working memory for their batches (bounded by ``config.max_proposals``; ONNX Runtime keeps it),
    and the heap's slack, a few tens of MiB (measured: a photo estimated at 99 MiB peaked 121 MiB
    above the loaded reader, one estimated at 998 MiB peaked 967 MiB above it).
    """
    scales = pyramid_scales(size, config.min_plate_size, config.scale_factor, config.max_level_side)
    level = size[0] * scales[0] * size[1] * scales[0] if scales else 0
    return int(2 * IMAGE_BYTES_PER_PIXEL * size[0] * size[1] + level * (PNET_BYTES_PER_PIXEL + IMAGE_BYTES_PER_PIXEL))


def check_image_size(size: Tuple[int, int], config: DetectorConfig, name: str = "image") -> int:
    """Refuse an image whose search needs more than ``config.max_pyramid_mb`` (:func:`pyramid_bytes`:
    the image, a warped copy of its size and its pyramid).

    Args:
        size: ``(height, width)`` in pixels (e.g. from the file's header, before decoding).
        name: the file, for the message.

    Returns:
        The estimate, bytes (:func:`pyramid_bytes`).

    Raises:
        ImageTooLargeError: over the limit; the message gives the estimate and the options that help.
    """
    need = pyramid_bytes(size, config)
    if need > config.max_pyramid_mb * 2**20:
        raise ImageTooLargeError(
            f"{name}: image too large to search: {size[0]}x{size[1]} (height x width) with --min-plate-size "
            f"{config.min_plate_size[0]} {config.min_plate_size[1]} needs about {need / 2**20:.0f} MiB for the "
            f"image and its pyramid, over --max-pyramid-mb {config.max_pyramid_mb} (raise it, or raise "
            "--min-plate-size)")
    return need


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Optional[Callable[[int], int]]:
    """glibc's ``malloc_trim``, or ``None`` where the C library has none (macOS, Windows, musl)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def _release_free_heap() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Once glibc frees a buffer it had mapped on its own, it serves later ones up to that size (at most
    32 MiB) from its heap and keeps them when freed: after a search, the smaller pyramid levels'
    buffers stayed with the process and added to the next search's peak (the rotated retries on a
    photo near ``--max-pyramid-mb`` went up to 80 % over it).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def cells_to_boxes(probs: np.ndarray, offsets: np.ndarray, scale: float, threshold: float) -> np.ndarray:
    """PNet output at one scale -> candidate boxes in original-image pixels.

    Args:
        probs: ``ndarray[h, w]`` plate probability per cell.
        offsets: ``ndarray[4, h, w]`` bbox offsets per cell.
        scale: the pyramid scale the PNet input was resized by.
        threshold: minimum probability.

    Returns:
        ``ndarray[K, 9]`` float32: x1, y1, x2, y2, score, dx1, dy1, dx2, dy2.
    """
    ys, xs = np.nonzero(probs > threshold)
    if len(ys) == 0:
        return np.zeros((0, 9), dtype=np.float32)
    sh, sw = PNET_STRIDE
    ch, cw = PNET_CELL
    x1, y1 = xs * sw / scale, ys * sh / scale
    boxes = np.stack([x1, y1, x1 + cw / scale, y1 + ch / scale, probs[ys, xs]], axis=1)
    return np.concatenate([boxes, offsets[:, ys, xs].T], axis=1).astype(np.float32)


def pnet_stage(pnet: NetFn, image: np.ndarray, config: DetectorConfig,
               timings: Optional[Dict[str, float]] = None) -> np.ndarray:
    """Stage 1: PNet over the image pyramid.

    Args:
        pnet: the net (:data:`NetFn`).
        image: ``ndarray[H, W, 3]`` uint8, BGR.
        timings: when given, the milliseconds of each pyramid level (resize, PNet, NMS) are added
            under ``"pnet level K"`` (K = 0 for the largest level).

    Returns:
        ``ndarray[K, 5]`` float32 boxes (x1, y1, x2, y2, score) in pixels, regressed and clipped,
        at most ``config.max_proposals``; empty ``[0, 5]`` when nothing passes.

    Raises:
        ImageTooLargeError: searching the image would need more than ``config.max_pyramid_mb``
            (:func:`check_image_size`).
    """
    h, w = image.shape[:2]
    # near the limit, the heap's free pages go back before each level: what earlier work (a first pass,
    # the level before) left there must not add to this level's peak
    near_limit = 2 * check_image_size((h, w), config) > config.max_pyramid_mb * 2**20
    per_scale = []
    for level, s in enumerate(pyramid_scales((h, w), config.min_plate_size, config.scale_factor,
                                             config.max_level_side)):
        t0 = time.perf_counter()
        if near_limit:
            _release_free_heap()
        hs, ws = max(int(round(h * s)), PNET_CELL[0]), max(int(round(w * s)), PNET_CELL[1])
        img = cv2.resize(image, (ws, hs), interpolation=cv2.INTER_LINEAR)
        logits, offsets = pnet(images_to_array(img))[:2]
        probs = softmax_plate(logits)[0]
        cand = cells_to_boxes(probs, np.asarray(offsets)[0], s, config.pnet_threshold)
        if len(cand):
            cand = cand[np.argsort(-cand[:, 4], kind="stable")[: config.pnet_pre_nms]]
            per_scale.append(cand[nms(cand[:, :4], cand[:, 4], config.pnet_scale_nms)])
        add_time(timings, f"pnet level {level}", t0)
    if not per_scale:
        return np.zeros((0, 5), dtype=np.float32)
    cand = np.concatenate(per_scale)
    cand = cand[nms(cand[:, :4], cand[:, 4], config.pnet_nms)][: config.max_proposals]
    boxes = clip_boxes(calibrate_boxes(cand[:, :5], cand[:, 5:9]), (h, w))
    return boxes[remove_small_boxes(boxes, 2.0)]


def crop_boxes(image: np.ndarray, boxes: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Crop and resize boxes of an image.

    Args:
        image: ``ndarray[H, W, 3]`` uint8 (any channel order; kept).
        boxes: ``ndarray[N, >=4]`` pixels; parts outside the image are filled with 0 (black).
        size: (height, width) of each crop.

    Returns:
        ``ndarray[N, height, width, 3]`` uint8.
    """
    out = np.zeros((len(boxes), size[0], size[1], 3), dtype=np.uint8)
    h, w = image.shape[:2]
    for i, b in enumerate(np.asarray(boxes)[:, :4]):
        x1, y1, x2, y2 = (int(round(v)) for v in b)
        x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
        patch = np.zeros((y2 - y1, x2 - x1, 3), dtype=np.uint8)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if sx2 > sx1 and sy2 > sy1:
            patch[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = image[sy1:sy2, sx1:sx2]
        out[i] = cv2.resize(patch, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return out


def onet_stage(onet: NetFn, image: np.ndarray, boxes: np.ndarray, config: DetectorConfig,
               threshold: Optional[float] = None, vertices: bool = True) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Stage 2: ONet re-scores and refines candidate boxes and finds their corners, all candidates
    of the image in one batch.

    Args:
        onet: the net (:data:`NetFn`).
        image: ``ndarray[H, W, 3]`` uint8, BGR.
        boxes: ``ndarray[N, >=4]`` candidates in pixels.
        threshold: plate probability to keep a box (default: ``config.onet_threshold``).
        vertices: whether the net has the vertex branch (for the empty result's corners).

    Returns:
        ``(boxes, corners)``: ``ndarray[K, 5]`` float32 final boxes (x1, y1, x2, y2, score), clipped
        to the image, by decreasing score; ``ndarray[K, 4, 2]`` float32 plate corners (TL, TR, BR,
        BL; pixels, not clipped), or ``None`` when the net has no vertex branch.
    """
    threshold = config.onet_threshold if threshold is None else threshold
    empty = np.zeros((0, 5), dtype=np.float32)
    no_corners = np.zeros((0, 4, 2), np.float32) if vertices else None
    if len(boxes) == 0:
        return empty, no_corners
    logits, offsets, *corner_out = onet(images_to_array(crop_boxes(image, boxes, ONET_INPUT)))
    probs = softmax_plate(logits)
    keep = probs > threshold
    if not keep.any():
        return empty, no_corners
    out = np.concatenate([boxes[keep, :4], probs[keep, None]], axis=1).astype(np.float32)
    corners = vertices_to_corners(out, np.asarray(corner_out[0])[keep]) if corner_out else None
    out = clip_boxes(calibrate_boxes(out, np.asarray(offsets)[keep]), image.shape[:2])
    idx = remove_small_boxes(out, 2.0)
    idx = idx[nms(out[idx, :4], out[idx, 4], config.onet_nms, config.onet_nms_mode)]
    return out[idx], (corners[idx] if corners is not None else None)


@dataclass(frozen=True)
class Detections:
    """Plates found in one image.

    Attributes:
        boxes: ``ndarray[K, 5]`` float32: x1, y1, x2, y2 (pixels, inside the image), score in [0, 1],
            by decreasing score.
        corners: ``ndarray[K, 4, 2]`` float32 plate corners (x, y pixels, TL, TR, BR, BL; may lie
            outside the image), or ``None`` when ONet's weights have no vertex branch.
    """

    boxes: np.ndarray
    corners: Optional[np.ndarray]


def refine_stage(onet: NetFn, image: np.ndarray, boxes: np.ndarray, corners: Optional[np.ndarray],
                 config: DetectorConfig, views: Sequence[Tuple[float, float]] = REFINE_VIEWS
                 ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Stage 3: check and refine the final boxes and corners of :func:`onet_stage`.

    The proposals ONet scored were PNet's, loosely placed; the final boxes are close to the plates,
    so a second look is sharper. ONet runs once on each final box (look A; its bbox regression
    gives the new box), then on ``views`` of the new box (scaled about its centre, one batch; the
    first view, ``(1, 1)``, is the new box itself: look B). A box is kept when the mean plate
    probability of looks A and B is above ``config.refine_threshold``: most false boxes fail, plates
    rarely (one look alone swings with a few pixels of position on small plates). A plate's corners
    are the mean of its first-pass corners and those of every view, since the errors of different
    crops partly cancel. Boxes the new regression brought onto one plate are merged by the final
    NMS again (``config.onet_nms``, ``config.onet_nms_mode``). Scores are the first pass's.

    Args:
        onet: the net (:data:`NetFn`).
        image: ``ndarray[H, W, 3]`` uint8, BGR.
        boxes: ``ndarray[K, 5]`` final boxes (x1, y1, x2, y2, score) pixels, by decreasing score.
        corners: ``ndarray[K, 4, 2]`` their corners (TL, TR, BR, BL pixels), or ``None`` when ONet
            has no vertex branch (then only the boxes are checked and refined, in 2 batches of K).
        config: the thresholds (``refine_threshold``, ``onet_nms``, ``onet_nms_mode``).
        views: (width, height) factors of the views, the first ``(1.0, 1.0)``.

    Returns:
        ``(boxes, corners)``: the ``K' <= K`` kept boxes ``ndarray[K', 5]`` float32, clipped to the
        image, by decreasing score, and their corners ``ndarray[K', 4, 2]`` float32 (or ``None``).

    Raises:
        ValueError: the first view is not ``(1.0, 1.0)``.
    """
    if len(views) == 0 or tuple(views[0]) != (1.0, 1.0):
        raise ValueError(f"the first view must be the box itself, (1.0, 1.0); got {list(views)[:1]}")
    boxes = np.asarray(boxes, np.float32)
    if len(boxes) == 0:
        return boxes.reshape(0, 5), None if corners is None else np.zeros((0, 4, 2), np.float32)
    logits_a, offsets, *_ = onet(images_to_array(crop_boxes(image, boxes, ONET_INPUT)))
    refined = clip_boxes(calibrate_boxes(boxes[:, :5], np.asarray(offsets)), image.shape[:2])
    small = (refined[:, 2] - refined[:, 0] < 2.0) | (refined[:, 3] - refined[:, 1] < 2.0)
    refined[small] = boxes[small, :5]
    if corners is None:
        views = views[:1]
    cx, cy = (refined[:, 0] + refined[:, 2]) / 2, (refined[:, 1] + refined[:, 3]) / 2
    w, h = refined[:, 2] - refined[:, 0], refined[:, 3] - refined[:, 1]
    crops = np.concatenate([np.stack([cx - fw * w / 2, cy - fh * h / 2, cx + fw * w / 2, cy + fh * h / 2], axis=1)
                            for fw, fh in views]).astype(np.float32)
    logits_b, _, *corner_out = onet(images_to_array(crop_boxes(image, crops, ONET_INPUT)))
    plate = (softmax_plate(logits_a) + softmax_plate(np.asarray(logits_b)[: len(boxes)])) / 2
    if corners is not None and corner_out:
        seen = vertices_to_corners(crops, np.asarray(corner_out[0])).reshape(len(views), len(boxes), 4, 2)
        corners = ((seen.sum(axis=0) + corners) / (len(views) + 1)).astype(np.float32)
    idx = np.nonzero(plate > config.refine_threshold)[0]
    idx = idx[nms(refined[idx, :4], refined[idx, 4], config.onet_nms, config.onet_nms_mode)]
    return refined[idx], None if corners is None else corners[idx]


def detect(pnet: NetFn, onet: NetFn, image: np.ndarray, config: DetectorConfig,
           vertices: bool = True, vnet: Optional[NetFn] = None,
           timings: Optional[Dict[str, float]] = None) -> Detections:
    """The whole cascade on one image: :func:`pnet_stage`, :func:`onet_stage`, when
    ``config.refine`` :func:`refine_stage`, and with ``vnet`` :func:`vertex_stage`
    (``config.vertex_rounds`` rounds).

    Args:
        pnet, onet: the nets (:data:`NetFn`).
        vnet: the corner refiner (:data:`NetFn`), or ``None`` to keep ONet's corners.
        image: ``ndarray[H, W, 3]`` uint8, **BGR**.
        config: the cascade's thresholds.
        vertices: whether ONet has the vertex branch.
        timings: when given, the milliseconds of each stage are added to it: ``"pnet level K"``
            (:func:`pnet_stage`), ``"onet"``, ``"refine"``, ``"vnet"`` (for the profile of
            ``python -m lpr.bench``).

    Returns:
        The plates found (:class:`Detections`), by decreasing score.

    Raises:
        ImageTooLargeError: the pyramid would need more than ``config.max_pyramid_mb``.
    """
    proposals = pnet_stage(pnet, image, config, timings)
    t0 = time.perf_counter()
    boxes, corners = onet_stage(onet, image, proposals, config, vertices=vertices)
    t0 = add_time(timings, "onet", t0)
    if config.refine:
        boxes, corners = refine_stage(onet, image, boxes, corners, config)
        t0 = add_time(timings, "refine", t0)
    if vnet is not None and corners is not None:
        corners = vertex_stage(vnet, image, corners, config.vertex_rounds)
        add_time(timings, "vnet", t0)
    return Detections(boxes, corners)


class Detector:
    """The cascade around any backend: BGR image -> :class:`Detections`.

    The counterpart of :class:`LPRNet.reading.Recognizer`: a backend
    (:class:`MTCNN.detector.TorchDetector` on torch, :class:`MTCNN.onnx_detector.OnnxDetector` on
    ONNX Runtime) loads its nets and implements :meth:`pnet`, :meth:`onet` and, when it has VNet,
    :meth:`vnet`; this class runs the stages (:func:`detect`).

    Attributes:
        config: the cascade's thresholds (:class:`DetectorConfig`).
        has_vertices: whether ONet has the vertex branch (results carry corners).
        has_vnet: whether the corner refiner VNet is loaded (:func:`vertex_stage` runs).
    """

    config: DetectorConfig
    has_vertices: bool = False
    has_vnet: bool = False

    def pnet(self, batch: np.ndarray) -> Sequence[np.ndarray]:
        """PNet (:data:`NetFn`): ``float32[1, 3, H, W]`` -> logits ``[1, 2, h, w]``, offsets ``[1, 4, h, w]``."""
        raise NotImplementedError

    def onet(self, batch: np.ndarray) -> Sequence[np.ndarray]:
        """ONet (:data:`NetFn`): ``float32[N, 3, 24, 94]`` -> logits ``[N, 2]``, offsets ``[N, 4]``
        and, with the vertex branch, corners ``[N, 8]``."""
        raise NotImplementedError

    def vnet(self, batch: np.ndarray) -> Sequence[np.ndarray]:
        """VNet (:data:`NetFn`): ``float32[N, 3, 40, 128]`` -> corners ``[N, 8]``."""
        raise NotImplementedError

    def detect(self, image: np.ndarray, timings: Optional[Dict[str, float]] = None) -> Detections:
        """Find plates and their corners in one image.

        Args:
            image: ``ndarray[H, W, 3]`` uint8, **BGR** (as ``cv2.imread`` gives).
            timings: when given, each stage's milliseconds are added to it (:func:`detect`).

        Returns:
            The plates found (:class:`Detections`), by decreasing score.

        Raises:
            lprcore.imageio.ImageTooLargeError: the image pyramid would need more memory than
                ``config.max_pyramid_mb`` (:func:`check_image_size`; nothing is allocated).
        """
        return detect(self.pnet, self.onet, image, self.config, self.has_vertices,
                      self.vnet if self.has_vnet else None, timings)

    detect_plates = renamed_method("detect_plates", "detect")


def crop_fractions_to_pixels(fractions: np.ndarray, size: Tuple[int, int] = VNET_INPUT) -> np.ndarray:
    """Points given as fractions of a crop of ``size = (height, width)`` (VNet's outputs and targets:
    ``(0, 0)`` the crop's top-left edge, ``(1, 1)`` its bottom-right edge) -> crop pixels in OpenCV's
    warp convention (pixel ``i`` centred at ``i``): ``f * width - 0.5``. ``ndarray[..., 2]`` float64."""
    h, w = size
    return np.asarray(fractions, np.float64) * [w, h] - 0.5


def crop_pixels_to_fractions(points: np.ndarray, size: Tuple[int, int] = VNET_INPUT) -> np.ndarray:
    """The inverse of :func:`crop_fractions_to_pixels`: crop pixels ``ndarray[..., 2]`` -> fractions
    of the crop (float64)."""
    h, w = size
    return (np.asarray(points, np.float64) + 0.5) / [w, h]


def frame_fractions(frame: Tuple[float, float] = VNET_FRAME) -> np.ndarray:
    """The frame's corners (TL, TR, BR, BL) as fractions of the crop: ``ndarray[4, 2]`` float32,
    ``[[mx, my], [1 - mx, my], [1 - mx, 1 - my], [mx, 1 - my]]`` (VNet's identity output)."""
    mx, my = frame
    return np.float32([[mx, my], [1 - mx, my], [1 - mx, 1 - my], [mx, 1 - my]])


def frame_corners(size: Tuple[int, int] = VNET_INPUT, frame: Tuple[float, float] = VNET_FRAME) -> np.ndarray:
    """The corners (TL, TR, BR, BL; x, y pixels) where :func:`rectify_quads` puts a plate's corners
    in a crop of ``size = (height, width)``: ``ndarray[4, 2]`` float32.

    :func:`frame_fractions` in pixels (:func:`crop_fractions_to_pixels`): the frame is centred on the
    crop exactly, ``[mx * width - 0.5, (1 - mx) * width - 0.5]`` in OpenCV's pixel-centre convention."""
    return crop_fractions_to_pixels(frame_fractions(frame), size).astype(np.float32)


def preshrink_factors(quad: np.ndarray, frame_size: Tuple[float, float],
                      max_downscale: float = VNET_MAX_DOWNSCALE) -> Tuple[float, float]:
    """Per image axis (x, y) factors ``<= 1`` by which :func:`rectify_quads` area-averages a plate's
    surroundings before its linear perspective warp, so that the warp shrinks no image axis by more
    than ``max_downscale``.

    The warp's inverse near the plate is estimated from the quadrilateral's edges: one crop pixel
    across the frame moves ``(TR - TL) / frame_w`` (mean of top and bottom edges) in the image, one
    down it ``(BL - TL) / frame_h`` (mean of left and right). An image axis may shrink until a crop
    pixel step moves at most ``max_downscale`` pixels along it, whichever crop direction the step
    takes: a level plate is shrunk by its width along x and by its height along y (a double-row
    plate, twice as tall, is shrunk twice as much in y), a plate turned 45 degrees by the larger
    demand on both axes.

    Args:
        quad: ``ndarray[4, 2]`` corners (x, y pixels, TL, TR, BR, BL).
        frame_size: (width, height) of the frame in the crop, pixels.
        max_downscale: the largest shrink left to the linear warp.

    Returns:
        ``(sx, sy)`` floats in ``(0, 1]``.
    """
    q = np.asarray(quad, np.float64).reshape(4, 2)
    across = ((q[1] - q[0]) + (q[2] - q[3])) / 2 / max(frame_size[0], 1e-6)   # image pixels per crop pixel, x
    down = ((q[3] - q[0]) + (q[2] - q[1])) / 2 / max(frame_size[1], 1e-6)     # ... y
    per_axis = np.hypot(across, down)  # [x, y]: the longest move along each image axis per crop pixel
    sx, sy = (float(min(1.0, max_downscale / v)) if v > 0 else 1.0 for v in per_axis)
    return sx, sy


def warn_old_vnet_frame(weights_dir: str | Path) -> bool:
    """Log a warning when the VNet weights of ``weights_dir`` were trained before VNet's frame was
    centred in its crop: their corners come out about half a crop pixel off (fine-tune them:
    docs/training.md, "The shipped detector").

    Looks at the MANIFEST.json entry of ``vnet.pth`` (else of ``vnet.onnx``) for ``frame ==``
    :data:`VNET_FRAME_CONVENTION`. A folder without a manifest entry for them, or with an unreadable
    manifest, gets no warning here (the weight loaders report those).

    Returns:
        Whether a warning was logged.
    """
    folder = Path(weights_dir)
    try:
        files = read_manifest(folder)
    except ManifestError:
        return False
    name = VNET_WEIGHTS if (folder / VNET_WEIGHTS).is_file() else VNET_ONNX
    entry = files.get(name)
    if entry is None or entry.get("frame") == VNET_FRAME_CONVENTION:
        return False
    log.warning("%s: trained with VNet's frame half a pixel off centre (its MANIFEST.json entry has no "
                "frame: %s); its corners are about half a crop pixel off: fine-tune it with python -m "
                "MTCNN.train --net vnet --init (docs/training.md)", folder / name, VNET_FRAME_CONVENTION)
    return True


def rectify_quads(image: np.ndarray, quads: np.ndarray, size: Tuple[int, int] = VNET_INPUT,
                  frame: Tuple[float, float] = VNET_FRAME) -> Tuple[np.ndarray, np.ndarray]:
    """Warp each quadrilateral of an image onto :func:`frame_corners` of a crop (VNet's input view).

    A quadrilateral much larger than the crop's frame (more than :data:`VNET_MAX_DOWNSCALE` times
    along an image axis, :func:`preshrink_factors`) is first shrunk by area averaging around it, per
    axis, so the linear perspective warp does not alias; the returned homographies map the original
    image. Parts of a crop outside the image are black.

    Args:
        image: ``ndarray[H, W, 3]`` uint8 (any channel order; kept).
        quads: ``ndarray[N, 4, 2]`` corners (x, y pixels, TL, TR, BR, BL), inside or outside the image.
        size: (height, width) of the crops.
        frame: (mx, my) margins of the frame, fractions of the crop.

    Returns:
        ``(crops, homographies)``: ``ndarray[N, height, width, 3]`` uint8 and ``ndarray[N, 3, 3]``
        float64 mapping image pixels to crop pixels.
    """
    quads = np.asarray(quads, np.float64).reshape(-1, 4, 2)
    dst = frame_corners(size, frame)
    crops = np.zeros((len(quads), size[0], size[1], 3), np.uint8)
    hs = np.zeros((len(quads), 3, 3))
    ih, iw = image.shape[:2]
    frame_size = (float(dst[1, 0] - dst[0, 0]), float(dst[3, 1] - dst[0, 1]))
    for i, q in enumerate(quads):
        m = cv2.getPerspectiveTransform(q.astype(np.float32), dst).astype(np.float64)
        sx, sy = preshrink_factors(q, frame_size)
        src, offset = image, np.eye(3)
        if sx < 1.0 or sy < 1.0:
            # the crop's footprint in the image, shrunk with area averaging first
            inv = np.linalg.inv(m)
            box = np.float64([[-0.5, -0.5], [size[1] - 0.5, -0.5], [size[1] - 0.5, size[0] - 0.5], [-0.5, size[0] - 0.5]])
            foot = cv2.perspectiveTransform(box[None], inv)[0]
            x1, y1 = (int(np.floor(v)) for v in np.clip(foot.min(axis=0) - 2, 0, [iw, ih]))
            x2, y2 = (int(np.ceil(v)) for v in np.clip(foot.max(axis=0) + 2, 0, [iw, ih]))
            if x2 - x1 >= 2 and y2 - y1 >= 2:
                nw, nh = max(int(round((x2 - x1) * sx)), 1), max(int(round((y2 - y1) * sy)), 1)
                src = cv2.resize(image[y1:y2, x1:x2], (nw, nh), interpolation=cv2.INTER_AREA)
                fx, fy = nw / (x2 - x1), nh / (y2 - y1)
                # image pixel centre x -> small image: (x - x1 + 0.5) * fx - 0.5
                offset = np.array([[fx, 0, (0.5 - x1) * fx - 0.5], [0, fy, (0.5 - y1) * fy - 0.5], [0, 0, 1]])
        local = m @ np.linalg.inv(offset)
        crops[i] = cv2.warpPerspective(src, local, (size[1], size[0]), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_CONSTANT)
        hs[i] = m
    return crops, hs


def unwarp_points(points: np.ndarray, homographies: np.ndarray) -> np.ndarray:
    """Crop points ``ndarray[N, K, 2]`` back to the image through the inverse of each ``[N, 3, 3]``
    homography of :func:`rectify_quads`: ``ndarray[N, K, 2]`` float32 pixels."""
    points = np.asarray(points, np.float64)
    out = np.zeros(points.shape, np.float32)
    for i, (p, m) in enumerate(zip(points, homographies)):
        out[i] = cv2.perspectiveTransform(p[None], np.linalg.inv(m))[0]
    return out


def vertex_stage(vnet: NetFn, image: np.ndarray, corners: np.ndarray, rounds: int = 1) -> np.ndarray:
    """Stage 4: VNet (:class:`MTCNN.nets.VNet`) refines plate corners in the plate's own frame.

    Each round rectifies every plate through its current corners (:func:`rectify_quads`, one batch),
    VNet gives the true corners as fractions of that crop, and they are mapped back to the image.
    Cascaded corner regression in a normalised frame, as in cascaded facial landmark regression
    (e.g. Sun et al. 2013, "Deep convolutional network cascade for facial point detection").
    Only quadrilaterals that are finite, convex and in corner order (:func:`MTCNN.boxes.plausible_corners`
    without a box) are refined, and a round's result is kept only where it is so
    too, else the corners before it: a degenerate quadrilateral has no frame to rectify (and the
    pipeline cuts a plate with implausible corners from its box).

    Args:
        vnet: the net (:data:`NetFn`): ``float32[N, 3, 40, 128]`` -> ``([N, 8],)``.
        image: ``ndarray[H, W, 3]`` uint8, BGR.
        corners: ``ndarray[K, 4, 2]`` current corners (TL, TR, BR, BL pixels).
        rounds: how many times to refine (0 returns the corners unchanged).

    Returns:
        ``ndarray[K, 4, 2]`` float32 refined corners (pixels, not clipped).
    """
    corners = np.asarray(corners, np.float32).reshape(-1, 4, 2).copy()
    for _ in range(rounds):
        idx = np.nonzero(plausible_corners(corners, None))[0]
        if len(idx) == 0:
            break
        crops, hs = rectify_quads(image, corners[idx])
        out = crop_fractions_to_pixels(np.asarray(vnet(images_to_array(crops))[0], np.float64).reshape(-1, 4, 2))
        new = corners.copy()
        new[idx] = unwarp_points(out, hs)
        good = idx[plausible_corners(new[idx], None)]
        corners[good] = new[good]
    return corners
