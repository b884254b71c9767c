"""The service's settings, and the options of one job, as typed configs.

`ServeConfig` is what `dancegen serve` runs with (a YAML file, `--set key=value` overrides and a
few flags); its `limits` section is everything that bounds what one client can make the server
do. `JobOptions` is the form a client posts with its song; it is stored with the job, so a job
re-queued after a restart runs with exactly the options it was accepted with.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from dancegen.config import StrictConfig

API_KEY_ENV = "DANCEGEN_API_KEY"  # the key can come from the environment, never only from argv
API_KEY_HEADER = "X-API-Key"
# What a job may ask for: every export but video (minutes of CPU per job). FBX only when asked
# (it needs the fbx extra); the default is what `export_motion` writes into a folder.
JOB_FORMATS = ("bvh", "npz", "pkl", "npy", "glb", "html", "fbx")


class LimitsConfig(StrictConfig):
    """What keeps one server's disk, memory and CPU bounded whatever clients send."""

    max_upload_mb: float = Field(16.0, gt=0)  # the song file; up to 16 MB the viewer page embeds it
    max_song_seconds: float = Field(600.0, gt=0)  # read from the file's header on upload
    max_queued_jobs: int = Field(20, ge=1)  # waiting jobs; past it a POST gets 429 and Retry-After
    max_steps: int = Field(1000, ge=1)  # sampling steps one job may ask for
    max_kept_jobs: int = Field(500, ge=1)  # finished jobs kept (files and rows); oldest go first
    max_attempts: int = Field(2, ge=1)  # a job cut off by a crash or restart runs at most this often


class ServeConfig(StrictConfig):
    """`dancegen serve`: where it listens, where it keeps jobs, how many workers generate."""

    host: str = "127.0.0.1"  # local only unless asked: songs may be unreleased
    port: int = Field(8000, ge=0, le=65535)  # 0: any free port (the URL is printed)
    data_dir: Path = Path("dancegen-serve")  # jobs.sqlite and jobs/<id>/{song, out/}
    workers: int = Field(1, ge=0, le=64)  # worker processes, each holding one loaded pipeline; 0: queue only
    torch_threads: int = Field(1, ge=1)  # per worker: workers × threads should not exceed the cores
    worker_max_jobs: int | None = Field(200, ge=1)  # a worker is replaced after this many (bounds leaks)
    device: str = "cpu"
    models: list[str] | None = None  # model names clients may pick (None: every installed model)
    default_model: str | None = None  # None: the catalog's default
    preload: bool = True  # workers load the default model as they start, before the first job
    api_key: SecretStr | None = None  # when set, /jobs and /models need it in the X-API-Key header
    log_level: Literal["debug", "info", "warning", "error"] = "info"  # info: a line per job; warning: problems only
    poll_seconds: float = Field(0.2, gt=0, le=5)  # how often an idle worker looks for a job
    shutdown_grace_seconds: float = Field(5.0, ge=0)  # a busy worker's time to stop before it is killed
    limits: LimitsConfig = LimitsConfig()

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @property
    def database(self) -> Path:
        return self.data_dir / "jobs.sqlite"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    def with_env_key(self) -> "ServeConfig":
        """The config with the API key from DANCEGEN_API_KEY when none was configured."""
        if self.api_key is None and os.environ.get(API_KEY_ENV):
            return self.model_copy(update={"api_key": SecretStr(os.environ[API_KEY_ENV])})
        return self


class JobOptions(StrictConfig):
    """What to generate for the uploaded song: the options of `dancegen generate`, by the same
    names. Blank fields (an empty box in the web form) mean "not given"."""

    model: str | None = Field(None, description="a model name from GET /models (default: the server's)")
    seconds: float | None = Field(None, gt=0, description="length to generate (default: to the end of the song)")
    start: float = Field(0.0, ge=0, description="where in the song to start, in seconds")
    prompt: str | None = Field(None, max_length=2000, description="free-form description of the dance")
    genre: str | None = Field(None, max_length=100, description="a genre the model knows (see GET /models)")
    moves: str | None = Field(None, max_length=2000, description='timed moves, e.g. "0:08-0:12 spin; 0:20-0:24 stomp"')
    seed: int | None = Field(None, ge=0, description="random seed (default: random, reported in the result)")
    steps: int | None = Field(None, ge=1, description="sampling steps (default: the model's)")
    guidance: str | None = Field(None, max_length=200, description="guidance per modality, e.g. music=2.5,text=3")
    foot_lock: bool = Field(True, description="pin planted feet to the floor (as `dancegen generate` does)")
    beat_sync: bool = Field(True, description="dance at the song's tempo, accents on its beats (as `dancegen generate`)")
    formats: str | None = Field(None, max_length=100, description="comma list of bvh,npz,pkl,npy,glb,html,fbx (default: all but fbx)")

    @field_validator("model", "seconds", "prompt", "genre", "moves", "seed", "steps", "guidance", "formats", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("start", mode="before")
    @classmethod
    def _blank_start_is_zero(cls, value: Any) -> Any:
        return 0.0 if value is None or (isinstance(value, str) and not value.strip()) else value

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: str | None) -> str | None:
        if value is None:
            return None
        names = [part.strip().lower().lstrip(".") for part in value.split(",") if part.strip()]
        unknown = [name for name in names if name not in JOB_FORMATS]
        if unknown:
            raise ValueError(f"unknown format {unknown[0]!r} (choose from {', '.join(JOB_FORMATS)})")
        return ",".join(dict.fromkeys(names)) or None

    def format_list(self) -> list[str] | None:
        """The formats to export, the viewer page always among them (the web page shows it)."""
        if self.formats is None:
            return None
        return list(dict.fromkeys([*self.formats.split(","), "html"]))
