"""Jobs that generate, on a real server with a worker: progress, every format downloaded and
read back, the viewer page; a worker or the whole server killed mid-job, and the job still
finishes."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from conftest import TINY, Server, submit, wait_for


@pytest.fixture(scope="module")
def client(worker_server):
    with worker_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def finished(client, song):
    """One tiny job, watched from queued to done."""
    response = submit(client, song, prompt="expressive arms, pirouette", **TINY)
    assert response.status_code == 202, response.text
    seen: list[dict] = []
    job = wait_for(client, response.json()["id"], seen=seen)
    assert job["status"] == "done", job
    return job, seen


def test_a_job_runs_to_done_with_progress(finished):
    job, seen = finished
    progress = [state["progress"] for state in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert {state["status"] for state in seen} <= {"queued", "running", "done"}
    result = job["result"]
    assert result["frames"] == 60 and result["seconds"] == pytest.approx(2.0) and result["seed"] == 3
    assert result["model"] == "gcdance-small" and result["prompt"] == "expressive arms, pirouette"
    assert result["foot_lock"]["foot_skating_after"] <= result["foot_lock"]["foot_skating_before"]
    assert job["attempts"] == 1 and job["error"] is None and job["finished"] >= job["started"] >= job["created"]


def test_every_format_downloads_and_reads_back(finished, client, tmp_path):
    from dancegen.motion.io import load_motion

    job, _ = finished
    names = {file["name"] for file in job["files"]}
    assert names == {"dance.bvh", "dance.npz", "dance.pkl", "dance.glb", "dance.html"}
    for file in job["files"]:
        response = client.get(file["url"])
        assert response.status_code == 200 and len(response.content) == file["bytes"] > 0
        path = tmp_path / file["name"]
        path.write_bytes(response.content)
        if file["format"] == "html":
            assert response.headers["content-type"].startswith("text/html")
            assert 'id="dancegen-data"' in response.text and "data:audio/wav;base64" in response.text
            continue
        assert "attachment" in response.headers["content-disposition"] and file["name"] in response.headers["content-disposition"]
        motion = load_motion(path)
        assert np.isfinite(motion.joint_positions()).all()
        if file["format"] == "pkl":
            continue  # AIST++ files carry no frame rate: how they keep time is the exporter's (issue 15)
        assert motion.num_frames == 60 and motion.duration == pytest.approx(2.0), file["name"]
    viewer = client.get(job["viewer"], follow_redirects=False)
    assert viewer.status_code == 307 and viewer.headers["location"] == f"{job['url']}/files/dance.html"


def test_only_the_formats_asked_for(client, song):
    job = wait_for(client, submit(client, song, formats="bvh", **TINY).json()["id"])
    assert job["status"] == "done" and [file["name"] for file in job["files"]] == ["dance.bvh", "dance.html"]
    assert job["options"]["formats"] == "bvh"


def test_result_files_appear_whole(client, song, worker_server):
    """The worker writes into out.partial/ and renames it: out/ is never half there."""
    job = wait_for(client, submit(client, song, **TINY).json()["id"])
    folder = worker_server.data_dir / "jobs" / job["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["out", "song.wav"]
    assert not [p for p in (folder / "out").iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


def test_an_aiff_song_plays_in_the_page_as_wav(client, song, tmp_path):
    """Browsers do not play AIFF: the page gets a WAV copy of it."""
    import soundfile

    samples, rate = soundfile.read(song, dtype="float32")
    aiff = tmp_path / "groove.aiff"
    soundfile.write(aiff, samples, rate, format="AIFF")
    job = wait_for(client, submit(client, aiff, **TINY).json()["id"])
    assert job["status"] == "done", job
    page = client.get(f"{job['url']}/files/dance.html").text
    assert "data:audio/wav;base64" in page and job["song"]["name"] == "groove.aiff"


def wait_until_denoising(client, job_id: str, attempt: int = 1, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] == "running" and job["progress"] > 0.06 and job["attempts"] == attempt:
            return job
        assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.02)


@pytest.mark.slow
def test_a_job_survives_a_dead_worker_and_a_dead_server(tmp_path, song):
    """The worker is killed mid-job (out of memory, say): the job is re-queued and a new worker
    runs it. Then the whole server is killed mid-job: the next start re-queues it, and it ends
    done. A job queued behind it survives too."""
    data = tmp_path / "data"
    server = Server(data, workers=1, settings=("limits.max_attempts=3",)).start()
    long_job = {"seconds": "2", "steps": "150", "seed": "1"}  # a second or so of sampling
    try:
        server.wait_workers(1)
        with server.client() as client:
            job_id = submit(client, song, **long_job).json()["id"]
            queued_id = submit(client, song, **TINY).json()["id"]
            wait_until_denoising(client, job_id)
            (worker,) = server.worker_pids()
            os.kill(worker, signal.SIGKILL)
            wait_until_denoising(client, job_id, attempt=2)  # again, on the replacement worker
            assert server.worker_pids() != [worker]
            assert any("stopped (killed by signal 9" in line for line in server.output)
            workers = server.worker_pids()
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
        deadline = time.monotonic() + 10  # the worker dies with its server
        while any(os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split()[2] for pid in workers):
            assert time.monotonic() < deadline, "the worker outlived its server"
            time.sleep(0.05)
        server = Server(data, workers=1, settings=("limits.max_attempts=3",)).start()
        with server.client() as client:
            assert client.get(f"/jobs/{job_id}").json()["status"] == "queued"
            job = wait_for(client, job_id)
            assert job["status"] == "done" and job["attempts"] == 3 and job["result"]["frames"] == 60
            assert wait_for(client, queued_id)["status"] == "done"
    finally:
        server.stop()


@pytest.mark.slow
def test_a_stopping_server_puts_the_running_job_back(tmp_path, song):
    """SIGTERM (Ctrl+C, a service manager's stop): the worker hands its job back, uncounted."""
    from dancegen.serve.store import JobStore

    server = Server(tmp_path / "data", workers=1).start()
    try:
        server.wait_workers(1)
        with server.client() as client:
            job_id = submit(client, song, seconds="2", steps="150").json()["id"]
            wait_until_denoising(client, job_id)
    finally:
        assert server.stop(signal.SIGTERM) == 128 + signal.SIGTERM
    job = JobStore(tmp_path / "data" / "jobs.sqlite").get(job_id)
    assert (job.status, job.attempts, job.worker) == ("queued", 0, None)
    assert "server was stopping" in job.stage
    assert not (tmp_path / "data" / "jobs" / job_id / "out").exists()
