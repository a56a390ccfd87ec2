"""``python -m lpr.loadtest``: a short run against a server it starts itself, its table and exit status."""
import re
import sys

import pytest

pytest.importorskip("fastapi")

from lpr import loadtest  # noqa: E402


def test_short_load_test_has_no_errors_and_sane_numbers(capsys):
    code = loadtest.main(["--clients", "2", "--requests", "5", "--warmup", "1", "--server-args", "--threads 1"])
    out = capsys.readouterr().out
    assert code == 0, out
    header, rule, row = out.strip().splitlines()
    assert header.startswith("| clients x requests | requests | errors | p50 ms | p99 ms | requests/s")
    cells = [c.strip() for c in row.strip("|").split("|")]
    clients, requests, errors, p50, p99, rate, rss_warm, rss_after, ratio = cells
    assert clients == "2 x 5" and requests == "10" and errors == "0"
    assert 0 < float(p50) <= float(p99) < 30_000
    assert float(rate) > 0
    assert 50 < float(rss_warm) < 4096 and 50 < float(rss_after) < 4096  # MiB of a real server process
    assert 0.5 < float(ratio) < 2 and float(ratio) == pytest.approx(float(rss_after) / float(rss_warm), abs=0.02)


def test_failed_requests_are_counted_and_exit_1(capsys, monkeypatch):
    monkeypatch.setenv("LPR_API_KEY", "right")  # the started server wants it ...
    code = loadtest.main(["--clients", "1", "--requests", "2", "--warmup", "0", "--api-key", "wrong",
                          "--server-args", "--threads 1"])
    captured = capsys.readouterr()
    assert code == 1 and re.search(r"\| 1 x 2 \| 2 \| 2 \|", captured.out)  # ... and the client sends another
    assert "HTTP 401" in captured.err


def test_usage_errors(capsys):
    with pytest.raises(SystemExit) as e:
        loadtest.main(["--pid", "1"])
    assert e.value.code == 2 and "--pid goes with --url" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        loadtest.main(["--photos", "/no/such.jpg"])
    assert e.value.code == 2 and "no such file" in capsys.readouterr().err


def test_helpers():
    assert loadtest.percentile([3, 1, 2], 50) == 2 and loadtest.percentile([1, 2], 100) == 2
    assert loadtest.percentile([], 50) != loadtest.percentile([], 50)  # NaN
    if sys.platform.startswith("linux"):
        import os

        assert loadtest.tree_rss_kib(os.getpid()) > 1000
    assert loadtest.tree_rss_kib(2**22 + 12345) is None
    body, content_type = loadtest.multipart_body("a.jpg", b"xyz")
    boundary = content_type.split("boundary=")[1]
    assert body.startswith(f"--{boundary}\r\n".encode()) and b'filename="a.jpg"' in body and b"\r\nxyz\r\n" in body
