"""The UI's plain functions (uploads into text boxes, review and export), without a server."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.encoder import Encoder
from core.feedback import FeedbackStore
from core.studio import Studio


@pytest.fixture
def studio(tiny_model_dir, tmp_path) -> Studio:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    return Studio(Encoder(str(tiny_model_dir), device="cpu", dtype="float32"), store=store)


def test_uploaded_table_fills_the_query_and_passage_boxes(studio, tmp_path):
    from ui.similarity_tab import table_to_boxes

    path = tmp_path / "pairs.csv"
    pd.DataFrame({"Query": ["Есть ли нефть?", "Есть ли нефть?", None],
                  "passage": ["Нефть есть.\nИ газ.", "Борщ", "Погода"]}).to_csv(path, index=False)
    queries, passages, warnings = table_to_boxes(studio, str(path))
    assert queries == "Есть ли нефть?"  # duplicates and empty cells dropped
    assert passages == "Нефть есть. И газ.\nБорщ\nПогода"  # a cell is one passage, even with a newline


def test_uploaded_table_without_the_columns_is_refused(studio, tmp_path):
    from ui.similarity_tab import table_to_boxes

    path = tmp_path / "other.csv"
    pd.DataFrame({"text": ["a"], "topic": ["b"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="needs a 'query' or 'passage' column"):
        table_to_boxes(studio, str(path))


def test_review_counts_and_exports(studio):
    from ui.review_tab import export_file, review

    store = studio.store
    store.add("relevant", "Есть ли нефть?", positive="Нефть есть.", user="anon:a", tab="similarity",
              query_prefix="query: ", passage_prefix="passage: ")
    store.add("not_relevant", "Есть ли нефть?", positive="Борщ вкусный.", user="anon:b", tab="similarity",
              query_prefix="query: ", passage_prefix="passage: ")
    records, by_kind, by_user, by_tab, summary = review(studio, "(all)", "", "(all)", 100)
    assert len(records) == 2 and "2 judgments" in summary
    assert dict(zip(by_user["user"], by_user["records"], strict=True)) == {"anon:a": 1, "anon:b": 1}
    only_b = review(studio, "(all)", "anon:b", "(all)", 100)[0]
    assert list(only_b["kind"]) == ["not_relevant"]

    path = export_file(studio, "triplets", "jsonl", "apply")
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
    assert rows == [{"anchor": "query: Есть ли нефть?", "positive": "passage: Нефть есть.",
                     "negative": "passage: Борщ вкусный."}]
    with pytest.raises(ValueError, match="nothing to export"):
        export_file(studio, "labels", "csv", "apply")


def test_prefix_tables_are_rounded_and_counted_from_one():
    from ui.prefix_tab import readable

    frame = pd.DataFrame({"text_index": [0, 1], "neighbour_index": [1, 0], "cosine": [0.123456, 0.5]})
    shown = readable(frame)
    assert list(shown.columns) == ["#", "neighbour #", "cosine"]
    assert shown["#"].tolist() == [1, 2] and shown["cosine"].tolist() == [0.123, 0.5]
