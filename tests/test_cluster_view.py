"""core.exploration.cluster_view without Gradio: corpus to texts, the view, judgments from a selection or a
cluster, border campaigns, the judging table's cap and the exports. Edge sizes: 0, 1, 2 and 3 texts."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from core.exploration import cluster_view
from core.exploration.cluster_view import (
    NO_LABEL,
    ClusterResult,
    ClusterView,
    border_choice,
    corpus_frame,
    corpus_to_cluster,
    export_points,
    judge_table,
    label_judgments,
    selection_frame,
    selection_judgments,
    store_batch,
)
from core.exploration.clustering import cluster_table
from core.judgments import JudgmentStore
from core.limits import Limits
from core.tempfiles import TempFiles


@dataclass
class Model:
    model_id: str = "fake/model"
    revision: str | None = "abc123"
    uses_prefixes: bool = True


def result_of(texts: list[str], clusters: list[int], labels: list[str] | None = None) -> ClusterResult:
    n = len(texts)
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(n, 8)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    labels_array = np.asarray(clusters, dtype=np.int64)
    return ClusterResult(texts=texts, labels=labels, clusters=labels_array, coords=rng.normal(size=(n, 2)),
                         table=cluster_table(texts, labels_array, embeddings=embeddings), metrics=None,
                         embeddings=embeddings, method="k-means", chosen_k=None)


TEXTS = ["кошка спит", "кот спит на диване", "курс рубля", "курс доллара", "погода завтра", "кошка ест"]
CLUSTERS = [0, 0, 1, 1, 2, 0]


def test_the_module_needs_no_gradio():
    code = "import sys, core.exploration.cluster_view; assert 'gradio' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- the corpus ------------------------------------------------------------------------------------
def test_pasted_lines_are_the_corpus_and_empty_paste_is_refused():
    frame, warnings = corpus_frame(Limits(), "paste", None, "первый\n\n  второй  \n")
    assert frame["text"].tolist() == ["первый", "второй"] and warnings == []
    with pytest.raises(ValueError, match="paste at least one text"):
        corpus_frame(Limits(), "paste", None, " \n ")
    with pytest.raises(ValueError, match="upload a CSV, TSV, TXT, XLSX or Parquet file first"):
        corpus_frame(Limits(), "upload", None, "")


def test_the_sample_is_labelled_by_topic():
    frame, _ = corpus_frame(Limits(), "sample", None, "")
    corpus = corpus_to_cluster(frame, "sample", None, NO_LABEL, dim=8)
    assert len(corpus.texts) == 360 and corpus.label_column == "topic" and len(set(corpus.labels)) == 9


@pytest.mark.parametrize("n", [1, 2, 3])
def test_a_small_table_gives_its_texts_and_notes_skipped_rows(n):
    frame = pd.DataFrame({"text": [f"текст {i}" for i in range(n)] + [""], "class": ["a"] * (n + 1)})
    corpus = corpus_to_cluster(frame, "upload", "text", "class", dim=8)
    assert corpus.texts == [f"текст {i}" for i in range(n)] and corpus.labels == ["a"] * n
    assert corpus.embeddings is None and corpus.warnings == ["skipped 1 empty row(s)"]


def test_an_uploaded_embedding_column_is_used_and_checked_against_the_model():
    vectors = np.eye(3, 4, dtype=np.float32)
    frame = pd.DataFrame({"text": ["a", "b", "c"], "embedding": list(vectors)})
    corpus = corpus_to_cluster(frame, "upload", "text", None, dim=4, warnings=["earlier note"])
    np.testing.assert_array_equal(corpus.embeddings, vectors)
    assert corpus.warnings == ["earlier note", "used the file's embeddings (column “embedding”, 4-d) instead of "
                                               "encoding the texts"]
    with pytest.raises(ValueError, match="768"):
        corpus_to_cluster(frame, "upload", "text", None, dim=768)


# -- the view --------------------------------------------------------------------------------------
def test_the_view_names_clusters_and_lists_members_in_corpus_order():
    view = ClusterView.of(result_of(TEXTS, CLUSTERS))
    assert set(view.names) == {0, 1, 2}
    assert view.members(0) == ["кошка спит", "кот спит на диване", "кошка ест"] and view.members(7) == []
    named = view.named_table({1: "деньги"})
    assert named.columns[1] == "name" and named.set_index("cluster").loc[1, "name"] == "деньги"
    assert view.borders is not None


def test_one_cluster_has_no_border_and_no_border_campaign():
    view = ClusterView.of(result_of(["a", "b", "c"], [0, 0, 0]))
    assert view.borders is None
    with pytest.raises(ValueError, match="fewer than two clusters"):
        border_choice(view, {}, 2)
    with pytest.raises(ValueError, match="cluster a corpus first"):
        border_choice(None, {}, 2)


def test_a_border_campaign_takes_whole_numbers_and_the_edited_names():
    view = ClusterView.of(result_of(TEXTS, CLUSTERS))
    for bad in (0, 1.5, None, ""):
        with pytest.raises(ValueError, match="whole number from 1"):
            border_choice(view, {}, bad)
    choice = border_choice(view, {"1": "деньги"}, 3)
    assert len(choice.table.items) == 3 and "2: деньги" in choice.labels  # numbered from 1 for people


def test_the_judging_table_is_capped_at_a_prefix_of_the_corpus(monkeypatch):
    view = ClusterView.of(result_of(TEXTS, CLUSTERS, labels=list("abcdef")))
    shown, capped = judge_table(view)
    assert not capped and shown.columns.tolist() == ["text", "cluster", "label"] and shown["text"].tolist() == TEXTS
    monkeypatch.setattr(cluster_view, "JUDGE_TABLE_ROWS", 4)
    shown, capped = judge_table(view)
    assert capped and shown["text"].tolist() == TEXTS[:4]
    monkeypatch.setattr(cluster_view, "JUDGE_TABLE_ROWS", len(TEXTS))  # exactly at the cap: not capped
    assert judge_table(view)[1] is False


# -- judgments -------------------------------------------------------------------------------------
def test_a_selection_becomes_one_judgment_per_text_with_the_models_facts():
    view = ClusterView.of(result_of(TEXTS, CLUSTERS))
    misplaced = selection_judgments(Model(), "anon:alice", view, [5, 2], "misplaced", note="не туда")
    assert [(j.kind, j.anchor, j.label, j.user, j.comment) for j in misplaced] == [
        ("misplaced", "кошка ест", "cluster 0", "anon:alice", "не туда"),
        ("misplaced", "курс рубля", "cluster 1", "anon:alice", "не туда")]
    assert {(j.query_prefix, j.model_id, j.model_revision, j.tab) for j in misplaced} == {
        ("query: ", "fake/model", "abc123", "clustering")}
    labels = selection_judgments(Model(uses_prefixes=False), "u", view, [0, 1], "label", label="  про   кошек ")
    assert [j.label for j in labels] == ["про кошек", "про кошек"] and labels[0].query_prefix == ""
    pair = selection_judgments(Model(), "u", view, [2, 3], "similar")
    assert [(j.kind, j.anchor, j.positive) for j in pair] == [("similar", "курс рубля", "курс доллара")]


@pytest.mark.parametrize("ids, kind, label, match", [
    ([], "misplaced", "", "select texts on the map first"),
    ([0, 1, 2], "dissimilar", "", "select exactly two texts to call them dissimilar; 3 are selected"),
    ([0], "label", "  ", "type a topic label"),
    ([0], "delete", "", "unknown judgment 'delete'"),
    ([99], "misplaced", "", "map has 6 points"),
])
def test_a_bad_selection_is_refused_with_what_to_do(ids, kind, label, match):
    view = ClusterView.of(result_of(TEXTS, CLUSTERS))
    with pytest.raises(ValueError, match=match):
        selection_judgments(Model(), "u", view, ids, kind, label)


def test_a_clusters_name_labels_each_distinct_member_but_not_noise():
    view = ClusterView.of(result_of(TEXTS + ["шум"], CLUSTERS + [-1]))
    batch = label_judgments(Model(), "anon:bob", view, 0, " кошки ")
    assert [(j.anchor, j.label, j.user) for j in batch] == [(t, "кошки", "anon:bob") for t in view.members(0)]
    for cluster, name, match in [(-1, "x", "noise is not a topic"), (5, "x", "there is no cluster 5"),
                                 (0, " ", "give cluster 0 a name first")]:
        with pytest.raises(ValueError, match=match):
            label_judgments(Model(), "u", view, cluster, name)


def test_a_stored_batch_returns_only_the_ids_it_created(tmp_path):
    store = JudgmentStore(tmp_path / "feedback.sqlite")
    view = ClusterView.of(result_of(TEXTS, CLUSTERS))
    first, result = store_batch(store, "anon:alice", label_judgments(Model(), "anon:alice", view, 1, "деньги"))
    assert len(first) == 2 and result.added == 2 and result.duplicates == 0
    again, result = store_batch(store, "anon:alice", label_judgments(Model(), "anon:alice", view, 1, "деньги"))
    assert again == [] and result.duplicates == 2
    # Someone else's identical batch is theirs: it is stored under their name, not counted as alice's.
    other, _ = store_batch(store, "anon:bob", label_judgments(Model(), "anon:alice", view, 1, "деньги"))
    assert len(other) == 2 and {r["user"] for r in store.rows(user="anon:bob")} == {"anon:bob"}
    store.close()


# -- tables and exports ----------------------------------------------------------------------------
def test_a_selection_table_lists_points_from_one():
    view = ClusterView.of(result_of(TEXTS, CLUSTERS, labels=list("abcdef")))
    frame = selection_frame(view, [3, 0])
    assert frame.to_dict("list") == {"point": [4, 1], "cluster": [1, 0], "label": ["d", "a"],
                                     "text": ["курс доллара", "кошка спит"]}
    assert selection_frame(view, []).empty


def test_exports_quote_formulas_and_keep_every_row(tmp_path):
    texts = ["=1+2", "обычный текст", "@SUM(A1)"]
    result = result_of(texts, [0, 1, 1])
    csv_path, parquet_path = export_points(result, with_embeddings=True, files=TempFiles(tmp_path, ttl_s=60))
    written = pd.read_csv(csv_path)
    assert written["text"].tolist() == ["'=1+2", "обычный текст", "'@SUM(A1)"]
    assert len(written["embedding"][0].split()) == 8
    parquet = pd.read_parquet(parquet_path)
    assert parquet["text"].tolist() == texts and len(parquet["embedding"][0]) == 8


def test_exports_carry_each_rows_cluster_name_and_keywords(tmp_path):
    """Issue 26, point 8: the export says what each cluster is, not only its number."""
    texts = ["нефть в Удмуртии", "нефть и газ", "рецепт борща", "борщ со сметаной"]
    result = result_of(texts, [0, 0, 1, 1])
    files = TempFiles(tmp_path, ttl_s=60)
    csv_path, parquet_path = export_points(result, with_embeddings=False, files=files)
    for written in (pd.read_csv(csv_path), pd.read_parquet(parquet_path)):
        assert list(written.columns) == ["text", "cluster", "cluster_name", "keywords", "x", "y"]
        keywords = dict(zip(result.table["cluster"], result.table["keywords"], strict=True))
        assert written["keywords"].tolist() == [keywords[c] for c in (0, 0, 1, 1)]
        assert all(written["cluster_name"]) and written["cluster_name"][0] != written["cluster_name"][2]
    # the names the page shows (edited, or in its language) go into the file
    csv_path, _ = export_points(result, with_embeddings=False, files=files, names={1: "кухня"})
    assert pd.read_csv(csv_path)["cluster_name"].tolist()[2:] == ["кухня", "кухня"]
