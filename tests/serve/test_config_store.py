"""The service's pieces without a server: its configs, the job table (FIFO, the queue limit
under concurrent posts, recovery after a crash, pruning) and the progress read from tqdm."""

from __future__ import annotations

import threading

import pytest

from dancegen.errors import ArgumentError
from dancegen.serve.config import JobOptions, ServeConfig
from dancegen.serve.server import load_serve_config
from dancegen.serve.store import JobStore, QueueFull, is_job_id, new_job_id


def test_job_options_take_a_web_form():
    options = JobOptions.model_validate({"seconds": "2.5", "start": "", "prompt": "  ", "seed": "", "steps": "4",
                                         "formats": "BVH, .glb,bvh", "foot_lock": "false"})
    assert options.seconds == 2.5 and options.start == 0.0 and options.prompt is None and options.seed is None
    assert options.steps == 4 and options.foot_lock is False
    assert options.formats == "bvh,glb" and options.format_list() == ["bvh", "glb", "html"]
    assert JobOptions().format_list() is None  # every format


@pytest.mark.parametrize("fields, problem", [
    ({"seconds": "-1"}, "greater than 0"),
    ({"formats": "bvh,mp4"}, "unknown format 'mp4'"),
    ({"colour": "red"}, "Extra inputs"),
    ({"steps": "many"}, "valid integer"),
])
def test_job_options_refuse_bad_fields(fields, problem):
    with pytest.raises(ValueError, match=problem):
        JobOptions.model_validate(fields)


def test_serve_config_from_file_flags_and_overrides(tmp_path):
    path = tmp_path / "serve.yaml"
    path.write_text("port: 9000\nworkers: 2\nlimits:\n  max_queued_jobs: 7\n")
    config = load_serve_config(path, ["limits.max_upload_mb=3", "api_key=s3cret"], workers=1, host=None)
    assert (config.port, config.workers, config.host) == (9000, 1, "127.0.0.1")  # flags beat the file
    assert config.limits.max_queued_jobs == 7 and config.limits.max_upload_mb == 3
    assert config.api_key.get_secret_value() == "s3cret" and "s3cret" not in repr(config)
    with pytest.raises(ArgumentError, match=r"limits\.max_queued_jobs: Input should be greater than or equal to 1"):
        load_serve_config(None, ["limits.max_queued_jobs=0"])
    with pytest.raises(ArgumentError, match="limits.max_upload: Extra inputs"):
        load_serve_config(None, ["limits.max_upload=3"])


def test_api_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("DANCEGEN_API_KEY", "from-env")
    assert ServeConfig().with_env_key().api_key.get_secret_value() == "from-env"
    assert ServeConfig(api_key="own").with_env_key().api_key.get_secret_value() == "own"
    assert ServeConfig(api_key="").api_key is None


def test_job_ids_are_safe_names():
    job_id = new_job_id()
    assert is_job_id(job_id) and job_id != new_job_id()
    for bad in ("../jobs.sqlite", job_id.upper(), job_id[:-1], job_id + "/x", ""):
        assert not is_job_id(bad)


def add(store: JobStore, max_queued: int = 100) -> str:
    job_id = new_job_id()
    store.add(job_id, {"model": "m"}, {"name": "a.wav", "file": "song.wav"}, max_queued)
    return job_id


def test_jobs_run_in_order_and_the_queue_limit_holds(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    first, second = add(store), add(store)
    assert store.queue_position(first) == 1 and store.queue_position(second) == 2
    claimed = store.claim("w0")
    assert claimed.id == first and claimed.status == "running" and claimed.attempts == 1 and claimed.worker == "w0"
    assert store.queue_position(second) == 1 and store.queue_position(first) is None
    store.progress(first, "denoising", 1.7)
    assert store.get(first).progress == 1.0  # clamped
    store.finish(first, {"frames": 60}, ["dance.bvh"])
    assert store.get(first).status == "done" and store.get(first).files == ["dance.bvh"]
    assert store.claim("w0").id == second and store.claim("w1") is None
    store.fail(second, "a\nproblem  here")
    assert store.get(second).error == "a problem here"


def test_concurrent_posts_never_overfill_the_queue(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    outcomes: list[str] = []

    def post() -> None:
        try:
            add(store, max_queued=5)
            outcomes.append("queued")
        except QueueFull:
            outcomes.append("full")

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("queued") == 5 and outcomes.count("full") == 15
    assert store.counts()["queued"] == 5


def test_recovery_after_a_crash(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    once, twice, waiting = add(store), add(store), add(store)
    store.claim("w0")  # `once` runs, first try
    store.claim("w1")  # `twice` runs...
    store.requeue(twice, "queued (again)")  # ...is put back by a stopping worker: no try counted
    assert store.get(twice).attempts == 0
    store.claim("w1")
    with store._connect() as db:  # `twice` has been cut off once before
        db.execute("UPDATE jobs SET attempts=2 WHERE id=?", (twice,))
    requeued, failed = JobStore(tmp_path / "jobs.sqlite").recover(max_attempts=2)
    assert requeued == [once] and failed == [twice]
    assert store.get(once).status == "queued" and store.get(once).worker is None
    assert store.get(twice).status == "failed" and "server stopped while this job ran, 2 times" in store.get(twice).error
    assert store.get(waiting).status == "queued"
    # A worker that dies: its job goes back, or fails past the attempts.
    assert store.claim("w2").id == once
    assert store.release_worker("w2", "died", max_attempts=3) == once and store.get(once).status == "queued"
    store.claim("w2")
    assert store.release_worker("w2", "the worker died", max_attempts=2) == once
    assert store.get(once).status == "failed" and store.get(once).error == "the worker died"
    assert store.release_worker("w9", "x", 2) is None


def test_cancel_delete_and_prune(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    jobs = [add(store) for _ in range(4)]
    assert store.cancel(jobs[0]) and not store.cancel(jobs[0])
    assert not store.delete(jobs[1])  # still queued: cancel it first
    for job_id in jobs[1:]:
        store.claim("w")
        store.finish(job_id, {}, [])
    assert store.delete(jobs[1]) and store.get(jobs[1]) is None
    assert set(store.prune(keep=1)) == {jobs[0], jobs[2]}  # the newest finished job stays
    assert [job.id for job in store.list()] == [jobs[3]]


def test_progress_of_nested_bars():
    from tqdm import tqdm

    from dancegen.serve.progress import bars_fraction, watch_progress

    heard = []
    with watch_progress(lambda fraction, label: heard.append((fraction, label))):
        with tqdm(total=4, desc="segments") as outer:
            outer.update(1)
            with tqdm(total=10, desc="denoising") as inner:
                inner.update(5)
                inner.refresh()
                fraction, label = bars_fraction()
                assert label == "denoising" and fraction == pytest.approx((1 + 0.5) / 4)
    assert bars_fraction() is None


def test_without_the_extra_serve_says_how_to_install_it(monkeypatch, capsys):
    import sys

    from cli_runner import run_cli

    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed
    code, _, stderr = run_cli(["serve"], capsys)
    assert code == 2 and stderr.strip() == (
        "dancegen: error: dancegen serve needs FastAPI, uvicorn and python-multipart (fastapi is missing): "
        "pip install 'dancegen[serve]'")


def test_bad_settings_are_one_line_errors(capsys, tmp_path):
    from cli_runner import run_cli

    code, _, stderr = run_cli(["serve", "--data-dir", tmp_path, "--set", "limits.max_queued_jobs=-3"], capsys)
    assert code == 2 and stderr.count("\n") == 1
    assert "limits.max_queued_jobs: Input should be greater than or equal to 1" in stderr
    code, _, stderr = run_cli(["serve", "--workers", "-1"], capsys)
    assert code == 2 and "workers: Input should be greater than or equal to 0" in stderr
    assert not (tmp_path / "jobs.sqlite").exists()  # refused before anything was made


def test_a_job_that_fails_in_the_worker_says_why_without_server_paths(tmp_path):
    """The song vanished between queueing and running: the job fails with one line naming
    the upload, not the server's copy (no model is loaded: the checks run first)."""
    from dancegen.serve.worker import Worker

    config = ServeConfig(data_dir=tmp_path / "data", preload=False)
    worker = Worker("w0", config)
    job_id = new_job_id()
    worker.store.add(job_id, {"model": "gcdance-small"}, {"name": "my song.wav", "file": "song.wav"}, 10)
    worker.run_job(worker.store.claim("w0"))
    job = worker.store.get(job_id)
    assert job.status == "failed" and job.error.startswith("my song.wav: ") and str(tmp_path) not in job.error
