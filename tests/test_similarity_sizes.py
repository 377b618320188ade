"""Similarity at real sizes: top k per query, the per-query view past 20 x 20, columns picked from an
upload, the caller's own verdicts marked in the ranking (and nobody else's), the score slider reset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.encoding.encoder import Encoder
from core.identity import Identity
from core.judgments import Judgment, JudgmentStore
from core.studio import Studio


@pytest.fixture(scope="module")
def studio(tiny_model_dir, tmp_path_factory) -> Studio:
    store = JudgmentStore(tmp_path_factory.mktemp("sizes") / "feedback.sqlite")
    return Studio(Encoder(str(tiny_model_dir), device="cpu", dtype="float32"), store=store)


QUERIES = [f"Вопрос номер {i} о нефти и газе?" for i in range(3)]
PASSAGES = [f"Ответ {j}: добыча нефти в регионе {j} началась давно." for j in range(8)]


def test_the_ranking_keeps_the_top_k_per_query_with_the_score_before_the_texts(studio):
    from ui.ranking import RANKING_COLUMNS
    from ui.similarity_tab import run_similarity

    figure, ranking, _, status, view = run_similarity(studio, "\n".join(QUERIES), "\n".join(PASSAGES))
    assert list(ranking.columns) == RANKING_COLUMNS
    # The score and the caller's verdict come before the long texts: they stay on screen however narrow.
    assert RANKING_COLUMNS.index("score") < RANKING_COLUMNS.index("passage") < RANKING_COLUMNS.index("query")
    assert len(ranking) == 3 * 5 and "top 5 per query" in status  # default k = 5
    for _, group in ranking.groupby("query #"):
        assert list(group["rank"]) == [1, 2, 3, 4, 5] and group["score"].is_monotonic_decreasing
    full = studio.similarity(QUERIES, PASSAGES).scores
    for _, row in ranking.iterrows():  # the shown scores are the model's, rank for rank
        assert row["score"] == pytest.approx(full[row["query #"] - 1, row["passage #"] - 1], abs=0.01)
    assert figure.data[0].type == "heatmap"  # 3 x 8: the heatmap still reads
    assert len(view.pairs) == 15 and view.pair(14).anchor == QUERIES[2]

    assert len(run_similarity(studio, "\n".join(QUERIES), "\n".join(PASSAGES), top_k=1)[1]) == 3
    every = run_similarity(studio, "\n".join(QUERIES), "\n".join(PASSAGES), top_k=0)
    assert len(every[1]) == 24 and "every passage" in every[3]
    assert len(run_similarity(studio, "\n".join(QUERIES), "\n".join(PASSAGES), top_k=99)[1]) == 24
    for bad in (-1, 2.5, "five"):
        with pytest.raises(ValueError, match="top k must be a whole number"):
            run_similarity(studio, "\n".join(QUERIES), "\n".join(PASSAGES), top_k=bad)


@pytest.mark.parametrize(("n_queries", "n_passages", "per_query"),
                         [(20, 20, False), (1, 21, True), (21, 1, True), (5, 60, True), (1, 1, False)])
def test_past_20_by_20_the_heatmap_gives_way_to_one_query_at_a_time(studio, n_queries, n_passages, per_query):
    from ui.similarity_tab import run_similarity

    queries = [f"запрос {i}" for i in range(n_queries)]
    passages = [f"текст номер {j} про погоду" for j in range(n_passages)]
    figure, ranking, _, status, view = run_similarity(studio, "\n".join(queries), "\n".join(passages))
    assert view.per_query is per_query
    assert len(ranking) == n_queries * min(5, n_passages)
    if not per_query:
        assert figure.data[0].type == "heatmap"
        return
    assert "one query at a time" in status
    bars = figure.data[0]
    assert bars.type == "bar" and len(bars.x) == min(20, n_passages)
    assert list(bars.x) == sorted(bars.x, reverse=True)  # best first
    last = view.figure(n_queries - 1)
    assert f"q{n_queries} of {n_queries}" in last.layout.title.text
    scores = studio.similarity(queries, passages).scores
    np.testing.assert_allclose(last.data[0].x, np.round(np.sort(scores[-1])[::-1][:20], 2), atol=0.011)
    with pytest.raises(ValueError, match="there is no query"):
        view.figure(n_queries)


def test_a_bigger_k_draws_more_bars_in_the_per_query_view(studio):
    from ui.similarity_tab import run_similarity

    passages = [f"текст {j}" for j in range(40)]
    figure, ranking, *_ = run_similarity(studio, "запрос", "\n".join(passages), top_k=30)
    assert len(figure.data[0].x) == 30 and len(ranking) == 30


def test_the_per_query_view_escapes_markup(studio):
    from ui.similarity_tab import run_similarity

    hostile = "<img src=x onerror=alert(1)>"
    figure = run_similarity(studio, hostile, "\n".join([hostile] + [f"текст {j}" for j in range(25)]))[0]
    shown = " ".join([figure.layout.title.text, *figure.data[0].y, *figure.data[0].hovertext])
    assert "<img" not in shown and "&lt;img" in shown


def write(tmp_path, name: str, frame: pd.DataFrame) -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_upload_columns_are_found_or_picked_as_in_clustering(studio, tmp_path):
    from ui.similarity_tab import AUTO, NO_COLUMN, table_to_boxes

    # Russian names, found by name.
    path = write(tmp_path, "faq.csv", pd.DataFrame({"вопрос": ["Есть ли нефть?", "Где газ?"],
                                                    "ответ": ["Нефть есть в Удмуртии.", "Газ есть на Ямале."]}))
    queries, passages, status, q_pick, p_pick = table_to_boxes(studio, path)
    assert queries == "Есть ли нефть?\nГде газ?" and passages == "Нефть есть в Удмуртии.\nГаз есть на Ямале."
    assert (q_pick["value"], p_pick["value"]) == ("вопрос", "ответ") and "`вопрос`" in status
    assert {v for _, v in q_pick["choices"]} == {AUTO, NO_COLUMN, "вопрос", "ответ"}

    # Any names: the shorter text column is the query, the longer the passage (as Evaluate finds them).
    path = write(tmp_path, "any.csv", pd.DataFrame({"id": [1, 2], "a": ["Короткий?", "Второй?"],
                                                    "b": ["Гораздо более длинный текст ответа.", "Ещё один длинный."]}))
    queries, passages, _, q_pick, p_pick = table_to_boxes(studio, path)
    assert (q_pick["value"], p_pick["value"]) == ("a", "b") and queries == "Короткий?\nВторой?"
    # Picked by hand: swapped, and one side left as it is.
    queries, passages, *_ = table_to_boxes(studio, path, "b", "a")
    assert queries.startswith("Гораздо") and passages == "Короткий?\nВторой?"
    queries, passages, _, q_pick, _ = table_to_boxes(studio, path, NO_COLUMN, "b")
    assert queries == {"__type__": "update"} and q_pick["value"] == NO_COLUMN  # the query box keeps its text

    # One text column: it holds the passages.
    path = write(tmp_path, "one.csv", pd.DataFrame({"text": ["первый", "второй"], "id": [1, 2]}))
    queries, passages, *_ = table_to_boxes(studio, path)
    assert queries == {"__type__": "update"} and passages == "первый\nвторой"

    with pytest.raises(ValueError, match="query column 'nope' is not in the table"):
        table_to_boxes(studio, path, "nope", AUTO)
    with pytest.raises(ValueError, match="must differ"):
        table_to_boxes(studio, path, "text", "text")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError):
        table_to_boxes(studio, str(bad))


def test_marks_show_the_callers_own_verdicts_only(studio):
    from ui.similarity_tab import judged_marks, run_similarity

    store = studio.store
    a, b = Identity("anon:marks-a"), Identity("anon:marks-b")
    _, _, _, _, view = run_similarity(studio, "\n".join(QUERIES), "\n".join(PASSAGES))
    first, second = view.pair(0), view.pair(1)
    store.add(first.replace(kind="relevant", user=a.user))
    store.add(first.replace(kind="score", score=4.5, user=a.user))
    store.add(second.replace(kind="not_relevant", user=b.user))
    marks_a = judged_marks(studio, a.user, view)
    assert marks_a[0] == "score 4.5 · relevant" and set(marks_a[1:]) == {""}
    marks_b = judged_marks(studio, b.user, view)
    assert marks_b[1] == "not relevant" and marks_b[0] == ""
    # Through run_similarity, as the handler calls it with the identity it established.
    ranking = run_similarity(studio, "\n".join(QUERIES), "\n".join(PASSAGES), identity=a)[1]
    assert ranking.loc[0, "yours"] == "score 4.5 · relevant" and ranking.loc[1, "yours"] == ""
    assert set(run_similarity(studio, "\n".join(QUERIES), "\n".join(PASSAGES))[1]["yours"]) == {""}
    # Other kinds (a label on the same text) mark nothing.
    store.add(Judgment("label", QUERIES[0], label="нефть", user="anon:marks-c"))
    assert set(judged_marks(studio, "anon:marks-c", view)) == {""}


def test_the_public_endpoint_needs_no_token_and_shows_nobodys_verdicts(api_client, live_app):
    """/similarity keeps its parameters (top_k optional) and never fills "yours": who judged what is shown
    only by the page's private step, which identifies the caller itself."""
    query, passages = "Где добывают нефть?", "Нефть добывают в Удмуртии.\nБорщ варят со свёклой."
    api_client.predict("relevant", query, "Нефть добывают в Удмуртии.", "", None, "", "", "query: ", "passage: ",
                       "api", "", api_name="/flag")
    for args in ((query, passages, "query", "passage"), (query, passages, "query", "passage", "", 1)):
        ranking = api_client.predict(*args, api_name="/similarity")[1]
        frame = pd.DataFrame(ranking["data"], columns=ranking["headers"])
        assert set(frame["yours"]) == {""} and len(frame) == (2 if len(args) == 4 else 1)
