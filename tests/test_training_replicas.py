"""Training across replicas on one database (issue 22, point 3), on SQLite and PostgreSQL.

Each "replica" is its own TrainingJobs on its own JudgmentStore of the same database, as two app
processes would be. The job itself is a fake that runs until the test lets it end (no training), and
a dead replica is a lock taken and never renewed, with an injected clock (no sleeps).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from core.errors import Message
from core.identity import Identity
from core.judgments import JudgmentStore
from core.storage.schema import model_versions, training_jobs
from core.storage.shared import HeartbeatLock
from core.training.evaluation import HELD_OUT, MetricChange
from core.training.jobs import CANCELLED, DONE, FAILED, LOCK_NAME, LOST, RUNNING, TrainingJobs
from core.training.registry import REPORT_FILE, ModelRegistry
from core.training.trainer import TrainingConfig, TrainingReport

CONFIG = TrainingConfig("tiny-base", ("graded",))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def replicas(store_url):
    """Two replicas' stores on one database; closed at the end."""
    stores = [JudgmentStore(store_url), JudgmentStore(store_url)]
    yield stores
    for store in stores:
        store.close()


class FakeRun:
    """A job target that runs until ``finish`` (then ends in ``state``) or raises ``error``."""

    def __init__(self, state: str = DONE, error: Exception | None = None) -> None:
        self.go, self.state, self.error = threading.Event(), state, error

    def __call__(self, job) -> None:
        self.go.wait(30)
        if self.error is not None:
            raise self.error
        job.state = self.state


def replica(store, name: str, run: FakeRun | None = None, **kwargs) -> TrainingJobs:
    jobs = TrainingJobs(store, "/nonexistent-models", in_process=True, replica=name, **kwargs)
    jobs._run_here = run or FakeRun()  # the job: no model, no child process
    return jobs


def row(db, job_id: str):
    with db.reading() as conn:
        return conn.execute(training_jobs.select().where(training_jobs.c.id == job_id)).first()


def test_one_job_at_a_time_across_replicas_and_the_next_may_start_when_it_ends(replicas):
    run = FakeRun()
    a, b = replica(replicas[0], "a", run), replica(replicas[1], "b")
    job = a.start("alice", CONFIG, ["alice"])
    assert row(b.db, job.id).state == RUNNING and row(b.db, job.id).replica == "a"
    # b's own job slot is free, yet it refuses: the database's lock says a trains; its owner is told so.
    with pytest.raises(ValueError, match="someone else"):
        b.check_free("bob")
    with pytest.raises(ValueError, match="started by you"):
        b.start("alice", CONFIG, ["alice"])
    elsewhere = b.running_elsewhere()
    assert (elsewhere.id, elsewhere.owner, elsewhere.replica) == (job.id, "alice", "a")
    assert a.running_elsewhere() is None  # a's own job is not "elsewhere"
    run.go.set()
    assert a.wait(10).state == DONE
    ended = row(b.db, job.id)
    assert ended.state == DONE and ended.finished is not None
    assert b.last_of("alice").state == DONE and b.running_elsewhere() is None
    second = FakeRun(CANCELLED)
    b._run_here = second
    b.start("bob", CONFIG, ["bob"])
    with pytest.raises(ValueError, match="someone else"):
        a.check_free("alice")
    second.go.set()
    assert b.wait(10).state == CANCELLED
    a.check_free("alice")  # released however the job ended
    assert HeartbeatLock(a.db, LOCK_NAME).held() is None


def test_a_failed_job_releases_the_lock_and_records_why(replicas):
    run = FakeRun(error=RuntimeError("boom"))
    a, b = replica(replicas[0], "a", run), replica(replicas[1], "b")
    job = a.start("alice", CONFIG, None)
    run.go.set()
    assert a.wait(10).state == FAILED
    b.check_free("bob")
    last = b.last_of("alice")
    assert last.id == job.id and last.state == FAILED and last.summary["error"].key == "job_unexpected"
    assert json.loads(row(b.db, job.id).error)["values"] == {"error": "RuntimeError"}


def test_a_dead_replicas_lock_lapses_after_its_ttl_and_its_job_is_marked_lost(replicas):
    now = [1000.0]
    b = replica(replicas[1], "b", lock_ttl_s=60, clock=lambda: now[0])
    # Replica a took the lock and recorded its job, then was SIGKILLed: it never renews nor ends the row.
    assert HeartbeatLock(b.db, LOCK_NAME, ttl_s=60, clock=lambda: now[0]).acquire("dead-job", "alice") is None
    with b.db.transaction() as conn:
        conn.execute(training_jobs.insert().values(id="dead-job", owner="alice", replica="a", state=RUNNING,
                                                   started=now[0], summary="{}"))
    now[0] += 59
    with pytest.raises(ValueError, match="someone else.* 1 min ago"):
        b.start("bob", CONFIG, None)
    assert b.running_elsewhere().id == "dead-job"
    now[0] += 2  # past the ttl: the lock lapsed
    assert b.running_elsewhere() is None
    job = b.start("bob", CONFIG, None)
    lost = b.last_of("alice")
    assert lost.id == "dead-job" and lost.state == LOST and lost.summary["status"] == Message("job_lost")
    b._run_here.go.set()
    assert b.wait(10).id == job.id


def test_the_heartbeat_keeps_a_long_job_locked_past_its_ttl(replicas):
    from core.storage.schema import app_locks

    def expires_at() -> float:  # the row as it is, lapsed or not
        with a.db.reading() as conn:
            return conn.execute(app_locks.select().where(app_locks.c.name == LOCK_NAME)).first().expires_at

    run = FakeRun()
    a = replica(replicas[0], "a", run, lock_ttl_s=0.5)  # renewed every 0.125 s
    job = a.start("alice", CONFIG, None)
    first = expires_at()
    deadline = time.monotonic() + 10
    while expires_at() < first + 0.6:  # renewed past its first expiry
        assert time.monotonic() < deadline, "the heartbeat did not renew the lock"
        time.sleep(0.02)  # polling for the renewal, not waiting out a time
    with pytest.raises(ValueError, match="someone else"):
        replica(replicas[1], "b", lock_ttl_s=0.5).check_free("bob")
    run.go.set()
    assert a.wait(10).id == job.id and HeartbeatLock(a.db, LOCK_NAME).held() is None


def test_a_job_whose_lock_was_taken_by_another_replica_stops(replicas):
    from sqlalchemy import update

    from core.storage.schema import app_locks

    run = FakeRun()
    a = replica(replicas[0], "a", run, lock_ttl_s=0.2)
    a.start("alice", CONFIG, None)
    with a.db.transaction() as conn:  # the lock lapsed while the database was away, and b took it
        conn.execute(update(app_locks).where(app_locks.c.name == LOCK_NAME).values(holder="b-job", owner="bob",
                                                                                  expires_at=time.time() + 3600))
    assert a._cancel.wait(10), "the job went on without its lock"
    run.go.set()
    a.wait(10)
    assert HeartbeatLock(a.db, LOCK_NAME, ttl_s=0.2).held().holder == "b-job"  # a's end left b's lock alone


def test_the_status_endpoint_shows_another_replicas_job_and_the_callers_last_one(replicas):
    from ui.train_tab import shared_status, status

    run = FakeRun()
    a, b = replica(replicas[0], "a", run), replica(replicas[1], "b")
    job = a.start("alice", CONFIG, None)
    studio_b = type("StudioB", (), {"training": b})()
    assert shared_status(studio_b, Identity("bob")) == {"state": "busy"}  # another's job: no details
    mine = shared_status(studio_b, Identity("alice"))
    assert mine["state"] == RUNNING and mine["elsewhere"] and mine["id"] == job.id
    assert shared_status(studio_b, Identity("admin", is_admin=True))["id"] == job.id
    # The Train tab on b: the owner reads that their job runs elsewhere, others that someone's does.
    line, _, _, running = status(studio_b, Identity("alice"))
    assert running and "another server" in line
    assert "Someone else's training job is running" in status(studio_b, Identity("bob"))[0]
    run.go.set()
    a.wait(10)
    assert shared_status(studio_b, Identity("alice"))["state"] == DONE  # ran on a, shown by b
    assert shared_status(studio_b, Identity("bob")) is None


# -- the model registry's records -----------------------------------------------------------------
class FakeModel:
    """What ModelRegistry.save needs of a SentenceTransformer: half() and save()."""

    def half(self) -> FakeModel:
        return self

    def save(self, path: str, safe_serialization: bool = True) -> None:
        Path(path).mkdir(parents=True)
        (Path(path) / "model.safetensors").write_bytes(b"")


def report(owner: str | None) -> TrainingReport:
    return TrainingReport(config={}, base_model="m", base_revision=None, judgments=20, judgments_hash="h",
                          train_rows={}, held_out_rows={}, dropped=0,
                          metrics=[MetricChange("scores: Spearman", HELD_OUT, 0.5, 0.6, 4)], steps=1,
                          training_loss=1.0, seconds=1.0, device="cpu", trained_by=owner, promoted=True)


def rows(db) -> dict[str, object]:
    with db.reading() as conn:
        return {r.name: r for r in conn.execute(model_versions.select())}


def test_versions_are_recorded_pruned_and_seen_by_another_replica(replicas, tmp_path):
    models = tmp_path / "shared-models"
    a = ModelRegistry(models, keep=2, db=replicas[0].db)
    b = ModelRegistry(models, keep=2, db=replicas[1].db)
    names = [a.save(FakeModel(), report("alice")).name for _ in range(3)]
    recorded = rows(b.db)
    assert sorted(recorded) == names[1:]  # the oldest was pruned, folder and row
    first = recorded[names[1]]
    assert (first.owner, first.base_model, first.promoted, first.path) == ("alice", "m", 1, names[1])
    assert json.loads(first.report)["version"] == names[1] and first.created_at
    # Saved through a, listed and fetched through b (same models folder).
    assert [v.name for v in b.versions_of("alice")] == names[:0:-1]
    assert b.get(names[2], "alice").path == models / names[2]
    # A version folder from before the records (no row) still lists.
    older = models / "m-tuned-0009"
    older.mkdir()
    (older / REPORT_FILE).write_text(json.dumps(report("alice").to_dict()), encoding="utf-8")
    assert "m-tuned-0009" in [v.name for v in b.versions()] and "m-tuned-0009" not in rows(b.db)


def test_a_version_trained_on_one_replica_loads_on_another(tiny_model_dir, tmp_path):
    from sentence_transformers import SentenceTransformer

    from core.encoding.encoder import Encoder

    url = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    store_a, store_b = JudgmentStore(url), JudgmentStore(url)
    try:
        saved = ModelRegistry(tmp_path / "models", db=store_a.db).save(
            SentenceTransformer(str(tiny_model_dir), device="cpu"), report("alice"))
        version = ModelRegistry(tmp_path / "models", db=store_b.db).get(saved.name, "alice")
        assert Encoder(str(version.path)).encode(["проверка"], "query").shape[0] == 1
    finally:
        store_a.close()
        store_b.close()

