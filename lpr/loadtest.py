"""Load test of the HTTP service (``python -m lpr serve``): concurrent clients posting photos.

    python -m lpr.loadtest                                # 8 clients x 200 requests, the demo photos
    python -m lpr.loadtest --clients 2 --requests 5 --server-args "--workers 2"
    python -m lpr.loadtest --url http://127.0.0.1:8000 --pid 1234

Starts the service on a free loopback port (or uses ``--url``), warms it up (each client sends
``--warmup`` requests), then N clients send M requests each at once, every one a photo as the
multipart field ``file`` of ``POST /v1/read`` over a kept-alive connection, cycling through the
photos. Prints one Markdown table row: requests, errors (anything but a 200 with a record), p50 and
p99 latency in ms, requests per second, and the server's resident memory (VmRSS of its process and
its children, from /proc; Linux) after the warm-up and after the run, and their ratio.

Exit status: 0 when every request was answered with a record and the server's memory grew by at
most ``--max-rss-ratio`` (1.2x), 1 when any request failed or the memory grew more, 2 for usage
errors and a server that did not start.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit
from urllib.request import urlopen

from lprcore.cli import nonnegative_float, nonnegative_int, positive_float, positive_int
from lprcore.parallel import print_stderr

DEMO_DIR = Path(__file__).resolve().parent / "demo"


class ServerError(RuntimeError):
    """The service did not start (the message has the end of its log)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (the system's pick; another process may take it before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    """Wait until ``GET url/healthz`` answers 200, at most ``timeout_s`` seconds.

    Raises:
        ServerError: ``proc`` ended first, or the time ran out.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"the server exited with status {proc.returncode} before it answered")
        try:
            with urlopen(url.rstrip("/") + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise ServerError(f"the server did not answer {url}/healthz within {timeout_s:g} s")


def stop_server(proc: subprocess.Popen, timeout_s: float = 20.0, sig: int = signal.SIGINT) -> int:
    """Stop a server started by :func:`running_server` with ``sig`` (SIGINT, as Ctrl-C, or SIGTERM:
    uvicorn answers the requests in flight first), killing it after ``timeout_s`` (with its worker
    processes: the whole process group when it leads one, as :func:`running_server`'s do); returns
    its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            _kill(proc)
    return proc.returncode


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` and, when it leads its own process group, the group (uvicorn's workers)."""
    try:
        if os.name == "posix" and os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


#: Tries of :func:`running_server` when the free port it picked was taken before the server bound it.
PORT_TRIES = 3


@contextlib.contextmanager
def running_server(server_args: Sequence[str] = (), host: str = "127.0.0.1", startup_timeout_s: float = 60.0,
                   env: Optional[dict] = None, stop_signal: int = signal.SIGINT
                   ) -> Iterator[Tuple[subprocess.Popen, str]]:
    """``python -m lpr serve --host HOST --port FREE_PORT --log-level warning SERVER_ARGS`` in a
    subprocess (its own process group), for the block: yields ``(process, base URL)`` once
    ``/healthz`` answers; stopped with ``stop_signal`` at the end (:func:`stop_server`), and killed
    with its workers whatever happens (an exception, Ctrl-C while it starts). A port taken by another
    process between its pick and the server's bind is picked again (:data:`PORT_TRIES` tries). Its
    output goes to a temporary log file (``process.log_path``), removed afterwards.

    Raises:
        ServerError: it did not start within ``startup_timeout_s`` (the message ends with its log).
    """
    root = str(Path(__file__).resolve().parent.parent)
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (root, child_env.get("PYTHONPATH")) if p)
    for attempt in range(1, PORT_TRIES + 1):
        port = free_port(host)
        cmd = [sys.executable, "-m", "lpr", "serve", "--host", host, "--port", str(port), "--log-level", "warning",
               *server_args]
        fd, log_path = tempfile.mkstemp(prefix="lpr-serve-", suffix=".log")
        proc = None
        try:
            with os.fdopen(fd, "wb") as log:
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=child_env, start_new_session=os.name == "posix")
            proc.log_path = log_path
            url = f"http://{host}:{port}"
            try:
                wait_ready(url, startup_timeout_s, proc)
            except ServerError as e:
                stop_server(proc)
                tail = Path(log_path).read_text(errors="replace")[-2000:]
                if attempt < PORT_TRIES and proc.returncode not in (None, 0) and "address already in use" in tail.lower():
                    continue  # another process took the port first
                raise ServerError(f"{e}: {shlex.join(cmd)}\n{tail}") from None
            try:
                yield proc, url
            finally:
                stop_server(proc, sig=stop_signal)
            return
        finally:
            if proc is not None and proc.poll() is None:  # an exception (or Ctrl-C) before the stop above
                _kill(proc)
            with contextlib.suppress(OSError):
                os.unlink(log_path)


def tree_rss_kib(pid: int) -> Optional[int]:
    """Resident memory of process ``pid`` and all its descendants, KiB (``VmRSS`` of
    ``/proc/PID/status``, summed); ``None`` where /proc cannot tell (not Linux, no such process)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            if p == pid:
                return None
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError, ValueError):
                todo += [int(c) for c in task.read_text().split()]
    return total


def multipart_body(name: str, data: bytes, field_name: str = "file") -> Tuple[bytes, str]:
    """``(body, content type)`` of a multipart/form-data request holding one file ``data`` named ``name``."""
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@dataclass
class ClientResult:
    """What one client saw: each request's latency in seconds, and its failures (up to 5 kept)."""

    latencies: List[float] = field(default_factory=list)
    errors: int = 0
    messages: List[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.errors += 1
        if len(self.messages) < 5:
            self.messages.append(message)


def _client(url: str, bodies: Sequence[Tuple[bytes, str]], count: int, offset: int, api_key: Optional[str],
            start: threading.Barrier, timeout_s: float) -> ClientResult:
    """Send ``count`` requests over one kept-alive connection (reconnecting after a failure)."""
    import http.client

    parts = urlsplit(url)
    path = (parts.path.rstrip("/") or "") + "/v1/read"
    result = ClientResult()
    conn = None
    start.wait()
    for i in range(count):
        body, content_type = bodies[(offset + i) % len(bodies)]
        headers = {"Content-Type": content_type, **({"X-API-Key": api_key} if api_key else {})}
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout_s)
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            data = response.read()
            elapsed = time.perf_counter() - t0
            if response.status != 200:
                result.fail(f"HTTP {response.status}: {data[:200]!r}")
            elif "plates" not in json.loads(data):
                result.fail(f"no plates in {data[:200]!r}")
            else:
                result.latencies.append(elapsed)
        except (OSError, http.client.HTTPException, ValueError) as e:
            result.fail(f"{type(e).__name__}: {e}")
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()
    return result


def run_clients(url: str, bodies: Sequence[Tuple[bytes, str]], clients: int, requests: int,
                api_key: Optional[str] = None, timeout_s: float = 120.0) -> Tuple[List[ClientResult], float]:
    """``clients`` threads sending ``requests`` requests each, started together; returns their
    results and the wall time in seconds."""
    start = threading.Barrier(clients + 1)
    results: List[Optional[ClientResult]] = [None] * clients

    def work(k: int) -> None:
        results[k] = _client(url, bodies, requests, k, api_key, start, timeout_s)

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return [r or ClientResult(errors=requests) for r in results], time.perf_counter() - t0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100) of ``values``, linear between ranks; NaN when empty."""
    if not values:
        return math.nan
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclass
class LoadReport:
    """One load test's figures (latencies in ms, memory in MiB; ``None``: not measured)."""

    clients: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    requests_per_s: float
    rss_warm_mib: Optional[float]
    rss_after_mib: Optional[float]
    messages: List[str] = field(default_factory=list)

    @property
    def rss_ratio(self) -> Optional[float]:
        """RSS after the run / after the warm-up."""
        if self.rss_warm_mib and self.rss_after_mib is not None:
            return self.rss_after_mib / self.rss_warm_mib
        return None

    def markdown(self) -> str:
        """The figures as a Markdown table (header and one row)."""
        def mib(v):
            return "n/a" if v is None else f"{v:.0f}"

        ratio = self.rss_ratio
        return ("| clients x requests | requests | errors | p50 ms | p99 ms | requests/s "
                "| server RSS after warm-up MiB | server RSS after run MiB | RSS ratio |\n"
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
                f"| {self.clients} x {self.requests // max(self.clients, 1)} | {self.requests} | {self.errors} "
                f"| {self.p50_ms:.0f} | {self.p99_ms:.0f} | {self.requests_per_s:.1f} | {mib(self.rss_warm_mib)} "
                f"| {mib(self.rss_after_mib)} | {'n/a' if ratio is None else f'{ratio:.2f}'} |")


def load_test(url: str, photos: Sequence[Path], clients: int, requests: int, warmup: int,
              pid: Optional[int] = None, api_key: Optional[str] = None, timeout_s: float = 120.0) -> LoadReport:
    """Warm the service at ``url`` up (``warmup`` requests per client), then run ``clients`` x
    ``requests``; the server's memory is read from process ``pid`` (and its children) when given."""
    bodies = [multipart_body(p.name, p.read_bytes()) for p in photos]
    if warmup:
        run_clients(url, bodies, clients, warmup, api_key, timeout_s)
    rss_warm = tree_rss_kib(pid) if pid else None
    results, wall = run_clients(url, bodies, clients, requests, api_key, timeout_s)
    rss_after = tree_rss_kib(pid) if pid else None
    latencies = [t * 1000 for r in results for t in r.latencies]
    total = clients * requests
    return LoadReport(clients=clients, requests=total, errors=sum(r.errors for r in results),
                      p50_ms=percentile(latencies, 50), p99_ms=percentile(latencies, 99),
                      requests_per_s=total / wall if wall > 0 else math.nan,
                      rss_warm_mib=None if rss_warm is None else rss_warm / 1024,
                      rss_after_mib=None if rss_after is None else rss_after / 1024,
                      messages=[m for r in results for m in r.messages][:5])


#: Largest server RSS after the run / after the warm-up that passes (the service's target).
MAX_RSS_RATIO = 1.2


def failures(report: LoadReport, max_rss_ratio: Optional[float] = MAX_RSS_RATIO) -> List[str]:
    """Why ``report`` fails the load test, one line each (empty: it passes): any failed request, and
    the server's memory growing by more than ``max_rss_ratio`` (``None`` or 0: not checked; nor when
    the memory was not measured)."""
    out = []
    if report.errors:
        out.append(f"{report.errors} of {report.requests} requests failed")
    ratio = report.rss_ratio
    if max_rss_ratio and ratio is not None and ratio > max_rss_ratio:
        out.append(f"the server's memory grew {ratio:.2f}x from the warm-up to the end of the run, over "
                   f"--max-rss-ratio {max_rss_ratio:g}")
    return out


def build_parser() -> argparse.ArgumentParser:
    """The load test's options: the server (started or ``--url``), the load, the photos."""
    p = argparse.ArgumentParser(prog="python -m lpr.loadtest", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running service's base URL, e.g. http://127.0.0.1:8000 (default: start one "
                                 "on a free loopback port, stopped at the end)")
    p.add_argument("--pid", type=positive_int, help="with --url: the server's process id, for its memory "
                                                    "(default: memory not measured)")
    p.add_argument("--clients", type=positive_int, default=8, metavar="N", help="concurrent clients (default: 8)")
    p.add_argument("--requests", type=positive_int, default=200, metavar="M",
                   help="requests per client (default: 200)")
    p.add_argument("--warmup", type=nonnegative_int, default=5, metavar="K",
                   help="requests per client before the memory is first read and the clock starts (default: 5)")
    p.add_argument("--photos", nargs="+", metavar="FILE", help="photos to post, in turn (default: the demo photos)")
    p.add_argument("--server-args", default="", metavar="ARGS",
                   help='options of the started server, one string, e.g. "--workers 2 --threads 1" (default: none)')
    p.add_argument("--api-key", metavar="KEY", help="send this X-API-Key (default: the LPR_API_KEY environment "
                                                    "variable; unset: none)")
    p.add_argument("--max-rss-ratio", type=nonnegative_float, default=MAX_RSS_RATIO, metavar="R",
                   help="fail (exit 1) when the server's RSS after the run is more than R x its RSS after the "
                        f"warm-up; 0: not checked (default: {MAX_RSS_RATIO:g})")
    p.add_argument("--timeout", type=positive_float, default=120.0, metavar="S",
                   help="seconds a request may take (default: 120)")
    return p


def main(argv=None) -> int:
    """Run the load test; prints its Markdown table; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.pid and not args.url:
        parser.error("--pid goes with --url (a started server's process is known)")
    photos = [Path(p) for p in args.photos] if args.photos else sorted(DEMO_DIR.glob("*.jpg"))
    for p in photos:
        if not p.is_file():
            parser.error(f"--photos: {p}: no such file")
    api_key = args.api_key or os.environ.get("LPR_API_KEY") or None
    try:
        server_args = shlex.split(args.server_args)
    except ValueError as e:
        parser.error(f"--server-args: {e}")

    def run(url: str, pid: Optional[int]) -> LoadReport:
        return load_test(url, photos, args.clients, args.requests, args.warmup, pid, api_key, args.timeout)

    try:
        if args.url:
            wait_ready(args.url, 10)
            report = run(args.url, args.pid)
        else:
            with running_server(server_args) as (proc, url):
                report = run(url, proc.pid)
    except ServerError as e:
        print_stderr(f"error: {e}")
        return 2
    sys.stdout.write(report.markdown() + "\n")
    for m in report.messages:
        print_stderr(f"failed: {m}")
    failed = failures(report, args.max_rss_ratio)
    for m in failed:
        print_stderr(f"error: {m}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
