"""The public surface: the reader's configuration, the deprecated names, where argparse lives, and
the README's option table and Python snippet."""
import ast
import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from lpr import DetectorConfig, PlateReader, ReaderConfig, ReadingOptions
from lpr.cli import build_parser
from lpr.options import options_markdown, reader_config
from lprcore.compat import renames

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_reader_config_defaults_and_validation():
    config = ReaderConfig()
    assert config.detector == DetectorConfig() and config.reading == ReadingOptions()
    assert config.reading.second_look and config.reading.rotated_retry and config.reading.min_confidence == 0.0
    for bad in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match="min_confidence"):
            ReadingOptions(min_confidence=bad)
        with pytest.raises(ValueError, match="second_look_below"):
            ReadingOptions(second_look_below=bad)
    with pytest.raises(TypeError, match="ReaderConfig.reading must be a ReadingOptions"):
        ReaderConfig(reading={"min_confidence": 0.5})
    with pytest.raises(TypeError, match="ReaderConfig.detector must be a DetectorConfig"):
        ReaderConfig(detector=ReadingOptions())


def test_the_reader_uses_its_config_and_refuses_anything_else(random_weights):
    config = ReaderConfig(detector=DetectorConfig(min_plate_size=(20, 80)), reading=ReadingOptions(all_reads=True))
    reader = PlateReader(config, weights_dir=random_weights, backend="torch")
    assert reader.config is config and reader.detector.config is config.detector
    other = ReaderConfig(detector=DetectorConfig(max_proposals=7))
    reader.config = other                                   # a new config reaches the detector too
    assert reader.detector.config.max_proposals == 7
    with pytest.raises(TypeError, match="ReaderConfig"):
        reader.config = DetectorConfig()
    with pytest.raises(TypeError, match="ReaderConfig"):
        PlateReader(ReaderConfig(), random_weights)         # a stray positional argument


def test_the_old_reader_arguments_still_work_with_a_deprecation_warning(random_weights):
    with pytest.warns(DeprecationWarning, match="ReaderConfig"):
        reader = PlateReader(random_weights, random_weights, DetectorConfig(max_proposals=9), "cpu", "torch",
                             min_confidence=0.25, second_look=False)
    assert reader.backend == "torch" and reader.config.detector.max_proposals == 9
    assert reader.config.reading == ReadingOptions(min_confidence=0.25, second_look=False)
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="unexpected or repeated"):
        PlateReader(random_weights, random_weights, min_confidense=0.5)


RENAMED = [(*old, *new) for old, new in renames().items()]


@pytest.mark.parametrize("old_module, old, new_module, new", RENAMED)
def test_a_renamed_name_still_resolves_with_a_deprecation_warning(old_module, old, new_module, new):
    with pytest.warns(DeprecationWarning, match=f"{old_module}.{old} is deprecated: use {new_module}.{new}"):
        value = getattr(importlib.import_module(old_module), old)
    assert value is getattr(importlib.import_module(new_module), new)
    with pytest.raises(AttributeError):
        getattr(importlib.import_module(old_module), old + "_nonexistent")


def test_renamed_methods_call_the_new_ones():
    from LPRNet.reading import Recognition, Recognizer
    from MTCNN.cascade import Detections, Detector

    class _Det(Detector):
        def detect(self, image):
            return Detections(image, None)

    class _Rec(Recognizer):
        def recognize(self, image, quads):
            return [Recognition("皖A12345", 1.0, ())] * len(quads)

    with pytest.warns(DeprecationWarning, match="detect_plates is deprecated: use _Det.detect"):
        assert _Det().detect_plates("x").boxes == "x"
    with pytest.warns(DeprecationWarning, match="read_quads is deprecated: use _Rec.recognize"):
        assert _Rec().read_quads(None, [0, 1])[1].text == "皖A12345"


def test_argparse_lives_in_command_line_modules_only():
    """Library modules take plain values; only scripts (a ``main``) and the options modules parse."""
    allowed = {"lpr/options.py", "MTCNN/options.py", "lprcore/cli.py"}
    offenders = []
    for package in ("lpr", "MTCNN", "LPRNet", "lprcore", "ccpd", "platesynth"):
        for path in sorted((ROOT / package).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            imports |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
            has_main = any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body)
            rel = path.relative_to(ROOT).as_posix()
            if "argparse" in imports and not has_main and rel not in allowed:
                offenders.append(rel)
    assert offenders == []


def test_help_is_grouped_and_every_option_says_its_default():
    parser = build_parser("python main.py")
    titles = [g.title for g in parser._action_groups if g._group_actions and g.title != "options"]
    assert titles == ["input and output", "reading", "speed and limits", "detector tuning"]
    for group in parser._action_groups:
        for action in group._group_actions:
            if action.option_strings and action.nargs != 0 and action.dest != "help":
                assert "(default:" in action.help, action.option_strings
    text = parser.format_help()
    assert "SECOND_LOOK" not in text and "torch CPU threads" not in text
    config = reader_config(parser.parse_args(["--min-confidence", "0.3", "--no-second-look", "--min-plate-size",
                                              "12", "40", "--max-pyramid-mb", "100"]))
    assert config.reading == ReadingOptions(min_confidence=0.3, second_look=False)
    assert config.detector == DetectorConfig(min_plate_size=(12, 40), max_pyramid_mb=100)


def test_readme_option_table_is_the_help_and_the_readme_is_short():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    found = re.search(r"<!-- BEGIN OPTIONS[^\n]*-->\n(.*?)<!-- END OPTIONS -->", text, re.S)
    assert found, "README.md has no option table markers"
    assert found.group(1).strip() == options_markdown(build_parser("python main.py")).strip(), \
        "the README's option table differs from --help: regenerate it with python -m lpr.options"


def test_readme_python_snippet_runs():
    text = README.read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = subprocess.run([sys.executable, "-c", snippet], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "青H10D0K"             # the first demo plate, read
