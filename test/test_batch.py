"""``python -m lpr.batch``: rows equal the command line's records, bad inputs are error rows, a killed
job resumes, a killed actor's part is read again, and every input is in the output exactly once.

The tests marked ``ray`` share one local Ray instance with 2 CPUs (a module fixture) and are left out
of a plain run: ``python -m pytest -m ray`` runs them. The others need pyarrow only.
"""
from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")

from lpr import batch  # noqa: E402
from lpr import cli  # noqa: E402
from lpr.config import ReaderConfig  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ONNX = ["--backend", "onnx"]


def without_ms(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "ms"}


def cli_records(capsys, paths) -> dict:
    """The command line's records (``--backend onnx``), by image."""
    code = cli.main([*map(str, paths), *ONNX, "--threads", "1"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    return code, {r["image"]: r for r in records}


def assert_same_records(rows, expected: dict) -> None:
    """``rows`` hold each of ``expected``'s images once, each equal to its record but for ``ms`` (the
    boxes to 0.01 pixel, which equality implies)."""
    counts = collections.Counter(r["image"] for r in rows)
    assert counts == collections.Counter(list(expected)), "each input exactly once"
    for r in rows:
        want = expected[r["image"]]
        assert without_ms(r) == without_ms(want), r["image"]
        for got, exp in zip(r.get("plates", []), want.get("plates", [])):
            assert got["text"] == exp["text"]
            assert got["box"] == pytest.approx(exp["box"], abs=0.01)


@pytest.fixture(scope="module")
def val10(shared_data) -> list:
    """10 photos of ``ccpd_sample/val``."""
    return sorted((shared_data / "ccpd_sample" / "val").glob("*.jpg"))[:10]


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory, val10) -> Path:
    """Two good photos (one with a Chinese name, one in a subfolder) and bad inputs: a corrupt JPEG,
    an empty file, a text file named .png."""
    d = tmp_path_factory.mktemp("bad")
    shutil.copy(val10[0], d / "皖A_good.jpg")
    (d / "sub").mkdir()
    shutil.copy(val10[1], d / "sub" / "nested.jpg")
    data = val10[2].read_bytes()
    (d / "corrupt.jpg").write_bytes(data[:200] + bytes(range(256)) * 4)
    (d / "empty.jpg").write_bytes(b"")
    (d / "notes.png").write_text("this is not an image")
    return d


# --- without Ray: rows, parts, listing, the remote (URI) reading path -------------------------------

def test_rows_round_trip_through_parquet(tmp_path):
    plate = {"box": [1.0, 2.0, 3.5, 4.25], "score": 1.0, "text": "皖A12345", "confidence": 0.99,
             "char_confidences": [1.0] * 7, "valid": True}
    with_all = dict(plate, colour="blue", layout="single", corners=[[1.0, 2.0], [3.0, 2.0], [3.0, 4.0], [1.0, 4.0]])
    records = [{"image": "a.jpg", "plates": [plate, with_all], "ms": 12.3},
               {"image": "b.jpg", "plates": [], "ms": 1.0},
               {"image": "c.jpg", "error": "c.jpg: empty file (0 bytes)"},
               {"image": "v.mp4", "frame": 5, "plates": [], "ms": 2.0},
               {"image": "bad\udcff.jpg", "error": "x"}]
    store = batch.PartStore(str(tmp_path / "out"))
    store.prepare()
    name = batch.part_name([r["image"] for r in records], "parquet")
    store.write(name, records)
    assert store.parts() == [name] and not [p for p in os.listdir(store.root) if p.startswith(".")]
    back = batch.read_output(str(tmp_path / "out"))
    assert back[:4] == records[:4]
    assert back[4]["image"] == "bad\\udcff.jpg" == batch.storable_name("bad\udcff.jpg")
    assert store.done() == ({"a.jpg", "b.jpg", "c.jpg", "v.mp4", "bad\\udcff.jpg"}, 1)
    assert pa.parquet.read_table(store.path(name)).schema.equals(batch.schema())
    jsonl = batch.part_name(["x"], "jsonl")
    store.write(jsonl, records)                      # the command line's JSON lines
    assert store.read(jsonl) == records


def test_a_part_that_cannot_be_read_is_reported_and_its_inputs_read_again(tmp_path, capsys):
    store = batch.PartStore(str(tmp_path))
    store.write(batch.part_name(["a.jpg"], "parquet"), [{"image": "a.jpg", "plates": [], "ms": 1.0}])
    (tmp_path / "part-0000.parquet").write_bytes(b"not parquet")
    (tmp_path / ".part-1234.parque.0123456789abcdef.tmp").write_bytes(b"left by a killed worker")
    assert store.done() == ({"a.jpg"}, 2)
    assert "part-0000.parquet: cannot be read" in capsys.readouterr().err
    store.prepare()                                  # removes the temporary file only
    assert sorted(os.listdir(tmp_path)) == sorted([batch.part_name(["a.jpg"], "parquet"), "part-0000.parquet"])


def test_the_ledger_finds_the_photo_a_worker_died_on():
    ledger = batch.Ledger()
    assert ledger.start("p") == (False, {})          # a first attempt reports no photo
    assert ledger.start("p") == (True, {})           # it died somewhere: read carefully
    ledger.reach("p", 0)
    ledger.reach("p", 2)
    assert ledger.start("p") == (True, {2: 1})       # died on photo 2
    ledger.reach("p", 2)
    assert ledger.start("p") == (True, {2: 2})
    ledger.finish("p")
    assert ledger.start("p") == (False, {})


def test_parts_are_named_by_their_inputs_and_cover_each_once():
    entries = [(f"p{i}.jpg", None, None) for i in range(10)] + [("bad.jpg", "no such file or folder", None)]
    parts = batch.plan_parts(entries, part_size=4, actors=1, fmt="parquet")
    assert [len(c) for _, c in parts] == [3, 3, 3, 2]      # at least 4 parts per actor
    assert [e for _, c in parts for e in c] == entries
    assert len({n for n, _ in parts}) == len(parts)
    assert batch.plan_parts(entries, 4, 1, "parquet") == parts              # stable names
    assert [len(c) for _, c in batch.plan_parts(entries, 2, 1, "jsonl")] == [2] * 5 + [1]
    assert all(batch.is_part(n) for n, _ in parts) and not batch.is_part(".part-x.parque.0123.tmp")


def test_inputs_are_listed_once_and_uris_through_pyarrow(tmp_path, bad_folder):
    entries = batch.list_inputs([str(bad_folder), str(bad_folder / "empty.jpg"), str(tmp_path / "nope.jpg"),
                                 f"file://{bad_folder}", f"file://{tmp_path}/nope", "nosuchscheme://x/y"])
    names = [e[0] for e in entries]
    assert len(names) == len(set(names))
    local = [e for e in entries if e[2] is None and e[1] is None]
    assert sorted(Path(e[0]).name for e in local) == ["corrupt.jpg", "empty.jpg", "nested.jpg", "notes.png",
                                                      "皖A_good.jpg"]
    remote = [e for e in entries if e[2] is not None]
    assert sorted(e[0] for e in remote) == sorted(f"file://{e[0]}" for e in local)
    errors = {e[0]: e[1] for e in entries if e[1]}
    assert errors[str(tmp_path / "nope.jpg")] == "no such file or folder"
    assert errors[f"file://{tmp_path}/nope"] == "no such file or folder"
    assert errors["nosuchscheme://x/y"].startswith("cannot list")


def test_a_photo_read_through_a_uri_is_read_as_the_command_line_reads_its_file(tmp_path, bad_folder, capsys):
    _, expected = cli_records(capsys, [bad_folder])
    out = f"file://{tmp_path}/out"
    reader = batch.PartReader(out, ReaderConfig(), backend="onnx", threads=1)
    entries = batch.list_inputs([f"file://{bad_folder}"])
    name = batch.part_name([e[0] for e in entries], "jsonl")
    records = reader.read_part(name, entries)
    assert batch.read_output(out) == records
    by_path = {r["image"][len("file://"):]: r for r in records}
    assert set(by_path) == set(expected)
    for path, r in by_path.items():
        want = without_ms(expected[path])
        if "error" in want:  # the same message, naming the URI
            want["error"] = want["error"].replace(path, "file://" + path)
        assert without_ms(r) == dict(want, image="file://" + path)


# --- on Ray ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_address():
    """One local Ray instance with 2 CPUs for the module; its address (``--address``)."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def expected(val10, bad_folder):
    """The command line's records of ``val10`` and ``bad_folder``, by image (read once)."""
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        code = cli.main([*map(str, val10), str(bad_folder), *ONNX, "--threads", "1"])
    assert code == 1  # the bad inputs
    return {r["image"]: r for r in map(json.loads, buf.getvalue().splitlines())}


def run_main(*argv) -> int:
    return batch.main([*map(str, argv), *ONNX])


@pytest.mark.ray
def test_rows_equal_the_command_line_and_a_rerun_reads_nothing(ray_address, val10, bad_folder, expected, tmp_path,
                                                               capsys):
    out = tmp_path / "out"
    assert run_main(*val10, bad_folder, "--out", out, "--actors", "2", "--part-size", "3") == 1
    err = capsys.readouterr().err
    assert "15 row(s)" in err and "3 error row(s)" in err
    rows = batch.read_output(str(out))
    assert_same_records(rows, expected)
    assert sum(len(r.get("plates", [])) for r in rows) >= 10
    table = pa.parquet.read_table(str(out))  # the folder reads as one table
    assert table.num_rows == 15 and table.schema.names == batch.schema().names
    parts = sorted(os.listdir(out))
    # a rerun finds everything there: no actor starts, nothing is written
    assert run_main(*val10, bad_folder, "--out", out) == 0
    assert "0 row(s)" in capsys.readouterr().err and sorted(os.listdir(out)) == parts
    # JSON lines: the command line's lines
    assert run_main(bad_folder, "--out", tmp_path / "jsonl", "--format", "jsonl", "--actors", "1") == 1
    lines = [json.loads(line) for p in sorted((tmp_path / "jsonl").iterdir()) for line in p.read_text().splitlines()]
    assert_same_records(lines, {k: v for k, v in expected.items() if k.startswith(str(bad_folder))})


@pytest.mark.ray
def test_a_killed_job_resumes_and_writes_each_input_once(ray_address, val10, expected, tmp_path):
    out = tmp_path / "out"
    photos = [str(p) for p in val10]
    cmd = [sys.executable, "-m", "lpr.batch", *photos, "--out", str(out), "--address", ray_address, "--actors", "1",
           "--part-size", "1", *ONNX]
    job = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while (not out.is_dir() or len(batch.PartStore(str(out)).parts()) < 2) and time.monotonic() < deadline:
            assert job.poll() is None, "the job ended before it was killed"
            time.sleep(0.05)
        job.send_signal(signal.SIGKILL)            # a crash: no clean-up of any kind
        job.wait(timeout=30)
    finally:
        if job.poll() is None:
            job.kill()
    time.sleep(3)                                  # Ray ends the dead driver's actors
    before = batch.PartStore(str(out)).parts()
    assert 2 <= len(before) < len(photos), "killed part way"
    assert run_main(*photos, "--out", out, "--actors", "2") == 0
    after = batch.PartStore(str(out)).parts()
    assert set(before) <= set(after) and not [n for n in os.listdir(out) if n.startswith(".")]
    assert_same_records(batch.read_output(str(out)), {p: expected[p] for p in photos})


@pytest.mark.ray
def test_an_actor_killed_mid_part_is_retried_and_each_input_written_once(ray_address, val10, expected, tmp_path,
                                                                         monkeypatch):
    photos = [str(p) for p in val10]
    flag = tmp_path / "crashed"
    monkeypatch.setenv(batch.CRASH_ENV, Path(photos[4]).name)    # the test hook: that worker dies once
    monkeypatch.setenv(batch.CRASH_ONCE_ENV, str(flag))
    out = tmp_path / "out"
    assert run_main(*photos, "--out", out, "--actors", "2", "--part-size", "3") == 0
    assert flag.exists(), "the actor was killed"
    assert_same_records(batch.read_output(str(out)), {p: expected[p] for p in photos})


@pytest.mark.ray
def test_a_photo_that_kills_its_worker_every_time_gets_an_error_row(ray_address, val10, expected, tmp_path,
                                                                    monkeypatch):
    photos = [str(p) for p in val10[:4]]
    monkeypatch.setenv(batch.CRASH_ENV, Path(photos[1]).name)    # the test hook: dies at each try
    monkeypatch.delenv(batch.CRASH_ONCE_ENV, raising=False)
    out = tmp_path / "out"
    assert run_main(*photos, "--out", out, "--actors", "1", "--part-size", "4", "--max-worker-deaths", "1") == 1
    rows = {r["image"]: r for r in batch.read_output(str(out))}
    assert set(rows) == set(photos)
    assert rows[photos[1]] == {"image": photos[1], "error": batch.WORKER_DEATHS_ERROR.format(image=photos[1], n=1)}
    for p in photos[:1] + photos[2:]:
        assert without_ms(rows[p]) == without_ms(expected[p])
