"""Tab 1: several queries against several passages, a heatmap, rankings, and relevance judgments."""

from __future__ import annotations

import html

import gradio as gr
import numpy as np
import pandas as pd

from core.errors import UserError, word
from core.evaluation import ThresholdChoice, judged_pairs, judged_threshold
from core.evaluation.data import PASSAGE_NAMES, QUERY_NAMES, pair_columns
from core.identity import Identity
from core.inputs.corpus import load_table, text_columns
from core.inputs.text import split_lines
from core.judgments import Judgment
from core.studio import SimilarityResult, Studio
from ui import common
from ui.i18n import i18n, localized, t, translate_error
from ui.plots import (
    HEATMAP_MAX,
    empty_figure,
    similarity_heatmap,
    similarity_side_by_side,
)
from ui.ranking import RANKING_WIDTHS, RankedPairs

CARD_QUERIES = "Когда был спущен на воду первый миноносец «Спокойный»?\nЕсть ли нефть в Удмуртии?"
CARD_PASSAGES = (
    "Спокойный (эсминец) Зачислен в списки ВМФ СССР 19 августа 1952 года.\n"
    "Нефтепоисковые работы в Удмуртии были начаты сразу после Второй мировой войны в 1945 году и продолжаются "
    "по сей день. Добыча нефти началась в 1967 году."
)


DEFAULT_TOP_K = 5
DEFAULT_SCORE = 3.0
AUTO = ""  # a column picker's "find it by itself"
NO_COLUMN = "(none)"  # a column picker's "leave this box as it is"
# The caller's newest relevance judgments their threshold beside a ranking comes from. Pairs judged from a
# ranking are in the encoder's cache already; 40 pairs never encoded before added 1.8 s to the first 5 x 30
# comparison with multilingual-e5-small on 2 cores, and nothing (39 vs 44 ms) once cached, so 100 cost a
# first comparison at most ~4.5 s.
THRESHOLD_JUDGMENTS = 100
# The judgments a ranking row can carry, as the "yours" column names them.
MARKED_KINDS = ("relevant", "not_relevant", "score")


def verdict_text(kind: str, score: object = None, lang: str | None = None) -> str:
    """A verdict in words: relevant, not relevant, score 3."""
    if kind == "score":
        return t("verdict_score", lang, score=f"{float(score):g}")
    if kind in ("relevant", "not_relevant"):
        return t(f"verdict_{kind}", lang)
    return kind.replace("_", " ")


def top_k_value(value: object) -> int:
    """The ranking's k per query from a form or API value; 0 keeps every passage."""
    if value in (None, ""):
        return DEFAULT_TOP_K
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UserError("top_k_whole", value=value) from None
    if not number.is_integer() or number < 0:
        raise UserError("top_k_whole", value=value)
    return int(number)


def judged_marks(studio: Studio, user: str, view: RankedPairs) -> list[str]:
    """For each ranking row, the verdicts ``user`` (and nobody else) gave that query-passage pair, newest first.

    Matched on the two texts only: whether a passage answers a query does not depend on the prefixes or
    the model that ranked it, and a verdict given in Evaluate's search marks the same pair here.
    """
    if studio.store is None or not len(view.pairs):
        return [""] * len(view.pairs)
    verdicts: dict[tuple[str, str], list[str]] = {}
    for row in studio.store.rows(kind=MARKED_KINDS, user=user, newest_first=True):
        text = verdict_text(row["kind"], row["score"])
        seen = verdicts.setdefault((row["anchor"], row["positive"]), [])
        if text not in seen:
            seen.append(text)
    return [" · ".join(verdicts.get((view.queries[qi], view.passages[pi]), ())) for qi, pi in view.pairs.tolist()]


def caller(studio: Studio, request: gr.Request | None, profile: gr.OAuthProfile | None,
           token: str | None) -> Identity | None:
    """Who asks, when the server can tell (a login or a valid token); None for an anonymous API call.

    Scoring needs no identity, so a caller without one gets the ranking without marks, not an error.
    """
    if studio.store is None or studio.identities is None:
        return None
    try:
        return common.identify(studio, request, profile, token)
    except ValueError:
        return None


def own_threshold(studio: Studio, identity: Identity | None, model_id: str, query_prefix: str,
                  passage_prefix: str) -> tuple[ThresholdChoice | None, str]:
    """The caller's F1-best threshold on their own relevance judgments, scored by the model and prefixes
    in use (so it sits on the scale of the scores beside it), or None and why not in a few words.

    The app stores no threshold of its own, so the judgments are where a person's threshold lives. Only
    the caller's: ``identity`` is who the server knows them to be, never a name the client sent. Only the
    newest THRESHOLD_JUDGMENTS count, which bounds the encoding a comparison may add.
    """
    if identity is None or studio.store is None:
        return None, ""
    anchors, others, relevant = judged_pairs(studio.store, identity.user, THRESHOLD_JUDGMENTS)
    if not anchors:
        return None, ""
    if relevant.all() or not relevant.any():
        kind = t("verdict_relevant" if relevant.all() else "verdict_not_relevant")
        return None, t("sim_threshold_one_class", n=len(anchors), kind=kind)
    encoder = studio.model(model_id, identity.user, identity.is_admin)
    return judged_threshold(encoder, anchors, others, relevant, studio.limits, query_prefix=query_prefix,
                            passage_prefix=passage_prefix), ""


def run_similarity(studio: Studio, queries: str, passages: str, query_prefix: str = "query",
                   passage_prefix: str = "passage", model: str | None = None, top_k: object = DEFAULT_TOP_K,
                   identity: Identity | None = None, *, with_marks: bool = True):
    """Scores with a model ``identity`` may use; ``with_marks``: and the caller's own verdicts beside them."""
    k = top_k_value(top_k)
    user, is_admin = (identity.user, identity.is_admin) if identity is not None else (None, False)
    result = studio.similarity(split_lines(queries), split_lines(passages), query_prefix or "none",
                               passage_prefix or "none", model=model or None, user=user, is_admin=is_admin)
    choice, note = own_threshold(studio, identity, result.model_id, query_prefix or "none", passage_prefix or "none")
    threshold = choice.threshold if choice is not None else None
    view = RankedPairs.of(result, k, threshold)
    if view.per_query:
        figure = view.figure(0)
    else:
        figure = similarity_heatmap(result.scores, result.queries, result.passages, threshold)
    if choice is not None:
        note = t("sim_threshold", threshold=f"{choice.threshold:.1f}", n=choice.n_relevant + choice.n_not_relevant,
                 f1=f"{choice.f1:.2f}", above=int((np.round(result.scores, 2) >= round(choice.threshold, 2)).sum()),
                 pairs=result.scores.size)
    notes = [f"{t('warning')} {html.escape(translate_error(w))}" for w in result.warnings]
    shown = t("sim_shown_top", k=k) if k and k < len(result.passages) else t("sim_shown_all")
    status = " · ".join(notes) or t("sim_status", queries=len(result.queries), passages=len(result.passages),
                                    qp=result.query_prefix or "∅", pp=result.passage_prefix or "∅")
    status += f" · {shown}"
    if view.per_query:
        status += " · " + t("sim_per_query", n=HEATMAP_MAX)
    if len(studio.models_for(user, is_admin)) > 1:
        status += " · " + t("sim_model", model=html.escape(common.display_model(result.model_id)))
    if note:
        status += " · " + note
    marks = judged_marks(studio, identity.user, view) if identity is not None and with_marks else None
    return figure, view.shown(marks), localized(result.tokens), status, view


def run_side_by_side(studio: Studio, queries: str, passages: str, query_prefix: str, passage_prefix: str,
                     model: str | None, other: str | None, identity: Identity | None = None):
    """The same queries and passages scored by a second model: both heatmaps, and a table of each pair's
    two scores and the change, largest change first (what a tuned model learnt from the judgments).
    Both models must be ones ``identity`` may use (a tuned model: its owner's and admins', or everyone's)."""
    if not other:
        return gr.update(visible=False), "", gr.update(value=None, visible=False)
    user, is_admin = (identity.user, identity.is_admin) if identity is not None else (None, False)
    first = studio.similarity(split_lines(queries), split_lines(passages), query_prefix or "none",
                              passage_prefix or "none", model=model or None, user=user, is_admin=is_admin)
    second = studio.similarity(split_lines(queries), split_lines(passages), query_prefix or "none",
                               passage_prefix or "none", model=other, user=user, is_admin=is_admin)
    if first.model_id == second.model_id:
        raise UserError("second_model_differs")
    names = (common.display_model(first.model_id), common.display_model(second.model_id))
    figure = similarity_side_by_side(first.scores, second.scores, names, first.queries, first.passages)
    gap = np.abs(first.scores - second.scores)
    top_first, top_second = first.scores.argmax(axis=1), second.scores.argmax(axis=1)
    agree = int((top_first == top_second).sum())
    summary = t("sim_side_summary", a=html.escape(names[0]), b=html.escape(names[1]), mean=f"{gap.mean():.2f}",
                largest=f"{gap.max():.2f}", agree=agree, n=len(first.queries))
    return gr.update(value=figure, visible=True), summary, gr.update(
        value=localized(score_changes(first, second, names)), visible=True)


def score_changes(first: SimilarityResult, second: SimilarityResult, names: tuple[str, str],
                  limit: int = 200) -> pd.DataFrame:
    """Every query-passage pair with both models' scores and the change, largest change first."""
    if names[0] == names[1]:
        names = (f"{names[0]} (1)", f"{names[1]} (2)")
    change = second.scores - first.scores
    # The numbers before the long texts, as in the ranking: after them they started ~1,540 px from the
    # left, off a 1,400 px window (issue 26).
    rows = [{names[0]: round(float(first.scores[qi, pi]), 2), names[1]: round(float(second.scores[qi, pi]), 2),
             "change": round(float(change[qi, pi]), 2), "query": first.queries[qi], "passage": first.passages[pi]}
            for qi in range(change.shape[0]) for pi in range(change.shape[1])]
    frame = pd.DataFrame(rows, columns=[*names, "change", "query", "passage"])
    order = frame["change"].abs().sort_values(ascending=False, kind="stable").index
    return frame.loc[order].head(limit).reset_index(drop=True)


def model_choices(studio: Studio, identity: Identity | None = None):
    """The model pickers' choices as loaded now (a tuned model may have been loaded since the page opened),
    of those the caller may use."""
    user, is_admin = (identity.user, identity.is_admin) if identity is not None else (None, False)
    models = [common.display_model(m) for m in studio.models_for(user, is_admin)]
    several = len(models) > 1
    return (gr.update(choices=models, visible=several),
            gr.update(choices=[(t("col_none"), ""), *[(m, m) for m in models]], visible=several))


def found_columns(frame: pd.DataFrame) -> tuple[str | None, str | None]:
    """The query and passage columns a table most likely has, as Clustering finds its text column.

    Both by name or by length (questions are the shorter texts) when the table has two text columns;
    else a column named like a query or a passage; else the longest text column as the passages.
    """
    try:
        return pair_columns(frame)
    except ValueError:
        pass
    by_name = {str(c).strip().lower(): str(c) for c in frame.columns}
    query = next((by_name[n] for n in QUERY_NAMES if n in by_name), None)
    passage = next((by_name[n] for n in PASSAGE_NAMES if n in by_name and by_name[n] != query), None)
    if query is None and passage is None:
        texts = text_columns(frame)
        passage = texts[0] if texts else None
    return query, passage


def _picked(frame: pd.DataFrame, choice: str | None, found: str | None, role: str) -> str | None:
    if choice in (None, AUTO):
        return found
    if choice == NO_COLUMN:
        return None
    columns = [str(c) for c in frame.columns]
    if choice not in columns:
        raise UserError("column_not_in_table", role=word("role", role), name=choice, columns=", ".join(columns))
    return choice


def _column_text(frame: pd.DataFrame, column: str) -> str:
    # One cell is one text: a newline inside it must not split it into two lines of the box.
    values = frame[column].dropna().astype(str).str.replace("\n", " ").str.strip()
    return "\n".join(dict.fromkeys(v for v in values if v))


def table_to_boxes(studio: Studio, path: str | None, query_column: str | None = AUTO,
                   passage_column: str | None = AUTO):
    """An uploaded table fills the query and passage boxes from the picked (or found) columns.

    Returns the two boxes' updates, a status line, and the two column pickers (every column, the one
    used selected). A box whose column is "(none)" keeps what it holds.
    """
    if not path:
        return gr.update(), gr.update(), "", gr.update(), gr.update()
    loaded = load_table(path, max_bytes=studio.limits.upload_bytes, max_rows=studio.limits.max_passages)
    frame = loaded.frame
    found_query, found_passage = found_columns(frame)
    query = _picked(frame, query_column, found_query, "query")
    passage = _picked(frame, passage_column, found_passage, "passage")
    if query is None and passage is None:
        raise UserError("pick_query_or_passage_column", columns=", ".join(map(str, frame.columns)))
    if query == passage:
        raise UserError("columns_must_differ", column=query)
    notes = [t("sim_table_rows", rows=f"{len(frame):,}",
               query=f"`{html.escape(query)}`" if query else t("col_none"),
               passage=f"`{html.escape(passage)}`" if passage else t("col_none"))]
    notes += [f"{t('warning')} {html.escape(translate_error(w))}" for w in loaded.warnings]
    choices = [(t("col_found"), AUTO), (t("col_none"), NO_COLUMN), *[(str(c), str(c)) for c in frame.columns]]
    return (_column_text(frame, query) if query else gr.update(),
            _column_text(frame, passage) if passage else gr.update(),
            " · ".join(notes),
            gr.update(choices=choices, value=query or NO_COLUMN),
            gr.update(choices=choices, value=passage or NO_COLUMN))


def cleared_results():
    """What a tab shows before any comparison: a new input makes the old results stale."""
    return (empty_figure(t("sim_no_result")), None, None, None, gr.update(choices=[], value=None, visible=False),
            t("sim_no_pair"), None, DEFAULT_SCORE)


def build(studio: Studio, token: gr.BrowserState, models_changed: gr.State | None = None) -> None:
    """``models_changed``: a state set when models are loaded or unloaded (ui/models_panel.py)."""
    with gr.Tab(i18n("sim_tab"), id="similarity") as tab:
        gr.Markdown(i18n("sim_intro"))
        with gr.Row():
            with gr.Column():
                queries = gr.Textbox(label=i18n("sim_queries"), lines=5, elem_id="sim-queries")
                query_prefix = gr.Dropdown(common.PREFIX_CHOICES, value="query", label=i18n("query_prefix"),
                                           allow_custom_value=True)
            with gr.Column():
                passages = gr.Textbox(label=i18n("sim_passages"), lines=5, elem_id="sim-passages")
                passage_prefix = gr.Dropdown(common.PREFIX_CHOICES, value="passage", label=i18n("passage_prefix"),
                                             allow_custom_value=True)
        several = len(studio.encoders) > 1
        # Shown and sent by name (a local folder's name, never its server path); Studio.model resolves it.
        models = [common.display_model(m) for m in studio.encoders]
        with gr.Row():
            with gr.Column():
                table = gr.File(label=i18n("sim_upload"), height=150,
                                file_types=[".csv", ".tsv", ".txt", ".xlsx", ".parquet"], elem_id="sim-file")
                with gr.Row():
                    query_column = gr.Dropdown([(i18n("col_found"), AUTO)], value=AUTO, label=i18n("query_column"),
                                               allow_custom_value=True, elem_id="sim-query-column")
                    passage_column = gr.Dropdown([(i18n("col_found"), AUTO)], value=AUTO,
                                                 label=i18n("passage_column"),
                                                 allow_custom_value=True, elem_id="sim-passage-column")
            with gr.Column():
                # Custom values pass through so that the API's model="" (the default) and an unknown name
                # reach Studio.model, which answers with the loaded names.
                model = gr.Dropdown(models, value=models[0], label=i18n("model"), visible=several, elem_id="sim-model",
                                    allow_custom_value=True)
                other = gr.Dropdown([(i18n("col_none"), ""), *[(m, m) for m in models]], value="",
                                    label=i18n("sim_other"),
                                    visible=several, elem_id="sim-other", allow_custom_value=True)
                top_k = gr.Number(DEFAULT_TOP_K, label=i18n("sim_top_k"), precision=0, minimum=0,
                                  elem_id="sim-top-k")
                example = gr.Button(i18n("sim_example"), elem_id="sim-example")
                run = gr.Button(i18n("sim_compare"), variant="primary", elem_id="sim-run")
        status = gr.Markdown(elem_id="sim-status")
        view_query = gr.Dropdown([], label=i18n("sim_query_to_show"), visible=False, elem_id="sim-view-query")
        heatmap = gr.Plot(empty_figure(),  # no text: the page's language is not known yet
                           elem_id="sim-plot")
        side_status = gr.Markdown(elem_id="sim-side-status")
        side_by_side = gr.Plot(visible=False, elem_id="sim-side-plot")
        changes = gr.Dataframe(label=i18n("sim_changes"), interactive=False, wrap=True, visible=False,
                               elem_id="sim-changes", max_height=360,
                               column_widths=["130px", "130px", "90px", "30%", "40%"])
        ranking = gr.Dataframe(label=i18n("sim_ranking"),
                               interactive=False, wrap=True, elem_id="sim-ranking", max_height=480,
                               column_widths=RANKING_WIDTHS)
        with gr.Accordion(i18n("sim_tokens"), open=False):
            tokens = gr.Dataframe(interactive=False, wrap=True, column_widths=["90px", "50px", "70%", "80px", "110px"])
        result_state = gr.State(None)  # RankedPairs
        # The page's own token, copied here when the tab is shown, so that Compare may use the caller's
        # private tuned model; for /similarity an optional last parameter (a BrowserState would be required).
        caller_token = gr.Textbox("", visible=False, elem_id="sim-caller-token")

        with gr.Column(variant="panel"):
            selected = gr.Markdown(i18n("sim_no_pair"), elem_id="sim-selected")
            pair = gr.State(None)  # the selected row as a Judgment without its verdict
            with gr.Row():
                relevant = gr.Button(i18n("btn_relevant"), size="sm", elem_id="sim-relevant")
                not_relevant = gr.Button(i18n("btn_not_relevant"), size="sm", elem_id="sim-not-relevant")
                score = gr.Slider(0, 5, value=DEFAULT_SCORE, step=0.5, label=i18n("sim_score"),
                                  elem_id="sim-score")
                save_score = gr.Button(i18n("btn_save_score"), size="sm", elem_id="sim-save-score")
            comment = gr.Textbox(label=i18n("comment_optional"), lines=1)
            with gr.Row():
                flag_status = gr.Markdown(elem_id="sim-flag-status")
                undo = gr.Button(i18n("btn_undo"), size="sm", elem_id="sim-undo")
            last_id = gr.State(None)

        @common.user_errors
        async def similarity(queries: str, passages: str, query_prefix: str = "query", passage_prefix: str = "passage",
                       model: str = "", top_k: float = DEFAULT_TOP_K, token: str = "", request: gr.Request = None,
                       profile: gr.OAuthProfile | None = None):
            """Cosine x100 of every query against every passage, the best top_k passages per query (0 = all)
            and token counts. model: one of the loaded models (the header lists them); empty for the default.
            A tuned model you loaded privately needs your token (or login)."""
            # The caller only picks which models may be used; the page fills "yours" in the next step.
            identity = await common.in_thread(caller, studio, request, profile, token)
            async with common.admitted(studio, identity, request):
                figure, ranking, tokens, status, view = await common.in_thread(
                    run_similarity, studio, queries, passages, query_prefix, passage_prefix, model, top_k, identity,
                    with_marks=False)
            return figure, common.fixed_decimals(ranking, 2), tokens, status, view

        @common.user_errors  # it keeps its own errors quiet; the wrapper is the rule for every handler
        async def encode_ahead(passages_text: str, passage_prefix: str = "passage", model: str = "", token: str = "",
                         request: gr.Request = None, profile: gr.OAuthProfile | None = None) -> None:
            """The passages box lost focus: encode its passages now, so that Compare finds them ready.
            Nothing to show; input Compare would refuse is left for Compare to explain."""
            try:
                identity = await common.in_thread(caller, studio, request, profile, token)
                user, is_admin = (identity.user, identity.is_admin) if identity is not None else (None, False)
                async with common.admitted(studio, identity, request):
                    await common.in_thread(studio.encode_ahead, split_lines(passages_text or ""),
                                           passage_prefix or "none", model or None, user=user, is_admin=is_admin)
            except ValueError:
                pass
            except Exception:
                common.log.exception("encoding the passages ahead failed")

        @common.user_errors
        async def compare_models(queries: str, passages: str, query_prefix: str, passage_prefix: str, model: str,
                           second: str, token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            identity = await common.in_thread(caller, studio, request, profile, token)
            async with common.admitted(studio, identity, request):
                figure, summary, changes = await common.in_thread(run_side_by_side, studio, queries, passages,
                                                                  query_prefix, passage_prefix, model, second, identity)
            if isinstance(changes, dict) and "value" in changes:
                changes = {**changes, "value": common.fixed_decimals(changes["value"], 2)}
            return figure, summary, changes

        @common.user_errors
        def query_picker(view: RankedPairs | None):
            """At real sizes, the per-query view's picker; a fresh result also drops the old selection."""
            if view is None or not view.per_query:
                choices, visible = [], False
            else:
                choices = [(f"q{i + 1}: {q[:80]}", i) for i, q in enumerate(view.queries)]
                visible = True
            return (gr.update(choices=choices, value=0 if visible else None, visible=visible), t("sim_no_pair"), None,
                    DEFAULT_SCORE)

        @common.user_errors
        def show_query(view: RankedPairs | None, index: int | None):
            if view is None or index in (None, ""):
                return gr.update()
            return view.figure(int(index))

        @common.user_errors
        def refresh_marks(view: RankedPairs | None, user_token: str, request: gr.Request,
                          profile: gr.OAuthProfile | None):
            """The ranking with the caller's verdicts as they are now (after a comparison, a judgment, an undo).

            Who asks is decided here, from the server's session or the signed token: the marks are the
            caller's own judgments, never those of whoever the client claims to be. No identity yet (the
            page is still getting its token): the ranking stays as it is.
            """
            identity = caller(studio, request, profile, user_token)
            if view is None or identity is None:
                return gr.update()
            return common.fixed_decimals(view.shown(judged_marks(studio, identity.user, view)), 2)

        # Scoring, encoding ahead and the side-by-side comparison take every call at once (no concurrency
        # limit): they are async and wait in studio.gate, a few calls per caller, holding no thread, so
        # one person's burst never keeps someone else's call out of the model's scheduler.
        inputs = [queries, passages, query_prefix, passage_prefix, model, top_k, caller_token]
        outputs = [heatmap, ranking, tokens, status, result_state]
        fresh = [view_query, selected, pair, score]
        compared = run.click(similarity, inputs, outputs, api_name="similarity", concurrency_limit=None)
        passages.blur(encode_ahead, [passages, passage_prefix, model, caller_token], None, api_visibility="private",
                      concurrency_limit=None,
                      show_progress="hidden", trigger_mode="always_last")
        compared.success(query_picker, result_state, fresh, api_visibility="private").success(
            refresh_marks, [result_state, token], ranking, api_visibility="private").success(
            compare_models, inputs[:5] + [other, caller_token], [side_by_side, side_status, changes],
            api_visibility="private", concurrency_limit=None)
        example.click(common.user_errors(lambda: (CARD_QUERIES, CARD_PASSAGES, "query", "passage")), None,
                      [queries, passages, query_prefix, passage_prefix], api_visibility="private").then(
            similarity, inputs, outputs, api_visibility="private", concurrency_limit=None).success(
            query_picker, result_state, fresh, api_visibility="private").success(
            refresh_marks, [result_state, token], ranking, api_visibility="private").success(
            compare_models, inputs[:5] + [other, caller_token], [side_by_side, side_status, changes],
            api_visibility="private", concurrency_limit=None)
        view_query.input(show_query, [result_state, view_query], heatmap, api_visibility="private")
        @common.user_errors
        def show_models(user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            """The models this caller may use, and their token for the handlers that pick one."""
            return (*model_choices(studio, caller(studio, request, profile, user_token)),
                    user_token or "")

        gr.on([tab.select, *([models_changed.change] if models_changed is not None else [])], show_models, token,
              [model, other, caller_token], api_visibility="private")

        # A new table makes the old results stale; a table that is refused leaves the field, so that
        # nobody mistakes it for the data on screen.
        stale = [heatmap, ranking, tokens, result_state, view_query, selected, pair, score]

        @common.user_errors
        def read_table(path: str | None):
            return table_to_boxes(studio, path)

        @common.user_errors
        def pick_columns(path: str | None, q_column: str, p_column: str):
            return table_to_boxes(studio, path, q_column, p_column)

        table.upload(common.user_errors(cleared_results), None, stale, api_visibility="private").then(
            read_table, table, [queries, passages, status, query_column, passage_column],
            api_visibility="private").failure(
            common.user_errors(lambda: (None, gr.update(choices=[(t("col_found"), AUTO)], value=AUTO),
                                        gr.update(choices=[(t("col_found"), AUTO)], value=AUTO))),
            None, [table, query_column, passage_column], api_visibility="private")
        for picker in (query_column, passage_column):
            picker.input(common.user_errors(cleared_results), None, stale, api_visibility="private").then(
                pick_columns, [table, query_column, passage_column],
                [queries, passages, status, query_column, passage_column], api_visibility="private")

        @common.user_errors
        def select_pair(result: RankedPairs | None, event: gr.SelectData):
            if result is None or event.index is None or not 0 <= int(event.index[0]) < len(result.pairs):
                return gr.update(), None, gr.update()
            row = int(event.index[0])
            qi, pi = (int(i) for i in result.pairs[row])
            chosen = result.pair(row)
            # The slider starts from the middle for every pair: a score left from the last pair would
            # otherwise be saved for this one by a quick click.
            return (t("sim_judging", q=qi + 1, p=pi + 1, score=f"{result.scores[row]:.2f}") + "<br>"
                    f"{html.escape(chosen.anchor[:200])} → {html.escape(chosen.positive[:200])}"), chosen, \
                DEFAULT_SCORE

        ranking.select(select_pair, result_state, [selected, pair, score], api_visibility="private")

        def judge(kind: str):
            @common.user_errors
            def save(chosen: Judgment | None, value: float, note: str, user_token: str, request: gr.Request,
                     profile: gr.OAuthProfile | None):
                if chosen is None:
                    raise ValueError(t("sim_select_row"))
                identity = common.identify(studio, request, profile, user_token)
                record = common.flag(studio, identity, chosen.replace(
                    kind=kind, score=value if kind == "score" else None, comment=note))
                what = verdict_text(kind, value)
                return common.judgment_status(record, what), record, ""
            return save

        for button, kind in ((relevant, "relevant"), (not_relevant, "not_relevant"), (save_score, "score")):
            button.click(judge(kind), [pair, score, comment, token], [flag_status, last_id, comment],
                         api_visibility="private").success(
                refresh_marks, [result_state, token], ranking, api_visibility="private")
        undo.click(common.undo_handler(studio), [last_id, token], [flag_status, last_id],
                   api_visibility="private").success(
            refresh_marks, [result_state, token], ranking, api_visibility="private")
