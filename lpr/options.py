"""The reader's command-line options and the :class:`lpr.config.ReaderConfig` they make.

Used by ``python -m lpr`` (:mod:`lpr.cli`), ``python -m lpr.evaluate`` and ``python -m lpr.bench``.
``python -m lpr.options`` prints the option table of the README (a test checks that they agree).
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, TypeVar

from lpr.config import ReaderConfig, ReadingOptions
from lpr.pipeline import BACKENDS, FINE_RETRY_SIDE, ROTATED_RETRY_ANGLES, STRETCH_RETRY_FACTORS
from lprcore.cli import add_runtime_args, nonnegative_float, probability
from lprcore.manifest import WeightsError
from lprcore.parallel import print_stderr
from MTCNN.cascade import PNET_CELL, DetectorConfig
from MTCNN.options import add_detector_arguments, detector_config


def add_backend_argument(parser) -> None:
    """Add ``--backend {auto,onnx,torch}`` (:func:`lpr.pipeline.choose_backend`) to a parser or group."""
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="onnx (ONNX Runtime, fast, no torch needed), torch, or auto: onnx when the "
                             "exported models are beside the weights (default: auto)")


def add_reading_arguments(parser) -> None:
    """Add one option per :class:`lpr.config.ReadingOptions` field to a parser or group."""
    d = ReadingOptions()
    parser.add_argument("--min-confidence", type=probability, default=d.min_confidence, metavar="P",
                        help="drop reads whose least sure character has a probability below P, in [0, 1] "
                             f"(default: {d.min_confidence:g}, keep every valid read)")
    parser.add_argument("--all-reads", action="store_true",
                        help="report every box with its text, also texts that follow no plate rule "
                             "(\"valid\": false) and repeated texts (default: valid plates, each text once)")
    parser.add_argument("--no-second-look", dest="second_look", action="store_false",
                        help="read each plate from one cut only; by default an unsure plate is cut 4 more "
                             "times, a little larger and smaller, and the cuts vote (faster, less accurate)")
    parser.add_argument("--second-look-below", type=probability, default=d.second_look_below, metavar="P",
                        help="take the second look at plates read with a confidence below P or with a text "
                             f"that follows no plate rule; 1: every plate, 0: invalid texts only "
                             f"(default: {d.second_look_below:g})")
    parser.add_argument("--no-fine-retry", dest="fine_retry", action="store_false",
                        help="when no plate of a photo was read, do not search it again for plates down to "
                             f"{100 * PNET_CELL[1] / FINE_RETRY_SIDE:.0f} %% of its longest side (default: retry; the "
                             f"first pass looks for plates of {100 * PNET_CELL[1] / DetectorConfig().max_level_side:.0f} %% and more)")
    parser.add_argument("--no-rotated-retry", dest="rotated_retry", action="store_false",
                        help="when no plate of a photo was read, do not search it again rotated by "
                             f"{', '.join(f'±{a:g}' for a in ROTATED_RETRY_ANGLES[1::2])} degrees, a pair at a time (default: retry; "
                             "photos with no plate pay these detector passes)")
    parser.add_argument("--no-stretched-retry", dest="stretched_retry", action="store_false",
                        help="when still no plate was read, do not search the photo again stretched "
                             f"{', '.join(f'x{f:g}' for f in STRETCH_RETRY_FACTORS)} along x, for plates seen "
                             "from the side (default: retry)")
    parser.add_argument("--no-contrast-retry", dest="contrast_retry", action="store_false",
                        help="when a dark (night) photo still has no plate read, do not search it again with its "
                             "contrast equalised (default: retry)")
    parser.add_argument("--time-budget", dest="time_budget_ms", type=nonnegative_float,
                        default=d.time_budget_ms, metavar="MS",
                        help="milliseconds a photo may take: a retry runs only when its expected time still "
                             "fits; the first pass always runs (default: 0, no budget)")


def reading_options(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> ReadingOptions:
    """The :class:`ReadingOptions` of the options of :func:`add_reading_arguments`.

    Args:
        parser: when given, a value out of range ends the program through ``parser.error`` (exit 2).

    Raises:
        ValueError: a value out of its range, without ``parser``.
    """
    try:
        return ReadingOptions(min_confidence=args.min_confidence, all_reads=args.all_reads,
                              second_look=args.second_look, second_look_below=args.second_look_below,
                              fine_retry=args.fine_retry, rotated_retry=args.rotated_retry,
                              stretched_retry=args.stretched_retry, contrast_retry=args.contrast_retry,
                              time_budget_ms=args.time_budget_ms)
    except ValueError as e:
        if parser is None:
            raise
        parser.error(str(e))


def reader_config(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> ReaderConfig:
    """The :class:`ReaderConfig` of the options of :func:`add_reader_arguments`
    (:func:`reading_options` and :func:`MTCNN.options.detector_config`).

    Raises:
        ValueError: a value out of its range, without ``parser``.
    """
    return ReaderConfig(detector=detector_config(args, parser), reading=reading_options(args, parser))


def add_reader_arguments(parser: argparse.ArgumentParser, weights_help: str, inputs=None):
    """Add the reader's options to ``parser`` in three groups, in ``--help``'s order: "reading"
    (:func:`add_reading_arguments`), "speed and limits" (``--backend``, ``--threads``, ``--device``,
    ``--max-pyramid-mb``) and "detector tuning" (:func:`MTCNN.options.add_detector_arguments`).

    Args:
        parser: the command's parser.
        weights_help: help line of ``--weights-dir``.
        inputs: the group ``--weights-dir`` goes into (default: the speed and limits group).

    Returns:
        The "speed and limits" group, for the command's own limits.
    """
    reading = parser.add_argument_group("reading", "which reads are reported, and how hard the reader tries")
    speed = parser.add_argument_group("speed and limits")
    tuning = parser.add_argument_group("detector tuning", "the PNet/ONet cascade's thresholds "
                                                          "(MTCNN.cascade.DetectorConfig)")
    add_reading_arguments(reading)
    add_backend_argument(speed)
    add_runtime_args(speed, weights_help, weights_group=inputs)
    add_detector_arguments(tuning, limits=speed)
    return speed


def options_markdown(parser: argparse.ArgumentParser) -> str:
    """The options of ``parser`` as a Markdown table, one row per option, in ``--help``'s groups and
    order: ``| group | option | meaning |`` (the help line, default included)."""
    rows = ["| group | option | meaning |", "| --- | --- | --- |"]
    for group in parser._action_groups:  # argparse has no public view of its groups
        for action in group._group_actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            name = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.dest}`"
            metavar = action.metavar if action.metavar is not None else (
                action.dest.upper() if action.option_strings and action.nargs != 0 else None)
            if action.option_strings and action.nargs != 0 and metavar:
                name += " " + " ".join(metavar) if isinstance(metavar, tuple) else f" {metavar}"
            if action.choices and action.option_strings:
                name = f"{name.split(' ')[0]} {{{','.join(map(str, action.choices))}}}"
            text = (action.help or "").replace("|", "\\|").replace("%%", "%")
            rows.append(f"| {group.title} | {name} | {text} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    """Print the option table of ``python main.py`` (the README's)."""
    from lpr.cli import build_parser

    argparse.ArgumentParser(prog="python -m lpr.options", description=main.__doc__).parse_args(argv)
    sys.stdout.write(options_markdown(build_parser("python main.py")) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


T = TypeVar("T")


def torch_missing(args: argparse.Namespace) -> str:
    """The one-line error for the torch backend chosen on an install without torch (``lpr-read``
    from ``pip install .``): why torch was needed (``args.backend``, ``args.device``) and how to get it."""
    if args.backend == "torch":
        why = "--backend torch needs PyTorch"
    elif str(args.device) != "cpu":
        why = f"--device {args.device} needs PyTorch (the torch backend)"
    else:
        why = ("these weights have no current ONNX export (python -m lpr.export makes one), so they are "
               "read with PyTorch")
    return (f"error: {why}, which is not installed: pip install torch (the CPU wheel: see the README's "
            "Install section)")


def load_reader(build: Callable[[], T], args: argparse.Namespace) -> Optional[T]:
    """``build()`` (a :class:`lpr.pipeline.PlateReader`, or what holds one), or ``None`` after one line
    on stderr saying why it cannot be used: weights missing, damaged or mismatched
    (:class:`lprcore.manifest.WeightsError`), an unknown or unavailable ``--device``, or the torch
    backend on an install without torch (:func:`torch_missing`). The command then exits with 2.

    Raises:
        ImportError: a module other than torch is missing (a broken install, not a user error).
    """
    try:
        return build()
    except WeightsError as e:
        print_stderr(f"error: {e}")
    except (RuntimeError, AssertionError) as e:  # unknown or unavailable --device
        print_stderr(f"error: --device {args.device}: {e}")
    except ImportError as e:
        if (e.name or "").partition(".")[0] != "torch":
            raise
        print_stderr(torch_missing(args))
    return None
