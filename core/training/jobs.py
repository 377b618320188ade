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
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import Message, UserError, message_from_json, message_of
from core.judgments import JudgmentStore, default_data_dir
from core.storage import STORE_ENV, store_url
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


class TrainingJobs:
    """Starts, watches and cancels the one training job; remembers the last one for its owner."""

    def __init__(self, store: JudgmentStore | str | os.PathLike[str], models_dir: str | os.PathLike[str] | None = None,
                 *, keep: int = 3, in_process: bool | None = None, python: str = sys.executable) -> None:
        # The judgments' database: a store's own, or a SQLite path / URL (the command line, tests).
        self.store_url = store.db.url if isinstance(store, JudgmentStore) else store_url(store)
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
        atexit.register(self._stop_child)

    def current(self) -> TrainingJob | None:
        return self._job

    def check_free(self, owner: str) -> None:
        """ValueError when a job is running (one at a time), saying whose it is to its owner."""
        job = self._job
        if job is not None and job.running:
            who = Message("training_started_by_you" if job.owner == owner else "training_started_by_other")
            minutes = (time.time() - job.started) / 60
            raise UserError("training_busy", who=who, minutes=f"{minutes:.0f}")

    def start(self, owner: str, config: TrainingConfig, users: Sequence[str] | None, *, campaign: str | None = None,
              min_agreement: float | None = None) -> TrainingJob:
        """Start a job for ``owner`` on ``users``' judgments (None: everyone's), or on a campaign's
        consensus (the caller checks access first); one at a time."""
        config.validate()
        with self._lock:
            self.check_free(owner)
            self._job = job = TrainingJob(uuid.uuid4().hex[:12], owner, config, list(users) if users else None,
                                  campaign, min_agreement)
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
        self._cancel.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            threading.Timer(CANCEL_GRACE_S, self._kill, args=(process,)).start()
        return Message("training_cancelling")

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
            job.finished = time.time()
            self._process = None
            self._finished.set()

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
        registry = ModelRegistry(self.models_dir, keep=self.keep)

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
