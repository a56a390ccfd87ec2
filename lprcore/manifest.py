"""Self-describing runs and weights: ``args.json`` in every run folder, ``MANIFEST.json`` beside weights.

* ``RUN/args.json`` (written when a training run starts): every option, the command line, the git
  commit of the code, and the SHA-256 of every data list the run reads.
* ``WEIGHTS/MANIFEST.json``: one entry per weight file: its SHA-256, the command and data lists that
  made it, its validation figures, and the character table for recognizers. ``lprcore.weights``
  checks a file's SHA-256 against its entry when loading it and names the file on a mismatch.

Manifest layout::

    {"format": 1, "files": {"pnet.pth": {"sha256": "...", "command": "...", "data": [...],
                                         "figures": {...}, ...}}}
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from typing import Any, Dict, Iterable, Mapping, Optional

from lprcore.files import sha256_file, write_text_atomic

MANIFEST_NAME = "MANIFEST.json"
RUN_ARGS_NAME = "args.json"
MANIFEST_FORMAT = 1


class ManifestError(ValueError):
    """A ``MANIFEST.json`` that cannot be read; the message names the file."""


def git_commit(folder: str | os.PathLike | None = None) -> Optional[str]:
    """The git commit of the checkout holding ``folder`` (default: this package), with ``+dirty``
    appended when tracked files have uncommitted changes; ``None`` outside a git checkout."""
    folder = os.fspath(folder or os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def describe_data(paths: Iterable[str | os.PathLike]) -> list:
    """``[{"path": ..., "sha256": ...}]`` for data lists or files; a missing path gets ``sha256: None``."""
    out = []
    for p in paths:
        p = os.fspath(p)
        out.append({"path": p, "sha256": sha256_file(p) if os.path.isfile(p) else None})
    return out


def command_line(prog: str, argv: Optional[list] = None) -> str:
    """The command as a user would type it: ``prog`` then the arguments (default ``sys.argv[1:]``),
    shell-quoted, e.g. ``"python -m LPRNet.train --train a.txt --out runs/x"``."""
    return " ".join([prog] + [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)])


def write_run_args(out_dir: str | os.PathLike, args: Any, data: Iterable[str | os.PathLike] = (),
                   command: str = "") -> dict:
    """Write ``OUT/args.json``: options (``vars(args)`` or a mapping), command, git commit, data lists.

    Args:
        out_dir: the run folder (created when missing).
        args: an ``argparse.Namespace`` or a mapping of option name -> value.
        data: the data lists (or files) the run reads; each is recorded with its SHA-256.
        command: the command line (see :func:`command_line`).

    Returns:
        The record written.
    """
    options = dict(args) if isinstance(args, Mapping) else dict(vars(args))
    record = {
        "command": command,
        "options": {k: v for k, v in options.items() if _jsonable(v)},
        "git_commit": git_commit(),
        "data": describe_data(data),
    }
    write_text_atomic(os.path.join(os.fspath(out_dir), RUN_ARGS_NAME),
                      json.dumps(record, ensure_ascii=False, indent=2) + "\n")
    return record


def _jsonable(v: Any) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False


def read_manifest(folder: str | os.PathLike) -> Dict[str, dict]:
    """File entries of ``folder/MANIFEST.json``; ``{}`` when the folder has none.

    Raises:
        ManifestError: the manifest is not valid JSON or not of the layout above.
    """
    path = os.path.join(os.fspath(folder), MANIFEST_NAME)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{path}: cannot be read as JSON: {e}") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        raise ManifestError(f"{path}: expected {{\"files\": {{name: {{\"sha256\": ...}}}}}}")
    return files


def update_manifest(folder: str | os.PathLike, name: str, **entry: Any) -> dict:
    """Add or replace the entry of weight file ``folder/name`` in ``folder/MANIFEST.json``.

    The file's SHA-256 is computed here; ``entry`` adds the rest (``command``, ``data``,
    ``figures``, ``charset`` ...). The manifest is rewritten atomically.

    Raises:
        FileNotFoundError: ``folder/name`` does not exist.
        ManifestError: an existing manifest cannot be read.
    """
    folder = os.fspath(folder)
    files = read_manifest(folder)
    files[name] = {"sha256": sha256_file(os.path.join(folder, name)), **entry}
    data = {"format": MANIFEST_FORMAT, "files": dict(sorted(files.items()))}
    write_text_atomic(os.path.join(folder, MANIFEST_NAME), json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return files[name]


def expected_sha256(path: str | os.PathLike) -> Optional[str]:
    """The SHA-256 that the manifest beside ``path`` records for it, or ``None`` when not recorded.

    Raises:
        ManifestError: the manifest beside ``path`` cannot be read.
    """
    path = os.fspath(path)
    entry = read_manifest(os.path.dirname(os.path.abspath(path))).get(os.path.basename(path))
    return entry.get("sha256") if entry else None


def short_message(e: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (at most ``limit`` characters, terminal colour codes
    removed: torch's messages are long and coloured), or its type name when it has none."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    return (text.splitlines()[0][:limit] if text else "") or type(e).__name__


class WeightsError(RuntimeError):
    """A weight file (torch or ONNX) that is missing, unreadable, or does not fit its net."""


def check_weight_file(path: str | os.PathLike) -> str:
    """Check that a weight file exists, is not empty, and matches the SHA-256 that the manifest
    beside it records (when it records one). Returns the path as a string.

    Raises:
        WeightsError: missing or empty file, unreadable manifest, or a different SHA-256; the
            message names the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsError(f"weight file {path} not found")
    if os.path.getsize(path) == 0:
        raise WeightsError(f"weight file {path} is empty (0 bytes)")
    try:
        want = expected_sha256(path)
    except ManifestError as e:
        raise WeightsError(f"weight file {path}: {e}") from None
    if want is not None and sha256_file(path) != want:
        raise WeightsError(f"weight file {path}: its SHA-256 differs from the one in MANIFEST.json "
                           "beside it (the file was changed or damaged; re-export it or fix the manifest)")
    return path
