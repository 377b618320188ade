"""JudgmentStore: records, validation, deduplication, deletion, counts."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import gradio as gr
import pytest
from sqlalchemy import text as sql

from core import __version__
from core.judgments import (
    ANONYMOUS,
    COLUMNS,
    KINDS,
    Judgment,
    JudgmentStore,
    NotOwnerError,
    content_hash,
    default_data_dir,
    default_store_path,
)
from tests.conftest import ROOT
from tests.pg_fixtures import REFUSED_BEFORE_ANY_STATEMENT, sqlite_only
from ui.common import user_errors

Q = "Есть ли нефть в Удмуртии?"
P = "Нефтепоисковые работы в Удмуртии были начаты сразу после Второй мировой войны в 1945 году."
N = "Кошка спит на подоконнике, пока собака гуляет во дворе."
META = dict(tab="search", query_prefix="query: ", passage_prefix="passage: ",
            model_id="deepvk/USER-base", model_revision="abc123")


@pytest.fixture
def store(store_location):
    """A fresh store, once on SQLite and once on PostgreSQL (tests/pg_fixtures.py)."""
    with JudgmentStore(store_location) as s:
        yield s


def test_add_keeps_every_field(store):
    rid = store.add(Judgment("relevant", Q, P, user="alice", comment="точно", **META))
    assert isinstance(rid, int)
    assert store.count() == 1
    rec = store.get(rid)
    assert set(rec) == set(COLUMNS)
    assert rec["kind"] == "relevant" and rec["anchor"] == Q and rec["positive"] == P
    assert rec["user"] == "alice" and rec["tab"] == "search" and rec["comment"] == "точно"
    assert rec["query_prefix"] == "query: " and rec["passage_prefix"] == "passage: "
    assert rec["model_id"] == "deepvk/USER-base" and rec["model_revision"] == "abc123"
    assert rec["app_version"] == __version__
    when = datetime.fromisoformat(rec["created_at"])
    assert when.utcoffset().total_seconds() == 0
    # A literal digest: a change to the recipe (fields, order, spelling) would orphan every stored hash.
    assert rec["content_hash"] == "76141e7f96c99d218d24f690564e7761639fd1b2b0b73c48d8152e449cd5bfd7"


@sqlite_only
def test_sqlite_store_uses_wal_and_full_sync(store):
    with store.reading() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


@pytest.mark.parametrize(("kind", "kwargs"), [
    ("relevant", dict(positive=P)),
    ("not_relevant", dict(positive=N)),
    ("score", dict(positive=P, score=4)),
    ("similar", dict(positive=P)),
    ("dissimilar", dict(positive=N)),
    ("misplaced", dict(label="Погода")),
    ("misplaced", dict()),
    ("label", dict(label="нефть")),
    ("prefer", dict(label="passage")),
])
def test_every_kind_is_accepted(store, kind, kwargs):
    rid = store.add(Judgment(kind, Q, **kwargs))
    assert store.get(rid)["kind"] == kind


def test_same_judgment_twice_is_one_record(store):
    first = store.add(Judgment("score", Q, P, score=4, user="alice", **META))
    again = store.add(Judgment("score", Q, P, score=4.0, user="alice", comment="retry", **META))
    assert again == first and store.count() == 1
    # Another user, score, prefix or model is another judgment.
    assert store.add(Judgment("score", Q, P, score=4, user="bob", **META)) != first
    assert store.add(Judgment("score", Q, P, score=3, user="alice", **META)) != first
    assert store.add(Judgment("score", Q, P, score=4, user="alice", **{**META, "query_prefix": ""})) != first
    assert store.add(Judgment("score", Q, P, score=4, user="alice", **{**META, "model_id": "other"})) != first
    assert store.count() == 5


def test_content_hash_covers_identifying_fields():
    base = dict(user="u", kind="relevant", anchor="a", positive="b", negative=None, score=None, label=None,
                query_prefix="query: ", passage_prefix="passage: ", model_id="m")
    # sha256 of '["u","relevant","a","b",null,null,null,"query: ","passage: ","m"]', pinned as a literal so
    # that a change of recipe shows here instead of being recomputed the same way by the test.
    expected = "e63b382b9a2e458cffb98007b5105ca92493b89ed15ed0e6c3fcec8929174f5c"
    assert content_hash(base) == expected
    for field in ("user", "kind", "anchor", "positive", "negative", "label", "query_prefix",
                  "passage_prefix", "model_id"):
        assert content_hash({**base, field: "x"}) != expected, field
    assert content_hash({**base, "score": 2}) == content_hash({**base, "score": 2.0}) != expected
    assert content_hash({**base, "comment": "c", "tab": "t", "model_revision": "r"}) == expected


@REFUSED_BEFORE_ANY_STATEMENT
def test_unknown_kind_lists_valid_ones(store):
    with pytest.raises(ValueError, match="kind must be one of .*; got 'thumbs_up'") as info:
        store.add(Judgment("thumbs_up", Q, P))
    for kind in KINDS:
        assert kind in str(info.value)


@pytest.mark.parametrize(("kind", "kwargs", "message"), [
    ("relevant", dict(), "needs the positive text"),
    ("not_relevant", dict(), "needs the positive text"),
    ("similar", dict(), "needs the positive text"),
    ("dissimilar", dict(), "needs the positive text"),
    ("score", dict(positive=P), "needs a score"),
    ("label", dict(), "needs a non-empty label"),
    ("label", dict(label="   "), "needs a non-empty label"),
    ("prefer", dict(), "label one of query, passage, none"),
    ("prefer", dict(label="both"), "label one of query, passage, none"),
])
@REFUSED_BEFORE_ANY_STATEMENT
def test_per_kind_requirements(store, kind, kwargs, message):
    with pytest.raises(ValueError, match=message):
        store.add(Judgment(kind, Q, **kwargs))


@pytest.mark.parametrize("score", [float("nan"), float("inf"), -1, 6, 5.0001, "abc", "3", True, [3]])
@REFUSED_BEFORE_ANY_STATEMENT
def test_invalid_scores(store, score):
    with pytest.raises(ValueError, match="score must be"):
        store.add(Judgment("score", Q, P, score=score))


@pytest.mark.parametrize("score", [0, 0.0, 2.5, 5, 5.0])
def test_score_bounds_are_inclusive(store, score):
    assert store.get(store.add(Judgment("score", Q, P, score=score)))["score"] == float(score)


@pytest.mark.parametrize(("anchor", "positive", "message"), [
    ("", P, "anchor text is empty"),
    ("   \n\t", P, "anchor text is empty"),
    (Q, " ", "positive text is empty"),
    (Q, "\u200b\u2060\ufeff \u200d", "positive text is empty"),  # zero-width characters only
    ("\x00\x07\x1b", P, "anchor text is empty"),  # control characters only
    ("x" * 1_000_000, P, r"anchor text is too long: 1,000,000 characters, the limit is 20,000"),
    (Q, "x" * 20_001, "positive text is too long"),
    (None, P, "needs the anchor text"),
    (42, P, "anchor must be a string"),
])
@REFUSED_BEFORE_ANY_STATEMENT
def test_bad_texts(store, anchor, positive, message):
    with pytest.raises(ValueError, match=message):
        store.add(Judgment("relevant", anchor, positive))


def test_text_cap_is_configurable(store_location):
    with JudgmentStore(store_location, max_text_chars=10, max_comment_chars=5) as s:
        s.add(Judgment("relevant", "x" * 10, "y"))
        with pytest.raises(ValueError, match="the limit is 10"):
            s.add(Judgment("relevant", "x" * 11, "y"))
        with pytest.raises(ValueError, match="comment is too long"):
            s.add(Judgment("relevant", "a", "b", comment="123456"))


def test_comment_and_fields_are_checked(store):
    with pytest.raises(ValueError, match="comment is too long: 2,001 characters"):
        store.add(Judgment("relevant", Q, P, comment="c" * 2001))
    # Texts, comments and labels are cleaned as the encoder cleans its input (control characters go);
    # metadata fields such as the user are refused instead, since they must match exactly.
    rec = store.get(store.add(Judgment("label", Q, label="a\x00b\x1b", comment="c\x07d")))
    assert rec["label"] == "ab" and rec["comment"] == "cd"
    with pytest.raises(ValueError, match="user contains a control character"):
        store.add(Judgment("relevant", Q, P, user="a\x00"))
    with pytest.raises(ValueError, match="tab is too long"):
        store.add(Judgment("relevant", Q, P, tab="t" * 500))
    # Blank comments and users are "not given".
    rec = store.get(store.add(Judgment("relevant", Q, P, comment="  ", user="")))
    assert rec["comment"] is None and rec["user"] == ANONYMOUS


def test_bad_input_loses_nothing(store):
    ids = [store.add(Judgment("relevant", Q, P, user="alice")), store.add(Judgment("score", Q, N, score=1, user="bob")),
           store.add(Judgment("label", P, label="нефть"))]
    before = store.rows()
    bad_calls = [
        lambda: store.add(Judgment("relevant", "", P)),
        lambda: store.add(Judgment("relevant", "x" * 1_000_000, P)),
        lambda: store.add(Judgment("relevant", Q, "\u200b\x00 \ufeff")),
        lambda: store.add(Judgment("score", Q, P, score=float("nan"))),
        lambda: store.add(Judgment("score", Q, P, score=-1)),
        lambda: store.add(Judgment("score", Q, P, score=6)),
        lambda: store.add(Judgment("score", Q, P, score="abc")),
        lambda: store.add(Judgment("nope", Q, P)),
        lambda: store.add(Judgment("prefer", Q, label="maybe")),
    ]
    for call in bad_calls:
        with pytest.raises(ValueError):
            call()
    assert store.count() == 3
    assert store.rows() == before
    assert [r["id"] for r in store.rows()] == ids


def test_delete_only_own_records(store):
    mine = store.add(Judgment("relevant", Q, P, user="alice"))
    theirs = store.add(Judgment("relevant", Q, N, user="bob"))
    their_row = store.get(theirs)
    with pytest.raises(NotOwnerError, match="is not yours, so you cannot delete it"):
        store.delete(theirs, "alice")
    assert store.get(theirs) == their_row and store.count() == 2  # the refused delete left the row as it was
    # The app's handlers turn the refusal into a message for the user, not a server error with a reference.
    with pytest.raises(gr.Error, match=f"judgment #{theirs} is not yours, so you cannot delete it"):
        user_errors(store.delete)(theirs, "alice")
    assert store.get(theirs) == their_row
    assert store.delete(mine, "alice") is True
    assert store.delete(mine, "alice") is False  # undo twice: already gone
    assert store.get(mine) is None and store.get(theirs) == their_row
    # Ids are never reused, so a stale undo cannot hit a newer record.
    assert store.add(Judgment("relevant", Q, P, user="alice")) > theirs


def test_delete_user(store):
    for text in (P, N):
        store.add(Judgment("relevant", Q, text, user="alice"))
    store.add(Judgment("relevant", Q, P, user="bob"))
    assert store.delete_user("alice") == 2
    assert store.count() == 1 and store.count(user="alice") == 0
    assert store.delete_user("nobody") == 0


def test_records_and_counts(store):
    store.add(Judgment("relevant", Q, P, user="alice", tab="search"))
    store.add(Judgment("not_relevant", Q, N, user="alice", tab="search"))
    store.add(Judgment("similar", P, Q, user="bob", tab="similarity"))
    store.add(Judgment("label", P, label="нефть"))
    df = store.records()
    assert list(df.columns) == list(COLUMNS) and len(df) == 4
    assert len(store.records(kind="relevant")) == 1
    assert len(store.records(user="alice")) == 2
    assert len(store.records(tab="similarity")) == 1
    assert len(store.records(kind=["relevant", "similar"])) == 2
    assert store.records(limit=2)["kind"].tolist() == ["relevant", "not_relevant"]
    assert store.rows(limit=1, newest_first=True)[0]["kind"] == "label"
    assert store.records(user="nobody").empty
    with pytest.raises(ValueError, match="kind must be one of"):
        store.records(kind="bogus")
    assert store.counts() == {
        "total": 4,
        "users": 3,
        "by_kind": {"label": 1, "not_relevant": 1, "relevant": 1, "similar": 1},
        "by_user": {"alice": 2, ANONYMOUS: 1, "bob": 1},
        "by_tab": {"search": 2, "": 1, "similarity": 1},
    }
    assert store.count(kind="relevant", user="alice") == 1
    aggregate = store.counts(by_user=False)  # what a non-admin sees: no user names
    assert "by_user" not in aggregate and aggregate["users"] == 3 and aggregate["total"] == 4
    # Issue 26: the review list shows one person's judgments, and its counts by kind and tab are theirs too.
    alices = store.counts(by_user=False, user="alice")
    assert alices == {"total": 4, "users": 3, "by_kind": {"not_relevant": 1, "relevant": 1}, "by_tab": {"search": 2}}


def test_listeners_see_new_records_only(store):
    events = []
    unsubscribe = store.subscribe(lambda event, judgment: events.append((event, judgment.id)))
    rid = store.add(Judgment("relevant", Q, P, user="u"))
    store.add(Judgment("relevant", Q, P, user="u"))  # duplicate: no event
    store.delete(rid, "u")

    def broken(event, rec):
        raise RuntimeError("listener bug")

    store.subscribe(broken)
    rid2 = store.add(Judgment("relevant", Q, N))  # a failing listener does not fail the add
    unsubscribe()
    store.add(Judgment("relevant", Q, "третий текст"))
    assert events == [("add", rid), ("delete", rid), ("add", rid2)]
    assert store.count() == 2


def test_import_records_dedups_and_keeps_metadata(store, tmp_path):
    store.add(Judgment("relevant", Q, P, user="alice", **META))
    exported = store.rows()
    with JudgmentStore(tmp_path / "other.sqlite") as other:
        result = other.import_records(exported + [{"kind": "score", "anchor": Q, "positive": P, "score": 9}])
        assert (result.added, result.duplicates, result.rejected) == (1, 0, 1)
        again = other.import_records(exported)
        assert (again.added, again.duplicates) == (0, 1)
        rec = other.rows()[0]
        assert {k: rec[k] for k in ("created_at", "content_hash", "user", "model_revision")} == \
               {k: exported[0][k] for k in ("created_at", "content_hash", "user", "model_revision")}


def test_default_data_dir(tmp_path, monkeypatch):
    assert default_data_dir({"USER_STUDIO_DATA_DIR": str(tmp_path)}) == tmp_path
    assert default_store_path({"USER_STUDIO_DATA_DIR": str(tmp_path)}) == tmp_path / "feedback.sqlite"
    volume = tmp_path / "data"
    monkeypatch.setattr("core.judgments.paths.SPACE_VOLUME", volume)
    assert default_data_dir({}) == Path("data")  # no /data volume
    volume.mkdir()
    assert default_data_dir({}) == volume / "user-studio"
    # A read-only /data (checked with os.access, which root would pass anyway) falls back to ./data.
    monkeypatch.setattr("core.judgments.paths.os.access", lambda path, mode: False)
    assert default_data_dir({}) == Path("data")
    assert default_data_dir({"USER_STUDIO_DATA_DIR": str(tmp_path)}) == tmp_path


def test_import_is_light():
    code = ("import sys, core.judgments; heavy = [m for m in ('torch', 'pandas', 'numpy', 'gradio', "
            "'datasets', 'sentence_transformers') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_score_stored_as_float(store):
    rec = store.get(store.add(Judgment("score", Q, P, score=3)))
    assert isinstance(rec["score"], float) and math.isclose(rec["score"], 3.0)


def test_ids_past_2_31_and_exact_scores_round_trip(store):
    """A long-lived PostgreSQL store passes 2^31 ids (bigint there; SQLite's rowid is 64-bit anyway),
    and a score comes back as the float it was (double precision, not a 4-byte real)."""
    with store.transaction() as conn:
        if store.path is None:
            conn.execute(sql("SELECT setval(pg_get_serial_sequence('feedback', 'id'), 3000000000)"))
        else:
            conn.execute(sql("INSERT INTO sqlite_sequence (name, seq) VALUES ('feedback', 3000000000)"))
    rid = store.add(Judgment("score", Q, P, score=3.3, user="alice"))
    assert rid == 3_000_000_001 and store.get(rid)["score"] == 3.3
    assert [r["id"] for r in store.rows(user="alice", newest_first=True)] == [rid]
    assert store.delete(2**62, "alice") is False and store.delete(rid, "alice") is True
