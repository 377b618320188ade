"""The Evaluate tab's functions (retrieval, thresholds, search) and the /evaluate and /search endpoints.

On the tiny random DeBERTa the numbers mean nothing, so these tests check what the user gets: sizes,
columns found, duplicates counted once, clear refusals, judgments of search hits, no server paths.
Real quality figures are in tests/test_evaluation.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from core.encoding.encoder import Encoder
from core.evaluation import METRICS
from core.identity import Identity
from core.judgments import Judgment, JudgmentStore
from core.limits import Limits
from core.studio import Studio
from ui import common
from ui.common import uploaded_path
from ui.evaluate_tab import (
    differences_table,
    evaluation_summary,
    labelled_pairs_from_judgments,
    labelled_pairs_from_table,
    metrics_table,
    misses_table,
    run_evaluation,
    run_search,
    run_thresholds,
    score_histograms,
    thresholds_table,
)

FAQ = pd.DataFrame({
    "Вопрос": ["Есть ли нефть в Удмуртии?", "Как сварить борщ?", "Какая завтра погода?", "Как сварить борщ?", ""],
    "Ответ": ["Добыча нефти в Удмуртии началась в 1967 году.", "Рецепт борща: свёкла, капуста и сметана.",
              "Завтра в Москве дождь.", "Борщ варят два часа.", "Пустой вопрос."],
})
CORPUS = "Поезд опаздывает на час.\nДобыча нефти в Удмуртии началась в 1967 году.\n\nКошки спят днём.\n"


@pytest.fixture
def studio(tiny_model_dir, tmp_path) -> Studio:
    return Studio(Encoder(str(tiny_model_dir), device="cpu", dtype="float32"),
                  store=JudgmentStore(tmp_path / "feedback.sqlite"))


@pytest.fixture(scope="module")
def second_model_dir(tmp_path_factory) -> Path:
    from tests.model_factory import build_deberta

    return build_deberta(tmp_path_factory.mktemp("other-model") / "other-user", sentence_transformers_layout=True,
                         seed=1)


@pytest.fixture
def two_models(tiny_model_dir, second_model_dir, tmp_path) -> Studio:
    first = Encoder(str(tiny_model_dir), device="cpu", dtype="float32")
    second = Encoder(str(second_model_dir), device="cpu", dtype="float32")
    return Studio(first, others=[second], store=JudgmentStore(tmp_path / "feedback.sqlite"))


@pytest.fixture
def faq_files(tmp_path) -> tuple[str, str]:
    pairs, corpus = tmp_path / "faq.csv", tmp_path / "corpus.txt"
    FAQ.to_csv(pairs, index=False)
    corpus.write_text(CORPUS, encoding="utf-8")
    return str(pairs), str(corpus)


# -- retrieval ------------------------------------------------------------------------------------

def test_evaluation_counts_queries_and_candidates_and_finds_russian_columns(studio, faq_files):
    pairs, corpus = faq_files
    report = run_evaluation(studio, pairs, corpus)
    assert report.dataset.queries == ["Есть ли нефть в Удмуртии?", "Как сварить борщ?", "Какая завтра погода?"]
    assert report.dataset.relevant[1] == frozenset({1, 3})  # two right answers for the borscht question
    # 4 answers from the table + 2 new corpus lines; the corpus repeats one answer, counted once
    assert len(report.dataset.passages) == 6 and report.from_table == 4 and report.dataset.duplicate_passages == 1
    api = report.as_api()
    model = common.display_model(studio.encoder.model_id)
    assert api["queries"] == 3 and api["passages"] == 6 and list(api["models"]) == [model]
    assert set(api["models"][model]) == set(METRICS) and all(0 <= v <= 1 for v in api["models"][model].values())
    assert "/" not in model  # a local folder by its name only
    summary = evaluation_summary(report)
    assert "3 queries" in summary and "6 passages" in summary and "skipped 1 row" in summary
    assert "4 from the table, 2 more from the corpus" in summary and "load a second model" in summary
    table = metrics_table(report)
    assert list(table.columns) == ["model", *METRICS] and table["model"].tolist() == [model]
    assert str(Path(studio.encoder.model_id).parent) not in summary + table.to_string()


def test_misses_show_what_came_first_and_where_the_answer_was(studio, faq_files):
    report = run_evaluation(studio, *faq_files)
    result = report.results[studio.encoder.model_id]
    table = misses_table(report)
    assert len(table) == len(result.misses) == int(round((1 - result.summary()["recall@1"]) * 3))
    for row in table.itertuples(index=False):
        q = report.dataset.queries.index(row.query)
        assert report.dataset.passages.index(row[2]) not in report.dataset.relevant[q]  # "ranked first" is wrong
        assert report.dataset.passages.index(row[6]) in report.dataset.relevant[q]  # "relevant passage"


def test_two_models_side_by_side_with_a_bootstrap_interval(two_models, faq_files):
    report = run_evaluation(two_models, *faq_files)
    assert len(report.results) == 2
    differences = differences_table(report, n_resamples=200)
    assert len(differences) == len(METRICS)
    names = [common.display_model(m) for m in two_models.encoders]
    assert differences["comparison"].unique().tolist() == [f"{names[0]} − {names[1]}"]
    for row in differences.itertuples(index=False):
        low, high = (float(v) for v in row[3].strip("[]").split(","))
        assert low - 1e-9 <= row.difference <= high + 1e-9
    from ui.evaluate_tab import ticked_models

    with pytest.raises(ValueError, match="tick at least one model"):
        ticked_models(two_models, [])
    only_second = run_evaluation(two_models, *faq_files, models=ticked_models(two_models, [names[1]]))
    assert list(only_second.results) == [list(two_models.encoders)[1]] and differences_table(only_second).empty


def test_model_pickers_follow_the_models_loaded_now(studio, second_model_dir):
    from ui.evaluate_tab import model_pickers

    first = common.display_model(studio.encoder.model_id)
    ticks, search_model, offered = model_pickers(studio, [first], first, [first])
    assert ticks["choices"] == [first] and ticks["visible"] is False and offered == [first]
    studio.load_tuned(second_model_dir, for_everyone=True)  # as the Train tab's "use this version" does
    second = common.display_model(str(second_model_dir))
    ticks, search_model, offered = model_pickers(studio, [first], first, offered)
    assert ticks["choices"] == [first, second] and ticks["value"] == [first, second] and ticks["visible"] is True
    assert search_model["value"] == first and offered == [first, second]
    ticks, _, _ = model_pickers(studio, [second], first, offered)  # the user's untick of the first stays
    assert ticks["value"] == [second]


@pytest.mark.parametrize("frame, kwargs, message", [
    (pd.DataFrame({"text": ["a", "b"], "n": [1, 2]}), {}, "needs a query column beside the passage column 'text'"),
    (FAQ, {"query_column": "вопрос"}, "query column 'вопрос' not found; the columns are: Вопрос, Ответ"),
    (pd.DataFrame({"query": ["", " "], "passage": ["a", "b"]}), {}, "no \\(query, passage\\) pair"),
    (FAQ, {"models": ["nope"]}, "model 'nope' is not loaded"),
])
def test_bad_tables_and_names_get_clear_messages(studio, tmp_path, frame, kwargs, message):
    path = tmp_path / "pairs.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=message):
        run_evaluation(studio, str(path), **kwargs)


def test_evaluation_refuses_what_is_over_the_caps(tiny_model_dir, faq_files):
    small = Studio(Encoder(str(tiny_model_dir), device="cpu", dtype="float32"),
                   limits=Limits(max_passages=2, max_corpus=5))
    with pytest.raises(ValueError, match="3 queries is more than the limit of 2"):
        run_evaluation(small, faq_files[0])
    roomy = Studio(small.encoder, limits=Limits(max_corpus=5))
    with pytest.raises(ValueError, match="6 passages .* more than the limit of 5"):
        run_evaluation(roomy, *faq_files)
    with pytest.raises(ValueError, match="upload a table of query and passage columns first"):
        run_evaluation(roomy, None)


def test_uploaded_path_reads_only_from_gradios_upload_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    inside = tmp_path / "uploads" / "abc" / "faq.csv"
    inside.parent.mkdir(parents=True)
    inside.write_text("query,passage\na,b\n", encoding="utf-8")
    assert uploaded_path({"path": str(inside), "meta": {"_type": "gradio.FileData"}}) == str(inside)
    assert uploaded_path(str(inside)) == str(inside) and uploaded_path(None) is None
    outside = tmp_path / "secret.csv"
    outside.write_text("query,passage\na,b\n", encoding="utf-8")
    for value in (str(outside), {"path": str(outside)}, str(tmp_path / "uploads" / ".." / "secret.csv"), "/etc/passwd"):
        with pytest.raises(ValueError, match="paths on the server are not read") as caught:
            uploaded_path(value)
        assert str(tmp_path) not in str(caught.value)
    with pytest.raises(ValueError, match="must be an uploaded file"):
        uploaded_path({"url": "http://example.com/x.csv"})


# -- thresholds -----------------------------------------------------------------------------------

def test_threshold_from_an_uploaded_table(two_models, tmp_path):
    path = tmp_path / "labelled.csv"
    pd.DataFrame({"query": ["нефть", "нефть", "борщ", "борщ", ""],
                  "passage": ["Нефть добывают.", "Борщ вкусный.", "Рецепт борща.", "Погода.", "x"],
                  "label": ["1", "0", "да", "нет", "1"]}).to_csv(path, index=False)
    anchors, others, labels, warnings = labelled_pairs_from_table(two_models, str(path))
    assert labels.tolist() == [True, False, True, False] and "skipped 1 row" in warnings[0]
    report = run_thresholds(two_models, anchors, others, labels, warnings=warnings)
    table = thresholds_table(report)
    assert len(table) == 2 and table["relevant pairs"].tolist() == [2, 2]
    assert ((table["F1"] > 0) & (table["F1"] <= 1)).all()
    figure = score_histograms(report)
    histograms = [t for t in figure.data if t.type == "histogram"]
    assert len(histograms) == 4 and {t.name for t in histograms} == {"relevant", "not relevant"}
    assert sum(len(t.x) for t in histograms) == 2 * 4  # every pair in one class, per model
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"query": ["a", "b"], "passage": ["c", "d"], "label": [1, "maybe"]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="row 2: the 'label' value is 'maybe'"):
        labelled_pairs_from_table(two_models, str(bad))


def test_threshold_from_judgments_uses_only_the_callers_own(studio):
    store = studio.store
    for user, kind, passage in (("anon:a", "relevant", "Нефть добывают."), ("anon:a", "not_relevant", "Борщ."),
                                ("anon:b", "relevant", "Чужой ответ."), ("anon:a", "score", "Оценка.")):
        store.add(Judgment(kind, "нефть", positive=passage, user=user, score=3.0 if kind == "score" else None))
    anchors, others, labels = labelled_pairs_from_judgments(studio, "anon:a")
    assert sorted(zip(others, labels.tolist(), strict=True)) == [("Борщ.", False), ("Нефть добывают.", True)]
    with pytest.raises(ValueError, match="you have no relevant / not-relevant judgments"):
        labelled_pairs_from_judgments(studio, "anon:c")
    with pytest.raises(ValueError, match="no not-relevant pair"):
        run_thresholds(studio, *labelled_pairs_from_judgments(studio, "anon:b"))


# -- search ---------------------------------------------------------------------------------------

def test_search_returns_top_k_and_its_rows_are_judged_as_search(studio, faq_files):
    table, status, view = run_search(studio, "Где добывают нефть?", faq_files[1], k=2)
    assert list(table.columns) == ["rank", "score", "passage"] and table["rank"].tolist() == [1, 2]
    assert table["score"].is_monotonic_decreasing
    assert set(table["passage"]) <= set(CORPUS.split("\n")) and "top 2 of 3 passages" in status
    judgment = view.pair(1).replace(tab="search")
    assert (judgment.anchor, judgment.positive) == ("Где добывают нефть?", table["passage"][1])
    assert (judgment.query_prefix, judgment.passage_prefix) == ("query: ", "passage: ")
    assert judgment.model_id == studio.encoder.model_id
    record = common.flag(studio, Identity("anon:a"), judgment.replace(kind="relevant"))
    stored = studio.store.get(record)
    assert stored["tab"] == "search" and stored["positive"] == table["passage"][1]
    all_of_it, _, _ = run_search(studio, "нефть", faq_files[1], k=100)
    assert len(all_of_it) == 3
    for query, k, message in (("", 5, "no query"), ("нефть", 0, "k must be a whole number from 1 to 100"),
                              ("нефть", 2.5, "k must be")):
        with pytest.raises(ValueError, match=message):
            run_search(studio, query, faq_files[1], k=k)
    with pytest.raises(ValueError, match="upload a corpus first"):
        run_search(studio, "нефть", None)


def test_search_reads_a_table_corpus_by_its_passage_column(studio, tmp_path):
    path = tmp_path / "faq.xlsx"
    pd.DataFrame({"id": [1, 2], "answer": ["Нефть добывают с 1967 года.", "Борщ варят два часа."]}).to_excel(
        path, index=False)
    table, status, _ = run_search(studio, "нефть", str(path), k=5)
    assert sorted(table["passage"]) == ["Борщ варят два часа.", "Нефть добывают с 1967 года."]
    assert "top 2 of 2 passages (column `answer`)" in status


# -- the endpoints --------------------------------------------------------------------------------

def test_evaluate_endpoint_returns_the_metrics_per_model(api_client, live_app, faq_files):
    answer = api_client.predict(file=handle_file(faq_files[0]), corpus=handle_file(faq_files[1]),
                                api_name="/evaluate")
    model = common.display_model(live_app.studio.encoder.model_id)
    assert answer["queries"] == 3 and answer["passages"] == 6 and list(answer["models"]) == [model]
    assert set(answer["models"][model]) == set(METRICS)
    only_table = api_client.predict(file=handle_file(faq_files[0]), query_prefix="none", passage_prefix="none",
                                    models=[model], api_name="/evaluate")
    assert only_table["passages"] == 4


@pytest.mark.parametrize("kwargs, message", [
    ({}, "upload a table of query and passage columns first"),
    ({"file": "/etc/passwd"}, "paths on the server are not read"),
    ({"models": "nope"}, "model 'nope' is not loaded"),
])
def test_evaluate_endpoint_refuses_clearly(api_client, faq_files, kwargs, message):
    if "models" in kwargs:
        kwargs["file"] = handle_file(faq_files[0])
    with pytest.raises(AppError) as caught:
        api_client.predict(**kwargs, api_name="/evaluate")
    assert message in str(caught.value) and "Traceback" not in str(caught.value)


def test_evaluate_endpoint_refuses_a_binary_upload(api_client, tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(AppError, match="looks like binary data"):
        api_client.predict(file=handle_file(str(junk)), api_name="/evaluate")


def test_search_endpoint(api_client, faq_files):
    table, status, *_ = api_client.predict("Где добывают нефть?", handle_file(faq_files[1]), 2, api_name="/search")
    assert table["headers"] == ["rank", "score", "passage"] and len(table["data"]) == 2
    assert "top 2 of 3 passages" in status
    assert np.isfinite([row[1] for row in table["data"]]).all()


# -- what the figures mean (issue 26) -------------------------------------------------------------

def faq_report(second: bool = False):
    """16 FAQ queries, one corpus line the 16th query itself; a fake model ranks that copy first for it.
    With ``second``, a second fake model that misses four more queries."""
    from core.evaluation import ModelRetrieval, misses, relevant_ranks, retrieval_scores
    from core.evaluation.retrieval import RetrievalSet
    from ui.evaluate_tab import EvaluationReport

    pairs = [(f"Вопрос {i}?", f"Ответ {i}.") for i in range(16)]
    dataset = RetrievalSet.from_pairs(pairs, extra_passages=[" вопрос 15? "])
    results = {}
    for name, wrong in (("base", [15]), ("tuned", [11, 12, 13, 14, 15]))[: 2 if second else 1]:
        scores = np.eye(16, 17) * 90.0
        for q in wrong:
            scores[q, 16 if q == 15 else 0] = 95.0
        ranks = relevant_ranks(scores, dataset.relevant)
        results[name] = ModelRetrieval(name, retrieval_scores(ranks), misses(scores, dataset, ranks))
    return EvaluationReport(dataset, results, "query", "passage", 16)


def test_evaluate_says_what_its_figures_mean_and_what_to_do_next():
    report = faq_report()
    summary = evaluation_summary(report)
    assert ("**base**: the right passage is first for **94 %** of your queries (15 of 16, 95 % interval 72–99 %) "
            "and in the top 10 for 100 %; 1 missed, 1 of them an exact duplicate of the query.") in summary
    assert "**Next:** remove from the corpus the passages that repeat a query" in summary
    assert "with 16 queries the figure is uncertain by about ±14 points" in summary
    table = misses_table(report)
    assert table["note"].tolist() == ["same text as the query"] and table["query"].tolist() == ["Вопрос 15?"]
    # A threshold from your judgments says where it is used next.
    from ui.evaluate_tab import ThresholdReport, thresholds_summary

    mine = thresholds_summary(ThresholdReport({}, np.array([True, False]), "judgments"))
    assert "the Similarity tab marks this threshold" in mine
    assert "Similarity" not in thresholds_summary(ThresholdReport({}, np.array([True, False]), "upload"))


ENGLISH_OF_EVALUATE = ("no clear difference", "better", "the right passage", "Next", "same text as the query",
                       "missed", "queries", "of them", "interval")


def test_evaluate_on_a_russian_page_shows_no_english(monkeypatch):
    import ui.i18n

    monkeypatch.setattr(ui.i18n, "current", lambda: "ru")
    report = faq_report(second=True)
    shown = [evaluation_summary(report), ui.i18n.localized(misses_table(report)).to_string(),
             ui.i18n.localized(differences_table(report, n_resamples=200)).to_string()]  # as the tab shows them
    assert "нужный фрагмент стоит первым для **94 %** ваших запросов (15 из 16" in shown[0]
    assert "совпадает с запросом" in shown[1]
    verdicts = differences_table(report, n_resamples=200)["verdict"].tolist()
    assert set(verdicts) <= {"явной разницы нет", "лучше: base", "лучше: tuned"} and verdicts
    for text in shown:
        assert [w for w in ENGLISH_OF_EVALUATE if w in text] == [], text
