"""The generation service under 20 concurrent clients: latency and the memory it holds.

Starts `dancegen serve` (a subprocess, `--workers` worker processes, room for every client's
job in the queue), runs one job to warm it, then `--clients` clients post a song at the same
moment and each watches its job to the end. Measured:

- memory: resident memory of the server and its workers together, sampled every 20 ms: idle
  before any model loads, warm (model loaded, one job done), and the peak during the burst;
- submit latency: from POST to the 202 answer (the upload is checked and queued, nothing waits
  on generation); queue wait (created → started), run time (started → finished) and end to end
  (POST → done as the client saw it), each as p50 / p95 / max;
- throughput: jobs per minute and seconds of dance per second of wall time over the burst.

    .venv/bin/python benchmarks/bench_serve.py [--clients 20] [--workers 1] [--seconds 5] [--steps N]

Prints a table and writes benchmarks/results/serve.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from dancegen.audio.io import write_wav
from dancegen.audio.synth import drum_pattern
from dancegen.fileio import atomic_write_text
from dancegen.serve.pool import rss_bytes, tree_pids, tree_rss_bytes

RESULTS = Path(__file__).resolve().parent / "results" / "serve.json"
MB = 2**20


def start_server(data_dir: Path, workers: int, queue: int) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "dancegen", "serve", "--port", "0", "--data-dir", str(data_dir),
               "--workers", str(workers), "--set", f"limits.max_queued_jobs={queue}", "--set", "poll_seconds=0.05"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    for line in process.stdout:
        found = re.search(r"dancegen serve: (http://\S+)/ ", line)
        if found:
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # keep draining
            return process, found[1]
    raise SystemExit("the server did not start")


def wait_done(client: httpx.Client, job_id: str) -> tuple[dict, float]:
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job, time.monotonic()
        time.sleep(0.05)


def stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    array = np.asarray(values)
    return {"p50": round(float(np.percentile(array, 50)), 3), "p95": round(float(np.percentile(array, 95)), 3),
            "max": round(float(array.max()), 3), "mean": round(float(array.mean()), 3)}


class MemoryWatch(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            self.stop.wait(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1: for 2 cores)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of dance per job")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    args = parser.parse_args()
    fields = {"seconds": str(args.seconds), "seed": "1", **({"steps": str(args.steps)} if args.steps else {})}

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        samples, _ = drum_pattern(120.0, args.seconds + 1, seed=1)
        song = write_wav(Path(folder) / "groove.wav", samples, sample_rate=22050)
        payload = song.read_bytes()
        process, url = start_server(Path(folder) / "data", args.workers, queue=args.clients)
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                idle = tree_rss_bytes(process.pid)
                warm_job = client.post("/jobs", files={"song": ("groove.wav", payload)}, data=fields).json()
                warm_job, _ = wait_done(client, warm_job["id"])
                warm = tree_rss_bytes(process.pid)
                barrier = threading.Barrier(args.clients)

                def one_client(_: int) -> dict:
                    with httpx.Client(base_url=url, timeout=600) as own:
                        barrier.wait()
                        posted = time.monotonic()
                        response = own.post("/jobs", files={"song": ("groove.wav", payload)}, data=fields)
                        answered = time.monotonic()
                        if response.status_code != 202:
                            return {"status": response.status_code, "submit_s": answered - posted}
                        job, done = wait_done(own, response.json()["id"])
                        return {"status": 202, "job": job, "submit_s": answered - posted, "end_to_end_s": done - posted}

                memory = MemoryWatch(process.pid)
                memory.start()
                burst_start = time.monotonic()
                with ThreadPoolExecutor(args.clients) as pool:
                    outcomes = list(pool.map(one_client, range(args.clients)))
                burst_s = time.monotonic() - burst_start
                memory.stop.set()
                memory.join()
                members = tree_pids(process.pid)
                per_process = {"server_mb": round(rss_bytes(process.pid) / MB, 1),
                               "workers_mb": [round(rss_bytes(pid) / MB, 1) for pid in members if pid != process.pid]}
        finally:
            process.terminate()
            process.wait(30)

    jobs = [outcome["job"] for outcome in outcomes if outcome["status"] == 202]
    done = [job for job in jobs if job["status"] == "done"]
    report = {
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "clients": args.clients, "workers": args.workers, "dance_seconds_per_job": args.seconds,
        "steps": args.steps or "model default", "model": warm_job["result"]["model"] if warm_job.get("result") else None,
        "accepted": len(jobs), "refused": args.clients - len(jobs), "done": len(done),
        "memory_mb": {"idle": round(idle / MB, 1), "warm": round(warm / MB, 1), "peak_during_burst": round(memory.peak / MB, 1),
                      "peak_minus_warm": round((memory.peak - warm) / MB, 1), "after_burst": per_process},
        "latency_s": {
            "submit": stats([outcome["submit_s"] for outcome in outcomes]),
            "queue_wait": stats([job["started"] - job["created"] for job in done]),
            "run": stats([job["finished"] - job["started"] for job in done]),
            "end_to_end": stats([outcome["end_to_end_s"] for outcome in outcomes if "end_to_end_s" in outcome]),
        },
        "burst_wall_s": round(burst_s, 2),
        "jobs_per_minute": round(60 * len(done) / burst_s, 2),
        "dance_seconds_per_wall_second": round(sum(job["result"]["seconds"] for job in done) / burst_s, 3),
    }
    print(f"{args.clients} clients, {args.workers} worker(s), {args.seconds:g} s of dance each: "
          f"{len(done)}/{args.clients} done in {burst_s:.1f} s")
    memory_mb = report["memory_mb"]
    print(f"memory (server + workers): idle {memory_mb['idle']} MB, warm {memory_mb['warm']} MB, "
          f"peak {memory_mb['peak_during_burst']} MB (+{memory_mb['peak_minus_warm']} MB over warm)")
    for name, values in report["latency_s"].items():
        print(f"  {name:>10}: " + ", ".join(f"{key} {value:.3f} s" for key, value in values.items()))
    print(f"throughput: {report['jobs_per_minute']} jobs/min, {report['dance_seconds_per_wall_second']} s of dance per s")
    atomic_write_text(RESULTS, json.dumps(report, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
