"""HubSync against a fake hub: mirroring, pushes, SIGTERM, reload. No network."""

from __future__ import annotations

import json
import logging
import re
import signal
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.judgments import Judgment, JudgmentStore
from core.judgments.hub_sync import HubSync, HubSyncSettings, live_records, replica_id, start_from_env

REPO = "tester/user-studio-feedback"


class FakeHub:
    """The slice of ``HfApi`` that CommitScheduler and HubSync use; keeps the repo in a dict."""

    def __init__(self, files: dict[str, bytes] | None = None, *, fail_listing: bool = False) -> None:
        self.files = dict(files or {})
        self.commits: list[dict] = []
        self.created: list[dict] = []
        self.listings = 0
        self.fail_listing = fail_listing
        # HfApi runs background jobs one at a time in a single worker; so does the fake.
        self._worker = ThreadPoolExecutor(max_workers=1)

    def create_repo(self, repo_id, *, private=None, repo_type=None, exist_ok=False, **_):
        self.created.append(dict(repo_id=repo_id, private=private, repo_type=repo_type, exist_ok=exist_ok))
        return SimpleNamespace(repo_id=repo_id)

    def run_as_future(self, fn, *args, **kwargs) -> Future:
        return self._worker.submit(fn, *args, **kwargs)

    def create_commit(self, repo_id, operations, *, commit_message=None, repo_type=None, revision=None, **_):
        paths = []
        for op in operations:
            with op.as_file() as fh:
                self.files[op.path_in_repo] = fh.read()
            paths.append(op.path_in_repo)
        self.commits.append(dict(repo_id=repo_id, repo_type=repo_type, paths=paths, message=commit_message))
        return SimpleNamespace(oid=f"commit-{len(self.commits)}")

    def list_repo_files(self, repo_id, *, repo_type=None, token=None, **_):
        self.listings += 1
        if self.fail_listing:
            raise ConnectionError("hub unreachable")
        return sorted(self.files)

    def hf_hub_download(self, repo_id, filename, *, repo_type=None, token=None, local_dir=None, **_):
        path = Path(local_dir) / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.files[filename])
        return str(path)

    def lines(self, path: str) -> list[dict]:
        return [json.loads(line) for line in self.files[path].decode().splitlines()]


@pytest.fixture
def store(tmp_path):
    with JudgmentStore(tmp_path / "data" / "feedback.sqlite") as s:
        yield s


@pytest.fixture
def make_sync(store):
    """Build HubSyncs with the fake hub and the real CommitScheduler; stop them all afterwards."""
    made = []
    previous = signal.getsignal(signal.SIGTERM)

    def make(hub: FakeHub, target: JudgmentStore | None = None, **kwargs) -> HubSync:
        kwargs.setdefault("replica", f"test-{len(made)}")
        sync = HubSync(target or store, REPO, "hf_secret", api=hub, **kwargs)
        made.append(sync)
        return sync

    yield make
    for sync in made:
        sync.stop(push=False)
    signal.signal(signal.SIGTERM, previous)


def add_some(store: JudgmentStore, n: int = 3, user: str = "alice") -> list[int]:
    return [store.add(Judgment("relevant", f"запрос {i}", f"ответ {i}", user=user, tab="search",
                      query_prefix="query: ", passage_prefix="passage: ", model_id="deepvk/USER-base"))
            for i in range(n)]


def test_new_records_land_in_the_replica_jsonl(store, make_sync):
    hub = FakeHub()
    sync = make_sync(hub).start(signal_handlers=False)
    assert hub.created == [dict(repo_id=REPO, private=True, repo_type="dataset", exist_ok=True)]
    ids = add_some(store)
    store.add(Judgment("relevant", "запрос 0", "ответ 0", user="alice", tab="search", query_prefix="query: ",
              passage_prefix="passage: ", model_id="deepvk/USER-base"))  # a double click: no new line
    assert sync.jsonl_path.name == "feedback-test-0.jsonl"
    lines = [json.loads(line) for line in sync.jsonl_path.read_text(encoding="utf-8").splitlines()]
    assert [line["op"] for line in lines] == ["add"] * 3
    assert [line["anchor"] for line in lines] == ["запрос 0", "запрос 1", "запрос 2"]
    stored = store.rows()
    for line, rec in zip(lines, stored, strict=True):
        assert line["content_hash"] == rec["content_hash"] and line["created_at"] == rec["created_at"]
        assert line["replica"] == "test-0" and "id" not in line
    assert len(ids) == 3


def test_push_sends_the_file_to_the_hub(store, make_sync):
    hub = FakeHub()
    sync = make_sync(hub).start(signal_handlers=False)
    add_some(store, 2)
    sync.push()
    path = "feedback/feedback-test-0.jsonl"
    assert [c["paths"] for c in hub.commits][-1] == [path]
    assert hub.commits[-1]["repo_type"] == "dataset"
    assert [line["anchor"] for line in hub.lines(path)] == ["запрос 0", "запрос 1"]
    commits = len(hub.commits)
    assert sync.push() is None and len(hub.commits) == commits  # nothing new: no commit
    add_some(store, 3)
    sync.push()
    assert len(hub.lines(path)) == 3 and len(hub.commits) == commits + 1


def test_sigterm_pushes_then_chains_previous_handler(store, make_sync):
    hub = FakeHub()
    seen = []
    signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    sync = make_sync(hub).start(signal_handlers=True)
    handler = signal.getsignal(signal.SIGTERM)
    assert handler == sync.handle_signal
    add_some(store, 2)
    handler(signal.SIGTERM, None)  # what the interpreter would run on SIGTERM
    assert seen == [signal.SIGTERM]
    assert len(hub.lines("feedback/feedback-test-0.jsonl")) == 2
    sync.stop()
    assert signal.getsignal(signal.SIGTERM) != sync.handle_signal  # previous handler restored


def test_sigterm_with_default_previous_handler_exits_after_pushing(store, make_sync):
    hub = FakeHub()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sync = make_sync(hub).start()
    add_some(store, 1)
    with pytest.raises(SystemExit) as info:
        sync.handle_signal(signal.SIGTERM, None)
    assert info.value.code == 128 + signal.SIGTERM
    assert len(hub.lines("feedback/feedback-test-0.jsonl")) == 1


def test_final_push_is_registered_at_exit(store, make_sync, monkeypatch):
    registered = []
    monkeypatch.setattr("core.judgments.hub_sync.atexit.register", registered.append)
    monkeypatch.setattr("core.judgments.hub_sync.atexit.unregister", lambda fn: None)
    hub = FakeHub()
    sync = make_sync(hub).start(signal_handlers=False)
    assert sync._final_push in registered
    add_some(store, 1)
    sync._final_push()
    assert len(hub.lines("feedback/feedback-test-0.jsonl")) == 1


def test_stop_pushes_and_stops_mirroring(store, make_sync):
    hub = FakeHub()
    sync = make_sync(hub).start(signal_handlers=False)
    add_some(store, 1)
    sync.stop()
    assert len(hub.lines("feedback/feedback-test-0.jsonl")) == 1
    store.add(Judgment("label", "текст", label="x"))
    assert len(sync.jsonl_path.read_text(encoding="utf-8").splitlines()) == 1
    with pytest.raises(RuntimeError, match="not running"):
        sync.push()


def test_delete_writes_a_tombstone_without_texts(store, make_sync):
    hub = FakeHub()
    sync = make_sync(hub).start(signal_handlers=False)
    rid = add_some(store, 1)[0]
    store.delete(rid, "alice")
    lines = [json.loads(line) for line in sync.jsonl_path.read_text(encoding="utf-8").splitlines()]
    assert [line["op"] for line in lines] == ["add", "delete"]
    assert lines[1]["content_hash"] == lines[0]["content_hash"]
    assert "anchor" not in lines[1] and "positive" not in lines[1]


def _replica_file(store_path: Path, n: int, user: str) -> bytes:
    """A JSONL file as another replica would have pushed it."""
    lines = []
    with JudgmentStore(store_path) as other:
        sync = HubSync(other, REPO, api=FakeHub(), replica="other")
        unsubscribe = other.subscribe(sync._on_change)
        add_some(other, n, user=user)
        unsubscribe()
        lines = sync.jsonl_path.read_bytes().splitlines(keepends=True)
    return b"".join(lines)


def test_reload_on_empty_store_imports_once(store, make_sync, tmp_path):
    first = _replica_file(tmp_path / "r1" / "f.sqlite", 3, "alice")
    second = _replica_file(tmp_path / "r2" / "f.sqlite", 2, "bob")
    deleted = json.loads(second.splitlines()[0])
    tombstone = json.dumps({"op": "delete", "content_hash": deleted["content_hash"],
                            "deleted_at": "2999-01-01T00:00:00.000+00:00"}).encode() + b"\n"
    hub = FakeHub({
        "feedback/feedback-r1.jsonl": first + first.splitlines(keepends=True)[0],  # a duplicate line
        "feedback/feedback-r2.jsonl": second + tombstone + b"{not json\n",
        "README.md": b"# not judgments",
        "other/feedback.jsonl": first,  # outside path_in_repo
    })
    sync = make_sync(hub).start(signal_handlers=False)
    assert store.count() == 4  # 3 of alice + 2 of bob - 1 deleted
    assert store.count(user="alice") == 3 and store.count(user="bob") == 1
    assert not any(r["content_hash"] == deleted["content_hash"] for r in store.rows())
    assert not sync.jsonl_path.exists()  # reloaded records are not mirrored back
    again = sync.reload_from_hub()
    assert (again.added, again.duplicates) == (0, 4) and again.rejected == 1
    assert store.count() == 4


def test_no_reload_when_store_has_records(store, make_sync):
    add_some(store, 1)
    hub = FakeHub({"feedback/feedback-x.jsonl": b""})
    make_sync(hub).start(signal_handlers=False)
    assert hub.listings == 0


def test_unreachable_hub_does_not_block_start(store, make_sync):
    hub = FakeHub(fail_listing=True)
    sync = make_sync(hub).start(signal_handlers=False)
    assert sync.running and "hub unreachable" in sync.last_error
    add_some(store, 1)
    assert sync.jsonl_path.exists()


def test_missing_repo_is_a_first_start_not_an_error(store, make_sync):
    class RepositoryNotFoundError(Exception):
        pass

    hub = FakeHub()

    def missing(*args, **kwargs):
        raise RepositoryNotFoundError("404")

    hub.list_repo_files = missing
    sync = make_sync(hub).start(signal_handlers=False)
    assert sync.running and sync.last_error is None


def test_scheduler_factory_is_injected(store, make_sync, tmp_path):
    calls = []

    class Scheduler:
        def __init__(self, **kwargs):
            calls.append(kwargs)
            self.lock = __import__("threading").Lock()

        def trigger(self):
            future = Future()
            future.set_result("pushed")
            return future

        def stop(self):
            calls.append("stopped")

    sync = make_sync(FakeHub(), scheduler_factory=Scheduler, every=0.5, folder=tmp_path / "sync")
    sync.start(signal_handlers=False)
    kwargs = calls[0]
    assert kwargs["repo_id"] == REPO and kwargs["repo_type"] == "dataset" and kwargs["every"] == 0.5
    assert kwargs["folder_path"] == tmp_path / "sync" and kwargs["path_in_repo"] == "feedback"
    assert kwargs["token"] == "hf_secret" and kwargs["allow_patterns"] == "*.jsonl"
    assert sync.push() == "pushed"
    sync.stop()
    assert calls[-1] == "stopped"


def test_settings_from_env():
    off = HubSyncSettings.from_env({})
    assert not off.enabled and "USER_STUDIO_FEEDBACK_REPO" in off.describe()
    no_token = HubSyncSettings.from_env({"USER_STUDIO_FEEDBACK_REPO": REPO})
    assert not no_token.enabled and "USER_STUDIO_HF_TOKEN" in no_token.describe()
    on = HubSyncSettings.from_env({"USER_STUDIO_FEEDBACK_REPO": REPO, "HF_TOKEN": "hf_fallback",
                                   "USER_STUDIO_SYNC_EVERY": "2"})
    assert on.enabled and on.token == "hf_fallback" and on.every == 2.0
    preferred = HubSyncSettings.from_env({"USER_STUDIO_FEEDBACK_REPO": REPO, "HF_TOKEN": "a",
                                          "USER_STUDIO_HF_TOKEN": "b"})
    assert preferred.token == "b"
    assert "hf_fallback" not in on.describe() + repr(on)
    bad = HubSyncSettings.from_env({"USER_STUDIO_FEEDBACK_REPO": REPO, "HF_TOKEN": "t",
                                    "USER_STUDIO_SYNC_EVERY": "soon"})
    assert not bad.enabled and "USER_STUDIO_SYNC_EVERY" in bad.describe()


def test_start_from_env_without_config_does_nothing(store, caplog, tmp_path):
    with caplog.at_level(logging.INFO, logger="core.judgments.hub_sync"):
        assert start_from_env(store, env={}) is None
        assert start_from_env(store, env={"USER_STUDIO_FEEDBACK_REPO": REPO}) is None
    assert "Hub sync off" in caplog.text and "USER_STUDIO_HF_TOKEN" in caplog.text
    assert not (store.path.parent / "hub-sync").exists()


def test_start_from_env_with_config(store, make_sync, monkeypatch):
    hub = FakeHub()
    sync = start_from_env(store, env={"USER_STUDIO_FEEDBACK_REPO": REPO, "USER_STUDIO_HF_TOKEN": "t",
                                      "USER_STUDIO_SYNC_EVERY": "3"}, api=hub, signal_handlers=False)
    try:
        assert sync is not None and sync.running and sync.every == 3.0 and sync.token == "t"
    finally:
        sync.stop(push=False)


def test_replica_id_and_bad_arguments(store):
    rid = replica_id({"SPACE_REPLICA": "abc/12 x"})
    assert re.fullmatch(r"abc-12-x-[0-9a-f]{8}", rid)
    assert replica_id({}) != replica_id({})  # unique per start
    with pytest.raises(ValueError, match="needs a repo id"):
        HubSync(store, "")
    with pytest.raises(ValueError, match="every must be a positive"):
        HubSync(store, REPO, every=0)


def test_live_records_latest_event_wins():
    add = {"op": "add", "content_hash": "h", "created_at": "2025-01-01T00:00:00.000+00:00"}
    gone = {"op": "delete", "content_hash": "h", "deleted_at": "2025-01-02T00:00:00.000+00:00"}
    back = {**add, "created_at": "2025-01-03T00:00:00.000+00:00"}
    assert live_records([add, gone]) == []
    assert live_records([add, gone, back]) == [back]
    assert live_records([gone, add]) == []
