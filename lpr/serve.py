"""Serve the plate reader over HTTP: a REST service with a web page (FastAPI on uvicorn).

    python -m lpr serve                                   # http://127.0.0.1:8000/ (also lpr-read serve)
    python -m lpr serve --host 0.0.0.0 --port 8080 --workers 2 --api-key KEY
    curl -F file=@photo.jpg http://127.0.0.1:8000/v1/read

Routes, answers and status codes: :mod:`lpr.service` and docs/service.md. The reader's options are the
command line's (``python -m lpr --help``); they set the defaults a request's query options override.
The service binds 127.0.0.1 (this machine only) unless ``--host`` says otherwise.

Needs the ``serve`` extra: ``pip install .[serve]`` (FastAPI, uvicorn, python-multipart).

Exit status: 0 after a clean stop (Ctrl-C or SIGTERM: the requests in flight are answered first), 2 for
usage errors, unusable weights and a missing FastAPI or uvicorn, 1 when the server could not start
(e.g. the port is taken).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from lpr.options import add_reader_arguments, load_reader, reader_config
from lprcore.cli import positive_int
from lprcore.imageio import DEFAULT_MAX_PIXELS
from lprcore.parallel import print_stderr

#: Environment variable that hands the parsed command line to uvicorn's worker processes
#: (``--workers`` > 1), which build the app with :func:`app_from_environment`.
ARGV_ENV = "LPR_SERVE_ARGV"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The service's options: "server" (host, port, workers, threads, API key, log level), "request
    limits", then the reader's groups (:func:`lpr.options.add_reader_arguments`)."""
    from lpr.service import API_KEY_ENV, DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES, DEFAULT_QUEUE, RETRY_AFTER_S

    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                epilog="Routes, JSON shapes, status codes and curl examples: docs/service.md "
                                       "(and /docs of the running server).")
    server = p.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; 0.0.0.0: every interface (default: 127.0.0.1, this machine only)")
    server.add_argument("--port", type=_port, default=8000, help="TCP port (default: 8000)")
    server.add_argument("--workers", type=positive_int, default=1, metavar="N",
                        help="worker processes, each with its own reader (default: 1)")
    server.add_argument("--inference-threads", type=positive_int, default=1, metavar="N",
                        help="photos decoded and read at once in each worker process (default: 1)")
    server.add_argument("--api-key", metavar="KEY", default=None,
                        help=f"require this key in the X-API-Key header of every /v1 request (default: the "
                             f"{API_KEY_ENV} environment variable; unset: no key)")
    server.add_argument("--log-level", choices=LOG_LEVELS, default="info",
                        help="uvicorn's log level; info logs each request (default: info)")
    limits = p.add_argument_group("request limits", "each refused request gets a JSON error and its status")
    limits.add_argument("--max-bytes", type=positive_int, default=DEFAULT_MAX_BYTES, metavar="N",
                        help="refuse request bodies larger than N bytes with 413, from Content-Length before "
                             f"reading (default: {DEFAULT_MAX_BYTES}, 20 MiB)")
    limits.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                        help="refuse photos with more pixels (height x width) with 413, checked from the image "
                             f"header before decoding (default: {DEFAULT_MAX_PIXELS})")
    limits.add_argument("--max-files", type=positive_int, default=DEFAULT_MAX_FILES, metavar="N",
                        help=f"most photos in one POST /v1/read/batch; more: 413 (default: {DEFAULT_MAX_FILES})")
    limits.add_argument("--queue", type=positive_int, default=DEFAULT_QUEUE, metavar="N",
                        help="requests waiting or running at once in each worker process; more get 503 with "
                             f"Retry-After: {RETRY_AFTER_S} (default: {DEFAULT_QUEUE})")
    add_reader_arguments(p, "folder with the weights of both stages, e.g. a training export (default: the "
                            "shipped MTCNN/weights and LPRNet/weights)")
    return p


def _port(text: str) -> int:
    """argparse ``type=`` for a TCP port, an int in [0, 65535] (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (0 to 65535)")
    return port


def service_config(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None):
    """The :class:`lpr.service.ServiceConfig` of parsed options (the API key from ``--api-key``, else
    the ``LPR_API_KEY`` environment variable).

    Raises:
        ValueError: a value out of its range, without ``parser`` (with it: ``parser.error``, exit 2).
    """
    from lpr.service import API_KEY_ENV, ServiceConfig

    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV)
    try:
        return ServiceConfig(reader=reader_config(args, parser), weights_dir=args.weights_dir, backend=args.backend,
                             device=args.device, threads=args.threads, inference_threads=args.inference_threads,
                             queue=args.queue, max_bytes=args.max_bytes, max_pixels=args.max_pixels,
                             max_files=args.max_files, api_key=api_key or None)
    except ValueError as e:
        if parser is None:
            raise
        parser.error(str(e))


def app_from_environment():
    """The app of one uvicorn worker process: the command line that :func:`main` left in
    :data:`ARGV_ENV`, parsed again (uvicorn's ``factory=True``; each process builds its own reader
    when the app starts)."""
    from lpr.service import create_app

    argv = json.loads(os.environ[ARGV_ENV])
    return create_app(service_config(build_parser().parse_args(argv)))


def main(argv=None, prog: str | None = None) -> int:
    """Run the service until Ctrl-C or SIGTERM; returns the exit status.

    The reader is built (its weights checked) before the server starts, so that unusable weights are
    one line on stderr and exit status 2; with ``--workers`` > 1 each worker process builds its own.

    Args:
        argv: the options (default ``sys.argv[1:]``).
        prog: the command's name in usage messages (``python -m lpr serve`` when run through
            :func:`lpr.cli.main`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        import uvicorn

        from lpr.service import build_reader, create_app
    except ImportError as e:
        print_stderr(f"error: the service needs {e.name or 'FastAPI and uvicorn'}, which is not installed: "
                     "pip install 'mtcnn-lprnet[serve]' (or: pip install fastapi uvicorn python-multipart)")
        return 2
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    config = service_config(args, parser)
    reader = load_reader(lambda: build_reader(config), args)  # weights checked before the server starts
    if reader is None:
        return 2
    options = dict(host=args.host, port=args.port, log_level=args.log_level,
                   access_log=args.log_level in ("info", "debug"), timeout_graceful_shutdown=10)
    # uvicorn stops gracefully on SIGINT and SIGTERM, then raises the signal again for its previous
    # handler: Python's own for SIGINT (KeyboardInterrupt), this one for SIGTERM, so that both end here
    # as a clean stop instead of the process being killed by the signal's default action
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if in_main else None
    try:
        if args.workers == 1:
            uvicorn.run(create_app(config, reader), **options)
        else:
            del reader  # each worker process builds its own
            os.environ[ARGV_ENV] = json.dumps(argv)
            uvicorn.run("lpr.serve:app_from_environment", factory=True, workers=args.workers, **options)
    except (KeyboardInterrupt, Terminated):
        pass
    except SystemExit as e:  # uvicorn's exit when it cannot start (port taken, the app failed to start)
        return 0 if e.code in (None, 0) else 1
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    return 0


class Terminated(Exception):
    """SIGTERM arrived (:func:`main` stops cleanly)."""


def _terminated(signum, frame) -> None:
    raise Terminated(signum)


if __name__ == "__main__":
    raise SystemExit(main(prog="python -m lpr.serve"))
