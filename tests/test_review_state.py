"""The Review tab without stale state: headings named for the judgment kind, "delete all" with its count
and an undo that only the same user can use, and export links that die with the data they hold."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from core.identity import Identity
from core.judgments import Judgment, JudgmentStore
from core.studio import Studio
from core.tempfiles import TempFiles


class _Encoder:
    """Review never encodes; a Studio only needs something shaped like an encoder."""

    model_id = "tiny"
    revision = None
    uses_prefixes = True
    dim = 4


@pytest.fixture
def studio(tmp_path) -> Studio:
    studio = Studio.__new__(Studio)  # no model needed: only the store and the temp files are used
    studio.store = JudgmentStore(tmp_path / "feedback.sqlite")
    studio.files = TempFiles(tmp_path / "exports")
    studio.encoder = _Encoder()
    studio.encoders = {"tiny": studio.encoder}
    return studio


def judge(store: JudgmentStore, user: str, kind: str, anchor: str, positive: str | None = None, **extra) -> int:
    return store.add(Judgment(kind, anchor, positive=positive, user=user, tab="similarity", **extra))


def test_text_columns_are_named_for_the_judgment_kind(studio):
    from ui.review_tab import review

    a = Identity("anon:a")
    judge(studio.store, a.user, "not_relevant", "Есть ли нефть?", "Борщ вкусный.")
    only = review(studio, a, "not_relevant", "", "(all)", 100)[0]
    assert "positive" not in only.columns and "anchor" not in only.columns
    assert only.loc[0, "not-relevant passage"] == "Борщ вкусный." and only.loc[0, "query"] == "Есть ли нефть?"
    # Mixed kinds: neutral headings, the kind column says which verdict each row is.
    judge(studio.store, a.user, "relevant", "Есть ли нефть?", "Нефть есть.")
    judge(studio.store, a.user, "similar", "кот", "кошка")
    mixed = review(studio, a, "(all)", "", "(all)", 100)[0]
    assert {"text", "judged against (see kind)", "kind"} <= set(mixed.columns) and "positive" not in mixed.columns
    for kind, first, second in (("relevant", "query", "relevant passage"), ("similar", "text", "similar text")):
        frame = review(studio, a, kind, "", "(all)", 100)[0]
        assert {first, second} <= set(frame.columns), kind
    judge(studio.store, a.user, "dissimilar", "кот", "трактор")
    assert "dissimilar text" in review(studio, a, "dissimilar", "", "(all)", 100)[0].columns
    # One-text kinds have no second column at all; an empty result keeps the kind's headings.
    judge(studio.store, a.user, "label", "кот", label="животные")
    labels = review(studio, a, "label", "", "(all)", 100)[0]
    assert "labelled text" in labels.columns and "positive" not in labels.columns
    assert "scored against" in review(studio, a, "score", "", "(all)", 100)[0].columns


def test_delete_all_asks_with_the_count_and_only_the_same_user_can_undo_it(studio):
    from ui.review_tab import DeletedJudgments, ask_delete_all, delete_all, restore_all

    store, kept = studio.store, DeletedJudgments()
    a, b = Identity("anon:a"), Identity("anon:b")
    mine = [judge(store, a.user, "relevant", f"вопрос {i}", f"ответ {i}", comment=f"заметка {i}") for i in range(3)]
    judge(store, a.user, "score", "кот", "кошка", score=4.5)
    theirs = judge(store, b.user, "relevant", "чужой вопрос", "чужой ответ")
    before = {r["content_hash"]: r for r in store.rows(user=a.user)}
    their_row = store.get(theirs)

    message, confirm_row, confirm = ask_delete_all(studio, a)
    assert message == ("**Delete all 4 of your judgments?** They leave the store and your exports stop working; "
                       "you can restore them from this page for an hour.") and confirm_row["visible"] is True
    assert confirm["value"] == "Yes, delete all 4"
    assert store.count(user=a.user) == 4  # asking deletes nothing

    assert delete_all(studio, a, kept) == "Deleted 4 of your judgments. **Undo** restores them."
    assert store.count(user=a.user) == 0 and store.get(theirs) == their_row
    assert ask_delete_all(studio, a)[0] == "You have no judgments to delete."
    # B cannot restore A's judgments (the batch is keyed by who the server says is asking)...
    assert restore_all(studio, b, kept) == "Nothing to restore: no deletion of yours in the last hour."
    assert store.count(user=b.user) == 1 and store.count(user=a.user) == 0
    # ...and B's own "delete all" takes B's judgment only.
    assert delete_all(studio, b, kept) == "Deleted 1 of your judgments. **Undo** restores them."
    assert kept.count(a.user) == 4

    assert restore_all(studio, a, kept) == "Restored 4 of your judgments."
    after = {r["content_hash"]: r for r in store.rows(user=a.user)}
    assert after.keys() == before.keys()  # the same judgments, with their times and comments
    for key, row in before.items():
        assert {k: after[key][k] for k in ("created_at", "comment", "score", "anchor", "positive")} == \
            {k: row[k] for k in ("created_at", "comment", "score", "anchor", "positive")}
    assert all(store.get(i) is None for i in mine)  # restored under new ids
    assert restore_all(studio, a, kept) == "Nothing to restore: no deletion of yours in the last hour."  # once
    assert restore_all(studio, b, kept) == "Restored 1 of your judgments."


def test_the_undo_is_bounded_in_time_and_users():
    from ui.review_tab import DeletedJudgments

    kept = DeletedJudgments(ttl_s=0.0)
    kept.keep("anon:a", [{"user": "anon:a"}])
    time.sleep(0.01)
    assert kept.take("anon:a") == []
    kept = DeletedJudgments(max_users=2)
    for user in ("anon:1", "anon:2", "anon:3"):
        kept.keep(user, [{"user": user}])
    assert kept.count("anon:1") == 0 and kept.count("anon:3") == 1
    kept.keep("anon:3", [{"user": "anon:3"}])  # a second deletion adds to what can come back
    assert kept.count("anon:3") == 2


def test_export_files_die_with_the_judgments_they_hold(studio):
    from ui import common
    from ui.review_tab import DeletedJudgments, delete_all, export_file

    store = studio.store
    a, b, admin = Identity("anon:a"), Identity("anon:b"), Identity("hf:root", is_admin=True)
    judge(store, a.user, "relevant", "Есть ли нефть?", "Нефть есть.")
    first = judge(store, a.user, "relevant", "Где газ?", "Газ на Ямале.")
    judge(store, b.user, "relevant", "Где лес?", "Лес в Сибири.")
    mine, theirs, everyone = (Path(export_file(studio, who, "pairs", "jsonl", "apply")) for who in (a, b, admin))
    served = {who: studio.files.tracked(key) for who, key in
              (("a", a.user), ("b", b.user), ("admin", common.EVERYONE_EXPORTS))}
    assert all(len(paths) == 2 for paths in served.values())  # our file's folder and Gradio's copy
    assert mine.is_file() and theirs.is_file() and everyone.is_file()

    # One deletion by A: A's exports and the all-users export go; B's stays.
    common.delete_judgment(studio, a, first)
    assert not mine.exists() and not any(p.exists() for p in served["a"])
    assert not everyone.exists() and not any(p.exists() for p in served["admin"])
    assert theirs.is_file() and all(p.exists() for p in served["b"])

    mine = Path(export_file(studio, a, "pairs", "jsonl", "apply"))
    delete_all(studio, a, DeletedJudgments())
    assert not mine.exists() and studio.files.tracked(a.user) == []
    assert theirs.is_file()


def test_a_served_export_link_stops_working_after_delete_all(live_app):
    """Over HTTP, as a browser downloads it: the file before the deletion, a refusal after."""
    from ui.review_tab import DeletedJudgments, delete_all, export_file

    studio = live_app.studio
    me = Identity(f"anon:link-{id(live_app)}")
    judge(studio.store, me.user, "relevant", "Ссылка на экспорт?", "Перестаёт работать.")
    path = export_file(studio, me, "pairs", "jsonl", "apply")
    served = [p for p in studio.files.tracked(me.user) if p.is_file() and Path(path) != p]
    assert len(served) == 1
    url = f"{live_app.url}gradio_api/file={served[0]}"
    before = httpx.get(url, timeout=30)
    assert before.status_code == 200 and "Перестаёт работать." in before.text
    delete_all(studio, me, DeletedJudgments())
    after = httpx.get(url, timeout=30)
    assert after.status_code in (403, 404) and "Перестаёт" not in after.text  # Gradio answers 403 for a gone file
