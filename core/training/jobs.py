"""One training job at a time, in the background, with progress and cancel.

The job runs ``python -m core.training --progress json`` in a child process at a lower CPU priority
(nice 10): the app's own threads keep answering other users, a cancel is a signal, and the memory
training took (model copy, optimiser state) goes back to the system when the child exits. On a
ZeroGPU Space the GPU can only be borrowed from the app's own process, so there the run happens in a
thread inside ``spaces.GPU`` with a duration sized to the job.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import exc, insert, select, update

from core.errors import Message, UserError, message_from_json, message_of, message_to_json
from core.judgments import JudgmentStore, default_data_dir
from core.storage import STORE_ENV, Database, store_url
from core.storage.schema import training_jobs
from core.storage.shared import HeartbeatLock
from core.training.sourcing import source_judgments
from core.training.trainer import TrainingConfig, TrainingProgress, TrainingReport

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NICE = 10
CANCEL_GRACE_S = 20.0  # after SIGTERM the child stops at its next step; past this it is killed
RUNNING, DONE, FAILED, CANCELLED, REFUSED = "running", "done", "failed", "cancelled", "refused"
ENDINGS = (FAILED, REFUSED)  # the states describe() words as "<state>: <error>"
# Phases other than training itself (core.training.trainer.TrainingProgress.phase), each with a message.
PHASES = ("loading", "scoring before", "scoring after", "saving", "done")
# ZeroGPU: a fixed overhead plus rows per second of training. Measured on a whole H200
# (benchmarks/results/train_cuda.json, USER-base's shape, bf16 autocast): 960 rows trained in 13 s
# (74 rows/s) and the whole run, loading and scoring twice included, took 17-23 s. A ZeroGPU slice
# may be smaller and loads the model onto the card first, hence the margins.
ZERO_GPU_OVERHEAD_S = 60
ZERO_GPU_ROWS_PER_S = 40
ZERO_GPU_MAX_S = 300
# One job at a time across every replica on the database: the "training" HeartbeatLock. Its ttl is how
# long a dead replica (SIGKILL, a lost machine) blocks training: a minute, against a job of minutes (the
# H200 run above took 17-23 s, a CPU one takes several minutes). Renewed every ttl/4, a holder survives
# three missed heartbeats (a database restart, a busy machine) before another replica may take it.
LOCK_NAME = "training"
LOCK_TTL_S = 60.0
LOST = "lost"  # a job whose replica died while it ran (its row still said "running")


def zero_gpu_available() -> bool:
    """True on a ZeroGPU Space: the ``spaces`` package is there and the Space says it is ZeroGPU."""
    return bool(os.environ.get("SPACES_ZERO_GPU")) and importlib.util.find_spec("spaces") is not None


def zero_gpu_duration_s(rows: int, epochs: int) -> int:
    """Seconds to ask ``spaces.GPU`` for: enough for the job, within ZeroGPU's per-call ceiling."""
    return int(min(ZERO_GPU_MAX_S, ZERO_GPU_OVERHEAD_S + rows * epochs / ZERO_GPU_ROWS_PER_S))


@dataclass
class TrainingJob:
    """A training job as the app shows it."""

    id: str
    owner: str
    config: TrainingConfig
    users: list[str] | None
    campaign: str | None = None  # train on this campaign's consensus instead of users' judgments
    min_agreement: float | None = None
    started: float = field(default_factory=time.time)
    state: str = RUNNING
    progress: TrainingProgress | None = None
    report: TrainingReport | None = None
    error: str | None = None
    finished: float | None = None

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    def describe(self) -> Message:
        """One line: phase, step, loss and time left; or how it ended."""
        if self.state == LOST:
            return Message("job_lost")
        if self.state == RUNNING:
            p = self.progress
            if p is None:
                return Message("job_starting")
            if p.phase != "training":
                phase = Message(f"job_phase_{p.phase.replace(' ', '_')}") if p.phase in PHASES else p.phase
                return Message("job_phase", phase=phase, seconds=f"{p.elapsed_s:.0f}")
            loss = "" if p.loss is None else Message("job_loss", loss=f"{p.loss:.4f}")
            eta = "" if p.eta_s is None else Message("job_eta", seconds=f"{p.eta_s:.0f}")
            return Message("job_training", step=p.step, total=p.total, loss=loss, eta=eta)
        if self.state == DONE and self.report is not None:
            verdict = Message("job_promoted" if self.report.promoted else "job_not_promoted")
            return Message("job_finished", seconds=f"{self.report.seconds:.0f}", version=self.report.version,
                           verdict=verdict, reason=self.report.reason)
        if self.state == CANCELLED:
            return Message("job_cancelled")
        return Message("job_ended", state=Message(f"job_state_{self.state}") if self.state in ENDINGS else self.state,
                       error=self.error or "")


@dataclass(frozen=True)
class JobRecord:
    """A job as the database keeps it (``training_jobs``): what any replica can show of it."""

    id: str
    owner: str
    replica: str
    state: str
    started: float
    finished: float | None
    version: str | None
    summary: dict[str, Any]


def default_replica() -> str:
    """This process's name among the replicas: host and pid (a restarted replica is a new one)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class TrainingJobs:
    """Starts, watches and cancels the one training job; remembers the last one for its owner.

    With a database (a JudgmentStore's, or ``db``), "one at a time" holds across every replica on it: a job
    holds the database's "training" HeartbeatLock while it runs, and each job is a ``training_jobs`` row,
    so any replica can show the running job and each owner's last one. With a bare path or URL (the
    command line) the one job slot is this process's own.
    """

    def __init__(self, store: JudgmentStore | str | os.PathLike[str], models_dir: str | os.PathLike[str] | None = None,
                 *, keep: int = 3, in_process: bool | None = None, python: str = sys.executable,
                 db: Database | None = None, replica: str | None = None, lock_ttl_s: float = LOCK_TTL_S,
                 clock: Callable[[], float] = time.time) -> None:
        # The judgments' database: a store's own, or a SQLite path / URL (the command line, tests).
        self.store_url = store.db.url if isinstance(store, JudgmentStore) else store_url(store)
        self.db = db if db is not None else store.db if isinstance(store, JudgmentStore) else None
        self.replica = replica or default_replica()
        self.clock = clock
        self.lock = HeartbeatLock(self.db, LOCK_NAME, ttl_s=lock_ttl_s, clock=clock) if self.db is not None else None
        sqlite_file = Path(self.store_url.database or "") if self.store_url.get_backend_name() == "sqlite" else None
        self.models_dir = Path(models_dir) if models_dir else (
            sqlite_file.parent if sqlite_file is not None else default_data_dir()) / "models"
        self.keep = keep
        self.in_process = zero_gpu_available() if in_process is None else in_process
        self.python = python
        self._lock = threading.Lock()
        self._job: TrainingJob | None = None
        self._process: subprocess.Popen | None = None
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._heartbeat = threading.Event()  # set: the running job's heartbeat stops
        atexit.register(self._stop_child)

    def current(self) -> TrainingJob | None:
        return self._job

    def check_free(self, owner: str) -> None:
        """ValueError when a job is running (one at a time), here or on another replica, saying whose it
        is to its owner."""
        job = self._job
        if job is not None and job.running:
            _busy(owner, job.owner, job.started, self.clock())
        if self.lock is not None:
            held = self.lock.held()
            if held is not None and (job is None or held.holder != job.id):
                _busy(owner, held.owner, held.acquired_at, self.clock())

    def start(self, owner: str, config: TrainingConfig, users: Sequence[str] | None, *, campaign: str | None = None,
              min_agreement: float | None = None) -> TrainingJob:
        """Start a job for ``owner`` on ``users``' judgments (None: everyone's), or on a campaign's
        consensus (the caller checks access first); one at a time."""
        config.validate()
        with self._lock:
            self.check_free(owner)
            job = TrainingJob(uuid.uuid4().hex[:12], owner, config, list(users) if users else None,
                              campaign, min_agreement, started=self.clock())
            if self.lock is not None:
                # check_free read the lock a moment ago; taking it decides, if another replica came first.
                held = self.lock.acquire(job.id, owner)
                if held is not None:
                    _busy(owner, held.owner, held.acquired_at, self.clock())
                try:
                    self._record_start(job)
                except BaseException:
                    self._release(job)
                    raise
                self._heartbeat = threading.Event()
                threading.Thread(target=self._renew, args=(job, self._heartbeat), name=f"training-lock-{job.id}",
                                 daemon=True).start()
            self._job = job
            self._cancel = threading.Event()
            self._finished = threading.Event()
        target = self._run_here if self.in_process else self._run_child
        threading.Thread(target=self._supervise, args=(job, target), name=f"training-{job.id}",
                         daemon=True).start()
        return job

    def cancel(self, user: str, is_admin: bool = False) -> str:
        """Cancel the running job, if ``user`` started it (or is an admin)."""
        job = self._job
        if job is None or not job.running:
            raise UserError("training_none_running")
        if job.owner != user and not is_admin:
            raise PermissionError(Message("training_not_yours"))
        self._stop_running()
        return Message("training_cancelling")

    def _stop_running(self) -> None:
        """Ask the running job to stop at its next step (SIGTERM to the child), killing it after a grace."""
        self._cancel.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            threading.Timer(CANCEL_GRACE_S, self._kill, args=(process,)).start()

    def wait(self, timeout: float | None = None) -> TrainingJob | None:
        """Block until the current job ends (tests and the command line)."""
        self._finished.wait(timeout)
        return self._job

    # -- running -------------------------------------------------------------------------------
    def _supervise(self, job: TrainingJob, target) -> None:
        try:
            target(job)
        except Exception as error:  # never leave a job "running" forever
            log.exception("training job %s failed", job.id)
            job.state, job.error = FAILED, Message("job_unexpected", error=type(error).__name__)
        finally:
            job.finished = self.clock()
            self._process = None
            if self.lock is not None:
                self._heartbeat.set()
                self._record_end(job)
                self._release(job)
            self._finished.set()

    # -- across replicas -------------------------------------------------------------------------
    def _renew(self, job: TrainingJob, stop: threading.Event) -> None:
        """Keep the job's lock alive until ``stop``; a failed renewal is logged and tried again."""
        assert self.lock is not None
        while not stop.wait(self.lock.ttl_s / 4):
            try:
                if not self.lock.renew(job.id):
                    # The lock lapsed (the database was away past the ttl) and another replica may have
                    # started a job: this one stops, so that two never train at once.
                    log.error("training job %s lost its lock to another replica: cancelling it", job.id)
                    self._stop_running()
                    return
            except ValueError as error:  # StoreError: the database is away; the next beat tries again
                log.warning("training job %s: could not renew its lock: %s", job.id, error)

    def _release(self, job: TrainingJob) -> None:
        assert self.lock is not None
        try:
            self.lock.release(job.id)
        except ValueError as error:  # the database is away: the lock lapses by itself after its ttl
            log.warning("training job %s: could not release its lock: %s", job.id, error)

    def _record_start(self, job: TrainingJob) -> None:
        """The job's row; rows another replica left "running" are marked lost (we hold the lock, so no
        other job runs: their replica died)."""
        assert self.db is not None
        try:
            with self.db.transaction() as conn:
                conn.execute(update(training_jobs).where(training_jobs.c.state == RUNNING)
                             .values(state=LOST, finished=job.started))
                conn.execute(insert(training_jobs).values(
                    id=job.id, owner=job.owner, replica=self.replica, state=job.state, started=job.started,
                    summary=json.dumps(_stored_summary(job), ensure_ascii=False)))
        except exc.SQLAlchemyError as error:
            raise self.db.error(error, "record a training job in") from error

    def _record_end(self, job: TrainingJob) -> None:
        assert self.db is not None
        try:
            with self.db.transaction() as conn:
                conn.execute(update(training_jobs).where(training_jobs.c.id == job.id).values(
                    state=job.state, finished=job.finished, version=job.report.version if job.report else None,
                    error=json.dumps(message_to_json(job.error), ensure_ascii=False) if job.error else None,
                    summary=json.dumps(_stored_summary(job), ensure_ascii=False)))
        except exc.SQLAlchemyError as error:  # the job ended anyway; only its record is behind
            log.warning("training job %s: could not record its end: %s", job.id, self.db.error(error, "write to"))

    def running_elsewhere(self) -> JobRecord | None:
        """The job another replica runs now (it holds the lock), or None."""
        if self.lock is None:
            return None
        held = self.lock.held()
        job = self._job
        if held is None or (job is not None and held.holder == job.id):
            return None
        return self._record(training_jobs.c.id == held.holder)

    def last_of(self, owner: str) -> JobRecord | None:
        """``owner``'s newest job on any replica, as the database has it."""
        return self._record(training_jobs.c.owner == owner) if self.db is not None else None

    def _record(self, where: Any) -> JobRecord | None:
        assert self.db is not None
        try:
            with self.db.reading() as conn:
                row = conn.execute(select(training_jobs).where(where)
                                   .order_by(training_jobs.c.started.desc()).limit(1)).first()
        except exc.SQLAlchemyError as error:
            raise self.db.error(error, "read the training jobs of") from error
        if row is None:
            return None
        try:
            summary = _summary_from_json(json.loads(row.summary or "{}"))
        except ValueError:
            summary = {}
        summary["state"] = row.state
        if row.state == LOST:
            summary["status"] = Message("job_lost")
        return JobRecord(row.id, row.owner, row.replica, row.state, row.started, row.finished, row.version, summary)

    def argv(self, job: TrainingJob) -> list[str]:
        c = job.config
        # The store's URL goes by the environment (child_env), not argv: ps shows argv, with any password.
        argv = [self.python, "-m", "core.training", "--model", c.base_model,
                "--kinds", ",".join(c.kinds), "--models-dir", str(self.models_dir), "--keep", str(self.keep),
                "--epochs", str(c.epochs), "--batch-size", str(c.batch_size),
                "--learning-rate", repr(c.learning_rate), "--seed", str(c.seed), "--hold-out", repr(c.hold_out),
                "--progress", "json", "--nice", str(NICE), "--owner", job.owner]
        if c.max_steps:
            argv += ["--max-steps", str(c.max_steps)]
        if c.blend:
            argv += ["--blend", repr(c.blend)]
        if not c.freeze_embeddings:
            argv.append("--train-embeddings")
        if job.campaign:
            argv += ["--campaign", job.campaign]
            if job.min_agreement:
                argv += ["--min-agreement", repr(job.min_agreement)]
        else:
            for user in job.users or []:
                argv += ["--user", user]
        return argv

    def child_env(self) -> dict[str, str]:
        """The training process's environment: this one's, and the store it reads."""
        return {**os.environ, STORE_ENV: self.store_url.render_as_string(hide_password=False)}

    def _run_child(self, job: TrainingJob) -> None:
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as stderr:
            process = subprocess.Popen(self.argv(job), cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=stderr,
                                       text=True, encoding="utf-8", bufsize=1, env=self.child_env())
            self._process = process
            if self._cancel.is_set():  # cancelled between start() and here
                process.send_signal(signal.SIGTERM)
            assert process.stdout is not None
            for line in process.stdout:
                self._read(job, line)
            code = process.wait()
            if code not in (0, 2, 3) or job.state == RUNNING:
                stderr.seek(0)
                tail = stderr.read()[-4000:]
                log.error("training job %s exited with %s:\n%s", job.id, code, tail)
        if job.state == RUNNING:
            if self._cancel.is_set():
                job.state = CANCELLED
            else:
                job.state, job.error = FAILED, Message("job_process_stopped", code=code)

    def _read(self, job: TrainingJob, line: str) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            log.info("training job %s: %s", job.id, line.rstrip())
            return
        if not isinstance(message, dict):
            return
        if "progress" in message:
            job.progress = TrainingProgress(**message["progress"])
        elif "report" in message:
            job.report = TrainingReport.from_dict(message["report"])
            job.state = DONE
        elif "error" in message:
            code = message.get("code")
            job.error = message_from_json(message.get("message"), str(message["error"]))
            job.state = CANCELLED if code == 3 else REFUSED if code == 2 else FAILED

    def _run_here(self, job: TrainingJob) -> None:
        """In this process (ZeroGPU): the GPU part runs inside ``spaces.GPU``."""
        from core.training.recipe import TrainingRefused
        from core.training.registry import ModelRegistry
        from core.training.trainer import TrainingCancelled, run_training

        store = JudgmentStore(self.store_url, create=False)
        try:
            judgments = source_judgments(store, campaign=job.campaign, min_agreement=job.min_agreement,
                                         users=job.users)
        finally:
            store.close()
        registry = ModelRegistry(self.models_dir, keep=self.keep, db=self.db)

        def train() -> TrainingReport:
            return run_training(judgments, job.config, registry.save, cancel=self._cancel, trained_by=job.owner,
                                progress=lambda p: setattr(job, "progress", p))

        if zero_gpu_available():
            import spaces

            train = spaces.GPU(duration=zero_gpu_duration_s(len(judgments), job.config.epochs))(train)
        try:
            job.report = train()
            job.state = DONE
        except TrainingCancelled:
            job.state = CANCELLED
        except (ValueError, TrainingRefused) as error:
            job.state, job.error = REFUSED, message_of(error)

    def _kill(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            log.warning("training process %s ignored SIGTERM for %.0f s: killing it", process.pid, CANCEL_GRACE_S)
            process.kill()

    def _stop_child(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                process.kill()


def _busy(owner: str, holder: str | None, started: float | None, now: float) -> None:
    """Refuse a start: a job ``holder`` started at ``started`` runs (the caller's own, or someone else's)."""
    who = Message("training_started_by_you" if holder == owner else "training_started_by_other")
    minutes = (now - (started or now)) / 60
    raise UserError("training_busy", who=who, minutes=f"{minutes:.0f}")


def _stored_summary(job: TrainingJob) -> dict[str, Any]:
    """job_summary with its messages as keys and values, so another replica words them in its page's language."""
    summary = job_summary(job)
    for name in ("status", "error"):
        if name in summary:
            summary[name] = {"message": message_to_json(summary[name])}
    return summary


def _summary_from_json(summary: dict[str, Any]) -> dict[str, Any]:
    for name in ("status", "error"):
        value = summary.get(name)
        if isinstance(value, dict) and "message" in value:
            stored = value["message"]
            summary[name] = message_from_json(stored, stored if isinstance(stored, str) else "")
    return summary


def job_summary(job: TrainingJob | None) -> dict[str, Any]:
    """What the API returns about a job (no server paths)."""
    if job is None:
        return {"state": "none"}
    out: dict[str, Any] = {"id": job.id, "state": job.state, "status": job.describe(),
                           "base_model": job.config.base_model, "kinds": list(job.config.kinds)}
    if job.progress is not None:
        out["progress"] = job.progress.to_dict()
    if job.report is not None:
        report = job.report.to_dict()
        report.pop("model_dir", None)
        out["report"] = report
    if job.error:
        out["error"] = job.error
    return out
