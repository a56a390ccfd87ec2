"""Read plates over HTTP: the REST service of ``python -m lpr serve`` (FastAPI), and its web page.

Routes (docs/service.md has curl examples; ``/docs`` the OpenAPI page):

* ``POST /v1/read``: one photo, as the multipart field ``file`` or as the raw body with an image
  ``Content-Type`` (:data:`IMAGE_TYPES`); query options :class:`ReadParams` (the per-request
  :class:`lpr.config.ReadingOptions`). Answers the record of ``python -m lpr``'s JSON line
  (:func:`lpr.records.read_record`): ``{"image": NAME, "plates": [...], "ms": T}``, ``NAME`` the
  uploaded file's name or ``"body"``.
* ``POST /v1/read/batch``: several photos, the multipart field ``files`` repeated; a JSON array of one
  record each, in the order sent; a photo that cannot be read gets ``{"image": NAME, "error": ...}``
  and the others are read.
* ``GET /healthz``: ``{"status": "ok"}`` (never needs the API key).
* ``GET /v1/info``: package version, backend, every weight file's name and SHA-256, the limits.
* ``GET /``: the web page (``lpr/static/index.html``: pick or drop a photo, see its plates; nothing
  loaded from the internet).

Every error answers ``{"error": MESSAGE, "status": CODE}``: 400 not an image (or a malformed body),
401 API key missing or wrong, 404/405 no such route or method, 413 over ``max_bytes`` (from
``Content-Length`` before the body is read, else while it is read), over ``max_pixels`` or the
detector's pyramid limit (from the image header, before decoding) or more than ``max_files`` photos,
415 a content type that is not an image or multipart, 422 bad options (unknown or out of range), 503
overloaded (``queue`` requests already waiting or running in this process, or out of memory reading
the photo; ``Retry-After`` says when to try again). Clients send bytes only: no route takes a path, and the server opens no file a request
names.

Decoding and reading run on a thread pool of ``inference_threads`` threads, never on the event loop.
The reader is built once per process when the app starts (:func:`create_app`'s lifespan).
Library module: the command line that starts it is :mod:`lpr.serve`.
"""
from __future__ import annotations

import asyncio
import copy
import hmac
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Annotated, Dict, Iterator, List, Optional

from fastapi import APIRouter, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from lpr.config import ReaderConfig, ReadingOptions
from lpr.pipeline import PlateReader, decode_photo_bytes
from lpr.records import error_record, read_record
from lprcore.files import sha256_file
from lprcore.imageio import DEFAULT_MAX_PIXELS, ImageReadError, ImageTooLargeError
from LPRNet import reading
from MTCNN import cascade

log = logging.getLogger(__name__)

#: Raw-body content types ``POST /v1/read`` takes (the photo's bytes are decoded whatever the type says).
IMAGE_TYPES = ("image/jpeg", "image/png", "image/bmp", "image/webp", "image/tiff")
MULTIPART = "multipart/form-data"
#: The request header that carries the API key.
API_KEY_HEADER = "X-API-Key"
#: Environment variable with the API key, when ``--api-key`` is not given.
API_KEY_ENV = "LPR_API_KEY"
#: Default largest request body, bytes (20 MiB).
DEFAULT_MAX_BYTES = 20 * 2**20
#: Default requests waiting or running at once in one worker process; more get 503.
DEFAULT_QUEUE = 16
#: Default most photos in one ``POST /v1/read/batch``.
DEFAULT_MAX_FILES = 16
#: Seconds a client told 503 is asked to wait (``Retry-After``).
RETRY_AFTER_S = 1
#: Weight files listed by ``GET /v1/info`` (by extension).
WEIGHT_SUFFIXES = (".pth", ".onnx")
STATIC_DIR = Path(__file__).resolve().parent / "static"
PACKAGE = "mtcnn-lprnet"


@dataclass
class ServiceConfig:
    """Everything :func:`create_app` needs: the reader's configuration and where its weights are,
    and the service's limits.

    Attributes:
        reader: the reader's thresholds and default reading options (:class:`lpr.config.ReaderConfig`);
            a request's query options override ``reader.reading`` for that request only.
        weights_dir: one folder with the weights of both stages (``None``: the shipped
            ``MTCNN/weights`` and ``LPRNet/weights``).
        backend: ``"auto"``, ``"onnx"`` or ``"torch"`` (:func:`lpr.pipeline.choose_backend`).
        device: torch device (torch backend only).
        threads: CPU threads of the backend in each inference thread (0: the backend's default).
        inference_threads: photos decoded and read at once in one process (>= 1).
        queue: requests waiting or running at once in one process (>= 1); more get 503.
        max_bytes: largest request body, bytes (>= 1).
        max_pixels: largest photo, height x width pixels, checked from its header (``None``: no limit).
        max_files: most photos in one batch (>= 1).
        api_key: the key every ``/v1`` route wants in the ``X-API-Key`` header (``None`` or empty:
            no key needed).

    Raises:
        ValueError: a limit out of its range.
        TypeError: ``reader`` is not a :class:`lpr.config.ReaderConfig`.
    """

    reader: ReaderConfig = field(default_factory=ReaderConfig)
    weights_dir: Optional[str] = None
    backend: str = "auto"
    device: str = "cpu"
    threads: int = 0
    inference_threads: int = 1
    queue: int = DEFAULT_QUEUE
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: Optional[int] = DEFAULT_MAX_PIXELS
    max_files: int = DEFAULT_MAX_FILES
    api_key: Optional[str] = field(default=None, repr=False)

    def __post_init__(self):
        if not isinstance(self.reader, ReaderConfig):
            raise TypeError(f"ServiceConfig.reader must be a ReaderConfig, got {type(self.reader).__name__}")
        for name in ("inference_threads", "queue", "max_bytes", "max_files"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_pixels is not None and not self.max_pixels >= 1:
            raise ValueError(f"max_pixels must be >= 1 (or None: no limit), got {self.max_pixels}")

    def limits(self, reader: ReaderConfig | None = None) -> dict:
        """The limits in force, as ``GET /v1/info`` reports them (``max_pyramid_mb`` from ``reader``,
        default ``self.reader``)."""
        detector = (reader or self.reader).detector
        return {"max_bytes": self.max_bytes, "max_pixels": self.max_pixels, "max_files": self.max_files,
                "max_pyramid_mb": detector.max_pyramid_mb, "max_level_side": detector.max_level_side,
                "queue": self.queue, "inference_threads": self.inference_threads}


class ReadParams(BaseModel):
    """The query options of ``POST /v1/read`` and ``POST /v1/read/batch``: each one left out keeps the
    server's default (its command-line options); unknown names are refused (422)."""

    model_config = ConfigDict(extra="forbid")

    min_confidence: Optional[float] = Field(None, ge=0, le=1, allow_inf_nan=False,
                                            description="drop reads whose least sure character has a lower "
                                                        "probability, in [0, 1]")
    all_reads: Optional[bool] = Field(None, description="every box with its text, also texts that follow "
                                                        "no plate rule (\"valid\": false) and repeated texts")
    second_look: Optional[bool] = Field(None, description="cut an unsure plate 4 more times and let the cuts vote")
    second_look_below: Optional[float] = Field(None, ge=0, le=1, allow_inf_nan=False,
                                               description="confidence below which a plate gets the second look")
    fine_retry: Optional[bool] = Field(None, description="search a photo with no valid read again, for smaller plates")
    rotated_retry: Optional[bool] = Field(None, description="then again, rotated")
    stretched_retry: Optional[bool] = Field(None, description="then again, stretched along x")
    contrast_retry: Optional[bool] = Field(None, description="then, on a dark photo, with its contrast equalised")
    time_budget_ms: Optional[float] = Field(None, ge=0, allow_inf_nan=False,
                                            description="milliseconds a photo may take: retries run only "
                                                        "when they fit (0: no budget)")

    def options(self, base: ReadingOptions) -> ReadingOptions:
        """``base`` with the options given here.

        Raises:
            ValueError: a value :class:`lpr.config.ReadingOptions` refuses.
        """
        given = {k: v for k, v in self.model_dump().items() if v is not None}
        return replace(base, **given) if given else base


class BodyTooLarge(HTTPException):
    """A request body over ``max_bytes``, found while it is read (413)."""


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413, from ``Content-Length``
    before the body is read, else (chunked bodies) as soon as the bytes read pass the limit
    (:class:`BodyTooLarge` raised from ``receive``, answered by :func:`create_app`'s handler)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self, size: str) -> str:
        return (f"request body too large: {size} bytes, over the limit of {self.max_bytes} bytes "
                "(the server's --max-bytes)")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if length is not None:
            text = length.decode("latin-1").strip()
            if not (text.isascii() and text.isdigit()):  # str.isdigit() alone takes "²", which int() refuses
                return await error_response(400, f"bad Content-Length header: {text!r}")(scope, receive, send)
            if int(text) > self.max_bytes:
                return await error_response(413, self._too_large(text))(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(413, self._too_large(f"more than {self.max_bytes}"))
            return message

        await self.app(scope, limited, send)


def error_response(status: int, message: str, headers: Optional[Dict[str, str]] = None) -> JSONResponse:
    """The one error shape of the service: ``{"error": message, "status": status}``."""
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


class Admission:
    """The bounded queue of one process: at most ``limit`` requests waiting or running at once
    (:meth:`enter`); thread-safe."""

    def __init__(self, limit: int):
        self.limit = limit
        self.active = 0
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one place for the block.

        Raises:
            HTTPException: 503 with ``Retry-After`` when all ``limit`` places are taken.
        """
        with self._lock:
            if self.active >= self.limit:
                raise HTTPException(503, f"server busy: {self.active} requests waiting or running, the most "
                                         f"it takes (--queue {self.limit}); retry in {RETRY_AFTER_S} s",
                                    headers={"Retry-After": str(RETRY_AFTER_S)})
            self.active += 1
        try:
            yield
        finally:
            with self._lock:
                self.active -= 1


def weight_files(weights_dir: Optional[str] = None) -> Dict[str, List[dict]]:
    """The weight files the reader's folders hold, ``{"detector": [{"file": NAME, "sha256": HEX}, ...],
    "recognizer": [...]}`` (files ending in :data:`WEIGHT_SUFFIXES`, sorted by name; names only,
    not the server's folders). ``weights_dir`` as :class:`ServiceConfig`."""
    folders = {"detector": Path(weights_dir) if weights_dir else cascade.WEIGHTS_DIR,
               "recognizer": Path(weights_dir) if weights_dir else reading.WEIGHTS_DIR}
    out = {}
    for stage, folder in folders.items():
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
        out[stage] = [{"file": p.name, "sha256": sha256_file(p)} for p in files]
    return out


def package_version() -> str:
    """The installed package's version (``"unknown"`` when it is not installed, e.g. a bare checkout)."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def build_reader(config: ServiceConfig) -> PlateReader:
    """The :class:`lpr.pipeline.PlateReader` of ``config``.

    Raises:
        lprcore.manifest.WeightsError, ValueError, ImportError, RuntimeError: as the reader.
    """
    return PlateReader(config.reader, weights_dir=config.weights_dir, backend=config.backend,
                       device=config.device, threads=config.threads)


def reader_with(reader: PlateReader, options: ReadingOptions) -> PlateReader:
    """``reader`` itself when ``options`` are its own, else a shallow copy with them (the nets are
    shared; the copy has a detector object of its own, so ``reader`` is left as it was)."""
    if options == reader.config.reading:
        return reader
    other = copy.copy(reader)
    other.detector = copy.copy(reader.detector)
    other.config = replace(reader.config, reading=options)
    return other


@dataclass
class ServiceState:
    """What the routes share in one process (``app.state.lpr``)."""

    config: ServiceConfig
    reader: Optional[PlateReader] = None
    admission: Optional[Admission] = None
    pool: Optional[ThreadPoolExecutor] = None
    weights: Optional[Dict[str, List[dict]]] = None


def _media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters (``""`` when there is none)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _status_of(e: BaseException) -> int:
    """The status a failed photo answers: 413 over a limit, 503 out of memory, 400 anything else."""
    if isinstance(e, ImageTooLargeError):
        return 413
    if isinstance(e, MemoryError):
        return 503
    return 400


def _photo_error(e: BaseException) -> HTTPException:
    """The error answer of a photo that could not be read (:func:`_status_of`; a 503 with
    ``Retry-After``, as every 503 of the service)."""
    status = _status_of(e)
    return HTTPException(status, _error_text(e),
                         headers={"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None)


def api_key_matches(sent: Optional[str], expected: str) -> bool:
    """Whether the ``X-API-Key`` header ``sent`` (as Starlette gives it: the header's bytes decoded as
    Latin-1; ``None`` when absent) is ``expected``, compared in constant time as bytes: the header's
    own bytes against ``expected`` in UTF-8, so that a non-ASCII key sent as UTF-8 (curl, most
    clients) matches."""
    if not sent:
        return False
    return hmac.compare_digest(sent.encode("latin-1", "replace"), expected.encode("utf-8"))


def _error_text(e: BaseException) -> str:
    text = str(e).strip()
    return text if text else type(e).__name__


@asynccontextmanager
async def _form(request: Request, max_files: int):
    """The parsed multipart body of ``request`` for the block (uploads closed at its end).

    Raises:
        HTTPException: 400 malformed multipart body, 413 more than ``max_files`` files or a body
            over the limit (:class:`BodyLimit`).
    """
    try:
        form = await request.form(max_files=max_files, max_fields=8)
    except HTTPException as e:
        if e.status_code == 400 and "Too many files" in str(e.detail):
            raise HTTPException(413, f"too many photos: more than {max_files} in one request "
                                     "(the server's --max-files)") from None
        raise
    try:
        yield form
    finally:
        await form.close()


def _uploads(form, name: str) -> List[UploadFile]:
    """The files of the multipart field ``name`` of a parsed ``form`` (Starlette's ``FormData``).

    Raises:
        HTTPException: 422 a field that is not ``name``, or a value of ``name`` that is not a file.
    """
    files: List[UploadFile] = []
    for key, value in form.multi_items():
        if key != name:
            raise HTTPException(422, f"unexpected multipart field {key!r}: the photo goes in the field "
                                     f"{name!r}, reading options in the query string")
        if not isinstance(value, UploadFile):
            raise HTTPException(422, f"multipart field {name!r} must be a file (curl -F {name}=@photo.jpg)")
        files.append(value)
    return files


def _read_photo(state: ServiceState, data: bytes, name: str, options: ReadingOptions) -> dict:
    """Decode and read one photo (on the inference pool); its record.

    Raises:
        ImageReadError, ImageTooLargeError, ValueError, MemoryError: the photo cannot be read.
    """
    reader = reader_with(state.reader, options)
    image, factor = decode_photo_bytes(data, name, reader.config.detector, state.config.max_pixels)
    return read_record(reader, image, name, factor)[0]


async def _run(state: ServiceState, data: bytes, name: str, options: ReadingOptions) -> dict:
    """:func:`_read_photo` on the inference pool, awaited."""
    return await asyncio.get_running_loop().run_in_executor(state.pool, _read_photo, state, data, name, options)


def _options(state: ServiceState, params: ReadParams) -> ReadingOptions:
    try:
        return params.options(state.reader.config.reading)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None


_READ_BODY = {
    "required": True,
    "content": {
        MULTIPART: {"schema": {"type": "object", "required": ["file"],
                               "properties": {"file": {"type": "string", "format": "binary"}}}},
        **{t: {"schema": {"type": "string", "format": "binary"}} for t in IMAGE_TYPES},
    },
}
_BATCH_BODY = {
    "required": True,
    "content": {MULTIPART: {"schema": {"type": "object", "required": ["files"], "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}},
}
_ERROR_SCHEMA = {"type": "object", "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}}
_ERRORS = {code: {"description": what, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
           for code, what in ((400, "not an image, or a malformed body"), (401, "API key missing or wrong"),
                              (413, "over a limit: body bytes, photo pixels, pyramid memory, photos per batch"),
                              (415, "content type not an image nor multipart/form-data"),
                              (422, "bad options"), (503, "busy: retry after Retry-After seconds"))}


def create_app(config: ServiceConfig | None = None, reader: PlateReader | None = None) -> FastAPI:
    """The service as a FastAPI app (an ASGI app: ``uvicorn.run(app)``, or FastAPI's ``TestClient``).

    Args:
        config: the reader's configuration and the limits (default: all defaults).
        reader: a reader already built (tests share one): its own ``config`` (thresholds, default
            reading options) is used and ``config.reader`` is not; default: built from ``config``
            when the app starts (its lifespan), once per process.

    Raises (when the app starts):
        lprcore.manifest.WeightsError, ValueError, ImportError, RuntimeError: the reader cannot be
            built (:func:`build_reader`).
    """
    config = config or ServiceConfig()
    state = ServiceState(config=config, reader=reader)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if state.reader is None:
            state.reader = build_reader(config)
        state.weights = weight_files(config.weights_dir)
        state.admission = Admission(config.queue)
        state.pool = ThreadPoolExecutor(config.inference_threads, thread_name_prefix="lpr-inference")
        try:
            yield
        finally:
            state.pool.shutdown(wait=True, cancel_futures=True)

    app = FastAPI(title="License plate reader", version=package_version(), lifespan=lifespan,
                  description="MTCNN detection + LPRNet recognition of Chinese license plates. "
                              "Errors: `{\"error\": MESSAGE, \"status\": CODE}`. docs/service.md has the details.")
    app.state.lpr = state
    app.add_middleware(BodyLimit, max_bytes=config.max_bytes)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException):
        return error_response(e.status_code, str(e.detail), getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError):
        parts = []
        for err in e.errors():
            where = ".".join(str(x) for x in err.get("loc", ())[1:]) or "request"
            value = f" (got {err['input']!r})" if err.get("type") != "missing" and "input" in err \
                and not isinstance(err["input"], dict) else ""
            parts.append(f"{where}: {err.get('msg', 'invalid')}{value}")
        return error_response(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(ClientDisconnect)
    async def disconnected(request: Request, e: ClientDisconnect):  # nobody reads the answer
        return error_response(400, "the client disconnected before the whole body was sent")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception):  # a bug: logged, still the JSON shape
        log.exception("unexpected failure on %s %s", request.method, request.url.path)
        return error_response(500, f"internal error: {type(e).__name__}")

    key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                              description="needed when the server was started with --api-key or LPR_API_KEY")

    async def require_key(key: Optional[str] = Security(key_header)) -> None:
        expected = config.api_key
        if expected and not api_key_matches(key, expected):
            raise HTTPException(401, f"{'wrong' if key else 'missing'} API key: send it in the "
                                     f"{API_KEY_HEADER} header")

    v1 = APIRouter(prefix="/v1", dependencies=[Security(require_key)], responses={401: _ERRORS[401]})

    @v1.post("/read", summary="Read the plates of one photo",
             responses={k: v for k, v in _ERRORS.items() if k != 401}, openapi_extra={"requestBody": _READ_BODY})
    async def read(request: Request, params: Annotated[ReadParams, Query()]) -> dict:
        """One photo, as the multipart field `file` (`curl -F file=@photo.jpg`) or as the raw body with
        its image Content-Type; answers `{"image": NAME, "plates": [...], "ms": T}`, the JSON line of
        `python -m lpr` (NAME: the file's name, or "body")."""
        options = _options(state, params)
        media = _media_type(request)
        if media != MULTIPART and media not in IMAGE_TYPES:
            raise HTTPException(415, f"unsupported content type {media or '(none)'!r}: send the photo as the "
                                     f"multipart field 'file' or as the body with one of {', '.join(IMAGE_TYPES)}")
        with state.admission.slot():
            if media == MULTIPART:
                async with _form(request, config.max_files) as form:
                    files = _uploads(form, "file")
                    if len(files) != 1:
                        raise HTTPException(422, f"send one photo in the multipart field 'file' (got {len(files)}; "
                                                 "several: POST /v1/read/batch with the field 'files')")
                    name, data = files[0].filename or "file", await files[0].read()
            else:
                name, data = "body", await request.body()
            try:
                return await _run(state, data, name, options)
            except (ImageReadError, ValueError, MemoryError) as e:
                raise _photo_error(e) from None

    @v1.post("/read/batch", summary="Read the plates of several photos",
             responses={k: v for k, v in _ERRORS.items() if k != 401}, openapi_extra={"requestBody": _BATCH_BODY})
    async def read_batch(request: Request, params: Annotated[ReadParams, Query()]) -> List[dict]:
        """Several photos, the multipart field `files` repeated (`curl -F files=@a.jpg -F files=@b.jpg`);
        answers a JSON array of one record each, in the order sent; a photo that cannot be read gets
        `{"image": NAME, "error": MESSAGE}` and the others are read."""
        options = _options(state, params)
        media = _media_type(request)
        if media != MULTIPART:
            raise HTTPException(415, f"unsupported content type {media or '(none)'!r}: a batch is "
                                     f"{MULTIPART} with the field 'files' repeated")
        with state.admission.slot():
            async with _form(request, config.max_files) as form:
                files = _uploads(form, "files")
                if not files:
                    raise HTTPException(422, "no photo: send them in the multipart field 'files' (repeated)")
                records = []
                for upload in files:
                    name = upload.filename or "file"
                    try:
                        records.append(await _run(state, await upload.read(), name, options))
                    except (ImageReadError, ValueError, MemoryError) as e:
                        records.append(error_record(name, _error_text(e)))
                return records

    @v1.get("/info", summary="Version, backend, weights and limits")
    async def info() -> dict:
        """The package version, the backend, each weight file's name and SHA-256, the limits in force
        and the default reading options."""
        return {"name": PACKAGE, "version": package_version(), "backend": state.reader.backend,
                "weights": state.weights, "limits": config.limits(state.reader.config),
                "reading": asdict(state.reader.config.reading), "api_key": bool(config.api_key)}

    @app.get("/healthz", summary="Liveness", responses={200: {"content": {"application/json": {
        "example": {"status": "ok"}}}}})
    async def healthz() -> dict:
        """`{"status": "ok"}` once the reader is loaded; never needs the API key."""
        return {"status": "ok"}

    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    app.include_router(v1)
    return app
