"""The UI's plain functions (uploads into text boxes, review and export), without a server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.encoding.encoder import Encoder
from core.judgments import Judgment, JudgmentStore
from core.studio import Studio


@pytest.fixture
def studio(tiny_model_dir, tmp_path) -> Studio:
    store = JudgmentStore(tmp_path / "feedback.sqlite")
    return Studio(Encoder(str(tiny_model_dir), device="cpu", dtype="float32"), store=store)


def test_uploaded_table_fills_the_query_and_passage_boxes(studio, tmp_path):
    from ui.similarity_tab import table_to_boxes

    path = tmp_path / "pairs.csv"
    pd.DataFrame({"Query": ["Есть ли нефть?", "Есть ли нефть?", None],
                  "passage": ["Нефть есть.\nИ газ.", "Борщ", "Погода"]}).to_csv(path, index=False)
    queries, passages, warnings, *_ = table_to_boxes(studio, str(path))
    assert queries == "Есть ли нефть?"  # duplicates and empty cells dropped
    assert passages == "Нефть есть. И газ.\nБорщ\nПогода"  # a cell is one passage, even with a newline


def test_uploaded_table_without_the_columns_is_refused(studio, tmp_path):
    from ui.similarity_tab import NO_COLUMN, table_to_boxes

    path = tmp_path / "other.csv"
    pd.DataFrame({"text": ["a"], "topic": ["b"]}).to_csv(path, index=False)
    # Neither column picked: nothing to fill, said clearly (tests/test_similarity_sizes.py picks columns).
    with pytest.raises(ValueError, match="pick a query column or a passage column"):
        table_to_boxes(studio, str(path), NO_COLUMN, NO_COLUMN)


def test_review_is_private_for_users_and_complete_for_admins(studio):
    from core.identity import Identity
    from ui.review_tab import export_file, review

    store = studio.store
    store.add(Judgment("relevant", "Есть ли нефть?", positive="Нефть есть.", user="anon:a", tab="similarity",
              query_prefix="query: ", passage_prefix="passage: "))
    store.add(Judgment("not_relevant", "Есть ли нефть?", positive="Борщ вкусный.", user="anon:b", tab="similarity",
              query_prefix="query: ", passage_prefix="passage: "))
    admin, a, c = Identity("hf:root", is_admin=True), Identity("anon:a"), Identity("anon:c")

    records, by_kind, by_user, by_tab, summary = review(studio, admin, "(all)", "", "(all)", 100)
    assert len(records) == 2 and "2 judgments" in summary and str(store.path) in summary
    assert by_user["visible"] is True
    assert dict(zip(by_user["value"]["user"], by_user["value"]["records"], strict=True)) == {"anon:a": 1, "anon:b": 1}
    only_b = review(studio, admin, "(all)", "anon:b", "(all)", 100)[0]
    assert list(only_b["kind"]) == ["not relevant"]  # the kind in words

    # A user sees their own records and counts that name nobody, whatever user they ask for.
    records, by_kind, by_user, by_tab, summary = review(studio, a, "(all)", "anon:b", "(all)", 100)
    assert list(records["user"]) == ["anon:a"] and by_user["visible"] is False and by_user["value"] is None
    assert "anon:b" not in summary and str(store.path) not in summary and "1 are yours" in summary
    # Issue 26: the counts by kind are of the judgments in the list, the user's own, not everyone's.
    assert dict(zip(by_kind["kind"], by_kind["records"], strict=True)) == {"relevant": 1}
    assert review(studio, c, "(all)", "", "(all)", 100)[0].empty

    path = export_file(studio, admin, "triplets", "jsonl", "apply")
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
    assert rows == [{"anchor": "query: Есть ли нефть?", "positive": "passage: Нефть есть.",
                     "negative": "passage: Борщ вкусный."}]
    # A user's export holds their own judgments only: a's alone make no triplet, but a pair.
    with pytest.raises(ValueError, match="nothing to export"):
        export_file(studio, a, "triplets", "jsonl", "apply")
    mine = export_file(studio, a, "pairs", "jsonl", "apply")
    assert [json.loads(line) for line in Path(mine).read_text(encoding="utf-8").splitlines()] == [
        {"anchor": "query: Есть ли нефть?", "positive": "passage: Нефть есть."}]
    with pytest.raises(ValueError, match="nothing to export"):
        export_file(studio, admin, "labels", "csv", "apply")


def test_prefix_tables_are_rounded_and_counted_from_one():
    from ui.prefix_tab import readable

    frame = pd.DataFrame({"text_index": [0, 1], "neighbour_index": [1, 0], "cosine": [0.123456, 0.5]})
    shown = readable(frame)
    assert list(shown.columns) == ["#", "neighbour #", "cosine"]
    assert shown["#"].tolist() == [1, 2] and shown["cosine"].tolist() == [0.123, 0.5]


def test_prefix_tables_read_as_words_in_both_languages():
    from core.exploration import prefix_compare as pc
    from ui.i18n import localized
    from ui.prefix_tab import cosines_table, neighbours_table, overlap_table

    rng = np.random.default_rng(0)
    texts = ["один", "два", "три", "четыре"]
    variants = {name: rng.normal(size=(4, 8)) for name in ("query", "passage", "none")}
    variants = {name: v / np.linalg.norm(v, axis=1, keepdims=True) for name, v in variants.items()}
    tables = [cosines_table(pc.variant_cosines(variants, texts=texts).reset_index()),
              neighbours_table(pc.neighbour_shifts(variants, texts, k=2, reference="none")),
              overlap_table(pc.overlap_summary(variants, 2, reference="none"))]
    for table in tables:
        assert not [c for c in table.columns if "_" in c], table.columns  # no snake_case names
        russian = localized(table, "ru")
        untranslated = [c for c in russian.columns if c not in ("k", "#") and c.isascii()]
        assert not untranslated, untranslated
    assert tables[1]["#"].min() == 1 and tables[1]["neighbour #"].min() == 1


def test_fixed_decimals_formats_float_columns_for_display_only():
    from ui.common import FIXED_DECIMALS_MAX_ROWS, fixed_decimals

    frame = pd.DataFrame({"#": [1, 2], "score": [46.4, 38.0], "text": ["a", "b"]})
    styled = fixed_decimals(frame, 2)
    assert styled.data is frame  # the numbers themselves are what is sent as data
    rendered = styled._translate(False, False)["body"]
    assert [[cell["display_value"] for cell in row[1:]] for row in rendered] == [["1", "46.40", "a"], ["2", "38.00", "b"]]
    assert fixed_decimals(None, 2) is None and fixed_decimals(frame.iloc[:0], 2).empty
    big = pd.DataFrame({"score": np.zeros(FIXED_DECIMALS_MAX_ROWS + 1)})
    assert fixed_decimals(big, 2) is big  # past the limit, plain numbers (the Styler costs ~25 ms a 1,000 rows)


@pytest.fixture(scope="module")
def second_model_dir(tmp_path_factory):
    from tests.model_factory import build_deberta

    return build_deberta(tmp_path_factory.mktemp("other-model") / "other-user", sentence_transformers_layout=True,
                         seed=1)


@pytest.fixture
def two_models(tiny_model_dir, second_model_dir, tmp_path) -> Studio:
    first = Encoder(str(tiny_model_dir), device="cpu", dtype="float32")
    second = Encoder(str(second_model_dir), device="cpu", dtype="float32")
    return Studio(first, others=[second], store=JudgmentStore(tmp_path / "feedback.sqlite"))


def test_several_models_score_side_by_side_and_judgments_record_the_model(two_models, second_model_dir):
    from core.identity import Identity
    from ui import common
    from ui.similarity_tab import run_side_by_side, run_similarity

    studio = two_models
    queries, passages = "Есть ли нефть?\nКак варить борщ?", "Нефть есть.\nБорщ варят со свёклой.\nДождь."
    default = run_similarity(studio, queries, passages)
    other = run_similarity(studio, queries, passages, model=str(second_model_dir))
    assert default[4].model_id == studio.encoder.model_id and other[4].model_id == str(second_model_dir)
    assert "other-user" in other[3] and str(second_model_dir.parent) not in other[3]  # named, no server path
    # A model may be named by its folder's name too; an unknown one is a clear error.
    assert run_similarity(studio, queries, passages, model="other-user")[4].model_id == str(second_model_dir)
    with pytest.raises(ValueError, match="model 'nope' is not loaded; loaded: tiny-user0, other-user"):
        run_similarity(studio, queries, passages, model="nope")

    figure, summary, changes = run_side_by_side(studio, queries, passages, "query", "passage", "",
                                                str(second_model_dir))
    table = changes["value"]
    assert changes["visible"] is True and len(table) == 6
    # the numbers first, so they stay on screen (issue 26)
    assert list(table.columns) == ["tiny-user0", "other-user", "change", "query", "passage"]
    np.testing.assert_allclose(table["change"], table["other-user"] - table["tiny-user0"], atol=0.011)
    assert list(table["change"].abs()) == sorted(table["change"].abs(), reverse=True)  # largest change first
    heatmaps = [t for t in figure["value"].data if t.type == "heatmap"]
    assert figure["visible"] is True and len(heatmaps) == 3
    first_scores = studio.similarity(["Есть ли нефть?", "Как варить борщ?"],
                                     ["Нефть есть.", "Борщ варят со свёклой.", "Дождь."]).scores
    # the change heatmap has the table's sign: second model minus first (issue 26)
    np.testing.assert_allclose(np.asarray(heatmaps[2].z), np.round(np.asarray(heatmaps[1].z) - first_scores, 2),
                               atol=0.02)
    assert "tiny-user0" in summary and "other-user" in summary and "top passage agrees" in summary
    assert run_side_by_side(studio, queries, passages, "query", "passage", "", "")[0]["visible"] is False
    with pytest.raises(ValueError, match="other than the first"):
        run_side_by_side(studio, queries, passages, "query", "passage", "", studio.encoder.model_id)

    # A judgment of a row records the model whose score was shown in that row.
    chosen = other[4].pair(0)
    record = studio.store.get(common.flag(studio, Identity("anon:x"), chosen.replace(kind="not_relevant")))
    assert record["model_id"] == str(second_model_dir) and record["kind"] == "not_relevant"
    assert record["query_prefix"] == "query: " and record["anchor"] in queries
    with pytest.raises(ValueError, match="no row 99"):
        other[4].pair(98)


def test_the_header_lists_every_loaded_model(two_models):
    from ui.common import model_header

    header = model_header(two_models)
    assert "Models loaded: `tiny-user0` (32-d) · `other-user` (32-d); the first is the default." in header


def test_review_shows_times_to_the_second_and_tabless_judgments_under_none(studio):
    from core.identity import Identity
    from ui.review_tab import readable_times, review

    studio.store.add(Judgment("similar", "кошка", positive="кот", user="anon:t", tab=None))
    records, by_kind, _by_user, by_tab, _summary = review(studio, Identity("anon:t"), "(all)", "", "(all)", 10)
    assert "created_at" not in records and len(records["created (UTC)"][0]) == len("2026-11-28 00:05:39")
    assert list(by_tab["tab"]) == ["(none)"]
    odd = readable_times(pd.DataFrame({"created_at": ["2026-11-28T00:05:39.891+00:00", "not a time"]}))
    assert list(odd["created (UTC)"]) == ["2026-11-28 00:05:39", "not a time"]


def test_review_counts_name_only_the_apps_own_tabs_for_a_user(studio):
    """A tab is free text through the API: someone else's made-up names reach nobody but an admin."""
    from core.identity import Identity
    from ui.review_tab import review

    for tab in ("<b>secret-project</b>", "alice-private-notes", "similarity"):
        studio.store.add(Judgment("similar", f"кошка {tab}", positive="кот", user="anon:m", tab=tab))
    *_, by_tab, _ = review(studio, Identity("anon:n"), "(all)", "", "(all)", 10)
    assert by_tab.empty  # someone else's judgments are not counted in anyone's review (issue 26)
    *_, by_tab, _ = review(studio, Identity("anon:m"), "(all)", "", "(all)", 10)
    shown = dict(zip(by_tab["tab"], by_tab["records"], strict=True))
    assert shown == {"(other)": 2, "Similarity": 1}  # even one's own made-up names only as "(other)"
    *_, by_tab, _ = review(studio, Identity("hf:root", is_admin=True), "(all)", "", "(all)", 10)
    assert {"<b>secret-project</b>", "alice-private-notes"} <= set(by_tab["tab"])


def test_review_names_kinds_in_the_page_language(studio):
    from gradio.context import LocalContext

    from core.identity import Identity
    from ui.review_tab import review

    class RussianRequest:
        session_hash = None
        headers = {"accept-language": "ru-RU"}

    studio.store.add(Judgment("dissimilar", "кошка", positive="поезд", user="anon:k", tab="clustering"))
    token = LocalContext.request.set(RussianRequest())
    try:
        records, by_kind, *_ = review(studio, Identity("anon:k"), "(all)", "", "(all)", 10)
    finally:
        LocalContext.request.reset(token)
    assert list(records["вид"]) == ["не похоже"] and list(by_kind["вид"]) == ["не похоже"]


def test_the_ranking_shows_the_callers_own_threshold_and_bars_that_separate(studio):
    """Issue 26: the threshold is the F1-best on the caller's own verdicts (nobody else's), scored by the model
    in use; the bars start just below the lowest score shown, not at 0."""
    from core.evaluation import best_f1_threshold, pair_scores
    from core.identity import Identity
    from core.judgments import Judgment
    from ui.similarity_tab import run_similarity

    passages = [f"Ответ номер {i} про погоду и дождь." for i in range(25)]  # > 20: the per-query bars
    for user, kind, passage in (("anon:alice", "relevant", passages[0]), ("anon:alice", "not_relevant", passages[1]),
                                ("anon:alice", "relevant", passages[2]), ("anon:bob", "not_relevant", passages[0])):
        studio.store.add(Judgment(kind, "Какая погода?", positive=passage, user=user))
    figure, _, _, status, view = run_similarity(studio, "Какая погода?", "\n".join(passages),
                                                identity=Identity("anon:alice"))
    own = pair_scores(studio.encoder, ["Какая погода?"] * 3, passages[:3])
    expected = best_f1_threshold(own, np.array([True, False, True])).threshold
    assert view.threshold == pytest.approx(expected, abs=1e-3)
    assert f"your threshold **{expected:.1f}** (F1-best on your 3 relevance judgments" in status
    shown = [float(v) for v in figure.data[0].x]
    low, high = figure.layout.xaxis.range
    assert min(shown) - 0.5 * (max(shown) - min(shown)) < low < min(shown) and high > max(shown)
    assert [s.x0 for s in figure.layout.shapes] == [pytest.approx(expected)]  # the dashed line
    # At heatmap size the cells at or above the threshold are bold, and the title says so.
    heatmap = run_similarity(studio, "Какая погода?", "\n".join(passages[:8]), identity=Identity("anon:alice"))[0]
    bold = ["<b>" in cell for cell in heatmap.data[0].text[0]]
    scores = pair_scores(studio.encoder, ["Какая погода?"] * 8, passages[:8])
    assert bold == [bool(round(s, 2) >= round(expected, 2)) for s in scores] and any(bold)
    assert f"at or above your threshold {expected:.1f}" in heatmap.layout.title.text
    # Bob has one not-relevant verdict: no threshold, and a hint how to get one; anonymous API callers none.
    _, _, _, status, view = run_similarity(studio, "Какая погода?", "\n".join(passages), identity=Identity("anon:bob"))
    assert view.threshold is None and "all “not relevant”" in status
    _, _, _, status, view = run_similarity(studio, "Какая погода?", "\n".join(passages))
    assert view.threshold is None and "threshold" not in status
def test_prefix_variants_read_in_russian_on_a_russian_page(monkeypatch):
    """Issue 26, point 4: "none" and "query - none" are core's names; a Russian page says them in Russian
    (tables, matrix titles and hovers, the map's legend), and the API (English) keeps core's names."""
    import json

    import ui.i18n
    from core.exploration import prefix_compare as pc
    from ui.plots import matrices_figure, prefix_map
    from ui.prefix_tab import neighbours_table, overlap_table

    rng = np.random.default_rng(0)
    texts = ["один", "два", "три", "четыре"]
    variants = {name: rng.normal(size=(4, 8)) for name in ("query", "passage", "none")}
    variants = {name: v / np.linalg.norm(v, axis=1, keepdims=True) for name, v in variants.items()}
    neighbours = pc.neighbour_shifts(variants, texts, k=2, reference="none")
    overlap = pc.overlap_summary(variants, 2, reference="none")
    assert set(neighbours_table(neighbours)["variant"]) == {"query", "passage", "none"}  # English: the API's
    matrices = pc.similarity_matrices(variants)
    matrices = {**matrices, **pc.similarity_differences(matrices, reference="none")}
    points = pd.DataFrame({"text_index": list(range(4)) * 3, "variant": ["none"] * 4 + ["query"] * 4 + ["passage"] * 4,
                           "x": rng.normal(size=12), "y": rng.normal(size=12)})

    monkeypatch.setattr(ui.i18n, "current", lambda: "ru")
    assert set(neighbours_table(neighbours)["variant"]) == {"query:", "passage:", "без префикса"}
    assert set(overlap_table(overlap)["pair"]) == {"query и без префикса", "passage и без префикса",
                                                   "query и passage"}
    figure = matrices_figure(matrices, texts)
    titles = [a.text for a in figure.layout.annotations]
    assert titles == ["query:", "passage:", "без префикса", "query: − без префикса", "passage: − без префикса"]
    shown = json.dumps([titles, [t.hovertemplate for t in figure.data],
                        [(t.name, t.hovertext) for t in prefix_map(points, texts).data]], ensure_ascii=False)
    assert not {"none", "text"} & set(re.findall(r"[a-z]+", shown)), shown
