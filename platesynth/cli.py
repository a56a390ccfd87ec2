"""Command line of the synthetic-plate generator: ``python -m platesynth {crops,scenes,ccpd,sheet,video,hard} ...``.

    python -m platesynth crops --out data/synth_crops --count 20000 --seed 0 \\
        --photos ../shared/data/ccpd_sample/train ../shared/data/scenes_train
    python -m platesynth scenes --out data/synth_scenes --count 2000 --seed 0 \\
        --photos ../shared/data/ccpd_sample/train ../shared/data/scenes_train
    python -m platesynth ccpd --out data/synth --count 2000 --green-ratio 0.2 --seed 0
    python -m platesynth sheet --out sheet.png --real ../shared/data/plate_crops_more
    python -m platesynth video --out data/video_s1 --seed 1
    python -m platesynth hard --kind rotated --out data/hard_rotated --count 200 --seed 501 \
        --photos ../shared/data/ccpd_sample/train

Same arguments, same bytes (whatever ``--workers``). Exit status 0, or 2 for bad options or assets.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional

from ccpd.plates import DEFAULT_TYPE_WEIGHTS, PLATE_TYPES
from platesynth.ccpd_scenes import generate as generate_ccpd
from platesynth.generate import SCENE_SIZE, generate, parse_province_weights
from platesynth.hard import KINDS as HARD_KINDS
from platesynth.render import AssetError, load_glyphs
from platesynth.video import VIDEO_FPS, VIDEO_FRAMES, VIDEO_SIZE


def parse_types(text: str) -> dict:
    """``"all"`` or ``"blue,yellow_double"`` or ``"blue=3,green_small=1"`` -> type weights.

    Raises:
        argparse.ArgumentTypeError: an unknown type or a bad weight.
    """
    if text == "all":
        return dict(DEFAULT_TYPE_WEIGHTS)
    out = {}
    for part in filter(None, (t.strip() for t in text.split(","))):
        name, _, value = part.partition("=")
        if name not in PLATE_TYPES:
            raise argparse.ArgumentTypeError(f"unknown plate type {name!r}; known: {', '.join(PLATE_TYPES)}")
        try:
            out[name] = float(value) if value else DEFAULT_TYPE_WEIGHTS[name]
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad weight in {part!r}") from None
        if out[name] < 0:
            raise argparse.ArgumentTypeError(f"negative weight in {part!r}")
    if not out or sum(out.values()) <= 0:
        raise argparse.ArgumentTypeError("no plate type with a positive weight")
    return out


def _add_common(s: argparse.ArgumentParser) -> None:
    """The options every generating command takes."""
    s.add_argument("--count", type=int, required=True, help="number of images")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--start", type=int, default=0, help="first image index (to add to a set)")
    s.add_argument("--province-weights", type=str, default="",
                   help="e.g. '皖=5,苏=2' (others 1; default: uniform over the 31 provinces)")
    s.add_argument("--assets", help="glyph/template folder (default: $LPR_PLATE_ASSETS or ../shared/data/plate_assets/pengfei8324)")
    s.add_argument("--workers", type=int, default=os.cpu_count() or 1)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m platesynth", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (("crops", "plate crops with context (recognizer training)"),
                           ("scenes", "whole photos with synthetic plates composited in (both stages)")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--out", required=True, help="output folder: images and labels.tsv")
        _add_common(s)
        s.add_argument("--types", type=parse_types, default=dict(DEFAULT_TYPE_WEIGHTS),
                       help="plate types with optional weights: 'all' (default) or e.g. "
                            f"'blue=3,yellow_double'; types: {', '.join(PLATE_TYPES)}")
        s.add_argument("--photos", nargs="*", default=[],
                       help="crops: folders of photos for the context (their labelled plates are avoided); "
                            "scenes: label sources whose plates have boxes (default: random textures)")
        if name == "scenes":
            s.add_argument("--squeeze", type=float, nargs=2, metavar=("LO", "HI"),
                           help="squeeze each scene along x by a factor drawn from U(LO, HI), 0 < LO <= HI "
                                "<= 1 (plates seen from the side; labels follow)")
            s.add_argument("--inset", type=float, nargs=4, metavar=("H", "W", "LO", "HI"),
                           help="set each scene, resized so its plate is U(LO, HI) pixels wide, into a random-"
                                "texture photo of H x W pixels (small plates in large photos; labels follow)")
    s = sub.add_parser("ccpd", help="synthetic CCPD: random-texture scenes with one blue or green plate, "
                                    "labelled by CCPD file names")
    s.add_argument("--out", required=True, help="output folder: images named the CCPD way")
    _add_common(s)
    s.add_argument("--green-ratio", type=float, default=0.2, help="share of green 8-character plates (0..1)")
    s.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), default=list(SCENE_SIZE),
                   help=f"scene height and width, pixels (default: {SCENE_SIZE[0]} {SCENE_SIZE[1]})")
    s = sub.add_parser("sheet", help="a PNG grid of synthetic plates beside real crops of the same colour")
    s.add_argument("--out", required=True, help="PNG file to write")
    s.add_argument("--real", nargs="*", default=[], help="label sources of real crops (with a colour column)")
    s.add_argument("--use", choices=("train", "val"), help="real sources: keep only rows of this use column")
    s.add_argument("--per-type", type=int, default=4, help="plates per type and side")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--photos", nargs="*", default=[], help="photos for the synthetic crops' context")
    s = sub.add_parser("video", help="a test video of plates on cars driving through the picture (clip.mp4) and "
                                     "its ground truth per track (tracks.json): python -m lpr.track_eval reads it")
    s.add_argument("--out", required=True, help="output folder: clip.mp4 and tracks.json")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--frames", type=int, default=VIDEO_FRAMES, help=f"number of frames (default: {VIDEO_FRAMES})")
    s.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), default=list(VIDEO_SIZE),
                   help=f"frame height and width, pixels (default: {VIDEO_SIZE[0]} {VIDEO_SIZE[1]})")
    s.add_argument("--fps", type=float, default=VIDEO_FPS, help=f"frames per second (default: {VIDEO_FPS:g})")
    s.add_argument("--tracks", type=int, help="number of cars (default: one per 1.6 s of video; a car that "
                                              "finds no free time is left out)")
    s.add_argument("--assets", help="glyph/template folder (default: $LPR_PLATE_ASSETS or ../shared/data/plate_assets/pengfei8324)")
    s = sub.add_parser("hard", help="hard photos of one kind (platesynth.hard): rotated 30-45 degrees, night, "
                                    "steep side views, O-series or green plates, or the plain control")
    s.add_argument("--kind", required=True, choices=HARD_KINDS, help="the kind of hard photo")
    s.add_argument("--out", required=True, help="output folder: images and labels.tsv")
    _add_common(s)
    s.add_argument("--photos", nargs="*", default=[],
                   help="label sources whose plates have boxes, e.g. ../shared/data/ccpd_sample/train "
                        "(default: random textures)")
    s.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), default=list(SCENE_SIZE),
                   help=f"scene size without --photos (default: {SCENE_SIZE[0]} {SCENE_SIZE[1]})")
    return p


def _photos_and_provinces(p: argparse.ArgumentParser, args) -> Optional[List[float]]:
    """Check ``--photos`` (folders) and parse ``--province-weights`` (``None``: uniform); a bad value
    ends the program through ``p.error`` (exit 2)."""
    for d in getattr(args, "photos", []):
        if not os.path.isdir(d):
            p.error(f"--photos {d}: not a folder")
    try:
        return parse_province_weights(args.province_weights) if args.province_weights else None
    except ValueError as e:
        p.error(f"--province-weights: {e}")


def _hard(p: argparse.ArgumentParser, args) -> int:
    """``python -m platesynth hard``: write hard scenes of one kind and their labels."""
    from platesynth.hard import generate_hard
    if args.count < 0 or args.workers < 1 or min(args.size) < 64:
        p.error("--count must be >= 0, --workers >= 1 and --size at least 64 64")
    provinces = _photos_and_provinces(p, args)
    try:
        load_glyphs(args.assets)
        samples = generate_hard(args.kind, args.out, args.count, args.seed, args.photos, provinces, args.assets,
                                args.workers, args.start, tuple(args.size))
    except (AssetError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.info("wrote %d %s plates in %d scenes to %s", len(samples), args.kind, args.count, args.out)
    return 0


def _video(p: argparse.ArgumentParser, args) -> int:
    """``python -m platesynth video``: write the test video and its ground truth."""
    from platesynth.video import make_video
    if args.frames < 1 or min(args.size) < 64 or not args.fps > 0 or (args.tracks is not None and args.tracks < 1):
        p.error("--frames, --tracks must be >= 1, --size at least 64 64 and --fps > 0")
    try:
        truth = make_video(args.out, args.seed, args.frames, tuple(args.size), args.fps, args.tracks, args.assets)
    except (AssetError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.info("wrote %d frames with %d plate tracks to %s", args.frames, len(truth["tracks"]), args.out)
    return 0


def main(argv=None) -> int:
    """Run the command; returns the exit status."""
    p = build_parser()
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.command == "sheet":
        from platesynth.sheet import contact_sheet
        try:
            contact_sheet(args.out, args.real, args.per_type, args.seed, args.photos, args.use)
        except (FileNotFoundError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    if args.command == "video":
        return _video(p, args)
    if args.command == "hard":
        return _hard(p, args)
    if args.count < 0:
        p.error("--count must be >= 0")
    if args.command == "ccpd":
        if not 0 <= args.green_ratio <= 1:
            p.error("--green-ratio must be in [0, 1]")
        if min(args.size) < 64:
            p.error("--size must be at least 64 64")
    squeeze = getattr(args, "squeeze", None)
    if squeeze and not 0 < squeeze[0] <= squeeze[1] <= 1:
        p.error(f"--squeeze needs 0 < LO <= HI <= 1, got {squeeze[0]} {squeeze[1]}")
    inset = getattr(args, "inset", None)
    if inset and not (0 < inset[2] <= inset[3] and min(inset[:2]) >= 64):
        p.error(f"--inset needs H, W >= 64 and 0 < LO <= HI, got {' '.join(f'{v:g}' for v in inset)}")
    if inset:
        inset = (int(inset[0]), int(inset[1]), inset[2], inset[3])
    if args.workers < 1:
        p.error("--workers must be >= 1")
    provinces = _photos_and_provinces(p, args)
    try:
        load_glyphs(args.assets)
    except AssetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.command == "ccpd":
        names = generate_ccpd(args.out, args.count, args.seed, args.green_ratio, tuple(args.size), args.workers,
                              args.start, provinces, args.assets)
        logging.info("wrote %d CCPD-named images to %s", len(names), args.out)
        return 0
    try:
        samples = generate(args.command, args.out, args.count, args.seed, args.types, args.photos, provinces,
                           args.assets, args.workers, args.start, squeeze, inset)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.info("wrote %d plates in %d images to %s", len(samples), args.count, args.out)
    return 0
