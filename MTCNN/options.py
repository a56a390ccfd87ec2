"""The detector's command-line options: one per :class:`MTCNN.cascade.DetectorConfig` field.

Used by every command that runs the detector (``python -m lpr``, ``lpr.evaluate``, ``MTCNN.evaluate``);
the defaults and the validation are the config's, the flag names and help lines are here.
"""
from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Dict, Tuple

from MTCNN.cascade import DetectorConfig

#: Field -> help line in the user's terms (the default is appended from :class:`DetectorConfig`).
HELP: Dict[str, str] = {
    "min_plate_size": "smallest plate to find, height and width in pixels; smaller finds smaller plates, "
                      "slower (cost grows with the square)",
    "scale_factor": "ratio between the sizes of the image pyramid's levels, in (0, 0.95]; closer to 1: more "
                    "levels, slower",
    "pnet_threshold": "first-stage (PNet) plate probability for a candidate box",
    "pnet_scale_nms": "IoU above which candidates of one pyramid level merge",
    "pnet_nms": "IoU above which candidates of all pyramid levels merge",
    "pnet_pre_nms": "at most this many first-stage cells per pyramid level are kept",
    "max_proposals": "at most this many candidate boxes go to the second stage (raise it for photos with "
                     "many plates)",
    "onet_threshold": "second-stage (ONet) plate probability to keep a box",
    "onet_nms": "overlap above which final boxes merge",
    "onet_nms_mode": "overlap of the final merge: IoU (union) or intersection over the smaller box (min)",
    "refine": "skip the second look of ONet at each final box (faster; keeps more false boxes, less exact "
              "corners)",
    "refine_threshold": "mean plate probability of ONet's second looks to keep a box",
    "vertex_rounds": "rounds of corner refinement by VNet, 0 to 5 (0: ONet's corners)",
    "max_level_side": "search the photo at most this large (longest side of the largest image-pyramid level, "
                      "pixels), so any photo costs about the same; plates under about 47/N of the photo's "
                      "longest side are not found. 0: full resolution (tiny plates in large photos; time "
                      "grows with the pixels)",
    "max_pyramid_mb": "refuse an image whose search (the image, a warped copy for the retries, its image "
                      "pyramid) would need more memory than this, MiB",
}
#: Flags that are not the field's name with dashes (``--min-plate-size``): short names kept from the
#: original project, and the switch that turns a default-on step off.
FLAGS = {"onet_nms": "--nms", "onet_nms_mode": "--nms-mode", "refine": "--no-refine"}


def flag(name: str) -> str:
    """The command-line flag of the :class:`DetectorConfig` field ``name``."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


#: Fields that bound a run's resources rather than tune detection: a command may put them in its
#: limits group (:func:`add_detector_arguments`).
LIMIT_FIELDS = ("max_level_side", "max_pyramid_mb")


def _default_text(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def add_detector_arguments(tuning, limits=None) -> None:
    """Add one option per :class:`DetectorConfig` field, each help line ending with its default.

    Args:
        tuning: an argparse parser or argument group for the detection thresholds.
        limits: the group for :data:`LIMIT_FIELDS` (default: ``tuning``).
    """
    d = DetectorConfig()
    for f in fields(DetectorConfig):
        option, help_ = flag(f.name), HELP[f.name]
        group = limits if (limits is not None and f.name in LIMIT_FIELDS) else tuning
        value = getattr(d, f.name)
        kw = dict(dest=f"det_{f.name}", help=f"{help_} (default: {_default_text(value)})")
        if f.name == "min_plate_size":
            group.add_argument(option, nargs=2, type=int, metavar=("H", "W"), default=list(value), **kw)
        elif f.name == "onet_nms_mode":
            group.add_argument(option, choices=("union", "min"), default=value, **kw)
        elif f.name == "refine":
            group.add_argument(option, action="store_false", default=value, dest=kw["dest"], help=help_)
        else:
            group.add_argument(option, type=type(value), default=value, metavar=type(value).__name__.upper(), **kw)


def detector_config(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> DetectorConfig:
    """The :class:`DetectorConfig` of the options :func:`add_detector_arguments` added.

    Args:
        parser: when given, a value out of range ends the program through ``parser.error`` (usage
            message, exit status 2) instead of raising.

    Raises:
        ValueError: a value out of its range (the message names the field), without ``parser``.
    """
    values = {f.name: getattr(args, f"det_{f.name}") for f in fields(DetectorConfig)}
    values["min_plate_size"] = tuple(values["min_plate_size"])
    try:
        return DetectorConfig(**values)
    except ValueError as e:
        if parser is None:
            raise
        name = str(e).split(" ", 1)[0]
        parser.error(f"{flag(name)}: {e}" if name in HELP else str(e))
