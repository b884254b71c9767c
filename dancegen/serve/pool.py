"""The bounded worker pool: `workers` processes (`dancegen.serve.worker`), each generating one
job at a time with its one loaded pipeline, so memory is the server plus N models however many
jobs wait. Processes rather than threads: a crash or an out-of-memory kill takes one job with
it, not the server, and torch's threads stay per worker.

A thread watches them: a worker that dies gets its job re-queued (or failed, past
`max_attempts`) and is replaced; one that retired after `worker_max_jobs` is replaced quietly.
The same thread forgets finished jobs past `max_kept_jobs`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from dancegen.serve.config import ServeConfig
from dancegen.serve.store import JobStore

log = logging.getLogger("dancegen.serve")
WATCH_SECONDS = 0.5
PRUNE_SECONDS = 30.0
RESTART_DELAY_SECONDS = 1.0  # between a crash and its replacement, so a crash loop is not a busy loop


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (Linux /proc; 0 where it cannot be read)."""
    try:
        resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def tree_pids(pid: int) -> list[int]:
    """`pid` and all its descendants (Linux /proc)."""
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                frontier += [int(child) for child in task.read_text().split()]
            except (OSError, ValueError):
                pass
    return found


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and its descendants together (a server and its workers)."""
    return sum(rss_bytes(member) for member in tree_pids(pid))


class WorkerPool:
    def __init__(self, config: ServeConfig, store: JobStore):
        self.config = config
        self.store = store
        self._processes: dict[int, tuple[str, subprocess.Popen]] = {}
        self._spawned = 0
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        # What a worker needs, without the API key (argv is visible to `ps`).
        self._config_json = config.model_dump_json(exclude={"api_key"})

    def start(self) -> "WorkerPool":
        requeued, failed = self.store.recover(self.config.limits.max_attempts)
        if requeued or failed:
            log.info("after the last stop: %d jobs queued again, %d failed", len(requeued), len(failed))
        for slot in range(self.config.workers):
            self._spawn(slot)
        self._watcher = threading.Thread(target=self._watch, name="worker-pool", daemon=True)
        self._watcher.start()
        return self

    def _spawn(self, slot: int) -> None:
        self._spawned += 1
        name = f"w{slot}.{self._spawned}"
        process = subprocess.Popen([sys.executable, "-m", "dancegen.serve.worker", name, self._config_json],
                                   stdin=subprocess.DEVNULL)
        self._processes[slot] = (name, process)

    def _watch(self) -> None:
        last_prune = 0.0
        while not self._stopping.wait(WATCH_SECONDS):
            for slot, (name, process) in list(self._processes.items()):
                code = process.poll()
                if code is None or self._stopping.is_set():
                    continue
                if code != 0:
                    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
                    reason = (f"the worker running this job stopped ({how}, out of memory perhaps) "
                              f"{self.config.limits.max_attempts} times; try a shorter span or fewer steps")
                    job = self.store.release_worker(name, reason, self.config.limits.max_attempts)
                    log.warning("%s stopped (%s)%s; starting another", name, how, f" running job {job}" if job else "")
                    self._stopping.wait(RESTART_DELAY_SECONDS)
                if not self._stopping.is_set():
                    self._spawn(slot)
            if time.monotonic() - last_prune > PRUNE_SECONDS:
                last_prune = time.monotonic()
                self.prune()

    def prune(self) -> None:
        for job_id in self.store.prune(self.config.limits.max_kept_jobs):
            shutil.rmtree(self.config.jobs_dir / job_id, ignore_errors=True)

    def stop(self) -> None:
        """SIGTERM to every worker (each puts its job back in the queue), SIGKILL after the grace."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        processes = [process for _, process in self._processes.values()]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.config.shutdown_grace_seconds
        for process in processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def worker_pids(self) -> list[int]:
        return [process.pid for _, process in self._processes.values() if process.poll() is None]

    def memory_bytes(self) -> int:
        """Resident memory of the server and its workers together."""
        return rss_bytes(os.getpid()) + sum(rss_bytes(pid) for pid in self.worker_pids())
