"""The HTTP API (FastAPI): upload a song with options, watch the job, fetch its files.

    POST   /jobs                  multipart: song + JobOptions fields → 202, the job
    GET    /jobs                  the newest jobs
    GET    /jobs/{id}             status, stage, progress, queue position, result, files
    GET    /jobs/{id}/files/{f}   one result file (names from the job's `files` only)
    GET    /jobs/{id}/viewer      → the job's viewer page
    DELETE /jobs/{id}             cancel a waiting job, or forget a finished one
    GET    /models  /health  /   the models, the server's state, the upload-and-watch page
    GET    /openapi.json  /docs   the spec

Every error is JSON `{"error": "<one line>"}`: the DanceGenError text for bad input, with 400
(413 past a size limit, 429 with Retry-After when the queue is full, 401 without the key).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time,
# and the key dependency is a local name.
import contextlib
import fcntl
import hmac
import logging
import shutil
import traceback
from pathlib import Path
from typing import Annotated, Any, Callable

from fastapi import (
    Depends,
    FastAPI,
    Form,
    HTTPException,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from dancegen.errors import ArgumentError, DanceGenError, LimitError
from dancegen.fileio import atomic_path
from dancegen.serve.config import API_KEY_HEADER, JobOptions, ServeConfig
from dancegen.serve.generation import SONG_NAME, check_job, model_entries, public_error
from dancegen.serve.pool import WorkerPool
from dancegen.serve.store import (
    FINISHED,
    Job,
    JobStore,
    QueueFull,
    is_job_id,
    new_job_id,
)

log = logging.getLogger("dancegen.serve")
PAGE = Path(__file__).resolve().parent / "static" / "index.html"
# The form's text fields are small; this much room beyond the song covers them and the framing.
FORM_OVERHEAD_BYTES = 1 << 20
COPY_CHUNK = 1 << 20
MEDIA_TYPES = {".bvh": "text/plain; charset=utf-8", ".npz": "application/zip", ".pkl": "application/octet-stream",
               ".npy": "application/octet-stream", ".glb": "model/gltf-binary", ".html": "text/html; charset=utf-8"}


# --- what the API returns (the OpenAPI spec's schemas) ----------------------------------------


class ErrorView(BaseModel):
    error: str = Field(description="what is wrong, in one line")


class FileView(BaseModel):
    name: str
    format: str
    bytes: int
    url: str


class JobView(BaseModel):
    id: str
    status: str = Field(description="queued, running, done, failed or cancelled")
    stage: str = Field(description="what it is doing now: queued, loading model, denoising, exporting, ...")
    progress: float = Field(description="0 to 1")
    queue_position: int | None = Field(None, description="1: the next job a worker takes")
    error: str | None = None
    options: dict[str, Any]
    song: dict[str, Any] = Field(description="name (as uploaded), seconds, bytes")
    result: dict[str, Any] | None = Field(None, description="frames, seconds, fps, model, seed, genre, foot_lock, ...")
    files: list[FileView] = []
    viewer: str | None = Field(None, description="the viewer page, once done")
    attempts: int
    created: float
    started: float | None = None
    finished: float | None = None
    url: str


class ModelView(BaseModel):
    name: str
    family: str
    fps: float
    genres: list[str]
    supports: list[str]
    description: str
    default: bool


class HealthView(BaseModel):
    status: str
    version: str
    workers: int
    jobs: dict[str, int]
    api_key_required: bool
    limits: dict[str, Any]
    memory_mb: float = Field(description="resident memory of the server and its workers")


class JobForm(JobOptions):
    """The POST /jobs form: the song and the options."""

    song: UploadFile = Field(description="the music: wav, flac, ogg, mp3 or aiff")


# --- the service: config, job table, models, workers --------------------------------------------


class Service:
    """What the routes share. Holds the data folder's lock from creation: two servers on one
    job table would run each job twice."""

    def __init__(self, config: ServeConfig):
        self.config = config.with_env_key()
        self.config.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_folder(self.config.data_dir)
        self.store = JobStore(self.config.database)
        self.entries = model_entries(self.config)
        if not self.entries:
            raise ArgumentError("models", "no model is installed for the server to use")
        self.pool = WorkerPool(self.config, self.store)

    def close(self) -> None:
        self._lock.close()


def _lock_folder(folder: Path):
    handle = open(folder / "server.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ArgumentError("--data-dir", f"{folder} is in use by another dancegen serve",
                            "stop it, or give this one another --data-dir") from None
    return handle


def one_line(text: Any) -> str:
    return " ".join(str(text).split())


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


def validation_message(error: RequestValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path", "form"))
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems) or "invalid request"


class UploadLimit:
    """ASGI middleware: an upload larger than the limit is refused from its Content-Length,
    before a byte of it is read (uploads without one are refused too: the limit must be
    knowable up front)."""

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length")
            problem = None
            if length is None or not length.isdigit():
                problem = (411, "an upload needs a Content-Length header")
            elif int(length) > self.max_bytes + FORM_OVERHEAD_BYTES:
                problem = (413, f"the upload is {int(length) / 2**20:.1f} MB; this server takes songs up to "
                                f"{self.max_bytes / 2**20:g} MB")
            if problem is not None:
                await error_response(*problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(config: ServeConfig | None = None, announce: Callable[[dict[str, Any]], None] | None = None) -> FastAPI:
    """The service's app; `announce` hears what it is (workers, data folder, models, whether a
    key is needed) once the workers are started."""
    from dancegen import __version__

    service = Service(config or ServeConfig())
    config = service.config
    store = service.store

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        service.pool.start()
        if announce is not None:
            announce({"workers": config.workers, "data_dir": str(config.data_dir), "models": list(service.entries),
                      "api_key_required": config.api_key is not None})
        try:
            yield
        finally:
            service.pool.stop()
            service.close()

    app = FastAPI(
        title="dancegen", version=__version__, lifespan=lifespan,
        description="Music to 3D dance: upload a song, watch the job, download the dance in every format.",
        responses={400: {"model": ErrorView, "description": "bad input (one line)"}},
    )
    app.state.service = service
    app.add_middleware(UploadLimit, max_bytes=int(config.limits.max_upload_mb * 2**20))

    # --- errors, all as {"error": one line} -----------------------------------------------

    @app.exception_handler(DanceGenError)
    async def _user_error(request: Request, error: DanceGenError) -> JSONResponse:
        return error_response(413 if isinstance(error, LimitError) else 400, str(error))

    @app.exception_handler(QueueFull)
    async def _queue_full(request: Request, error: QueueFull) -> JSONResponse:
        return error_response(429, str(error), headers={"Retry-After": "5"})

    @app.exception_handler(StarletteHTTPException)  # FastAPI's, and the router's own 404 and 405
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return error_response(error.status_code, error.detail, headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(422, validation_message(error))

    @app.exception_handler(Exception)
    async def _bug(request: Request, error: Exception) -> JSONResponse:
        log.error("%s %s crashed:\n%s", request.method, request.url.path, traceback.format_exc())
        return error_response(500, f"internal error ({type(error).__name__}); the server's log has the details")

    # --- the key, when one is configured --------------------------------------------------

    key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                              description="needed when the server was started with an API key")

    def require_key(given: Annotated[str | None, Depends(key_header)]) -> None:
        if config.api_key is None:
            return
        expected = config.api_key.get_secret_value().encode()
        if given is None or not hmac.compare_digest(given.encode(), expected):
            raise HTTPException(401, f"this server needs its API key in the {API_KEY_HEADER} header",
                                headers={"WWW-Authenticate": API_KEY_HEADER})

    protected = [Depends(require_key)]

    def job_or_404(job_id: str) -> Job:
        job = store.get(job_id) if is_job_id(job_id) else None
        if job is None:
            raise HTTPException(404, f"no job {job_id[:40]!r} on this server")
        return job

    def view(job: Job) -> JobView:
        base = f"/jobs/{job.id}"
        out = config.jobs_dir / job.id / "out"
        files = [FileView(name=name, format=Path(name).suffix.lstrip("."), bytes=_size(out / name),
                          url=f"{base}/files/{name}") for name in job.files]
        return JobView(
            id=job.id, status=job.status, stage=job.stage, progress=job.progress, error=job.error,
            queue_position=store.queue_position(job.id) if job.status == "queued" else None,
            options=job.options, song={k: v for k, v in job.song.items() if k != "file"}, result=job.result,
            files=files, viewer=f"{base}/viewer" if any(f.format == "html" for f in files) else None,
            attempts=job.attempts, created=job.created, started=job.started, finished=job.finished, url=base,
        )

    # --- routes ---------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(PAGE, media_type="text/html; charset=utf-8")

    @app.get("/health", response_model=HealthView, tags=["server"])
    def health() -> HealthView:
        return HealthView(
            status="ok", version=__version__, workers=len(service.pool.worker_pids()), jobs=store.counts(),
            api_key_required=config.api_key is not None, limits=config.limits.model_dump(mode="json"),
            memory_mb=round(service.pool.memory_bytes() / 2**20, 1),
        )

    @app.get("/models", response_model=list[ModelView], dependencies=protected, tags=["models"])
    def models() -> list[ModelView]:
        from dancegen.serve.generation import pick_model

        default = pick_model(None, service.entries, config).header.name
        return [ModelView(**{k: v for k, v in entry.describe().items() if k in ModelView.model_fields}
                          | {"default": name == default}) for name, entry in service.entries.items()]

    @app.post("/jobs", status_code=202, response_model=JobView, dependencies=protected, tags=["jobs"],
              responses={413: {"model": ErrorView}, 429: {"model": ErrorView}, 401: {"model": ErrorView}})
    def submit(form: Annotated[JobForm, Form(media_type="multipart/form-data")], response: Response) -> JobView:
        """Queue a dance for the song. Everything is checked first (the song's format and
        length, the options against the model), so a job that is queued can run."""
        from dancegen.audio.io import SUPPORTED_SUFFIXES

        options = JobOptions.model_validate(form.model_dump(exclude={"song"}))
        limit = config.limits
        if store.counts()["queued"] >= limit.max_queued_jobs:  # before copying the song
            raise QueueFull(limit.max_queued_jobs)
        upload = form.song
        suffix = Path(upload.filename or "").suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise ArgumentError("song", f"unsupported audio format {suffix or '(no extension)'!r}",
                                f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
        shown_as = _display_name(upload.filename)
        job_id = new_job_id()
        folder = config.jobs_dir / job_id
        folder.mkdir(parents=True)
        try:
            song = folder / f"{SONG_NAME}{suffix}"
            size = _copy_upload(upload, song, int(limit.max_upload_mb * 2**20))
            try:
                entry, _, duration = check_job(song, options, service.entries, config)
            except DanceGenError as error:
                raise public_error(error, song, shown_as) from None
            # The resolved model is stored: a re-queued job runs on it whatever the default becomes.
            stored = options.model_copy(update={"model": entry.header.name}).model_dump(mode="json")
            job = store.add(job_id, stored, {"name": shown_as, "file": song.name,
                                             "seconds": round(duration, 3), "bytes": size}, limit.max_queued_jobs)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        response.headers["Location"] = f"/jobs/{job.id}"
        return view(job)

    @app.get("/jobs", response_model=list[JobView], dependencies=protected, tags=["jobs"])
    def jobs(limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[JobView]:
        return [view(job) for job in store.list(limit)]

    @app.get("/jobs/{job_id}", response_model=JobView, dependencies=protected, tags=["jobs"],
             responses={404: {"model": ErrorView}})
    def job(job_id: str) -> JobView:
        return view(job_or_404(job_id))

    @app.delete("/jobs/{job_id}", response_model=JobView, dependencies=protected, tags=["jobs"],
                responses={404: {"model": ErrorView}, 409: {"model": ErrorView}})
    def delete(job_id: str) -> JobView:
        """A waiting job is cancelled; a finished one is forgotten with its files."""
        found = job_or_404(job_id)
        if found.status == "queued" and store.cancel(job_id):
            shutil.rmtree(config.jobs_dir / job_id, ignore_errors=True)
            return view(store.get(job_id))
        if found.status in FINISHED and store.delete(job_id):
            shutil.rmtree(config.jobs_dir / job_id, ignore_errors=True)
            return view(found)
        raise HTTPException(409, f"job {job_id} is {store.get(job_id).status}; delete it once it has finished")

    @app.get("/jobs/{job_id}/files/{name}", dependencies=protected, tags=["jobs"], response_class=FileResponse,
             responses={404: {"model": ErrorView}})
    def file(job_id: str, name: str) -> FileResponse:
        """One of the job's files. Only names the job lists are served: no path reaches
        outside the job's folder."""
        found = job_or_404(job_id)
        if name not in found.files:
            raise HTTPException(404, f"job {job_id} has no file {name[:60]!r}"
                                + ("" if found.status == "done" else f" (it is {found.status})"))
        path = config.jobs_dir / job_id / "out" / name
        suffix = path.suffix.lower()
        # Pages open in the browser; the other formats download under their own name.
        return FileResponse(path, media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
                            filename=None if suffix == ".html" else name)

    @app.get("/jobs/{job_id}/viewer", dependencies=protected, tags=["jobs"], status_code=307,
             responses={404: {"model": ErrorView}})
    def viewer(job_id: str) -> RedirectResponse:
        """The viewer page (a redirect into files/, so a song kept beside the page resolves)."""
        found = job_or_404(job_id)
        page = next((name for name in found.files if name.endswith(".html")), None)
        if page is None:
            raise HTTPException(404, f"job {job_id} has no viewer page yet (it is {found.status})")
        return RedirectResponse(f"/jobs/{job_id}/files/{page}", status_code=307)

    return app


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _display_name(filename: str | None) -> str:
    """The upload's name for people (titles, messages, the job list); never used in a path."""
    name = (filename or "song").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(c for c in name if c.isprintable()).strip()
    return text[-100:] or "song"


def _copy_upload(upload: UploadFile, target: Path, max_bytes: int) -> int:
    """The uploaded song copied to `target` (atomically), refused past `max_bytes`."""
    size = 0
    upload.file.seek(0)
    with atomic_path(target) as tmp, open(tmp, "wb") as out:
        while chunk := upload.file.read(COPY_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise LimitError(f"song: larger than this server's {max_bytes / 2**20:g} MB limit")
            out.write(chunk)
    if size == 0:
        raise ArgumentError("song", "the uploaded file is empty")
    return size


__all__ = ["Service", "create_app"]
