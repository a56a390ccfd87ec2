"""The HTTP service (lpr.service, ``python -m lpr serve``): every route and error status through
FastAPI's TestClient, the record equal to the command line's, the bytes decoder, and the real server
on a loopback port."""
import asyncio
import json
import struct
import threading
import urllib.error
import urllib.request
import warnings
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
with warnings.catch_warnings():  # newer Starlette prefers httpx2 for its TestClient; httpx still works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from lpr import cli
from lpr.config import ReaderConfig, ReadingOptions
from lpr.loadtest import running_server
from lpr.pipeline import PlateReader, decode_photo, decode_photo_bytes
from lpr.service import API_KEY_HEADER, ServiceConfig, create_app
from lprcore.imageio import ImageReadError, ImageTooLargeError, imdecode, imread_reduced
from MTCNN.cascade import DetectorConfig

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "lpr" / "demo"
LABELS = {line.split("\t")[0]: line.split("\t")[1]
          for line in (DEMO / "labels.tsv").read_text(encoding="utf-8").splitlines()[1:] if line.strip()}
PHOTO = DEMO / "0000000.jpg"


@pytest.fixture(scope="module")
def reader():
    """The shipped weights on ONNX Runtime, one thread (built once for every app of this module)."""
    return PlateReader(backend="onnx", threads=1)


@pytest.fixture(scope="module")
def client(reader):
    with TestClient(create_app(ServiceConfig(), reader)) as c:
        yield c


def jpeg(path=PHOTO):
    return path.read_bytes()


def png_header(height: int, width: int) -> bytes:
    """A PNG whose header declares ``height x width`` pixels and that holds no pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def texts(record):
    return [p["text"] for p in record["plates"]]


# --- the bytes decoder -------------------------------------------------------------------------


def test_imdecode_is_imread_on_bytes(tmp_path):
    data = jpeg(DEMO / "0000004.jpg")
    for factor in (1, 2, 4):
        a, used_a = imdecode(data, "x.jpg", factor=factor)
        b, used_b = imread_reduced(DEMO / "0000004.jpg", factor=factor)
        assert used_a == used_b == factor and np.array_equal(a, b)
    image, factor = decode_photo_bytes(data, "x.jpg", DetectorConfig())
    expected, expected_factor = decode_photo(DEMO / "0000004.jpg", DetectorConfig())
    assert factor == expected_factor and np.array_equal(image, expected)
    with pytest.raises(ImageReadError, match=r"up\.jpg: empty file"):
        imdecode(b"", "up.jpg")
    with pytest.raises(ImageReadError, match=r"up\.jpg: not a readable image"):
        imdecode(b"GIF89a broken", "up.jpg")
    with pytest.raises(ImageTooLargeError, match=r"up\.png: image too large: 10000x10000"):
        imdecode(png_header(10000, 10000), "up.png")  # refused from the header: there are no pixels
    with pytest.raises(ImageTooLargeError, match=r"up\.jpg: image too large: 1160x720"):
        imdecode(data, "up.jpg", max_pixels=100)
    with pytest.raises(ImageTooLargeError, match=r"up\.raw: file too large"):  # by the bytes, before the header
        imdecode(bytes(2 << 20), "up.raw", max_pixels=100)
    with pytest.raises(ValueError, match="decode reduction"):
        imdecode(data, "up.jpg", factor=3)


# --- routes ------------------------------------------------------------------------------------


def test_read_multipart_and_raw_body_give_the_command_line_record(client, capsys):
    assert cli.main([str(PHOTO), "--backend", "onnx", "--threads", "1"]) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    r = client.post("/v1/read", files={"file": ("car.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    record = r.json()
    assert set(record) == {"image", "plates", "ms"} and record["image"] == "car.jpg" and record["ms"] >= 0
    assert texts(record) == texts(line) == [LABELS[PHOTO.name]]
    assert record["plates"] == line["plates"]  # the same decode, reader and record: boxes, corners, all
    raw = client.post("/v1/read", content=jpeg(), headers={"Content-Type": "image/jpeg"})
    assert raw.status_code == 200 and raw.json()["image"] == "body" and texts(raw.json()) == texts(line)


def test_query_options_reach_the_reader(client):
    every = client.post("/v1/read?all_reads=true&second_look=false&fine_retry=no&rotated_retry=0&stretched_retry=off"
                        "&time_budget_ms=500", content=jpeg(), headers={"Content-Type": "image/jpeg"})
    assert every.status_code == 200 and LABELS[PHOTO.name] in texts(every.json())
    none = client.post("/v1/read?min_confidence=1", content=jpeg(), headers={"Content-Type": "image/jpeg"})
    assert none.status_code == 200 and none.json()["plates"] == []  # no read is that sure
    again = client.post("/v1/read", content=jpeg(), headers={"Content-Type": "image/jpeg"})
    assert texts(again.json()) == [LABELS[PHOTO.name]]  # the options were for that request only


def test_per_request_options_leave_the_shared_reader_alone(reader):
    from lpr.service import reader_with

    before, detector_config = reader.config, reader.detector.config
    other = reader_with(reader, replace(reader.config.reading, all_reads=True, min_confidence=0.5))
    assert other is not reader and other.detector is not reader.detector  # a detector object of its own
    assert other.config.reading.all_reads and other.detector.config is other.config.detector
    assert reader.config is before and reader.detector.config is detector_config  # the shared one untouched
    assert not reader.config.reading.all_reads
    assert other.recognizer is reader.recognizer  # the nets are shared
    assert reader_with(reader, reader.config.reading) is reader


def test_batch_reads_every_photo_and_reports_the_bad_one(client):
    names = ["0000001.jpg", "0000003.jpg"]
    files = [("files", (names[0], jpeg(DEMO / names[0]), "image/jpeg")),
             ("files", ("notes.jpg", b"this is not an image", "image/jpeg")),
             ("files", (names[1], jpeg(DEMO / names[1]), "image/jpeg"))]
    r = client.post("/v1/read/batch", files=files)
    assert r.status_code == 200
    records = r.json()
    assert [rec["image"] for rec in records] == [names[0], "notes.jpg", names[1]]
    assert texts(records[0]) == [LABELS[names[0]]] and texts(records[2]) == [LABELS[names[1]]]
    assert records[1] == {"image": "notes.jpg", "error": "notes.jpg: not a readable image (corrupt, truncated "
                                                         "or unknown format)"}


def test_health_info_page_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    info = client.get("/v1/info").json()
    assert info["backend"] == "onnx" and info["version"] and info["api_key"] is False
    files = {w["file"]: w["sha256"] for w in info["weights"]["detector"] + info["weights"]["recognizer"]}
    assert {"pnet.onnx", "onet.onnx", "recognizer.onnx", "lprnet.pth"} <= set(files)
    manifest = json.loads((ROOT / "MTCNN" / "weights" / "MANIFEST.json").read_text())
    assert files["pnet.onnx"] == manifest["files"]["pnet.onnx"]["sha256"]
    assert info["limits"]["max_bytes"] == 20 * 2**20 and info["limits"]["queue"] >= 1
    assert info["reading"] == {**info["reading"], "min_confidence": 0.0, "all_reads": False}
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="file"' in page.text and "v1/read" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # works offline
    spec = client.get("/openapi.json").json()
    assert {"/v1/read", "/v1/read/batch", "/v1/info", "/healthz"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


# --- errors: one JSON shape, the right status ----------------------------------------------------


def assert_error(r, status, *words):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "status"} and body["status"] == status
    for w in words:
        assert w in body["error"], body["error"]
    return body


def test_not_an_image_is_400(client):
    assert_error(client.post("/v1/read", content=b"GIF89a broken", headers={"Content-Type": "image/png"}),
                 400, "body: not a readable image")
    assert_error(client.post("/v1/read", files={"file": ("x.jpg", b"", "image/jpeg")}), 400, "x.jpg: empty")
    assert_error(client.post("/v1/read", content=jpeg()[:2000], headers={"Content-Type": "image/jpeg"}), 400)
    assert_error(client.post("/v1/read", content=b"--x\r\n", headers={"Content-Type": "multipart/form-data"}),
                 400, "boundary")


def test_unsupported_content_type_is_415(client):
    assert_error(client.post("/v1/read", content=jpeg(), headers={"Content-Type": "text/plain"}), 415, "text/plain")
    assert_error(client.post("/v1/read", content=jpeg(), headers={"Content-Type": "application/octet-stream"}), 415)
    assert_error(client.post("/v1/read", content=jpeg()), 415, "(none)")
    assert_error(client.post("/v1/read", data={"file": "/etc/passwd"}), 415, "x-www-form-urlencoded")
    assert_error(client.post("/v1/read/batch", content=jpeg(), headers={"Content-Type": "image/jpeg"}), 415, "files")


def test_bad_options_are_422(client):
    body = {"content": jpeg(), "headers": {"Content-Type": "image/jpeg"}}
    assert_error(client.post("/v1/read?min_confidence=1.5", **body), 422, "min_confidence")
    assert_error(client.post("/v1/read?min_confidence=nan", **body), 422, "min_confidence")
    assert_error(client.post("/v1/read?all_reads=perhaps", **body), 422, "all_reads")
    assert_error(client.post("/v1/read?time_budget_ms=-1", **body), 422, "time_budget_ms")
    assert_error(client.post("/v1/read?path=/etc/passwd", **body), 422, "path", "Extra inputs")
    assert_error(client.post("/v1/read", files={"photo": ("a.jpg", jpeg())}), 422, "'photo'")
    assert_error(client.post("/v1/read", files={"file": (None, "/etc/passwd")}), 422, "must be a file")
    assert_error(client.post("/v1/read", files=[("file", ("a.jpg", jpeg())), ("file", ("b.jpg", jpeg()))]),
                 422, "one photo", "batch")
    assert_error(client.post("/v1/read/batch", data={"x": "1"}, files={"files": ("a.jpg", jpeg())}), 422, "'x'")


def test_other_routes_and_methods(client):
    assert_error(client.get("/v1/nothing"), 404)
    assert_error(client.get("/v1/read"), 405)


def test_limits_are_413(reader):
    config = ServiceConfig(max_bytes=30_000, max_pixels=500_000, max_files=2)
    with TestClient(create_app(config, reader)) as c:
        assert len(jpeg()) > 30_000
        # Content-Length over the limit: refused before the body is read
        assert_error(c.post("/v1/read", content=jpeg(), headers={"Content-Type": "image/jpeg"}), 413,
                     f"{len(jpeg())} bytes, over the limit of 30000", "--max-bytes")
        # no Content-Length (chunked): refused while reading
        chunks = (jpeg()[i:i + 8192] for i in range(0, len(jpeg()), 8192))
        assert_error(c.post("/v1/read", content=chunks, headers={"Content-Type": "image/jpeg"}), 413,
                     "more than 30000 bytes", "--max-bytes")
        # pixels, from the header: no pixel data is there to decode
        assert_error(c.post("/v1/read", content=png_header(1000, 1000), headers={"Content-Type": "image/png"}),
                     413, "body: image too large: 1000x1000", "--max-pixels")
        assert_error(c.post("/v1/read/batch", files=[("files", ("a.png", png_header(8, 8)))] * 3), 413,
                     "too many photos", "--max-files")
        batch = c.post("/v1/read/batch", files=[("files", ("big.png", png_header(1000, 1000))),
                                                ("files", ("small.png", png_header(8, 8)))])
        assert batch.status_code == 200
        big, small = batch.json()
        assert "image too large" in big["error"] and "not a readable image" in small["error"]
        assert c.get("/v1/info").json()["limits"]["max_pixels"] == 500_000


def test_pyramid_limit_is_413():
    small = PlateReader(ReaderConfig(detector=DetectorConfig(max_pyramid_mb=1)), backend="onnx", threads=1)
    with TestClient(create_app(ServiceConfig(), small)) as c:
        assert_error(c.post("/v1/read", content=jpeg(), headers={"Content-Type": "image/jpeg"}), 413,
                     "--max-pyramid-mb")


def test_api_key_is_checked_on_v1_only(reader, monkeypatch):
    with TestClient(create_app(ServiceConfig(api_key="s3cret"), reader)) as c:
        body = {"content": jpeg(), "headers": {"Content-Type": "image/jpeg"}}
        assert_error(c.post("/v1/read", **body), 401, "missing API key", API_KEY_HEADER)
        assert_error(c.post("/v1/read", content=jpeg(), headers={"Content-Type": "image/jpeg",
                                                                 API_KEY_HEADER: "guess"}), 401, "wrong API key")
        assert_error(c.get("/v1/info"), 401)
        assert_error(c.post("/v1/read/batch", files={"files": ("a.jpg", jpeg())}), 401)
        ok = c.post("/v1/read", content=jpeg(), headers={"Content-Type": "image/jpeg", API_KEY_HEADER: "s3cret"})
        assert ok.status_code == 200 and texts(ok.json()) == [LABELS[PHOTO.name]]
        assert c.get("/v1/info", headers={API_KEY_HEADER: "s3cret"}).json()["api_key"] is True
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/").status_code == 200  # the page asks for the key itself
    from lpr.serve import build_parser, service_config

    monkeypatch.setenv("LPR_API_KEY", "from-env")
    assert service_config(build_parser().parse_args([])).api_key == "from-env"
    assert service_config(build_parser().parse_args(["--api-key", "flag"])).api_key == "flag"
    monkeypatch.delenv("LPR_API_KEY")
    assert service_config(build_parser().parse_args([])).api_key is None


class HeldReader:
    """The real reader, held in ``read_reduced`` until released: a request that stays in flight."""

    def __init__(self, real: PlateReader):
        self.real, self.config, self.backend = real, real.config, real.backend
        self.entered, self.release = threading.Event(), threading.Event()

    def read_reduced(self, image, factor, timings=None):
        self.entered.set()
        assert self.release.wait(30), "the test never released the held request"
        return self.real.read_reduced(image, factor, timings)


def test_overload_is_503_with_retry_after(reader):
    held = HeldReader(reader)
    with TestClient(create_app(ServiceConfig(queue=1), held)) as c:
        first = {}
        t = threading.Thread(target=lambda: first.update(r=c.post("/v1/read", content=jpeg(),
                                                                   headers={"Content-Type": "image/jpeg"})))
        t.start()
        try:
            assert held.entered.wait(30)  # the first request is running: the one place is taken
            busy = c.post("/v1/read", content=jpeg(), headers={"Content-Type": "image/jpeg"})
            assert_error(busy, 503, "busy", "--queue 1")
            assert busy.headers["Retry-After"] == "1"
            assert_error(c.post("/v1/read/batch", files={"files": ("a.jpg", jpeg())}), 503)
            assert c.get("/healthz").status_code == 200  # health is not queued
        finally:
            held.release.set()
            t.join(30)
        assert first["r"].status_code == 200 and texts(first["r"].json()) == [LABELS[PHOTO.name]]
        again = c.post("/v1/read", content=jpeg(), headers={"Content-Type": "image/jpeg"})
        assert again.status_code == 200  # the place is free again


class FailingReader:
    """A reader whose reading raises ``error`` (built from the real one: its config and backend)."""

    def __init__(self, real: PlateReader, error: BaseException):
        self.config, self.backend, self.error = real.config, real.backend, error

    def read_reduced(self, image, factor, timings=None):
        raise self.error


def test_out_of_memory_is_503_with_retry_after_and_every_path_frees_the_queue(reader):
    raw = {"content": jpeg(), "headers": {"Content-Type": "image/jpeg"}}
    app = create_app(ServiceConfig(queue=1), FailingReader(reader, MemoryError()))
    with TestClient(app) as c:
        r = c.post("/v1/read", **raw)
        assert_error(r, 503, "MemoryError")
        assert r.headers["Retry-After"] == "1"  # as every 503
        batch = c.post("/v1/read/batch", files={"files": ("a.jpg", jpeg())}).json()
        assert batch == [{"image": "a.jpg", "error": "MemoryError"}]
        assert app.state.lpr.admission.active == 0
    app = create_app(ServiceConfig(queue=1), FailingReader(reader, RuntimeError("a bug")))
    with TestClient(app, raise_server_exceptions=False) as c:
        assert_error(c.post("/v1/read", **raw), 500, "internal error: RuntimeError")  # logged; still the shape
        assert app.state.lpr.admission.active == 0
        # the client goes away in the middle of its body: the place is given back too
        messages = [{"type": "http.request", "body": jpeg()[:1000], "more_body": True}, {"type": "http.disconnect"}]
        sent = []

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/v1/read", "raw_path": b"/v1/read", "query_string": b"",
                 "root_path": "", "headers": [(b"content-type", b"image/jpeg"), (b"transfer-encoding", b"chunked")],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "app": app}
        c.portal.call(app, scope, receive, send)
        assert sent[0]["status"] == 400 and app.state.lpr.admission.active == 0
        assert c.post("/v1/read", **raw).status_code == 500  # admitted: the one place is free


def test_a_content_length_of_unicode_digits_is_400_not_500():
    from lpr.service import BodyLimit

    async def app(scope, receive, send):
        raise AssertionError("the body limit let a bad Content-Length through")

    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/read", "headers": [(b"content-length", b"\xb2")]}
    asyncio.run(BodyLimit(app, 10)(scope, receive, send))  # "\xb2" is "²": str.isdigit() says yes, int() no
    assert sent[0]["status"] == 400 and json.loads(sent[1]["body"])["error"] == "bad Content-Length header: '²'"


def test_a_non_ascii_api_key_sent_as_utf8_matches(reader):
    from lpr.service import api_key_matches

    assert api_key_matches("s3cret", "s3cret") and not api_key_matches("s3cre", "s3cret")
    assert not api_key_matches(None, "s3cret") and not api_key_matches("", "s3cret")
    with TestClient(create_app(ServiceConfig(api_key="clé-密钥"), reader)) as c:
        ok = c.get("/v1/info", headers=[(API_KEY_HEADER.encode(), "clé-密钥".encode("utf-8"))])
        assert ok.status_code == 200 and ok.json()["api_key"] is True
        assert_error(c.get("/v1/info", headers=[(API_KEY_HEADER.encode(), "clé-密钥".encode("latin-1", "replace"))]),
                     401, "wrong API key")


def test_service_config_is_validated():
    for bad in ({"queue": 0}, {"max_bytes": 0}, {"inference_threads": 0}, {"max_files": 0}, {"max_pixels": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ServiceConfig(**bad)
    with pytest.raises(TypeError, match="ReaderConfig"):
        ServiceConfig(reader=ReadingOptions())


# --- the command line --------------------------------------------------------------------------


def test_serve_is_dispatched_on_exactly_serve(capsys, monkeypatch):
    with pytest.raises(SystemExit) as e:
        cli.main(["serve", "--help"], prog="python -m lpr")
    out = capsys.readouterr().out
    assert e.value.code == 0 and out.startswith("usage: python -m lpr serve ") and "--max-bytes" in out
    assert "--min-confidence" in out and "--max-pyramid-mb" in out  # the reader's options, as the CLI's
    with pytest.raises(SystemExit) as e:
        cli.main(["serve", "--port", "70000"], prog="python -m lpr")
    assert e.value.code == 2 and "not a TCP port" in capsys.readouterr().err
    monkeypatch.chdir(ROOT)
    assert cli.main(["./serve"]) == 1  # a photo named serve: read (and missing here), not served
    assert "no such file" in json.loads(capsys.readouterr().out)["error"]
    assert "./serve" in cli.build_parser("python -m lpr").format_help()


def test_bad_weights_exit_2_before_serving(tmp_path, capsys):
    from lpr.serve import main

    assert main(["--weights-dir", str(tmp_path), "--backend", "onnx"]) == 2
    assert "error:" in capsys.readouterr().err


def test_real_server_on_loopback_with_two_workers():
    with running_server(["--workers", "2", "--threads", "1"]) as (proc, url):
        with urllib.request.urlopen(url + "/healthz", timeout=10) as r:
            assert json.load(r) == {"status": "ok"}
        request = urllib.request.Request(url + "/v1/read", data=jpeg(), headers={"Content-Type": "image/jpeg"})
        with urllib.request.urlopen(request, timeout=60) as r:
            assert texts(json.load(r)) == [LABELS[PHOTO.name]]
        bad = urllib.request.Request(url + "/v1/read", data=b"nope", headers={"Content-Type": "image/jpeg"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(bad, timeout=60)
        assert e.value.code == 400 and json.load(e.value)["status"] == 400
        with urllib.request.urlopen(url + "/", timeout=10) as r:
            assert b'id="file"' in r.read()
    assert proc.returncode == 0  # stopped cleanly by SIGINT
