"""The HTTP API on a real `dancegen serve` (no workers: jobs stay queued): the OpenAPI spec,
every refusal as one-line JSON with the right status, limits, the API key, no way out of a
job's folder, and jobs that outlive the server."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import API_KEY, Server, submit

from dancegen.serve.store import new_job_id


@pytest.fixture(scope="module")
def client(queue_server):
    with queue_server.client() as client:
        yield client


def assert_error(response, status: int, *fragments: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"] and "\n" not in body["error"] and body["error"]
    for fragment in fragments:
        assert fragment in body["error"]
    return body["error"]


def test_openapi_spec_describes_the_api(client):
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "dancegen"
    assert {"/jobs", "/jobs/{job_id}", "/jobs/{job_id}/files/{name}", "/jobs/{job_id}/viewer", "/models",
            "/health"} <= set(spec["paths"])
    upload = spec["paths"]["/jobs"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"]
    form = spec["components"]["schemas"]["JobForm"]["properties"]
    assert {"song", "model", "seconds", "start", "prompt", "genre", "moves", "seed", "steps", "guidance",
            "foot_lock", "beat_sync", "formats"} <= set(form)
    assert {"202", "413", "429"} <= set(spec["paths"]["/jobs"]["post"]["responses"])
    assert "APIKeyHeader" in spec["components"]["securitySchemes"]


def test_health_and_models(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["workers"] == 0 and health["api_key_required"] is False
    assert health["limits"]["max_upload_mb"] == 0.5 and health["memory_mb"] > 10
    models = {model["name"]: model for model in client.get("/models").json()}
    assert {"gcdance-small", "lrcm-small", "mosaic-small"} <= set(models)
    assert models["gcdance-small"]["default"] and "salsa" in models["gcdance-small"]["genres"]
    assert "path" not in models["gcdance-small"]  # the server's files are its own business


def test_a_job_is_queued_with_its_options(client, song):
    response = submit(client, song, seconds="2", steps="3", genre="Salsa", foot_lock="false")
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/jobs/{job['id']}" == job["url"]
    assert job["status"] == "queued" and job["queue_position"] >= 1 and job["files"] == [] and job["viewer"] is None
    assert job["options"]["model"] == "gcdance-small"  # the default, resolved and kept
    assert job["options"]["seconds"] == 2.0 and job["options"]["foot_lock"] is False and job["options"]["beat_sync"] is True
    assert job["song"] == {"name": "groove.wav", "seconds": pytest.approx(3.0, abs=0.01), "bytes": song.stat().st_size}
    assert client.get(job["url"]).json()["id"] == job["id"]
    assert job["id"] in [listed["id"] for listed in client.get("/jobs").json()]


def test_bad_options_are_one_line_errors(client, song, tmp_path, queue_server):
    folders_before = len(list((queue_server.data_dir / "jobs").iterdir()))
    assert_error(submit(client, song, seconds="-1"), 422, "seconds", "greater than 0")
    assert_error(submit(client, song, colour="red"), 422, "colour")
    assert_error(client.post("/jobs", data={"seconds": "2"}), 422, "song")
    assert_error(submit(client, song, genre="polka"), 400, "'polka' is not a genre this model knows")
    assert_error(submit(client, song, seconds="9"), 400, "runs past the end of groove.wav")
    assert_error(submit(client, song, model="nope"), 400, "no model named 'nope'", "gcdance-small")
    assert_error(submit(client, song, model="../../etc/passwd.pt"), 400, "no model named")
    assert_error(submit(client, song, formats="mp4"), 422, "unknown format 'mp4'")
    assert_error(submit(client, song, guidance="music"), 400, "--guidance")
    from dancegen.motion.fbx import fbx_available

    if not fbx_available():  # refused at once, not after the dance is made
        assert_error(submit(client, song, formats="bvh,fbx"), 400, "FBX needs Blender")
    text = tmp_path / "notes.txt"
    text.write_text("not music")
    assert_error(submit(client, text), 400, "unsupported audio format '.txt'")
    garbage = tmp_path / "broken.wav"
    garbage.write_bytes(b"RIFF" + bytes(range(256)) * 4)
    message = assert_error(submit(client, garbage), 400, "broken.wav")
    assert "/jobs/" not in message and str(queue_server.data_dir) not in message  # no server path leaks
    # Nothing of a refused job is left behind.
    assert len(list((queue_server.data_dir / "jobs").iterdir())) == folders_before


def test_limits_are_enforced(client, song, tmp_path):
    big = tmp_path / "big.wav"
    from dancegen.audio.io import write_wav

    write_wav(big, np.zeros(int(22050 * 30), np.float32), sample_rate=22050)  # 1.3 MB, past 0.5 MB
    assert_error(submit(client, big), 413, "0.5 MB")
    huge = tmp_path / "huge.wav"
    huge.write_bytes(b"\0" * (3 * 2**20))  # refused from its Content-Length, before it is read
    assert_error(submit(client, huge), 413, "3.0 MB", "up to 0.5 MB")
    assert_error(submit(client, song, steps="101"), 413, "steps: 101", "100")
    long_song = tmp_path / "long.flac"
    import soundfile

    soundfile.write(long_song, np.zeros(22050 * 150, np.float32), 22050)  # 150 s of silence: a few KB of FLAC
    assert long_song.stat().st_size < 0.5 * 2**20
    assert_error(submit(client, long_song), 413, "150 s long", "up to 120 s")


def test_no_path_leads_outside_a_job(client, song, queue_server):
    job = submit(client, song).json()
    (queue_server.data_dir / "secret.txt").write_text("secret")
    for path in (f"/jobs/{job['id']}/files/..%2Fsong.wav", f"/jobs/{job['id']}/files/%2e%2e%2f%2e%2e%2fjobs.sqlite",
                 f"/jobs/{job['id']}/files/song.wav", f"/jobs/{job['id']}/files/....%2F%2Fsecret.txt",
                 "/jobs/..%2F..%2Fsecret.txt/files/x", "/jobs/../secret.txt"):
        response = client.get(path)
        assert response.status_code == 404 and "secret" not in response.text, path
        assert list(response.json()) == ["error"]
    assert_error(client.get(f"/jobs/{job['id']}/viewer"), 404, "no viewer page yet", "queued")
    assert_error(client.get(f"/jobs/{new_job_id()}"), 404, "no job")


def test_cancel_and_delete(client, song, queue_server):
    job = submit(client, song).json()
    folder = queue_server.data_dir / "jobs" / job["id"]
    assert (folder / "song.wav").is_file()
    cancelled = client.delete(job["url"])
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled" and not folder.exists()
    gone = client.delete(job["url"])  # a finished (cancelled) job is forgotten
    assert gone.status_code == 200 and client.get(job["url"]).status_code == 404
    assert_error(client.delete(f"/jobs/{new_job_id()}"), 404, "no job")


def test_a_full_queue_answers_429(tmp_path, song):
    server = Server(tmp_path / "data", workers=0, settings=("limits.max_queued_jobs=2",)).start()
    try:
        with server.client() as client:
            assert [submit(client, song).status_code for _ in range(2)] == [202, 202]
            response = submit(client, song)
            assert_error(response, 429, "queue is full (2 jobs waiting)")
            assert response.headers["retry-after"] == "5"
            assert len(list((server.data_dir / "jobs").iterdir())) == 2
    finally:
        server.stop()


def test_the_api_key(tmp_path, song):
    server = Server(tmp_path / "data", workers=0, api_key=API_KEY).start()
    try:
        with server.client(key=None) as anonymous:
            assert anonymous.get("/health").json()["api_key_required"] is True  # open: the page asks for the key
            assert anonymous.get("/").status_code == 200 and anonymous.get("/openapi.json").status_code == 200
            for response in (anonymous.get("/models"), anonymous.get("/jobs"), submit(anonymous, song)):
                assert_error(response, 401, "X-API-Key")
        with server.client(key="wrong") as wrong:
            assert_error(wrong.get("/models"), 401)
        with server.client() as client:
            assert client.get("/models").status_code == 200 and submit(client, song).status_code == 202
        # The key never reaches a command line (`ps` shows those).
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes()
        assert API_KEY.encode() not in cmdline
    finally:
        server.stop()


def test_jobs_outlive_the_server_and_one_data_dir_has_one_server(tmp_path, song):
    data = tmp_path / "data"
    server = Server(data, workers=0).start()
    with server.client() as client:
        ids = [submit(client, song, seconds=str(s)).json()["id"] for s in (1, 2)]
    second = Server(data, workers=0)
    with pytest.raises(AssertionError, match="is in use by another dancegen serve"):
        second.start()
    assert second.process.wait(10) == 2
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL  # a crash: no clean-up at all
    server = Server(data, workers=0).start()
    try:
        with server.client() as client:
            jobs = [client.get(f"/jobs/{job_id}").json() for job_id in ids]
            assert [job["status"] for job in jobs] == ["queued", "queued"]
            assert [job["options"]["seconds"] for job in jobs] == [1.0, 2.0]
            assert [job["queue_position"] for job in jobs] == [1, 2]
    finally:
        server.stop()


def test_the_page_is_served(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'id="song"' in page and "dancegenService" in page
    # Self-contained: nothing fetched from elsewhere.
    assert "http://" not in page and "https://" not in page and "src=\"http" not in page
    assert page.count("<link") == page.count('<link rel="icon" href="data:,">')  # an empty icon: no favicon request
    json.dumps(page)  # plain text


def test_json_announces_one_document_and_quiet_says_nothing(tmp_path):
    import socket
    import subprocess
    import sys
    import time

    import httpx

    for mode in ("--json", "-q"):
        with socket.socket() as probe:  # a free port, so the silent one can be found
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        process = subprocess.Popen(
            [sys.executable, "-m", "dancegen", "serve", "--port", str(port), "--workers", "0", "--data-dir",
             str(tmp_path / mode), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            if mode == "--json":
                text = ""
                while True:  # one indented document, complete once it parses
                    line = process.stdout.readline()
                    assert line, "the server ended before announcing itself"
                    text += line
                    try:
                        info = json.loads(text)
                        break
                    except json.JSONDecodeError:
                        continue
                assert set(info) == {"url", "workers", "data_dir", "models", "api_key_required"}
                assert httpx.get(info["url"] + "health").json()["status"] == "ok"
            else:
                deadline = time.monotonic() + 30
                while True:  # up and answering, having said nothing
                    try:
                        assert httpx.get(f"http://127.0.0.1:{port}/health").json()["status"] == "ok"
                        break
                    except httpx.TransportError:
                        assert time.monotonic() < deadline and process.poll() is None
                        time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        assert out == "", f"{mode} printed more on stdout: {out!r}"
        assert process.returncode == 128 + signal.SIGTERM and err.strip() == "dancegen: interrupted"
