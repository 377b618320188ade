"""Optional mirror of the feedback store to a Hugging Face dataset repo.

A Space's disk is wiped on restart unless it has a persistent volume, so judgments are also appended
to a JSONL file that huggingface_hub's ``CommitScheduler`` pushes every few minutes, with a final
push on SIGTERM and at exit. A replica that starts with an empty store reloads what the repo holds.

Configuration (all optional; without the repo id nothing is synced):

* ``USER_STUDIO_FEEDBACK_REPO``: the dataset repo id, e.g. ``me/user-studio-feedback``;
* ``USER_STUDIO_HF_TOKEN`` (or ``HF_TOKEN``): a token with write access to it;
* ``USER_STUDIO_SYNC_EVERY``: minutes between pushes (default 5).

Each process writes its own file, ``feedback/feedback-<replica>-<uuid>.jsonl``, so replicas and
restarts never overwrite each other's lines. A line is ``{"op": "add", ...record}`` or, for the UI's
undo and "forget me", a tombstone ``{"op": "delete", "content_hash", "user", "deleted_at"}``; on
reload the latest event of each content hash wins. A tombstone does not erase the original line
from the repo's history: rewrite the repo to honour a deletion request fully.

Everything that talks to the hub is injected (``api``, ``scheduler_factory``), so tests run
against a fake with no network.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.judgments import ImportResult, Judgment, JudgmentStore, default_data_dir, utc_now

logger = logging.getLogger(__name__)

REPO_ENV = "USER_STUDIO_FEEDBACK_REPO"
TOKEN_ENVS: tuple[str, ...] = ("USER_STUDIO_HF_TOKEN", "HF_TOKEN")
EVERY_ENV = "USER_STUDIO_SYNC_EVERY"
REPLICA_ENV = "SPACE_REPLICA"
DEFAULT_EVERY_MINUTES = 5.0
DEFAULT_PATH_IN_REPO = "feedback"
# Container runtimes allow ~10-30 s between SIGTERM and SIGKILL.
FINAL_PUSH_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class HubSyncSettings:
    """Sync settings read from the environment; ``describe()`` never shows the token."""

    repo_id: str | None
    token: str | None = field(default=None, repr=False)
    every: float = DEFAULT_EVERY_MINUTES
    problem: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HubSyncSettings:
        env = os.environ if env is None else env
        repo_id = (env.get(REPO_ENV) or "").strip() or None
        token = next((env[name].strip() for name in TOKEN_ENVS if (env.get(name) or "").strip()), None)
        every, problem = DEFAULT_EVERY_MINUTES, None
        raw_every = (env.get(EVERY_ENV) or "").strip()
        if raw_every:
            try:
                every = float(raw_every)
                if not every > 0:
                    raise ValueError
            except ValueError:
                every = DEFAULT_EVERY_MINUTES
                problem = f"{EVERY_ENV}={raw_every!r} is not a positive number of minutes"
        if repo_id and not token:
            problem = f"{REPO_ENV} is set but neither {' nor '.join(TOKEN_ENVS)} is"
        return cls(repo_id=repo_id, token=token, every=every, problem=problem)

    @property
    def enabled(self) -> bool:
        return bool(self.repo_id and self.token) and self.problem is None

    def describe(self) -> str:
        """One line for the log or the UI saying whether and where judgments are synced."""
        if self.problem:
            return f"Hub sync off: {self.problem}."
        if not self.repo_id:
            return f"Hub sync off: set {REPO_ENV} (and {TOKEN_ENVS[0]}) to back judgments up to a dataset repo."
        return f"Hub sync on: judgments are pushed to dataset {self.repo_id} every {self.every:g} min."


def replica_id(env: Mapping[str, str] | None = None) -> str:
    """``<replica or hostname>-<8 hex>``: unique per process start, safe in a file name."""
    env = os.environ if env is None else env
    host = env.get(REPLICA_ENV) or env.get("HOSTNAME") or socket.gethostname() or "local"
    host = re.sub(r"[^A-Za-z0-9._-]+", "-", host).strip("-.")[:40] or "local"
    return f"{host}-{uuid.uuid4().hex[:8]}"


def _default_scheduler_factory(**kwargs: Any) -> Any:
    from huggingface_hub import CommitScheduler

    return CommitScheduler(**kwargs)


class HubSync:
    """Mirrors new judgments of a :class:`JudgmentStore` to a dataset repo via a ``CommitScheduler``.

    ``api`` is an ``HfApi``-like object (``create_repo``, ``create_commit``, ``run_as_future``,
    ``list_repo_files``, ``hf_hub_download``); ``scheduler_factory(**kwargs)`` builds the scheduler
    with ``CommitScheduler``'s keyword arguments and must return an object with ``lock``,
    ``trigger() -> Future`` and ``stop()``.
    """

    def __init__(self, store: JudgmentStore, repo_id: str, token: str | None = None, *,
                 api: Any = None, scheduler_factory: Callable[..., Any] | None = None,
                 every: float = DEFAULT_EVERY_MINUTES, folder: str | os.PathLike[str] | None = None,
                 replica: str | None = None, path_in_repo: str = DEFAULT_PATH_IN_REPO,
                 repo_type: str = "dataset", private: bool = True) -> None:
        if not repo_id or not isinstance(repo_id, str):
            raise ValueError(f"HubSync needs a repo id such as 'me/user-studio-feedback', got {repo_id!r}")
        if not every > 0:
            raise ValueError(f"every must be a positive number of minutes, got {every!r}")
        self.store = store
        self.repo_id = repo_id
        self.token = token
        self.every = every
        self.repo_type = repo_type
        self.private = private
        self.path_in_repo = path_in_repo.strip("/")
        self.replica = replica or replica_id()
        # Beside the store, so a persistent volume also keeps unpushed lines of a crashed run; the
        # scheduler pushes the whole folder, and files it already pushed are no-ops on the hub.
        self.folder = Path(folder) if folder is not None else (
            store.path.parent if store.path is not None else default_data_dir()) / "hub-sync"
        self.jsonl_path = self.folder / f"feedback-{self.replica}.jsonl"
        self._api = api
        self._scheduler_factory = scheduler_factory or _default_scheduler_factory
        self._scheduler: Any = None
        self._unsubscribe: Callable[[], None] | None = None
        self._previous_handlers: dict[int, Any] = {}
        self._file_lock = threading.Lock()
        self.last_error: str | None = None

    @property
    def api(self) -> Any:
        if self._api is None:
            from huggingface_hub import HfApi

            self._api = HfApi(token=self.token)
        return self._api

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, *, reload: bool = True, signal_handlers: bool = True) -> HubSync:
        """Reload the repo into an empty store, start the scheduler, mirror every new judgment."""
        if self.running:
            return self
        if reload and self.store.count() == 0:
            try:
                result = self.reload_from_hub()
                logger.info("reloaded %d judgments from %s", result.added, self.repo_id)
            except Exception as exc:
                if type(exc).__name__ == "RepositoryNotFoundError":
                    # A first start: the scheduler creates the repo below.
                    logger.info("dataset %s does not exist yet; nothing to reload", self.repo_id)
                else:
                    # The app must start even when the hub is unreachable; the local store still works.
                    self.last_error = f"could not reload judgments from {self.repo_id}: {exc}"
                    logger.warning(self.last_error)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._scheduler = self._scheduler_factory(
            repo_id=self.repo_id, repo_type=self.repo_type, folder_path=self.folder, every=self.every,
            path_in_repo=self.path_in_repo, token=self.token, hf_api=self.api, private=self.private,
            allow_patterns="*.jsonl")
        self._unsubscribe = self.store.subscribe(self._on_change)
        atexit.register(self._final_push)
        if signal_handlers:
            self.install_signal_handlers()
        return self

    def stop(self, *, push: bool = True, timeout: float | None = FINAL_PUSH_TIMEOUT_S) -> None:
        """Stop mirroring; with ``push`` (default) send what is left first."""
        if not self.running:
            return
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if push:
            self._final_push(timeout)
        with contextlib.suppress(Exception):
            self._scheduler.stop()
        self._scheduler = None
        atexit.unregister(self._final_push)
        self.uninstall_signal_handlers()

    def push(self, timeout: float | None = FINAL_PUSH_TIMEOUT_S) -> Any:
        """Push now and wait for the commit; returns the scheduler's result (None: nothing changed)."""
        if not self.running:
            raise RuntimeError("HubSync is not running; call start() first")
        return self._scheduler.trigger().result(timeout=timeout)

    def _final_push(self, timeout: float | None = FINAL_PUSH_TIMEOUT_S) -> None:
        if not self.running:
            return
        try:
            self.push(timeout)
            self.last_error = None
        except Exception as exc:
            self.last_error = f"final push to {self.repo_id} failed: {exc}"
            logger.error(self.last_error)

    # -- signals ---------------------------------------------------------------------------------

    def install_signal_handlers(self, signals: Iterable[int] = (signal.SIGTERM,)) -> bool:
        """Push on SIGTERM (a Space stopping), then chain to the previous handler. Main thread only."""
        if threading.current_thread() is not threading.main_thread():
            logger.info("not in the main thread: no SIGTERM handler, relying on atexit for the final push")
            return False
        for signum in signals:
            previous = signal.getsignal(signum)
            if previous is self.handle_signal:
                continue
            self._previous_handlers[signum] = previous
            signal.signal(signum, self.handle_signal)
        return True

    def uninstall_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in list(self._previous_handlers.items()):
            if signal.getsignal(signum) == self.handle_signal:
                signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            del self._previous_handlers[signum]

    def handle_signal(self, signum: int, frame: Any) -> None:
        """Final push, then whatever handled the signal before; by default exit with 128 + signum."""
        self._final_push()
        previous = self._previous_handlers.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            # SystemExit rather than re-raising the signal, so atexit handlers still run.
            raise SystemExit(128 + signum)

    # -- mirroring -------------------------------------------------------------------------------

    def _on_change(self, event: str, judgment: Judgment) -> None:
        record = judgment.to_record()
        if event == "add":
            line = {"op": "add", **{k: v for k, v in record.items() if k != "id"}, "replica": self.replica}
        elif event == "delete":
            # Texts are not repeated in a tombstone: a deletion should not spread them further.
            line = {"op": "delete", "content_hash": record["content_hash"], "user": record.get("user"),
                    "deleted_at": utc_now(), "replica": self.replica}
        else:
            return
        text = json.dumps(line, ensure_ascii=False) + "\n"
        scheduler = self._scheduler
        # The scheduler reads files under its lock, so a push never sees half a line.
        lock = scheduler.lock if scheduler is not None else self._file_lock
        with lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self.jsonl_path.open("a", encoding="utf-8") as fh:
                fh.write(text)

    # -- reload ----------------------------------------------------------------------------------

    def repo_jsonl_files(self) -> list[str]:
        """The repo's JSONL files under ``path_in_repo``."""
        files = self.api.list_repo_files(self.repo_id, repo_type=self.repo_type, token=self.token)
        prefix = f"{self.path_in_repo}/" if self.path_in_repo else ""
        return sorted(f for f in files if f.endswith(".jsonl") and f.startswith(prefix))

    def reload_from_hub(self) -> ImportResult:
        """Import every judgment the repo holds into the store (deduplicated by content hash)."""
        download_dir = self.folder.parent / "hub-download"
        events: list[dict[str, Any]] = []
        bad_lines = 0
        for filename in self.repo_jsonl_files():
            local = self.api.hf_hub_download(repo_id=self.repo_id, filename=filename, repo_type=self.repo_type,
                                             token=self.token, local_dir=download_dir)
            lines, bad = read_jsonl_events(Path(local))
            events.extend(lines)
            bad_lines += bad
        if bad_lines:
            logger.warning("skipped %d unreadable lines in %s", bad_lines, self.repo_id)
        result = self.store.import_records(live_records(events), notify=False)
        return ImportResult(added=result.added, duplicates=result.duplicates,
                            rejected=result.rejected + bad_lines)


def read_jsonl_events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of a JSONL file and the number of lines that were not one."""
    events, bad = [], 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(event, dict):
                events.append(event)
            else:
                bad += 1
    return events, bad


def live_records(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records whose latest event is an add (a later tombstone with the same hash removes one)."""
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    anonymous = 0
    for event in events:
        op = event.get("op", "add")
        key = event.get("content_hash")
        if not isinstance(key, str) or not key:
            # Records without a hash cannot be tombstoned; keep them all and let the store dedup.
            key, anonymous = f"#{anonymous}", anonymous + 1
        when = str(event.get("deleted_at" if op == "delete" else "created_at") or "")
        if key not in latest or when >= latest[key][0]:
            latest[key] = (when, event)
    return [event for _, event in latest.values() if event.get("op", "add") == "add"]


def start_from_env(store: JudgmentStore, env: Mapping[str, str] | None = None, *, reload: bool = True,
                   signal_handlers: bool = True, **kwargs: Any) -> HubSync | None:
    """Start a :class:`HubSync` when the environment configures one, else log why not and return None.

    ``kwargs`` go to :class:`HubSync` (``api``, ``scheduler_factory``, ``folder``...).
    """
    settings = HubSyncSettings.from_env(env)
    logger.info(settings.describe())
    if not settings.enabled:
        return None
    assert settings.repo_id is not None  # enabled means a repo and a token
    kwargs.setdefault("every", settings.every)
    sync = HubSync(store, settings.repo_id, settings.token, **kwargs)
    return sync.start(reload=reload, signal_handlers=signal_handlers)
