"""The job table: one small SQLite file that the server and its worker processes share.

A job's row is the whole truth about it (options, status, progress, result, error), so a
restarted server finds every job where it was. Each call opens its own connection: they are
cheap, and it keeps threads and processes from sharing one. WAL lets readers (status polls)
run while a worker writes its progress.

Status moves queued → running → done | failed, or queued → cancelled. A job found `running`
when the server starts was cut off by a crash or a restart: `recover` puts it back in the
queue, or fails it with the reason once it has had `max_attempts` tries.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    options TEXT NOT NULL,
    song TEXT NOT NULL,
    result TEXT,
    files TEXT,
    error TEXT,
    worker TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
"""
STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
# Job ids are 32 hex digits (unguessable, and safe as a folder name); anything else is no job.
JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def new_job_id() -> str:
    return secrets.token_hex(16)


def is_job_id(text: str) -> bool:
    return bool(JOB_ID.match(text))


@dataclass
class Job:
    id: str
    status: str
    stage: str
    progress: float
    options: dict[str, Any]
    song: dict[str, Any]
    result: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)
    error: str | None = None
    worker: str | None = None
    attempts: int = 0
    created: float = 0.0
    started: float | None = None
    finished: float | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Job":
        values = dict(row)
        for name in ("options", "song", "result", "files"):
            values[name] = json.loads(values[name]) if values[name] is not None else None
        values["files"] = values["files"] or []
        return cls(**values)


class QueueFull(Exception):
    """The queue already holds `limit` waiting jobs."""

    def __init__(self, limit: int):
        super().__init__(f"the queue is full ({limit} jobs waiting); try again in a little while")
        self.limit = limit


class JobStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit mode: every statement commits, and `_transaction` opens an explicit one.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock first, so read-then-write steps (the queue
        limit, claiming a job) cannot interleave between processes."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- the server's side ----------------------------------------------------------------

    def add(self, job_id: str, options: dict[str, Any], song: dict[str, Any], max_queued: int) -> Job:
        """A new queued job, unless `max_queued` jobs are waiting already (QueueFull)."""
        with self._transaction() as db:
            waiting = db.execute("SELECT COUNT(*) FROM jobs WHERE status='queued'").fetchone()[0]
            if waiting >= max_queued:
                raise QueueFull(max_queued)
            db.execute(
                "INSERT INTO jobs (id, status, stage, options, song, created) VALUES (?, 'queued', 'queued', ?, ?, ?)",
                (job_id, json.dumps(options), json.dumps(song), time.time()),
            )
        return self.get(job_id)

    def get(self, job_id: str) -> Job | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return Job.from_row(row) if row is not None else None

    def list(self, limit: int = 50) -> list[Job]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY rowid DESC LIMIT ?", (limit,)).fetchall()
        return [Job.from_row(row) for row in rows]

    def counts(self) -> dict[str, int]:
        with self._connect() as db:
            rows = db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return {status: 0 for status in STATUSES} | {row[0]: row[1] for row in rows}

    def queue_position(self, job_id: str) -> int | None:
        """1 for the next job a worker takes; None when the job is not waiting."""
        with self._connect() as db:
            row = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE status='queued' AND rowid <= (SELECT rowid FROM jobs WHERE id=? AND status='queued')",
                (job_id,),
            ).fetchone()
        return row[0] or None

    def cancel(self, job_id: str) -> bool:
        """Cancel a waiting job; False when it is no longer waiting."""
        with self._connect() as db:
            changed = db.execute(
                "UPDATE jobs SET status='cancelled', stage='cancelled', finished=? WHERE id=? AND status='queued'",
                (time.time(), job_id),
            ).rowcount
        return changed == 1

    def delete(self, job_id: str) -> bool:
        """Forget a finished job (its files are the caller's); False when it is not finished."""
        with self._connect() as db:
            changed = db.execute(
                f"DELETE FROM jobs WHERE id=? AND status IN ({','.join('?' * len(FINISHED))})", (job_id, *FINISHED)
            ).rowcount
        return changed == 1

    def recover(self, max_attempts: int) -> tuple[list[str], list[str]]:
        """Jobs left `running` by a server that stopped: (re-queued ids, failed ids)."""
        with self._transaction() as db:
            rows = db.execute("SELECT id, attempts FROM jobs WHERE status='running'").fetchall()
            requeued = [row["id"] for row in rows if row["attempts"] < max_attempts]
            failed = [row["id"] for row in rows if row["attempts"] >= max_attempts]
            for job_id in requeued:
                db.execute("UPDATE jobs SET status='queued', stage='queued (again, after a restart)', progress=0, "
                           "worker=NULL WHERE id=?", (job_id,))
            for row in rows:
                if row["id"] in failed:
                    db.execute("UPDATE jobs SET status='failed', stage='failed', worker=NULL, finished=?, error=? WHERE id=?",
                               (time.time(), f"the server stopped while this job ran, {row['attempts']} times; "
                                "it was not tried again (resubmit it, perhaps shorter)", row["id"]))
        return requeued, failed

    def release_worker(self, worker: str, reason: str, max_attempts: int) -> str | None:
        """The job of a worker process that died, re-queued or failed with `reason`; its id."""
        with self._transaction() as db:
            row = db.execute("SELECT id, attempts FROM jobs WHERE status='running' AND worker=?", (worker,)).fetchone()
            if row is None:
                return None
            if row["attempts"] < max_attempts:
                db.execute("UPDATE jobs SET status='queued', stage='queued (again, its worker stopped)', progress=0, "
                           "worker=NULL WHERE id=?", (row["id"],))
            else:
                db.execute("UPDATE jobs SET status='failed', stage='failed', worker=NULL, finished=?, error=? WHERE id=?",
                           (time.time(), reason, row["id"]))
        return row["id"]

    def prune(self, keep: int) -> list[str]:
        """Forget all but the newest `keep` finished jobs; returns the ids removed (their
        folders are the caller's to delete)."""
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT id FROM jobs WHERE status IN ({','.join('?' * len(FINISHED))}) ORDER BY rowid DESC LIMIT -1 OFFSET ?",
                (*FINISHED, keep),
            ).fetchall()
            ids = [row["id"] for row in rows]
            db.executemany("DELETE FROM jobs WHERE id=?", [(job_id,) for job_id in ids])
        return ids

    # --- the workers' side ----------------------------------------------------------------

    def claim(self, worker: str) -> Job | None:
        """The oldest waiting job, now running on `worker`; None when the queue is empty."""
        with self._transaction() as db:
            row = db.execute("SELECT id FROM jobs WHERE status='queued' ORDER BY rowid LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET status='running', stage='starting', progress=0, worker=?, attempts=attempts+1, "
                "started=?, error=NULL WHERE id=?",
                (worker, time.time(), row["id"]),
            )
        return self.get(row["id"])

    def progress(self, job_id: str, stage: str, progress: float) -> None:
        with self._connect() as db:
            db.execute("UPDATE jobs SET stage=?, progress=? WHERE id=? AND status='running'",
                       (stage, round(max(0.0, min(1.0, progress)), 3), job_id))

    def finish(self, job_id: str, result: dict[str, Any], files: list[str]) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET status='done', stage='done', progress=1, result=?, files=?, finished=?, worker=NULL "
                "WHERE id=? AND status='running'",
                (json.dumps(result), json.dumps(files), time.time(), job_id),
            )

    def fail(self, job_id: str, error: str) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET status='failed', stage='failed', error=?, finished=?, worker=NULL WHERE id=? AND status='running'",
                (" ".join(error.split()), time.time(), job_id),
            )

    def requeue(self, job_id: str, stage: str) -> None:
        """A running job put back (its worker was asked to stop before it finished)."""
        with self._connect() as db:
            # Not the job's fault: the try it was on does not count against max_attempts.
            db.execute("UPDATE jobs SET status='queued', stage=?, progress=0, worker=NULL, attempts=MAX(attempts-1, 0) "
                       "WHERE id=? AND status='running'", (stage, job_id))
