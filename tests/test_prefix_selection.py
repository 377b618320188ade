"""Selections on the Prefixes tab's map: every marker names its text, the ids are checked on the server,
and a verdict saves one "prefer" judgment per selected text."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.encoding.encoder import Encoder
from core.identity import Identity
from core.judgments import JudgmentStore, NotOwnerError
from core.studio import Studio
from tests.test_map_selection import decoded

ALICE = Identity(user="anon:alice000001", is_admin=False, token="t")
MALLORY = Identity(user="anon:mallory0001", is_admin=False, token="t")
TEXTS = ["первый текст", "второй текст", "третий текст", "четвёртый текст"]


@pytest.fixture(scope="module")
def studio(tiny_model_dir, tmp_path_factory):
    store = JudgmentStore(tmp_path_factory.mktemp("prefix-map") / "feedback.sqlite")
    return Studio(Encoder(str(tiny_model_dir), device="cpu", dtype="float32"), store=store)


def test_every_marker_reports_its_text_and_the_lines_report_nothing():
    from ui.prefix_tab import prefix_map_value

    rng = np.random.default_rng(0)
    points = pd.DataFrame({"text_index": list(range(4)) * 3, "variant": ["none"] * 4 + ["query"] * 4 + ["passage"] * 4,
                           "x": rng.normal(size=12), "y": rng.normal(size=12)})
    figure = json.loads(prefix_map_value(points, TEXTS))
    markers = [t for t in figure["data"] if t.get("mode") == "markers"]
    assert len(markers) == 3
    for trace in markers:
        assert decoded(trace["customdata"]).tolist() == [0, 1, 2, 3]
    assert all("customdata" not in t for t in figure["data"] if t.get("mode") == "lines")


def test_a_verdict_on_the_selection_is_one_judgment_per_text_and_undo_takes_the_batch(studio):
    from ui.prefix_tab import save_selection

    created, message = save_selection(studio, ALICE, TEXTS, [2, 0, 2, 0.0], "passage", "выбрано на карте")
    assert len(created) == 2 and "2 judgment(s)" in message
    rows = [studio.store.get(r) for r in created]
    assert [r["anchor"] for r in rows] == [TEXTS[2], TEXTS[0]]
    assert {(r["kind"], r["label"], r["tab"], r["comment"]) for r in rows} == {
        ("prefer", "passage", "prefixes", "выбрано на карте")}
    with pytest.raises(NotOwnerError):
        studio.store.delete(created[0], MALLORY.user)
    assert all(studio.store.delete(r, ALICE.user) for r in created)


@pytest.mark.parametrize("texts, ids, better, match", [
    (None, [0], "query", "compare prefixes first"), ([], [0], "query", "compare prefixes first"),
    (TEXTS, [], "query", "select texts on the map first"), (TEXTS, [4], "query", "map has 4 points"),
    (TEXTS, [-1], "none", "map has 4 points"), (TEXTS, ["1"], "none", "not a point id"),
    (TEXTS, [1.5], "none", "not a point id"), (TEXTS, [0], "both", "pick which variant")])
def test_bad_selection_requests_are_refused(studio, texts, ids, better, match):
    from ui.prefix_tab import save_selection

    before = studio.store.count()
    with pytest.raises(ValueError, match=match):
        save_selection(studio, ALICE, texts, ids, better)
    assert studio.store.count() == before


@pytest.mark.parametrize("n", [1, 2, 3])
def test_small_selections_are_listed_from_one(n):
    from ui.prefix_tab import selection_frame

    frame = selection_frame(TEXTS, list(range(n)))
    assert frame["#"].tolist() == list(range(1, n + 1)) and frame["text"].tolist() == TEXTS[:n]


def test_one_undo_handler_takes_back_a_batch_or_one_judgment_of_the_caller_only(studio):
    """Every tab's Undo is common.undo_handler: a batch (a selection) or one id, never another user's."""
    import gradio as gr

    from ui.common import undo_handler
    from ui.prefix_tab import save_selection

    owner = studio.identities.identify(token=None, issue=True)
    other = studio.identities.identify(token=None, issue=True)
    created, _ = save_selection(studio, Identity(owner.user), TEXTS, [0, 1, 2], "query")
    undo = undo_handler(studio)
    rows = [studio.store.get(r) for r in created]
    with pytest.raises(gr.Error, match=f"judgment #{created[0]} is not yours, so you cannot delete it"):
        undo(created, other.token, None, None)
    assert [studio.store.get(r) for r in created] == rows and None not in rows
    message, cleared = undo(created[:2], owner.token, None, None)
    assert message == "2 judgment(s) of the batch removed." and cleared is None
    assert [studio.store.get(r) is None for r in created] == [True, True, False]
    assert undo(created[2], owner.token, None, None)[0] == f"Judgment #{created[2]} removed."
    assert undo(created[2], owner.token, None, None)[0] == f"Judgment #{created[2]} was already gone."
    assert undo_handler(studio, "cl_label_batch_removed")([], owner.token, None, None)[0] == "Nothing to undo."
