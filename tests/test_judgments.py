"""The Judgment type, record ids, the connection pool, exports that apply the encoder's prefixes."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from core.inputs.text import add_prefix
from core.judgments import COLUMNS, Judgment, JudgmentStore, export, record_id
from tests.pg_fixtures import REFUSED_BEFORE_ANY_STATEMENT


@pytest.fixture
def store(store_location):
    """A fresh store, once on SQLite and once on PostgreSQL (tests/pg_fixtures.py)."""
    with JudgmentStore(store_location) as s:
        yield s


def test_one_judgment_round_trips_through_the_store(store):
    judgment = Judgment("score", "Москва", "столица России", score=4.5, comment="верно", user="anon:x",
                        tab="similarity", query_prefix="query: ", passage_prefix="", model_id="m", model_revision="r")
    rid = store.add(judgment)
    stored = store.judgments()[0]
    assert stored.id == rid and stored.created_at and stored.app_version
    assert stored.replace(id=None, created_at=None, app_version=None) == judgment
    record = stored.to_record()
    assert list(record) == list(COLUMNS) and record["content_hash"] == judgment.content_hash
    assert Judgment.from_record(record) == stored


def test_from_record_reads_dataframe_rows(store):
    store.add(Judgment("relevant", "вопрос", "ответ", user="u"))
    row = store.records().to_dict("records")[0]  # NaN for the missing score, negative, ...
    judgment = Judgment.from_record(row)
    assert judgment.score is None and judgment.negative is None and judgment.anchor == "вопрос"
    with pytest.raises(ValueError, match="needs at least 'kind' and 'anchor'"):
        Judgment.from_record({"anchor": "x"})


def test_add_takes_only_a_judgment(store):
    with pytest.raises(TypeError, match="takes a Judgment"):
        store.add({"kind": "relevant", "anchor": "a", "positive": "b"})


@REFUSED_BEFORE_ANY_STATEMENT
@pytest.mark.parametrize("bad", [1e30, -1, 0, 2**63, 1.5, float("nan"), float("inf"), "7", None, True])
def test_record_ids_out_of_range_are_clear_errors(store, bad):
    with pytest.raises(ValueError, match="whole number|no record"):
        record_id(bad)
    with pytest.raises(ValueError):
        store.delete(bad, "anon:x")


def test_record_id_accepts_whole_floats_from_number_boxes():
    assert record_id(7.0) == 7 and record_id(7) == 7 and record_id(2**63 - 1) == 2**63 - 1


def test_export_applies_the_encoders_own_prefix_logic(store, tmp_path):
    """A text that already carries the instruction in another spelling is what the encoder saw."""
    for anchor in ("Query: Москва", "query:Москва", "Москва"):
        store.add(Judgment("relevant", anchor, "Passage: столица России", query_prefix="query: ",
                           passage_prefix="passage: "))
    out = tmp_path / "pairs.jsonl"
    export(store, "jsonl", out, kind="pairs")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["anchor"] for r in rows] == ["Query: Москва", "query:Москва", "query: Москва"]
    assert {r["positive"] for r in rows} == {"Passage: столица России"}
    for row, anchor in zip(rows, ("Query: Москва", "query:Москва", "Москва"), strict=True):
        assert row["anchor"] == add_prefix(anchor, "query: ")


def test_export_takes_judgments_directly(tmp_path):
    out = tmp_path / "labels.jsonl"
    assert export([Judgment("label", "текст", label="тема", query_prefix="query: ")], "jsonl", out, kind="labels") == 1
    assert json.loads(out.read_text(encoding="utf-8")) == {"text": "query: текст", "label": "тема"}


def _open_fds(database: Path) -> int:
    """This process's descriptors open on the store's files (the database, its -wal and -shm): other
    tests' threads (a live app, janitors) open and close unrelated files while this one runs."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since the listing
            continue
        count += target.startswith(str(database.resolve()))
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counting file descriptors needs /proc")
def test_connections_stay_flat_while_threads_come_and_go(store):
    """Gradio's workers are short-lived threads; a connection per thread leaked one fd per thread.
    On PostgreSQL the pool's count is the check (its sockets are not the store's files)."""
    store.add(Judgment("relevant", "вопрос", "ответ", user="warm-up"))
    fds = []
    for burst in range(10):
        threads = [threading.Thread(target=lambda b=burst, t=t: (
            store.add(Judgment("relevant", f"вопрос {b}-{t}", "ответ", user=f"u{t}")), store.count(),
            store.rows(limit=5))) for t in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fds.append(_open_fds(store.path) if store.path is not None else 0)
        # Idle connections beyond the pool's size are closed when handed back.
        assert store.open_connections <= 4
    assert store.count() == 301
    # SQLite may keep a closed connection's descriptors for reuse while others hold locks on the file
    # (POSIX lock semantics), so the first bursts set a plateau (one burst on a quiet machine, up to three
    # seen beside other test processes: [22, 25, 29, 32, 32, ...]); the later bursts must not climb, and
    # the whole run stays far below the leak's one descriptor per thread (30 a burst, 300 in all).
    print(f"open file descriptors after each burst: {fds}")
    assert fds[-1] - fds[4] <= 5 and fds[-1] - fds[0] < 30, f"file descriptors grew with thread churn: {fds}"


def test_close_then_use_reopens_and_closes_everything(store):
    store.add(Judgment("relevant", "a", "b"))
    store.close()
    assert store.open_connections == 0
    assert store.count() == 1  # still usable after close: a fresh connection
    store.close()
    assert store.open_connections == 0
