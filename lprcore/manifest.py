"""Self-describing runs and weights: ``args.json`` in every run folder, ``MANIFEST.json`` beside weights.

* ``RUN/args.json`` (written when a training run starts): every option, the command line, the git
  commit of the code, and the SHA-256 of every data list the run reads.
* ``WEIGHTS/MANIFEST.json``: one entry per weight file: its SHA-256, the command and data lists that
  made it, its validation figures, and the character table for recognizers; an exported model
  (``python -m lpr.export``) also records ``exported_from``: the SHA-256 of each torch weight file it
  was made from.

What every backend checks before it loads a weights folder (torch through :mod:`lprcore.weights`,
ONNX Runtime through :mod:`lprcore.onnx`; :func:`check_weight_file`, :func:`warn_unchecked`):

* each file it loads against the SHA-256 of its entry (a changed or damaged file is refused, named);
* an exported model also through the torch files it was made from, when they lie beside it: each
  against its own entry, then against the model's ``exported_from`` (a model exported from other
  weights, e.g. retrained ones, is refused as stale, named with the file that differs);
* a folder without ``MANIFEST.json`` (or a file it does not list) is loaded unchecked, with one
  warning per folder (per file) and process that names it and says nothing was checked.

Manifest layout::

    {"format": 1, "files": {"pnet.pth": {"sha256": "...", "command": "...", "data": [...],
                                         "figures": {...}, ...}}}
"""
from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
import sys
from typing import Any, Dict, Iterable, Mapping, Optional

from lprcore.files import sha256_file, write_text_atomic

log = logging.getLogger(__name__)

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


def read_run_args(run_dir: str | os.PathLike) -> dict:
    """The record :func:`write_run_args` left in ``run_dir`` (``command``, ``options``, ``git_commit``,
    ``data``), or ``{}`` when the folder has none.

    Raises:
        ValueError: the ``args.json`` is unreadable or not a JSON object (the message names it).
    """
    path = os.path.join(os.fspath(run_dir), RUN_ARGS_NAME)
    run = _read_json(path, ValueError)
    if run is None:
        return {}
    if not isinstance(run, dict):
        raise ValueError(f"{path}: not a run record (a JSON object)")
    return run


def _read_json(path: str, error: type) -> Any:
    """The JSON value in ``path``, or ``None`` when there is no such file; ``error`` (naming the file)
    when it cannot be read or parsed."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: cannot be read as JSON: {e}") from None


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
    data = _read_json(path, ManifestError)
    if data is None:
        return {}
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


def check_weight_file(path: str | os.PathLike, sources: Iterable[str] = ()) -> str:
    """Check that a weight file exists, is not empty, and matches the SHA-256 that the manifest
    beside it records (when it records one). Returns the path as a string.

    Args:
        path: the weight file (torch ``.pth`` or ONNX ``.onnx``).
        sources: for an exported model, the names of the torch weight files it was made from (e.g.
            ``("stn.pth", "lprnet.pth")`` for ``recognizer.onnx``): when the folder has a
            ``MANIFEST.json``, each of them present beside ``path`` is checked too
            (:func:`export_mismatch`). A folder without a manifest is checked by nothing here; its
            loaders say so (:func:`warn_unchecked`).

    Raises:
        WeightsError: missing or empty file, unreadable manifest, a different SHA-256, or (with
            ``sources``) a source that differs from its own entry or from the one the model was
            exported from; the message names the file and what to do.
    """
    path = os.fspath(path)
    _checked_sha256(path)
    folder = os.path.dirname(os.path.abspath(path))
    if sources and os.path.isfile(os.path.join(folder, MANIFEST_NAME)):
        why = export_mismatch(path, sources)
        if why:
            raise WeightsError(f"{why}: re-export it with python -m lpr.export (or read with the torch backend)")
    return path


def _checked_sha256(path: str) -> Optional[str]:
    """The SHA-256 of ``path`` after checking it against its manifest entry (hex), or ``None`` when no
    entry records one (then the file is not read). Raises :class:`WeightsError` as
    :func:`check_weight_file`."""
    if not os.path.isfile(path):
        raise WeightsError(f"weight file {path} not found")
    if os.path.getsize(path) == 0:
        raise WeightsError(f"weight file {path} is empty (0 bytes)")
    try:
        want = expected_sha256(path)
    except ManifestError as e:
        raise WeightsError(f"weight file {path}: {e}") from None
    if want is None:
        return None
    got = sha256_file(path)
    if got != want:
        raise WeightsError(f"weight file {path}: its SHA-256 differs from the one in MANIFEST.json "
                           "beside it (the file was changed or damaged; re-export it or fix the manifest)")
    return got


def export_mismatch(path: str | os.PathLike, sources: Iterable[str]) -> Optional[str]:
    """Why the exported model ``path`` is not the export of the torch weight files beside it, or
    ``None`` when it is (or none of ``sources`` lies beside it: a folder of exported models only).

    Each source present (a name in ``path``'s folder) is first checked against its own manifest
    entry, then its SHA-256 is compared with the one the model's entry records for it under
    ``exported_from`` (written by ``python -m lpr.export``).

    Returns:
        A sentence naming the model and the source, e.g. ``".../pnet.onnx is stale: pnet.pth beside
        it has SHA-256 1a2b3c4d5e6f..., the model was exported from one with 9f8e7d6c5b4a..."``; also when the
        folder has no ``MANIFEST.json`` or it records no ``exported_from`` for the model (nothing tells
        what it was made from).

    Raises:
        WeightsError: a source differs from its own manifest entry (changed or damaged), or the
            manifest cannot be read; the message names the file.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    present = [s for s in sources if os.path.isfile(os.path.join(folder, s))]
    if not present:
        return None
    if not os.path.isfile(os.path.join(folder, MANIFEST_NAME)):
        return (f"{path}: there is no MANIFEST.json beside it to tell which {' and '.join(present)} "
                "it was exported from")
    try:
        recorded = read_manifest(folder).get(name, {}).get("exported_from") or {}
    except ManifestError as e:
        raise WeightsError(f"weight file {path}: {e}") from None
    for source in present:
        source_path = os.path.join(folder, source)
        try:
            current = _checked_sha256(source_path) or sha256_file(source_path)
        except WeightsError as e:
            raise WeightsError(f"{e}; checked because {name} was exported from it") from None
        if source not in recorded:
            return f"{path}: the MANIFEST.json beside it records no exported_from SHA-256 for {source} beside it"
        if recorded[source] != current:
            return (f"{path} is stale: {source} beside it has SHA-256 {current[:12]}..., the model was "
                    f"exported from one with {str(recorded[source])[:12]}... (retrained or replaced since)")
    return None


#: Folders and files :func:`warn_unchecked` has reported, each once per process.
_REPORTED_UNCHECKED: set = set()


def warn_unchecked(folder: str | os.PathLike, names: Iterable[str], note: str = "") -> list:
    """Log one warning when weight files a backend is about to load from ``folder`` are not checked
    by any manifest entry; return the names of ``names`` (those present in ``folder``) left unchecked.

    * ``folder`` has no ``MANIFEST.json``: every file is unchecked; the warning names the folder
      (once per folder and process; ``note`` is added to it, e.g. the backend chosen because of it).
    * the manifest does not list some of the files: the warning names them (once per file).

    Raises:
        WeightsError: the manifest cannot be read; the message names it.
    """
    folder = os.fspath(folder)
    present = [n for n in names if os.path.isfile(os.path.join(folder, n))]
    if not os.path.isfile(os.path.join(folder, MANIFEST_NAME)):
        key = os.path.realpath(folder)
        if present and key not in _REPORTED_UNCHECKED:
            _REPORTED_UNCHECKED.add(key)
            log.warning("weights folder %s has no MANIFEST.json: nothing in it was checked (no file against "
                        "a SHA-256, no ONNX model against the torch weights it was exported from)%s; training "
                        "exports (--export) write one, or add entries with lprcore.manifest.update_manifest",
                        folder, f", {note}" if note else "")
        return present
    try:
        files = read_manifest(folder)
    except ManifestError as e:
        raise WeightsError(str(e)) from None
    unlisted = [n for n in present if n not in files]
    new = [n for n in unlisted if os.path.realpath(os.path.join(folder, n)) not in _REPORTED_UNCHECKED]
    if new:
        _REPORTED_UNCHECKED.update(os.path.realpath(os.path.join(folder, n)) for n in new)
        log.warning("%s not checked: the MANIFEST.json of %s does not list %s (add entries with "
                    "lprcore.manifest.update_manifest)", ", ".join(new), folder,
                    "it" if len(new) == 1 else "them")
    return unlisted
