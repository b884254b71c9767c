"""20 clients at once against a server with one worker and room for 5 waiting jobs: the
limit holds (the rest get 429 with one line and Retry-After), every accepted job finishes, and
the memory of the server and its workers stays where it was: requests cost disk, not RAM."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import TINY, submit, wait_for

from dancegen.serve.pool import tree_rss_bytes

CLIENTS = 20
QUEUE = 5  # worker_server's limits.max_queued_jobs


class MemoryWatch:
    """The server's and its workers' resident memory, sampled every 20 ms in a thread."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            self._stop.wait(0.02)

    def __enter__(self) -> "MemoryWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def test_twenty_concurrent_requests_hold_memory_and_the_queue_limit(worker_server, song):
    with worker_server.client() as client:
        # Warm: the worker holds its model and has generated once (what a server looks like in use).
        assert wait_for(client, submit(client, song, **TINY).json()["id"])["status"] == "done"
        assert client.get("/health").json()["jobs"]["queued"] == 0
        baseline = tree_rss_bytes(worker_server.pid)
        barrier = threading.Barrier(CLIENTS)

        def post(_: int):
            barrier.wait()  # all at once
            with worker_server.client() as own:
                started = time.monotonic()
                response = submit(own, song, **TINY)
                return response, time.monotonic() - started

        with MemoryWatch(worker_server.pid) as memory:
            with ThreadPoolExecutor(CLIENTS) as pool:
                answers = list(pool.map(post, range(CLIENTS)))
            accepted = [response.json()["id"] for response, _ in answers if response.status_code == 202]
            refused = [response for response, _ in answers if response.status_code != 202]
            jobs = [wait_for(client, job_id) for job_id in accepted]
        assert all(response.status_code == 429 for response in refused), [r.text for r in refused]
        for response in refused:
            assert response.headers["retry-after"] and "queue is full" in response.json()["error"]
        # At most QUEUE waiting, plus the few the worker took while the burst was arriving.
        assert QUEUE <= len(accepted) <= QUEUE + 3 and len(refused) >= CLIENTS - QUEUE - 3
        assert [job["status"] for job in jobs] == ["done"] * len(jobs)
        assert max(seconds for _, seconds in answers) < 10  # every answer came at once, none waited on a job
        grown = memory.peak - baseline
        assert grown < 150 * 2**20, f"memory grew {grown / 2**20:.0f} MB over {baseline / 2**20:.0f} MB"
        assert memory.peak < 1.5 * 2**30
