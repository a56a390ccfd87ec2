"""Find CCPD subsets and splits under a dataset root.

Layout of CCPD2019 (see ``ccpd/README.md``)::

    ROOT/ccpd_base/*.jpg  ROOT/ccpd_db/*.jpg ...  ROOT/splits/train.txt (relative image paths)

Any folder holding CCPD-named images counts as a subset named after the folder, so
``../shared/data/ccpd_sample/val`` is a root with one subset ``val``, and a folder of images given
directly is a root with itself as its only subset.
"""
from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Sequence, Tuple

from ccpd.annotations import CCPDNameError, CCPDRecord, parse_name
from lprcore.imageio import is_image, list_images

log = logging.getLogger(__name__)

#: Subsets of CCPD2019 and CCPD2020, in the order the CCPD paper reports them.
KNOWN_SUBSETS = ("ccpd_base", "ccpd_db", "ccpd_blur", "ccpd_fn", "ccpd_rotate", "ccpd_tilt",
                 "ccpd_weather", "ccpd_challenge", "ccpd_np", "ccpd_green")
#: Folder names that may hold split lists.
SPLIT_DIRS = ("splits", "split")


@dataclass
class Sample:
    """One annotated image: its path, subset name and parsed record (``None`` for ccpd_np)."""

    path: str
    subset: str
    record: CCPDRecord | None


@dataclass
class ScanResult:
    """Result of a scan: the samples, and the files skipped with the reason for each."""

    samples: List[Sample] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)

    def by_subset(self) -> Dict[str, List[Sample]]:
        """Samples grouped by subset name, subsets in :data:`KNOWN_SUBSETS` order then by name."""
        groups: Dict[str, List[Sample]] = {}
        for s in self.samples:
            groups.setdefault(s.subset, []).append(s)
        order = {name: i for i, name in enumerate(KNOWN_SUBSETS)}
        return dict(sorted(groups.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def discover_subsets(root: str) -> Dict[str, str]:
    """Map subset name -> folder for every folder under ``root`` that directly holds images.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: CCPD root is not a folder")
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if any(is_image(f) for f in filenames):
            name = os.path.basename(os.path.normpath(dirpath))
            if name in found:  # same folder name at two depths: qualify by relative path
                name = os.path.relpath(dirpath, root).replace(os.sep, "/")
            found[name] = dirpath
    return found


def _sample(path: str, subset: str) -> Sample:
    if subset == "ccpd_np":
        return Sample(path, subset, None)
    return Sample(path, subset, parse_name(os.path.basename(path)))


def scan(paths: Iterable[str], subset_of=None) -> ScanResult:
    """Parse the names of ``paths``; malformed names are skipped and reported, not raised.

    Args:
        paths: image paths.
        subset_of: function path -> subset name; default: the name of the parent folder.
    """
    subset_of = subset_of or (lambda p: os.path.basename(os.path.dirname(os.path.abspath(p))))
    result = ScanResult()
    for p in paths:
        try:
            result.samples.append(_sample(p, subset_of(p)))
        except CCPDNameError as e:
            result.skipped.append((p, str(e)))
    if result.skipped:
        log.warning("skipped %d file(s) with malformed CCPD names, e.g. %s", len(result.skipped),
                    result.skipped[0][1])
    return result


def scan_root(root: str, subsets: Sequence[str] | None = None) -> ScanResult:
    """Scan all (or the named) subsets of a CCPD root; see :func:`discover_subsets`.

    Raises:
        FileNotFoundError: ``root`` is missing, or a named subset is not under it.
    """
    found = discover_subsets(root)
    names = list(subsets) if subsets else list(found)
    missing = [n for n in names if n not in found]
    if missing:
        raise FileNotFoundError(f"{root}: no subset folder(s) {missing}; found {sorted(found)}")
    result = ScanResult()
    for name in names:
        part = scan(list_images(found[name], recursive=False), subset_of=lambda p, n=name: n)
        result.samples += part.samples
        result.skipped += part.skipped
    return result


def read_split(root: str, split: str) -> ScanResult:
    """Read a CCPD split list (``ROOT/splits/{split}.txt``: image paths relative to ROOT, one a line).

    The subset of each sample is the first folder of its relative path.

    Raises:
        FileNotFoundError: no such split list; the message lists the places looked at.
    """
    tried = []
    for d in SPLIT_DIRS:
        list_path = os.path.join(root, d, f"{split}.txt")
        tried.append(list_path)
        if os.path.isfile(list_path):
            with open(list_path, encoding="utf-8") as fh:
                rel = [line.strip() for line in fh if line.strip()]
            paths = [os.path.join(root, r) for r in rel]
            return scan(paths, subset_of=lambda p: os.path.relpath(p, root).replace(os.sep, "/").split("/")[0])
    raise FileNotFoundError(f"split {split!r} not found; looked at {tried}")


def split_samples(samples: Sequence[Sample], val_fraction: float = 0.1,
                  seed: int = 0) -> Tuple[List[Sample], List[Sample]]:
    """Deterministic train/val split (same ``seed`` and inputs give the same split).

    Raises:
        ValueError: ``val_fraction`` outside [0, 1).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    ordered = sorted(samples, key=lambda s: s.path)
    random.Random(seed).shuffle(ordered)
    n_val = int(round(len(ordered) * val_fraction))
    return ordered[n_val:], ordered[:n_val]
