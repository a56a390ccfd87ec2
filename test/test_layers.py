"""The layers read one way: every import of a project package goes down (or stays in its package).

    lprcore  <-  ccpd  <-  MTCNN, LPRNet, platesynth  <-  lpr  <-  main.py

``MTCNN``, ``LPRNet`` and ``platesynth`` never import each other; ``lprcore`` imports no other package of the project.
Imports inside functions count too (the whole module tree is walked with ``ast``).
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: package -> rank; a module may import packages of a lower rank, or its own package.
LAYERS = {"lprcore": 0, "ccpd": 1, "MTCNN": 2, "LPRNet": 2, "platesynth": 2, "lpr": 3, "main": 4}


def project_imports(path: Path):
    """``(line, imported top-level package)`` for each import of a project package in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: stays inside the package
                continue
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in LAYERS:
                yield node.lineno, top


def layer_violations(root: Path):
    """Messages for every import that goes up or sideways under ``root``."""
    bad = []
    modules = [root / "main.py"] + [p for pkg in LAYERS if (root / pkg).is_dir() for p in (root / pkg).rglob("*.py")]
    for path in modules:
        own = path.relative_to(root).parts[0].removesuffix(".py")
        for line, top in project_imports(path):
            if top != own and LAYERS[top] >= LAYERS[own]:
                bad.append(f"{path.relative_to(root)}:{line}: {own} (layer {LAYERS[own]}) imports {top} "
                           f"(layer {LAYERS[top]})")
    return bad


def test_every_package_is_in_a_layer():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages <= set(LAYERS), f"packages without a layer: {packages - set(LAYERS)}"


def test_imports_go_down_only():
    assert layer_violations(ROOT) == []


@pytest.mark.parametrize("module, statement", [
    ("lprcore/fake.py", "from ccpd.annotations import parse_name\n"),          # up
    ("MTCNN/fake.py", "def f():\n    from LPRNet.chars import CHARS\n"),       # sideways, inside a function
    ("ccpd/fake.py", "import lpr.pipeline\n"),                                 # up two layers
])
def test_the_check_catches_a_bad_import(tmp_path, module, statement):
    for pkg in LAYERS:
        if pkg != "main":
            (tmp_path / pkg).mkdir()
    (tmp_path / "main.py").write_text("")
    (tmp_path / module).write_text(statement)
    assert len(layer_violations(tmp_path)) == 1
