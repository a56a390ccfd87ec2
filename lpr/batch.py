"""Read the plates of millions of photos with Ray Data, on this machine or on a Ray cluster: one row
per photo, written in parts that a rerun resumes from.

    python -m lpr.batch photos/ 'shots/**/*.jpg' --out plates/                      # this machine
    python -m lpr.batch s3://bucket/photos --out s3://bucket/plates --address auto   # a Ray cluster

Needs the ``[ray]`` extra (``pip install "mtcnn-lprnet[ray]"``: Ray Data and pyarrow), on every node
of a cluster, with this package. docs/batch.md has the cluster's commands and a benchmark.

Inputs are what ``python -m lpr`` takes (files, folders searched recursively, globs:
:func:`lpr.cli.expand_inputs`), and URIs of any filesystem pyarrow reads (``s3://``, ``gs://``,
``hdfs://``, ``file://``: a file, or a folder listed recursively for images). The inputs are listed on
the driver, cut into parts (``--part-size`` inputs each) and read by a pool of Ray actors
(``--actors``, each a :class:`lpr.pipeline.PlateReader` built once, ``--threads-per-actor`` threads):
each actor reads a part's photos with the command line's own code (:func:`lpr.cli.read_input`; a
photo from a URI is decoded from its bytes, :func:`lpr.pipeline.decode_photo_bytes`) and writes the
part's rows as one file, ``OUT/part-HASH.parquet`` (or ``.jsonl``), atomically.

Rows: the command line's records (:mod:`lpr.records`): ``image``, ``plates`` (a nested list, each
plate as :meth:`lpr.pipeline.Plate.to_json`), ``ms``; ``error`` for an input that could not be read
(missing, empty, corrupt, not an image, over a limit), which never stops the job; ``frame`` for a
video's frames (local videos only). :data:`SCHEMA` is the Parquet schema (a field the record lacks is
null; :func:`row_record` turns a row back into the record).

Nothing lost, nothing read twice:

* resume: a part's name is a hash of its inputs and the file appears whole or not at all (a
  temporary name, then a rename), so a rerun with the same ``--out`` reads the ``image`` column of
  the parts there and skips those inputs; an input is listed once however often it is named;
* a worker killed mid-part (a node lost, a crash) is restarted and its part read again by Ray
  (the actor pool's ``max_restarts`` and ``max_task_retries``), and the part is written under the same
  name, so it holds each input once;
* a photo that kills its worker process each time (a crash in a decoder) is found: a part whose
  worker died is read again one photo at a time, each reported to a small ledger actor before it is
  read (:class:`Ledger`), and after ``--max-worker-deaths`` deaths on one photo it gets an error row
  instead of another try.

One run per ``--out`` at a time. Exit status: 0 when every input of this run was read, 1 when any
got an error row or the job failed (the parts written stay), 2 for usage errors, unusable weights,
Ray Data not installed and no Ray cluster at ``--address``, 130 when interrupted.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple

from lpr.cli import VIDEO_EXTENSIONS, InputOptions, expand_inputs, json_line, load_image, read_input
from lpr.config import ReaderConfig
from lpr.pipeline import PlateReader, decode_photo_bytes
from lpr.records import error_record
from lprcore.files import write_bytes_atomic
from lprcore.imageio import (DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, MAX_FILE_BYTES_PER_PIXEL, ImageReadError,
                             ImageTooLargeError)
from lprcore.manifest import WeightsError
from lprcore.parallel import prefetch, print_stderr, progress, stderr_is_terminal

log = logging.getLogger(__name__)

#: Formats of the output parts (``--format``), by file extension.
FORMATS = ("parquet", "jsonl")
#: Inputs per part (``--part-size``): what a killed job reads again, at most, per actor.
PART_SIZE = 1000
#: Parts per actor at least, when there are few inputs, so that every actor gets work.
PARTS_PER_ACTOR = 4
#: Deaths of a worker process on one photo after which it gets an error row (``--max-worker-deaths``).
MAX_WORKER_DEATHS = 3
#: Test hook: a worker process ends at once (``os._exit(1)``) before reading an input whose path holds
#: this environment variable's text, as a crash or a lost node would end it. Read by the driver and
#: handed to the actors. For tests only.
CRASH_ENV = "LPR_BATCH_TEST_CRASH"
#: Test hook, with :data:`CRASH_ENV`: a flag file; the worker crashes only while it does not exist
#: (creating it first), i.e. once. For tests only.
CRASH_ONCE_ENV = "LPR_BATCH_TEST_CRASH_ONCE"
#: Error message of a photo that killed its worker process ``--max-worker-deaths`` times.
WORKER_DEATHS_ERROR = "{image}: the worker process died {n} time(s) while reading it (a crash); skipped"

EXIT_STATUS_HELP = """\
rows (one per input; docs/batch.md has the Parquet schema):
  {"image": PATH, "plates": [...], "ms": T}   read, as python -m lpr writes it
  {"image": PATH, "error": MESSAGE}           not read: missing, empty, corrupt, not an image, over a
                                              limit, or it killed its worker --max-worker-deaths times

exit status:
  0  every input of this run was read (inputs already in --out are skipped)
  1  an input got an error row, or the job failed (the parts written stay: rerun to go on)
  2  usage error, unusable weights, Ray Data not installed, or no Ray cluster at --address
  130  interrupted (Ctrl-C): the parts written stay, rerun to go on
"""

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")

#: One input as listed: ``(image, error, source)``: ``image`` names it in its row (a local path, or a
#: URI); ``error`` is why it cannot be read (``None``: read it); ``source`` is ``None`` for a local
#: file, ``[root URI, path in that URI's filesystem]`` for a remote one.
Entry = Tuple[str, Optional[str], Optional[List[str]]]


def _pa():
    """pyarrow and its parquet and fs modules (the ``[ray]`` extra), imported when needed."""
    import pyarrow as pa
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq
    return pa, pq, pafs


def plate_type():
    """The Arrow type of one plate (:meth:`lpr.pipeline.Plate.to_json`): a struct of ``box``
    (list<float64>, 4 pixels x1, y1, x2, y2), ``score``, ``text``, ``confidence``,
    ``char_confidences`` (list<float64>), ``colour``, ``layout`` (null when unknown), ``corners``
    (list<list<float64>>, 4 [x, y] pixels, or null) and ``valid`` (bool)."""
    pa = _pa()[0]
    return pa.struct([("box", pa.list_(pa.float64())), ("score", pa.float64()), ("text", pa.string()),
                      ("confidence", pa.float64()), ("char_confidences", pa.list_(pa.float64())),
                      ("colour", pa.string()), ("layout", pa.string()),
                      ("corners", pa.list_(pa.list_(pa.float64()))), ("valid", pa.bool_())])


def schema():
    """The Parquet schema of the rows: ``image`` (string), ``frame`` (int64, a video's frame, else
    null), ``plates`` (list of :func:`plate_type`, null for an error row), ``ms`` (float64, reading
    time in milliseconds, null for an error row), ``error`` (string, null when read)."""
    pa = _pa()[0]
    return pa.schema([("image", pa.string()), ("frame", pa.int64()), ("plates", pa.list_(plate_type())),
                      ("ms", pa.float64()), ("error", pa.string())])


def storable_name(name: str) -> str:
    """``name`` as a Parquet string holds it: itself, or, when it is not valid UTF-8 (a file name
    with ``os.fsdecode``'s surrogates), with JSON's ``\\udcXX`` escapes written out as text."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return json.dumps(name, ensure_ascii=True)[1:-1]


def records_table(records: Sequence[dict]):
    """The records (:mod:`lpr.records`) as a ``pyarrow.Table`` of :func:`schema`, one row each."""
    pa = _pa()[0]
    columns = {name: [] for name in schema().names}
    for r in records:
        columns["image"].append(storable_name(r["image"]))
        for key in ("frame", "plates", "ms", "error"):
            columns[key].append(r.get(key))
    return pa.Table.from_pydict(columns, schema=schema())


def row_record(row: dict) -> dict:
    """A row read back from a Parquet part (``Table.to_pylist()``) as the command line's record:
    null fields left out (top level, and a plate's ``colour``, ``layout`` and ``corners``)."""
    record = {k: v for k, v in row.items() if v is not None}
    if record.get("plates") is not None:
        record["plates"] = [{k: v for k, v in p.items() if v is not None} for p in record["plates"]]
    return record


def is_uri(path: str) -> bool:
    """``path`` names something through a filesystem URI (``s3://...``, ``file:///...``)."""
    return bool(_URI.match(path))


def _from_uri(uri: str):
    """``(pyarrow filesystem, path in it)`` of a URI.

    Raises:
        pyarrow.ArrowInvalid, OSError: an unknown scheme, or the filesystem cannot be reached."""
    return _pa()[2].FileSystem.from_uri(uri)


def _list_remote(uri: str) -> List[Entry]:
    """The entries of a URI: one file, or the images under a folder (recursive, sorted by path), or
    one entry with the error (no such file or folder, the filesystem unusable)."""
    pafs = _pa()[2]
    try:
        fs, root = _from_uri(uri)
        info = fs.get_file_info(root)
        if info.type == pafs.FileType.NotFound:
            return [(uri, "no such file or folder", None)]
        if info.type != pafs.FileType.Directory:
            return [(uri, None, [uri, root])]
        found = sorted(i.path for i in fs.get_file_info(pafs.FileSelector(root, recursive=True))
                       if i.type == pafs.FileType.File and i.path.lower().endswith(IMAGE_EXTENSIONS))
    except Exception as e:  # ArrowInvalid (unknown scheme), OSError (no access, no credentials)
        return [(uri, f"cannot list: {str(e).strip() or type(e).__name__}", None)]
    if not found:
        return [(uri, "folder holds no image files", None)]
    base = root.rstrip("/")
    prefix = uri.split("?", 1)[0].rstrip("/")  # without the URI's options (?region=...): names only
    return [(prefix + p[len(base):] if p.startswith(base) else p, None, [uri, p]) for p in found]


def list_inputs(paths: Sequence[str]) -> List[Entry]:
    """Every input the paths name, in their order, each once (the first time it is named): local
    paths as :func:`lpr.cli.expand_inputs` lists them (an entry with the error for a path that names
    nothing), URIs through their pyarrow filesystem (:func:`is_uri`)."""
    entries: List[Entry] = []
    for p in paths:
        if is_uri(p):
            entries += _list_remote(p)
        else:
            entries += [(path, error, None) for path, error in expand_inputs([p])]
    seen: Set[str] = set()
    unique = []
    for e in entries:
        if e[0] not in seen:
            seen.add(e[0])
            unique.append(e)
    return unique


def part_name(images: Sequence[str], fmt: str) -> str:
    """The file name of the part that holds ``images``: ``part-`` + 20 hex digits of the SHA-256 of
    the names + ``.parquet`` or ``.jsonl``; the same inputs always make the same name."""
    digest = hashlib.sha256("\0".join(images).encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"part-{digest}.{fmt}"


def is_part(name: str) -> bool:
    """A file name of an output part (not a temporary file, which is hidden)."""
    return name.startswith("part-") and name.endswith(tuple("." + f for f in FORMATS))


class PartStore:
    """The output folder ``out``, a local path or a URI (:func:`is_uri`): its parts, and writing one
    atomically (local: :func:`lprcore.files.write_bytes_atomic`; a URI: a hidden temporary name, then
    the filesystem's move, e.g. a copy on S3, whose objects appear whole).

    Raises:
        OSError, pyarrow.ArrowInvalid: from the constructor, when the filesystem cannot be reached.
    """

    def __init__(self, out: str):
        pafs = _pa()[2]
        self.out = out
        self.remote = is_uri(out)
        self.made = False  # the remote folder was created
        if self.remote:
            self.fs, self.root = _from_uri(out)
            self.root = self.root.rstrip("/")
        else:
            self.fs, self.root = pafs.LocalFileSystem(), os.path.abspath(out)

    def path(self, name: str) -> str:
        """The part ``name``'s path in the store's filesystem."""
        return f"{self.root}/{name}"

    def prepare(self) -> None:
        """Create the folder, check that it can be written (local) and remove temporary files that a
        killed worker left (``.part-*.tmp``).

        Raises:
            OSError: the folder cannot be created or written in (the message names it)."""
        if self.remote:
            self.fs.create_dir(self.root, recursive=True)
            return
        from lprcore.files import prepare_output_dir
        prepare_output_dir(self.root)
        for name in os.listdir(self.root):
            if name.startswith(".part-") and name.endswith(".tmp"):
                try:
                    os.remove(os.path.join(self.root, name))
                except OSError:
                    pass

    def parts(self) -> List[str]:
        """The names of the parts in the folder, sorted (none when it does not exist)."""
        pafs = _pa()[2]
        infos = self.fs.get_file_info(pafs.FileSelector(self.root, allow_not_found=True))
        return sorted(os.path.basename(i.path) for i in infos
                      if i.type == pafs.FileType.File and is_part(os.path.basename(i.path)))

    def read(self, name: str, columns: Optional[List[str]] = None) -> List[dict]:
        """The rows of part ``name`` as records (:func:`row_record`; with ``columns``, a Parquet part
        gives only those).

        Raises:
            OSError, pyarrow.ArrowInvalid, ValueError: the part cannot be read."""
        if name.endswith(".parquet"):
            table = _pa()[1].read_table(self.path(name), columns=columns, filesystem=self.fs)
            return [row_record(r) for r in table.to_pylist()]
        with self.fs.open_input_stream(self.path(name)) as fh:
            text = fh.read().decode("utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def done(self) -> Tuple[Set[str], int]:
        """The images already in the parts (as :func:`storable_name` gives them) and the number of
        parts; a part that cannot be read is reported on stderr and counts for nothing."""
        images: Set[str] = set()
        names = self.parts()
        count = len(names)
        parquet = [n for n in names if n.endswith(".parquet")]
        if parquet:  # the image column of every Parquet part at once (pyarrow reads them in parallel)
            try:
                import pyarrow.dataset as pads
                table = pads.dataset([self.path(n) for n in parquet], filesystem=self.fs,
                                     format="parquet").to_table(columns=["image"])
                images.update(table.column("image").to_pylist())
                names = [n for n in names if n not in set(parquet)]
            except Exception:  # one part cannot be read: part by part, to name it
                pass
        for name in names:
            try:
                images.update(storable_name(r["image"]) for r in self.read(name, ["image"]))
            except Exception as e:
                print_stderr(f"warning: {self.path(name)}: cannot be read, its inputs are read again "
                             f"(remove it): {str(e).strip() or type(e).__name__}")
        return images, count

    def write(self, name: str, records: Sequence[dict]) -> None:
        """Write the part ``name`` (its extension gives the format) whole or not at all.

        Raises:
            OSError: it cannot be written."""
        if name.endswith(".parquet"):
            pa, pq, _ = _pa()
            sink = pa.BufferOutputStream()
            pq.write_table(records_table(records), sink)
            data = sink.getvalue().to_pybytes()
        else:
            data = "".join(json_line(r) + "\n" for r in records).encode("utf-8")
        if not self.remote:
            write_bytes_atomic(self.path(name), data)
            return
        if not self.made:
            self.fs.create_dir(self.root, recursive=True)
            self.made = True
        tmp = self.path(f".{name}.{os.urandom(8).hex()}.tmp")
        try:
            with self.fs.open_output_stream(tmp) as fh:
                fh.write(data)
            self.fs.move(tmp, self.path(name))
        except BaseException:
            try:
                self.fs.delete_file(tmp)
            except Exception:
                pass
            raise


def read_output(out: str) -> List[dict]:
    """Every record in the output folder ``out`` (a path or a URI), part after part (sorted by name):
    the command line's records (:func:`row_record` for Parquet parts).

    Raises:
        OSError, pyarrow.ArrowInvalid, ValueError: a part cannot be read."""
    store = PartStore(out)
    return [r for name in store.parts() for r in store.read(name)]


def _read_remote(source: List[str], image: str, filesystems: dict, max_pixels: Optional[int]) -> bytes:
    """The bytes of a remote photo (``source``: ``[root URI, path]``, see :data:`Entry`).

    Raises:
        ImageReadError: not a file (missing, a folder).
        ImageTooLargeError: more bytes than a photo of ``max_pixels`` needs (nothing read).
        OSError: the filesystem failed."""
    pafs = _pa()[2]
    uri, path = source
    if uri not in filesystems:
        filesystems[uri] = _from_uri(uri)[0]
    fs = filesystems[uri]
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise ImageReadError(f"{image}: no such file")
    if info.type != pafs.FileType.File:
        raise ImageReadError(f"{image}: is a folder, not an image file")
    if max_pixels is not None and info.size is not None and info.size > MAX_FILE_BYTES_PER_PIXEL * max_pixels + (1 << 20):
        raise ImageTooLargeError(f"{image}: file too large for an image of at most {max_pixels / 1e6:g} "
                                 f"megapixels ({info.size / 2**20:.0f} MiB; raise the limit with --max-pixels)")
    with fs.open_input_stream(path) as fh:
        return fh.read()


class Ledger:
    """Which photo the reader of each part is at, so that a photo on which worker processes die is
    found (run as a Ray actor, one per job, :func:`run_batch`).

    A part started again while its last start did not finish means its worker died. Its first
    attempt reports only its start and its end (no cost per photo); a part read again is read
    carefully, one photo at a time, each reported before it is read, so that each later death counts
    against the photo it happened on.
    """

    def __init__(self):
        self.at: Dict[str, Optional[int]] = {}
        self.deaths: Dict[str, Dict[int, int]] = {}

    def start(self, part: str) -> Tuple[bool, Dict[int, int]]:
        """A reader starts ``part``; returns ``(careful, deaths)``: whether an earlier attempt died (read
        it carefully) and the deaths so far per input index of the part."""
        careful = part in self.at
        if careful and self.at[part] is not None:
            counts = self.deaths.setdefault(part, {})
            counts[self.at[part]] = counts.get(self.at[part], 0) + 1
        self.at[part] = -1 if careful else None
        return careful, dict(self.deaths.get(part, {}))

    def reach(self, part: str, index: int) -> None:
        """The careful reader of ``part`` starts its input ``index`` (the part's length: writing it)."""
        self.at[part] = index

    def finish(self, part: str) -> None:
        """``part`` is written."""
        self.at.pop(part, None)
        self.deaths.pop(part, None)


class PartReader:
    """Reads parts and writes their rows: the callable class of the actor pool (``map_batches``).

    Each actor builds its :class:`lpr.pipeline.PlateReader` once. A batch holds parts, one a row:
    ``part`` (the file name, :func:`part_name`) and ``entries`` (JSON list of :data:`Entry`); the result
    has per part ``part``, ``rows``, ``errors`` (rows that are error records) and ``seconds`` (reading
    and writing it). As the command line
    does, the next photo is loaded and decoded on a thread while this one is read (the first attempt
    of a part; a part read again after its worker died is read one photo at a time, :class:`Ledger`).

    Args:
        out: the output folder (:class:`PartStore`).
        config: the reader's options.
        weights_dir, backend, threads: as :class:`lpr.pipeline.PlateReader`.
        max_pixels, video_step: as the command line's ``--max-pixels`` and ``--video-step``.
        ledger: the :class:`Ledger` actor's handle, or ``None`` (no crash detection).
        max_deaths: a photo on which the worker died this many times gets an error row.
        crash: the test hook, ``(text, flag file or None)`` (:data:`CRASH_ENV`), or ``None``.

    Raises:
        lprcore.manifest.WeightsError, ValueError: from the constructor, the weights or options are
            unusable.
    """

    #: Photos loaded ahead of the one read (remote ones wait on the network).
    PREFETCH = 2

    def __init__(self, out: str, config: ReaderConfig, weights_dir: Optional[str] = None, backend: str = "auto",
                 threads: int = 1, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS, video_step: int = 5,
                 ledger=None, max_deaths: int = MAX_WORKER_DEATHS, crash: Optional[Tuple[str, Optional[str]]] = None):
        self.reader = PlateReader(config, weights_dir=weights_dir, backend=backend, threads=threads)
        self.store = PartStore(out)
        self.opts = InputOptions(max_pixels=max_pixels, video_step=video_step)
        self.ledger = ledger
        self.max_deaths = max_deaths
        self.crash = crash
        self.filesystems: dict = {}

    def __call__(self, batch: Dict) -> Dict[str, list]:
        result = {"part": [], "rows": [], "errors": [], "seconds": []}
        for name, entries in zip(batch["part"], batch["entries"]):
            t0 = time.perf_counter()
            records = self.read_part(str(name), json.loads(str(entries)))
            result["part"].append(str(name))
            result["rows"].append(len(records))
            result["errors"].append(sum("error" in r for r in records))
            result["seconds"].append(time.perf_counter() - t0)
        return result

    def _ledger(self, method: str, *args):
        import ray
        return ray.get(getattr(self.ledger, method).remote(*args))

    def read_part(self, name: str, entries: List[Entry]) -> List[dict]:
        """Read the inputs of part ``name`` and write it; returns its records.

        Raises:
            OSError: the part cannot be written, or the worker died ``max_deaths`` times writing it."""
        careful, deaths = self._ledger("start", name) if self.ledger is not None else (False, {})
        records: List[dict] = []
        if careful:
            for i, (image, error, source) in enumerate(entries):
                n = deaths.get(i, 0)
                if n >= self.max_deaths:
                    records.append(error_record(image, WORKER_DEATHS_ERROR.format(image=image, n=n)))
                    continue
                self._ledger("reach", name, i)
                self._crash_hook(image)
                records += self.read_entry(image, error, source, self.load((image, error, source)))
            if deaths.get(len(entries), 0) >= self.max_deaths:
                raise OSError(f"{self.store.path(name)}: the worker process died {deaths[len(entries)]} "
                              "time(s) while writing it")
            self._ledger("reach", name, len(entries))
        else:
            for (image, error, source), loaded in prefetch(entries, self.load, depth=self.PREFETCH):
                self._crash_hook(image)
                records += self.read_entry(image, error, source, loaded)
        self.store.write(name, records)
        if self.ledger is not None:
            self._ledger("finish", name)
        return records

    def load(self, entry: Entry):
        """Load and decode one input as the command line does (:func:`lpr.cli.load_image`; a remote
        photo from its bytes, :func:`lpr.pipeline.decode_photo_bytes`): ``(image, factor)``, the
        failure as a value, or ``None`` (an error entry, a video: read by :meth:`read_entry`)."""
        image, error, source = entry
        if error or image.lower().endswith(VIDEO_EXTENSIONS):
            return None
        try:
            if source is None:
                return load_image(image, self.opts, self.reader.detector.config)
            data = _read_remote(source, image, self.filesystems, self.opts.max_pixels)
            return decode_photo_bytes(data, image, self.reader.detector.config, self.opts.max_pixels)
        except Exception as e:  # handed to read_input, which words it as the command line does
            return e

    def read_entry(self, image: str, error: Optional[str], source: Optional[List[str]], loaded=None) -> List[dict]:
        """The records of one input, as the command line makes them (:func:`lpr.cli.read_input`): one
        for a photo, one per sampled frame of a local video; an error record for anything that fails.

        Args:
            loaded: what :meth:`load` gave for it (``None``: a local input is loaded here)."""
        if error:
            return [error_record(image, error)]
        if source is not None and image.lower().endswith(VIDEO_EXTENSIONS):
            return [error_record(image, "videos are read from local files only")]
        return list(read_input(image, self.reader, self.opts, {}, loaded))

    def _crash_hook(self, image: str) -> None:
        if self.crash is None or self.crash[0] not in image:
            return
        flag = self.crash[1]
        if flag:
            if os.path.exists(flag):
                return
            with open(flag, "w"):
                pass
        os._exit(1)


@dataclass
class BatchResult:
    """What :func:`run_batch` did.

    Attributes:
        listed: inputs listed (each once).
        skipped: of those, already in the output folder (an earlier run).
        rows: rows written by this run.
        errors: of those, error rows.
        parts: parts written by this run.
        seconds: wall time of the reading (listing and Ray's start not included).
        busy: seconds the actors spent reading and writing parts, all actors added up (the rest of
            ``seconds x actors`` went to their start and to waiting).
    """

    listed: int
    skipped: int
    rows: int
    errors: int
    parts: int
    seconds: float
    busy: float = 0.0


def plan_parts(entries: Sequence[Entry], part_size: int, actors: int, fmt: str) -> List[Tuple[str, List[Entry]]]:
    """Cut ``entries`` into parts of at most ``part_size`` (and at most ``len / (actors *``
    :data:`PARTS_PER_ACTOR` ``)``, so that every actor gets work), in order: ``(name, entries)`` each."""
    size = max(1, min(part_size, math.ceil(len(entries) / (actors * PARTS_PER_ACTOR))))
    chunks = [list(entries[i:i + size]) for i in range(0, len(entries), size)]
    return [(part_name([e[0] for e in c], fmt), c) for c in chunks]


def run_batch(paths: Sequence[str], out: str, config: ReaderConfig | None = None, *, fmt: str = "parquet",
              actors: int = 1, threads: int = 1, weights_dir: Optional[str] = None, backend: str = "auto",
              max_pixels: Optional[int] = DEFAULT_MAX_PIXELS, video_step: int = 5, part_size: int = PART_SIZE,
              max_deaths: int = MAX_WORKER_DEATHS, show_progress: bool = True) -> BatchResult:
    """List the inputs, skip those already in ``out`` and read the rest with a pool of ``actors`` Ray
    actors (``threads`` CPUs each), writing the parts to ``out``. Ray must be initialized
    (``ray.init``): this machine or a cluster.

    Args:
        paths: files, folders, globs (:func:`lpr.cli.expand_inputs`) and URIs (:func:`is_uri`).
        out: the output folder, a path or a URI; created when missing.
        fmt: ``"parquet"`` or ``"jsonl"``.
        part_size: inputs per part at most (:func:`plan_parts`).
        max_deaths: see :class:`PartReader`.
        others: as :class:`PartReader`.

    Returns:
        The counts (:class:`BatchResult`).

    Raises:
        ValueError: ``fmt`` unknown, or ``actors``, ``threads``, ``part_size`` or ``max_deaths`` < 1.
        OSError: ``out`` cannot be created or written.
        ray.exceptions.RayError: the job failed (e.g. a part could not be written).
    """
    import ray
    import ray.data

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if min(actors, threads, part_size, max_deaths) < 1:
        raise ValueError("actors, threads, part_size and max_deaths must be >= 1")
    config = config if config is not None else ReaderConfig()
    store = PartStore(out)
    store.prepare()
    entries = list_inputs(paths)
    done, _ = store.done()
    todo = [e for e in entries if storable_name(e[0]) not in done]
    skipped = len(entries) - len(todo)
    if not todo:
        return BatchResult(len(entries), skipped, 0, 0, 0, 0.0)
    parts = plan_parts(todo, part_size, actors, fmt)
    crash = (os.environ[CRASH_ENV], os.environ.get(CRASH_ONCE_ENV)) if os.environ.get(CRASH_ENV) else None
    ledger = ray.remote(Ledger).options(num_cpus=0, max_restarts=-1, max_task_retries=-1).remote()
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    t0 = time.perf_counter()
    ds = ray.data.from_items([{"part": name, "entries": json.dumps(c, ensure_ascii=True)} for name, c in parts],
                             override_num_blocks=len(parts))
    # one part at a time per actor: an actor never holds parts back while another one idles
    pool = ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=1)
    # Ray Data's actor pool restarts a dead actor and retries its task (max_restarts and
    # max_task_retries, unlimited by default): a part is read again and rewritten under its name
    ds = ds.map_batches(PartReader, batch_size=1, compute=pool, num_cpus=threads,
                        fn_constructor_kwargs=dict(out=out, config=config, weights_dir=weights_dir, backend=backend,
                                                   threads=threads, max_pixels=max_pixels, video_step=video_step,
                                                   ledger=ledger, max_deaths=max_deaths, crash=crash))
    rows = errors = written = 0
    busy = 0.0
    try:
        for summary in progress(ds.iter_rows(), total=len(parts), desc="parts", unit="part",
                                disable=not show_progress):
            rows += int(summary["rows"])
            errors += int(summary["errors"])
            written += 1
            busy += float(summary["seconds"])
    finally:
        ray.kill(ledger)
    seconds = time.perf_counter() - t0
    return BatchResult(len(entries), skipped, rows, errors, written, seconds, busy)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The options of ``python -m lpr.batch``: inputs and output, Ray, and the command line's reading,
    speed and detector options (:mod:`lpr.options`, :mod:`MTCNN.options`)."""
    from lpr.options import add_backend_argument, add_reading_arguments
    from lprcore.cli import positive_int
    from MTCNN.options import add_detector_arguments

    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0], epilog=EXIT_STATUS_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    io = p.add_argument_group("input and output")
    io.add_argument("paths", nargs="+", help="image files, folders (searched recursively), globs, or URIs a pyarrow "
                                             "filesystem reads (s3://bucket/photos, file:///data/photos)")
    io.add_argument("--out", required=True, metavar="DIR", help="output folder or URI: one file per part; a rerun "
                                                                 "skips the inputs already there")
    io.add_argument("--format", choices=FORMATS, default="parquet", help="format of the parts (default: parquet)")
    io.add_argument("--part-size", type=positive_int, default=PART_SIZE, metavar="N",
                    help=f"inputs per part at most: what a killed job reads again (default: {PART_SIZE})")
    io.add_argument("--video-step", type=positive_int, default=5, metavar="N",
                    help="read every N-th frame of local videos (default: 5)")
    ray_group = p.add_argument_group("Ray")
    ray_group.add_argument("--address", help="join this Ray cluster: auto (the one `ray start` runs here) or "
                                             "ray://HEAD:10001 (default: start Ray on this machine)")
    ray_group.add_argument("--actors", type=positive_int, metavar="N",
                           help="reader actors (default: the cluster's CPUs / --threads-per-actor)")
    ray_group.add_argument("--threads-per-actor", type=positive_int, default=1, metavar="T",
                           help="CPU threads (and Ray CPUs) of each actor's reader (default: 1)")
    ray_group.add_argument("--max-worker-deaths", type=positive_int, default=MAX_WORKER_DEATHS, metavar="N",
                           help="a photo on which the worker process died N times gets an error row "
                                f"(default: {MAX_WORKER_DEATHS})")
    reading = p.add_argument_group("reading", "which reads are reported, and how hard the reader tries")
    speed = p.add_argument_group("speed and limits")
    tuning = p.add_argument_group("detector tuning", "the PNet/ONet cascade's thresholds")
    add_reading_arguments(reading)
    add_backend_argument(speed)
    speed.add_argument("--weights-dir", metavar="DIR", help="folder with the weights of both stages, on every node "
                                                            "(default: the shipped ones)")
    speed.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                       help="refuse images with more pixels (height x width), checked before decoding "
                            f"(default: {DEFAULT_MAX_PIXELS})")
    add_detector_arguments(tuning, limits=speed)
    return p


def check_address(address: str, timeout: float = 10.0) -> None:
    """Check that a Ray address of the form ``HOST:PORT`` or ``ray://HOST:PORT`` takes connections
    (Ray itself keeps trying an address that does not answer); ``auto`` and other forms are left to
    ``ray.init``.

    Raises:
        ConnectionError: nothing answers at ``HOST:PORT`` within ``timeout`` seconds."""
    import socket

    m = re.fullmatch(r"(?:ray://)?\[?([^\]/]+?)\]?:(\d+)/?", address)
    if not m:
        return
    try:
        socket.create_connection((m.group(1), int(m.group(2))), timeout=timeout).close()
    except OSError as e:
        raise ConnectionError(f"nothing answers at {m.group(1)}:{m.group(2)} ({e.strerror or e})") from None


def _error_text(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def main(argv=None) -> int:
    """Run ``python -m lpr.batch`` on ``argv`` (default ``sys.argv[1:]``); returns the exit status
    (module docstring). Usage errors end through ``parser.error`` (``SystemExit(2)``).

    Without ``--address`` Ray starts on this machine (``ray.init``, as many CPUs as the machine or
    the actors need) and stops at the end; in a process where Ray is already initialized, that
    instance is used and left running.
    """
    from lpr.options import reader_config

    parser = build_parser("python -m lpr.batch")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    config = reader_config(args, parser)
    try:
        import ray
        import ray.data  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as e:
        print_stderr(f"error: python -m lpr.batch needs Ray Data and pyarrow ({e}): "
                     "pip install \"mtcnn-lprnet[ray]\" (or pip install \"ray[data]\" pyarrow)")
        return 2
    try:  # the weights are checked here, once, before any Ray worker starts
        PlateReader(config, weights_dir=args.weights_dir, backend=args.backend, threads=1)
    except (WeightsError, ValueError, ImportError) as e:
        print_stderr(f"error: {e}")
        return 2
    try:
        PartStore(args.out).prepare()
    except Exception as e:
        parser.error(f"--out {args.out}: {_error_text(e)}")
    if args.address and not is_uri(args.out):
        print_stderr(f"warning: --out {args.out} is a local path: on a cluster every node writes its parts there, "
                     "so it must be one shared folder (the same path on every node), else use a URI (s3://...)")
    started = not ray.is_initialized()
    if started:
        try:
            if args.address:
                check_address(args.address)
                ray.init(address=args.address)
            else:
                cpus = os.cpu_count() or 1
                want = (args.actors or max(1, cpus // args.threads_per_actor)) * args.threads_per_actor
                ray.init(num_cpus=max(cpus, want), include_dashboard=False)
        except Exception as e:  # ConnectionError: no cluster at --address
            print_stderr(f"error: cannot start or join Ray{' at ' + args.address if args.address else ''}: "
                         f"{_error_text(e)}")
            return 2
    try:
        actors = args.actors or max(1, int(ray.cluster_resources().get("CPU", 1)) // args.threads_per_actor)
        result = run_batch(args.paths, args.out, config, fmt=args.format, actors=actors,
                           threads=args.threads_per_actor, weights_dir=args.weights_dir, backend=args.backend,
                           max_pixels=args.max_pixels, video_step=args.video_step, part_size=args.part_size,
                           max_deaths=args.max_worker_deaths, show_progress=stderr_is_terminal())
    except KeyboardInterrupt:
        print_stderr(f"interrupted: the parts written stay in {args.out}; rerun the same command to read the rest")
        return 130
    except Exception as e:  # the job failed (e.g. a part could not be written): what is written stays
        log.debug("job failed", exc_info=True)
        print_stderr(f"error: the job failed: {_error_text(e)}; the parts written stay in {args.out}, and a "
                     "rerun of the same command reads the rest")
        return 1
    finally:
        if started:
            ray.shutdown()
    rate = f", {result.rows / result.seconds:.1f} photos/s" if result.seconds > 0 else ""
    print_stderr(f"{result.rows} row(s) in {result.parts} part(s) written to {args.out} ({result.errors} error "
                 f"row(s)){rate}; {result.skipped} of {result.listed} input(s) were there already")
    return 1 if result.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
