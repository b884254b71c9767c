"""One worker process: takes the oldest queued job from the job table, generates, exports,
records the result; one loaded pipeline kept between jobs (a job for another model replaces
it), so a worker's memory is one model's whatever the queue holds.

    python -m dancegen.serve.worker NAME CONFIG_JSON      (the pool starts these)

A worker dies with the server (Linux's parent-death signal, and a check of its parent on every
poll). SIGTERM stops it at once: the job in hand goes back to the queue for the next start.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from dancegen.errors import DanceGenError
from dancegen.serve.config import JobOptions, ServeConfig
from dancegen.serve.generation import public_error
from dancegen.serve.store import Job, JobStore

log = logging.getLogger("dancegen.serve")


class Stop(BaseException):
    """SIGTERM: leave now, whatever is running (a BaseException, so no `except Exception` keeps it)."""


class Pipelines:
    """The one loaded pipeline of this worker, replaced when a job names another model."""

    def __init__(self, device: str):
        self.device = device
        self.name: str | None = None
        self.pipeline: Any = None

    def get(self, entry: Any) -> Any:
        if self.name != entry.header.name:
            from dancegen.pipelines import load_pipeline

            self.name, self.pipeline = None, None
            gc.collect()  # the old model's tensors go before the new one's arrive
            self.pipeline = load_pipeline(entry.path, device=self.device)
            self.name = entry.header.name
        return self.pipeline


class Worker:
    def __init__(self, name: str, config: ServeConfig):
        self.name = name
        self.config = config
        self.store = JobStore(config.database)
        self.pipelines = Pipelines(config.device)
        self.entries: dict[str, Any] | None = None
        self.parent = os.getppid()

    def run(self) -> None:
        """Jobs until told to stop, orphaned, or `worker_max_jobs` done (the pool starts a fresh one)."""
        if self.config.preload:
            self.preload()
        done = 0
        while os.getppid() == self.parent:
            job = self.store.claim(self.name)
            if job is None:
                time.sleep(self.config.poll_seconds)
                continue
            try:
                self.run_job(job)
            except Stop:
                self.store.requeue(job.id, "queued (again, the server was stopping)")
                raise
            done += 1
            if self.config.worker_max_jobs is not None and done >= self.config.worker_max_jobs:
                return

    def preload(self) -> None:
        """The default model loaded, and one second of a drum loop danced and exported, before the
        first job: the first generation in a process pays for imports (librosa, scipy.signal)
        and JIT compilation, seconds that would otherwise land on the first client."""
        from dancegen.serve.generation import model_entries, pick_model, warm_up

        started = time.monotonic()
        try:
            self.entries = model_entries(self.config)
            entry = pick_model(None, self.entries, self.config)
            warm_up(self.pipelines.get(entry), entry)
        except Exception as error:  # noqa: BLE001 - a job for this model will report it properly
            log.warning("%s: could not warm up the default model: %s", self.name, " ".join(str(error).split()))
            return
        log.info("%s: %s loaded and warmed up in %.1f s", self.name, entry.header.name, time.monotonic() - started)

    def run_job(self, job: Job) -> None:
        from dancegen.serve.generation import (
            check_job,
            export_result,
            generate,
            model_entries,
            summary,
        )

        started = time.monotonic()
        try:
            options = JobOptions.model_validate(job.options)
            folder = self.config.jobs_dir / job.id
            song = folder / job.song["file"]
            if self.entries is None:
                self.entries = model_entries(self.config)
            entry, request, _ = check_job(song, options, self.entries, self.config)
            self.store.progress(job.id, "loading model", 0.02)
            pipeline = self.pipelines.get(entry)
            self.store.progress(job.id, "generating", 0.05)

            def on_progress(fraction: float, label: str) -> None:
                self.store.progress(job.id, label, 0.05 + 0.85 * fraction)

            motion = generate(pipeline, request, Path(job.song.get("name") or "dance").stem, on_progress)
            self.store.progress(job.id, "exporting", 0.92)
            files = export_result(motion, request, song, options, folder / "out")
            self.store.finish(job.id, summary(motion, entry, request), files)
            log.info("%s: job %s done in %.1f s", self.name, job.id, time.monotonic() - started)
        except DanceGenError as error:
            self.store.fail(job.id, self.public(job, error))
            log.info("%s: job %s failed: %s", self.name, job.id, error)
        except MemoryError:
            self.store.fail(job.id, "the worker ran out of memory (ask for a shorter span or fewer steps)")
            log.error("%s: job %s ran out of memory", self.name, job.id)
        except Exception as error:  # a bug, not the client's input: the traceback goes to the log
            text = f"internal error ({type(error).__name__}: {error}); the server's log has the details"
            self.store.fail(job.id, self.public(job, DanceGenError(text)))
            log.error("%s: job %s crashed:\n%s", self.name, job.id, traceback.format_exc())

    def public(self, job: Job, error: DanceGenError) -> str:
        """The message with the upload's name for the server's path of it."""
        return str(public_error(error, self.config.jobs_dir / job.id / job.song["file"], job.song.get("name") or "song"))


def die_with_parent() -> None:
    """Ask Linux to kill this process when the server dies (a no-op elsewhere: the poll's
    parent check still ends it)."""
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> None:
    name, config_json = argv
    die_with_parent()
    # Before torch loads: spin-waiting OpenMP threads starve the other workers on shared cores.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

    def stop(signum: int, frame: Any) -> None:
        raise Stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole group: the server decides
    config = ServeConfig.model_validate_json(config_json)
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr, format="dancegen serve: %(message)s")
    import torch

    torch.set_num_threads(config.torch_threads)
    from dancegen.console import third_party_silenced

    try:
        with third_party_silenced():  # librosa's warnings on short clips, as the CLI silences them
            Worker(name, config).run()
    except Stop:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
