"""The app's actions, tested without gradio."""

from __future__ import annotations

import numpy as np
import pytest

from core.encoding.encoder import Encoder
from core.limits import Limits
from core.studio import Studio

QUERIES = ["Есть ли нефть в Удмуртии?", "Когда спустили эсминец?"]
PASSAGES = ["Добыча нефти в Удмуртии началась в 1967 году.", "Эсминец спущен на воду в 1952 году.",
            "Борщ варят со свёклой."]


@pytest.fixture(scope="module")
def studio(tiny_model_dir) -> Studio:
    return Studio(Encoder(str(tiny_model_dir), device="cpu", dtype="float32"), limits=Limits(max_queries=5))


def test_similarity_scores_rankings_and_tokens(studio):
    result = studio.similarity(QUERIES, PASSAGES)
    assert result.scores.shape == (2, 3)
    vectors_q = studio.encoder.encode(QUERIES, "query")
    vectors_p = studio.encoder.encode(PASSAGES, "passage")
    np.testing.assert_allclose(result.scores, vectors_q @ vectors_p.T * 100, atol=1e-4)
    assert len(result.ranking) == 6
    first = result.ranking[result.ranking["query #"] == 1]
    assert list(first["rank"]) == [1, 2, 3] and first["score"].is_monotonic_decreasing
    assert first["query"].iloc[0].startswith("query: ") and first["passage"].iloc[0].startswith("passage: ")
    assert list(result.tokens["role"]) == ["query"] * 2 + ["passage"] * 3
    assert (result.query_prefix, result.passage_prefix) == ("query: ", "passage: ")


def test_similarity_with_no_prefix_and_truncation_warning(studio):
    result = studio.similarity(["слово " * 700], PASSAGES[:1], "none", "none")
    assert result.ranking["query"].iloc[0].startswith("слово")
    assert result.warnings and "cut" in result.warnings[0]
    assert result.tokens["truncated"].iloc[0] == "cut at 512"


def test_similarity_limits_are_checked_on_the_server(studio):
    with pytest.raises(ValueError, match="no queries"):
        studio.similarity([], PASSAGES)
    with pytest.raises(ValueError, match="6 queries is more than the limit of 5"):
        studio.similarity(["q"] * 6, PASSAGES)
    with pytest.raises(ValueError, match="more than the limit of 20,000"):
        studio.similarity(["q"], ["x" * 20_001])


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_cluster_edge_sizes_give_a_map(studio, n):
    texts = [f"текст номер {i} про {'нефть' if i % 2 else 'борщ'}" for i in range(n)]
    result = studio.cluster(texts, method="k-means", seed=1)
    assert result.coords.shape == (n, 2) and np.isfinite(result.coords).all()
    assert len(result.clusters) == n and result.table["size"].sum() == n


def test_a_clustering_maps_more_texts_than_one_encoder_call_takes(tiny_model_dir):
    """Clustering's cap (Limits.max_cluster_texts) is above the encoder's per-call cap: the texts are
    encoded in slices, in order, with progress over all of them."""
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", max_texts=4)
    studio = Studio(encoder, limits=Limits(max_cluster_texts=10))
    texts = [f"текст {i} про {'нефть' if i % 2 else 'борщ'}" for i in range(10)]
    seen = []
    result = studio.cluster(texts, k=2, seed=1, progress=lambda fraction, what: seen.append(what))
    expected = np.concatenate([encoder.encode(texts[i:i + 4], "query") for i in (0, 4, 8)])
    np.testing.assert_allclose(result.embeddings, expected, atol=1e-5)
    assert "encoding: 10 of 10 texts" in seen and "encoding: 4 of 10 texts" in seen
    with pytest.raises(ValueError, match="11 texts is more than the limit of 10"):
        studio.cluster(texts + ["ещё"], k=2)


def test_cluster_with_labels_reports_metrics_and_exports(studio):
    texts = [f"нефть и газ в регионе {i}" for i in range(10)] + [f"рецепт борща номер {i}" for i in range(10)]
    labels = ["нефть"] * 10 + ["кухня"] * 10
    seen = []
    result = studio.cluster(texts, labels, method="k-means", k=2, progress=lambda f, d: seen.append((f, d)))
    assert set(result.metrics) == {"ari", "nmi"}
    assert seen and seen[0][1].startswith("encoding") and all(0 <= f <= 1 for f, _ in seen)
    points = result.points(with_embeddings=True)
    assert list(points.columns) == ["text", "label", "cluster", "x", "y", "embedding"]
    assert len(points["embedding"].iloc[0]) == studio.encoder.dim


def test_cluster_rejects_empty_and_mismatched_input(studio):
    with pytest.raises(ValueError, match="no texts"):
        studio.cluster([])
    with pytest.raises(ValueError, match="2 labels for 3 texts"):
        studio.cluster(["a", "b", "c"], ["x", "y"])
    with pytest.raises(ValueError, match="clusterer must be one of"):
        studio.cluster(["a", "b", "c"], method="spectral")


def test_hostile_markup_is_escaped_in_figures():
    import pandas as pd

    from ui.plots import cluster_map, similarity_heatmap

    hostile = "<img src=x onerror=alert(1)>"
    fig = similarity_heatmap(np.array([[50.0]]), [hostile], ["ok"])
    payload = fig.to_json()
    assert "<img" not in payload and "&lt;img src=x onerror=alert(1)&gt;" in payload
    points = pd.DataFrame({"text": [hostile, "ok"], "cluster": [0, 1], "x": [0.0, 1.0], "y": [0.0, 1.0],
                           "label": ["<b>x</b>", "y"]})
    traces = cluster_map(points, "label").to_dict()["data"]
    hover = " ".join(h for trace in traces for h in trace["hovertext"])
    names = [trace["name"] for trace in traces]
    assert "<img" not in hover and "&lt;img src=x onerror=alert(1)&gt;" in hover
    assert "<b>x</b>" not in hover and "&lt;b&gt;x&lt;/b&gt;" in hover and "&lt;b&gt;x&lt;/b&gt;" in names


def test_every_figure_is_drawn_on_the_white_template():
    """The template is plotly's default now (set once, not validated per figure): each kind of figure
    still carries it whole."""
    import pandas as pd
    import plotly.io as pio

    from ui import plots

    white = pio.templates["plotly_white"].to_plotly_json()
    points = pd.DataFrame({"text": ["a", "b"], "cluster": [0, 1], "x": [0.0, 1.0], "y": [0.0, 1.0]})
    figures = [
        plots.empty_figure("nothing yet"),
        plots.similarity_heatmap(np.array([[50.0, 20.0]]), ["q"], ["p1", "p2"]),
        plots.similarity_per_query(0, "q", np.array([1, 0]), np.array([60.0, 10.0]), ["p1", "p2"], 1),
        plots.cluster_map(points),
        plots.matrices_figure({"query": np.eye(2), "none": np.eye(2)}, ["a", "b"]),
    ]
    for figure in figures:
        assert figure.layout.template.to_plotly_json() == white


def test_passages_encoded_ahead_make_compare_encode_only_the_query(studio):
    encoder = studio.encoder
    encoder.clear_cache()
    passages = ["Нефть добывают в Удмуртии.", "Борщ варят из свёклы."]
    assert studio.encode_ahead(passages) == 2
    seen = []
    original = encoder.backend.embed
    encoder.backend.embed = lambda ids, texts: seen.extend(texts) or original(ids, texts)
    try:
        result = studio.similarity(["Где добывают нефть?"], passages)
    finally:
        encoder.backend.embed = original
    assert seen == ["query: Где добывают нефть?"] and result.scores.shape == (1, 2)
    # Checked as Compare checks them; nothing reaches the model for refused input.
    with pytest.raises(ValueError, match="no passages"):
        studio.encode_ahead([])
    with pytest.raises(ValueError, match="more than the limit"):
        studio.encode_ahead(["x"] * (studio.limits.max_passages + 1))


def test_cluster_takes_k_from_the_label_column_and_says_so(studio):
    """Issue 26, point 5: with a label column and no k, k is its number of classes (not silhouette's)."""
    texts = [f"текст {i} о теме {i % 3}" for i in range(12)]
    result = studio.cluster(texts, [f"тема {i % 3}" for i in range(12)], seed=1)
    assert (result.chosen_k, result.k_choice.reason, result.k_choice.classes) == (3, "labels", 3)
    assert result.k_candidates == []  # no search ran
    searched = studio.cluster(texts, seed=1)
    assert searched.k_choice.reason == "silhouette" and 1 <= len(searched.k_candidates) <= 3
    assert searched.k_candidates[0][0] == searched.chosen_k
