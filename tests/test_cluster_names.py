"""Cluster names: proposed from keywords, editable, saved as one label judgment per text (as the caller,
one batch that undo takes back), and a clusters x labels table where a label column exists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.exploration.clustering import cluster_label_table
from core.exploration.keywords import cluster_name
from core.identity import Identity
from core.judgments import Judgment, JudgmentStore


def test_names_come_from_the_keywords_and_stay_short():
    assert cluster_name(0, ["нефть", "добыча", "удмуртия", "газ"]) == "нефть · добыча · удмуртия"
    assert cluster_name(2, "погода, дождь, завтра") == "погода · дождь · завтра"  # a cluster table's cell
    assert cluster_name(-1, ["что", "угодно"]) == "noise"
    assert cluster_name(5, []) == cluster_name(5, "") == "cluster 5"
    assert cluster_name(1, ["а" * 50, "б" * 50]).endswith("…") and len(cluster_name(1, ["а" * 50, "б" * 50])) == 60
    assert cluster_name(1, ["one", "two"], n=1) == "one"


def test_clusters_by_labels_counts_and_agreement():
    clusters = [0, 0, 0, 1, 1, -1, 2]
    labels = ["спорт", "спорт", "погода", "погода", "погода", "спорт", None]
    table = cluster_label_table(clusters, labels, {0: "футбол", 1: "дождь"})
    assert list(table.columns) == ["cluster", "name", "погода", "спорт", "(no label)", "texts", "main label",
                                   "agreement"]
    assert list(table["cluster"]) == [0, 1, 2, -1]  # largest first, noise last
    first = table.iloc[0]
    assert (first["name"], first["спорт"], first["погода"], first["texts"]) == ("футбол", 2, 1, 3)
    assert first["main label"] == "спорт" and first["agreement"] == pytest.approx(0.667)
    assert table.iloc[1]["agreement"] == 1.0 and table.iloc[2]["main label"] == "(no label)"
    assert table.iloc[2]["name"] == ""
    # A tie is settled alphabetically; a label named like a fixed column keeps its own heading.
    tie = cluster_label_table([0, 0], ["texts", "b"])
    assert tie.loc[0, "main label"] == "b" and "label: texts" in tie.columns
    assert cluster_label_table([], []).empty
    with pytest.raises(ValueError, match="clusters has 2 items but labels has 1"):
        cluster_label_table([0, 1], ["a"])


@pytest.fixture
def studio(tiny_model_dir, tmp_path):
    from core.encoding.encoder import Encoder
    from core.studio import Studio

    return Studio(Encoder(str(tiny_model_dir), device="cpu", dtype="float32"),
                  store=JudgmentStore(tmp_path / "feedback.sqlite"))


@pytest.fixture
def view():
    from core.exploration.cluster_view import ClusterView

    texts = ["Нефть в Удмуртии.", "Добыча нефти.", "Нефть в Удмуртии.", "Дождь завтра.", "Солнце и жара.", "шум"]
    table = pd.DataFrame({"cluster": [0, 1, -1], "size": [3, 2, 1], "keywords": ["нефть, удмуртии", "дождь", ""],
                          "examples": ["", "", ""]})
    return ClusterView(texts, ["нефть", "нефть", "нефть", "погода", "погода", "погода"],
                       np.array([0, 0, 0, 1, 1, -1]), np.zeros((6, 2)), {0: "нефть · удмуртии", 1: "дождь"}, table)


def test_the_clusters_table_and_picker_carry_the_names(view):
    from core.exploration.cluster_view import agreement_table
    from ui.cluster_tab import cluster_choices

    assert list(view.named_table()["name"]) == ["нефть · удмуртии", "дождь", ""]
    assert list(view.named_table({1: "погода"})["name"]) == ["нефть · удмуртии", "погода", ""]
    assert cluster_choices(view, view.names) == [("0 · нефть · удмуртии (3 texts)", 0), ("1 · дождь (2 texts)", 1)]
    crosstab = agreement_table(view, {0: "нефть"})
    assert list(crosstab["cluster"]) == [0, 1, -1] and crosstab.loc[0, "agreement"] == 1.0
    no_labels = type(view)(view.texts, None, view.clusters, view.coords, view.names, view.table)
    assert agreement_table(no_labels, {}) is None


def test_a_name_is_saved_as_one_label_per_text_and_undone_as_a_batch(studio, view):
    from ui.cluster_tab import save_cluster_labels

    store = studio.store
    a, b = Identity("anon:a"), Identity("anon:b")
    # A labelled one text so before: the batch must not take that judgment back.
    earlier = store.add(Judgment("label", "Добыча нефти.", label="нефть", tab="clustering", user=a.user,
                                 query_prefix="query: ", passage_prefix="query: ", model_id=studio.encoder.model_id))
    ids, message = save_cluster_labels(studio, a, view, 0, "  нефть  ")
    rows = store.rows(user=a.user, kind="label")
    assert sorted(r["anchor"] for r in rows) == ["Добыча нефти.", "Нефть в Удмуртии."]  # one per distinct text
    assert {r["label"] for r in rows} == {"нефть"} and {r["tab"] for r in rows} == {"clustering"}
    assert len(ids) == 1 and earlier not in ids and "1 already had it from you" in message
    assert all(r["user"] == a.user and r["model_id"] == studio.encoder.model_id for r in rows)
    # B saving the same name gets B's own judgments; A's are untouched.
    b_ids, _ = save_cluster_labels(studio, b, view, 0, "нефть")
    assert len(b_ids) == 2 and store.count(user=a.user) == 2

    for cluster, name, error in ((-1, "шум", "noise is not a topic"), (0, "   ", "give cluster 0 a name"),
                                 (7, "x", "there is no cluster 7"), (None, "x", "pick a cluster"),
                                 ("zero", "x", "pick a cluster from the list")):
        with pytest.raises(ValueError, match=error):
            save_cluster_labels(studio, a, view, cluster, name)
    with pytest.raises(ValueError, match="cluster a corpus first"):
        save_cluster_labels(studio, a, None, 0, "x")
    with pytest.raises(ValueError, match="label is too long"):
        save_cluster_labels(studio, a, view, 1, "д" * 600)  # the store's label limit, said clearly
    assert store.count(user=a.user) == 2  # refused input stored nothing and lost nothing

    # Undo: only the batch's ids, and only as their owner.
    from core.judgments.store import NotOwnerError

    with pytest.raises(NotOwnerError):
        store.delete(ids[0], b.user)
    assert all(store.delete(i, a.user) for i in ids)
    assert [r["id"] for r in store.rows(user=a.user)] == [earlier] and store.count(user=b.user) == 2


def test_cluster_run_proposes_names_for_the_sample(studio):
    from ui.cluster_tab import run_cluster

    figure, table, summary, *_, view = run_cluster(studio, "sample", k=3, seed=1)
    assert list(table.columns[:2]) == ["cluster", "name"]
    assert all(name and name != "noise" for name in table["name"])
    legend = [trace.name for trace in figure.data]
    assert all(" · " in name for name in legend)  # the map's legend names each cluster
    assert set(view.names) == set(table["cluster"])


def _clustering(n_clusters: int = 3, per: int = 8):
    from core.studio import ClusterResult

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(n_clusters, 16))
    clusters = np.repeat(np.arange(n_clusters), per)
    vectors = centres[clusters] + 0.3 * rng.normal(size=(len(clusters), 16))
    texts = [f"тема {c} текст {i}" for c, i in zip(clusters, range(len(clusters)), strict=True)]
    table = pd.DataFrame({"cluster": list(range(n_clusters)), "size": [per] * n_clusters,
                          "keywords": [f"слово{c}" for c in range(n_clusters)], "examples": [""] * n_clusters})
    return ClusterResult(texts=texts, labels=None, clusters=clusters, coords=np.zeros((len(texts), 2)), table=table,
                         metrics=None, embeddings=vectors / np.linalg.norm(vectors, axis=1, keepdims=True),
                         method="HDBSCAN")


def test_a_campaign_from_the_last_clustering_labels_its_border_texts_with_the_edited_names(studio):
    """Issue 11 point 2: the model chooses from the last clustering, not a new one; the rule says so."""
    from core.exploration.cluster_view import ClusterView
    from ui.cluster_tab import make_border_campaign

    view = ClusterView.of(_clustering())
    assert view.borders is not None and len(view.borders.rows) == 24
    owner = Identity("anon:owner")
    made = make_border_campaign(studio, owner, view, {1: "деньги"}, 6, 2, "  границы  ")
    assert made.name == "границы" and made.n_items == 6 and made.overlap == 2 and made.judgment == "label"
    assert made.labels == ("1: слово0", "2: деньги", "3: слово2")
    assert made.rule.startswith("border: the 6 of 24 texts nearest the border between two of 3 HDBSCAN clusters")
    # The six handed out are the six nearest a border, in that order, to anyone who annotates.
    first = studio.campaigns.next_item(made.id, "anon:someone-else")
    assert first is not None and first.text1 == view.texts[int(view.borders.rows[0])]


def test_a_border_campaign_needs_a_clustering_with_two_clusters(studio):
    from core.exploration.cluster_view import ClusterView
    from ui.cluster_tab import make_border_campaign

    owner = Identity("anon:owner")
    with pytest.raises(ValueError, match="cluster a corpus first"):
        make_border_campaign(studio, owner, None, {}, 5, 2)
    one = _clustering(n_clusters=1)
    assert ClusterView.of(one).borders is None
    with pytest.raises(ValueError, match="fewer than two clusters"):
        make_border_campaign(studio, owner, ClusterView.of(one), {}, 5, 2)
    with pytest.raises(ValueError, match="whole number from 1, got 0"):
        make_border_campaign(studio, owner, ClusterView.of(_clustering()), {}, 0, 2)


def test_the_run_says_which_k_and_why_and_offers_silhouettes_next_best_in_russian(studio, tmp_path, monkeypatch):
    """Issue 26, points 4 and 5: k from the label column (and said so), silhouette's best k as one-click choices,
    the map's legend and hover in the page's language, and each exported row with its cluster's name."""
    import ui.i18n
    from ui.cluster_tab import candidate_choices, run_cluster

    monkeypatch.setattr(ui.i18n, "current", lambda: "ru")
    path = tmp_path / "corpus.csv"
    topics = ["нефть", "погода", "борщ"]
    pd.DataFrame({"text": [f"{topics[i % 3]} и ещё текст номер {i}" for i in range(12)],
                  "topic": [topics[i % 3] for i in range(12)]}).to_csv(path, index=False)
    figure, table, summary, csv_path, _, _, view = run_cluster(studio, "upload", path=str(path),
                                                               label_column="topic", seed=1)
    assert view.k_choice.reason == "labels" and len(table) == 3
    assert "k = 3: столько классов в столбце меток `topic`" in summary
    assert candidate_choices(view)["visible"] is False  # no silhouette search ran
    assert figure.layout.legend.title.text == "кластер" and "по меткам" in figure.layout.title.text
    hovers = " ".join(h for trace in figure.data for h in trace.hovertext)
    assert "<b>кластер</b>" in hovers and "<b>метка</b>" in hovers and "<b>cluster</b>" not in hovers
    exported = pd.read_csv(csv_path)
    assert exported["cluster_name"].tolist() == [view.names[c] for c in exported["cluster"]]

    texts = "\n".join(f"{topics[i % 3]} и ещё текст номер {i}" for i in range(12))
    _, _, summary, *_, view = run_cluster(studio, "paste", pasted=texts, seed=1)
    assert view.k_choice.reason == "silhouette" and f"k = {view.clusters.max() + 1} выбрано по силуэту" in summary
    offered = candidate_choices(view)
    assert offered["visible"] is True and [k for _, k in offered["choices"]] == [k for k, _ in view.k_candidates]
    assert offered["choices"][0][0].startswith(f"k = {view.k_candidates[0][0]} (силуэт 0.")
