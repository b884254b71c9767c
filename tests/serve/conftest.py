"""Fixtures for the service tests: `dancegen serve` in a subprocess on a free port (real HTTP,
real worker processes), a short song, and an httpx client.

Servers are shared where the tests allow it: one queue-only server (no workers: jobs stay
queued, so limits are deterministic) and one with a worker and an API key, for the tests that
generate. Generation stays tiny (2 s of a song, a few steps).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'dancegen[serve]')")
pytest.importorskip("uvicorn", reason="the serve extra is not installed (pip install 'dancegen[serve]')")
httpx = pytest.importorskip("httpx", reason="httpx is not installed (the test extra has it)")

import ctypes  # noqa: E402,F401  (imported before any fork: `die_with_parent` runs between fork and exec)

# A server whose test run crashed goes too, and its workers with it.
from dancegen.serve.worker import die_with_parent  # noqa: E402

API_KEY = "test-key-5f2a"
SONG_SECONDS = 3.0
TINY = {"seconds": "2", "steps": "3", "seed": "3"}  # a job that takes well under a second to sample
START_TIMEOUT_S = 60


class Server:
    """One `dancegen serve` process: `url`, `client` (httpx), `pid`, stop/kill/restart."""

    def __init__(self, data_dir: Path, workers: int = 0, settings: tuple[str, ...] = (), api_key: str | None = None):
        self.data_dir = data_dir
        self.workers = workers
        self.settings = settings
        self.api_key = api_key
        self.process: subprocess.Popen | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self) -> "Server":
        env = dict(os.environ, DANCEGEN_API_KEY=self.api_key or "", OMP_WAIT_POLICY="PASSIVE")
        command = [sys.executable, "-m", "dancegen", "serve", "--port", "0", "--data-dir", str(self.data_dir),
                   "--workers", str(self.workers), "--set", "poll_seconds=0.05"]
        for setting in self.settings:
            command += ["--set", setting]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                        preexec_fn=die_with_parent)
        ready = threading.Event()

        def read() -> None:  # keeps the pipe drained for the server's whole life
            for line in self.process.stdout:
                self.output.append(line.rstrip("\n"))
                found = re.search(r"dancegen serve: (http://\S+/) ", line)
                if found and not ready.is_set():
                    self.url = found[1].rstrip("/")
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(START_TIMEOUT_S) or not self.url:
            self.kill()
            raise AssertionError("the server did not start:\n" + "\n".join(self.output))
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, key: str | None = "default") -> "httpx.Client":
        key = self.api_key if key == "default" else key
        return httpx.Client(base_url=self.url, timeout=30, headers={"X-API-Key": key} if key else {})

    def worker_pids(self) -> list[int]:
        from dancegen.serve.pool import tree_pids

        return [pid for pid in tree_pids(self.pid) if pid != self.pid]

    def wait_workers(self, count: int, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while client.get("/health").json()["workers"] != count:
                assert time.monotonic() < deadline, "the workers did not start"
                time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("the server did not stop:\n" + "\n".join(self.output)) from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def wait_for(client: "httpx.Client", job_id: str, statuses=("done", "failed", "cancelled"), timeout: float = 90,
             seen: list | None = None) -> dict:
    """Poll a job until its status is one of `statuses`; `seen` collects every state polled."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if seen is not None:
            seen.append(job)
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} ({job['stage']}) after {timeout} s"
        time.sleep(0.05)


def submit(client: "httpx.Client", song: Path, **fields: str) -> "httpx.Response":
    with open(song, "rb") as handle:
        return client.post("/jobs", files={"song": (song.name, handle, "audio/wav")}, data=fields)


@pytest.fixture(scope="session")
def song(tmp_path_factory) -> Path:
    from dancegen.audio.io import write_wav
    from dancegen.audio.synth import drum_pattern

    samples, _ = drum_pattern(120.0, SONG_SECONDS, seed=1)
    return write_wav(tmp_path_factory.mktemp("music") / "groove.wav", samples, sample_rate=22050)


@pytest.fixture(scope="session")
def worker_server(tmp_path_factory):
    """One worker, an API key and a small queue: what the generating tests share."""
    server = Server(tmp_path_factory.mktemp("serve-worker"), workers=1, api_key=API_KEY,
                    settings=("limits.max_queued_jobs=5",)).start()
    try:
        server.wait_workers(1)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def queue_server(tmp_path_factory):
    """No workers: whatever is posted stays queued."""
    server = Server(tmp_path_factory.mktemp("serve-queue"), workers=0,
                    settings=("limits.max_queued_jobs=50", "limits.max_upload_mb=0.5", "limits.max_song_seconds=120",
                              "limits.max_steps=100")).start()
    try:
        yield server
    finally:
        server.stop()
