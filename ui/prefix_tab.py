"""Tab 3: the same texts with `query: `, with `passage: ` and with no prefix, side by side."""

from __future__ import annotations

import html

import gradio as gr
import numpy as np
import pandas as pd

import ui.i18n
from core.errors import UserError
from core.exploration.selection import selected_ids
from core.identity import Identity
from core.inputs.text import split_lines
from core.judgments import Judgment
from core.studio import Studio
from ui import common
from ui.i18n import COLUMN_KEYS, DEFAULT, i18n, localized, t
from ui.map_view import figure_value, map_component
from ui.plots import empty_figure, matrices_figure, prefix_map, variant_label

EXAMPLE = "\n".join([
    "Есть ли нефть в Удмуртии?",
    "Добыча нефти в Удмуртии началась в 1967 году.",
    "Когда был спущен на воду эсминец «Спокойный»?",
    "Эсминец «Спокойный» зачислен в списки ВМФ СССР в 1952 году.",
    "Как приготовить борщ со сметаной?",
    "Рецепт борща: свёкла, капуста, картофель и сметана.",
    "Какая погода будет завтра в Москве?",
    "Завтра в Москве ожидается дождь и до плюс двенадцати.",
    "Сборная России выиграла матч со счётом 2:1.",
    "Футболисты провели тренировку перед финалом кубка.",
])
CHOICES = [(i18n("px_better_query"), "query"), (i18n("px_better_passage"), "passage"),
           (i18n("px_better_none"), "none")]


def run_compare(studio: Studio, texts: str, k: float = 5):
    result = studio.compare_prefixes(split_lines(texts), int(k))
    summary = t("px_summary", n=len(result.texts), k=result.k)
    options = [(f"{i + 1}. {t[:80]}", i) for i, t in enumerate(result.texts)]
    return (localized(cosines_table(result.cosines)), matrices_figure(result.matrices, result.texts),
            localized(neighbours_table(result.neighbours)), localized(overlap_table(result.overlap)),
            prefix_map_value(result.map_points, result.texts), html.escape(summary),
            gr.update(choices=options, value=0 if options else None), list(result.texts))


def prefix_map_value(map_points: pd.DataFrame, texts: list[str]) -> str:
    """The prefix map as the selectable map's value: every marker reports its text's index, so selecting a
    text's point under any variant selects that text."""
    figure = prefix_map(map_points, texts)
    markers = [trace for trace in figure.data if trace.mode == "markers"]  # the joining lines carry no ids
    for trace, variant in zip(markers, map_points["variant"].unique(), strict=True):  # prefix_map's order
        trace.customdata = map_points.loc[map_points["variant"] == variant, "text_index"].to_numpy(np.int32)
    return figure_value(figure)


def selection_frame(texts: list[str], ids: list[int]) -> pd.DataFrame:
    """The selected texts, counted from 1 as in the other tables."""
    return pd.DataFrame({"#": [i + 1 for i in ids], "text": [texts[i] for i in ids]})


def save_selection(studio: Studio, identity: Identity, texts: list[str] | None, ids: object, better: str,
                   note: str = "") -> tuple[list[int], str]:
    """One "prefer" judgment (``better``: query, passage or none) per selected text; returns the ids made."""
    if not texts:
        raise UserError("compare_prefixes_then_select")
    if better not in {value for _, value in CHOICES}:
        raise UserError("pick_better_variant", value=better)
    ids = selected_ids(ids, len(texts))
    if not ids:
        raise UserError("select_on_map_first")
    created = [common.flag(studio, identity, Judgment(kind="prefer", anchor=texts[i], label=better,
                                                      comment=note or None, tab="prefixes")) for i in ids]
    return created, t("px_saved_batch", n=len(created), better=variant_label(better))


# What the page and the API show of core.exploration.prefix_compare's tables, under readable headers (the page's
# language on a Russian page, see ui.i18n.COLUMN_KEYS). The neighbours table leaves out what another
# column already says: in_reference_top_k is "rank without prefix <= k", and overlap_with_reference is
# the same on each of a text's k rows.
NEIGHBOUR_HEADERS = {"text_index": "#", "text": "text", "variant": "variant", "rank": "rank",
                     "neighbour_index": "neighbour #", "neighbour_text": "neighbour", "cosine": "cosine",
                     "reference_rank": "rank without prefix", "rank_shift": "shift"}
OVERLAP_HEADERS = {"pair": "pair", "k": "k", "n_texts": "texts", "mean_overlap": "mean overlap@k",
                   "identical_share": "same top-k"}
NEIGHBOUR_WIDTHS = ["50px", "22%", "80px", "60px", "105px", "30%", "75px", "95px", "60px"]


def cosines_table(cosines: pd.DataFrame) -> pd.DataFrame:
    """One row per text: its number, the text, and the cosine between each pair of its variants."""
    return readable(cosines)


def neighbours_table(neighbours: pd.DataFrame) -> pd.DataFrame:
    """Each text's top-k neighbours per variant and how far each moved against no prefix."""
    shown = neighbours[[c for c in NEIGHBOUR_HEADERS if c in neighbours.columns]]
    if ui.i18n.current() != DEFAULT and "variant" in shown:  # the API (English) keeps core's names: query, passage, none
        shown = shown.assign(variant=shown["variant"].map(variant_label))
    return readable(shown).rename(columns=NEIGHBOUR_HEADERS)


def overlap_table(overlap: pd.DataFrame) -> pd.DataFrame:
    """One row per pair of variants: mean overlap@k and the share of texts whose top-k sets are the same."""
    shown = overlap[list(OVERLAP_HEADERS)].round(3)
    if ui.i18n.current() != DEFAULT:  # "query vs none" as the page's headers say it; the API keeps core's pair names
        shown = shown.assign(pair=[t(COLUMN_KEYS[p]) if p in COLUMN_KEYS else p for p in shown["pair"]])
    return shown.rename(columns=OVERLAP_HEADERS)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Three decimals and texts counted from 1, as in the other tabs."""
    frame = frame.round(3)
    for column in ("text_index", "neighbour_index"):
        if column in frame:
            frame[column] = frame[column] + 1
    return frame.rename(columns={"text_index": "#", "neighbour_index": "neighbour #"})


def build(studio: Studio, token: gr.BrowserState) -> None:
    with gr.Tab(i18n("px_tab"), id="prefixes"):
        gr.Markdown(i18n("px_help"))  # core.inputs.text.PREFIX_HELP, in both languages
        applies = studio.encoder.uses_prefixes
        if not applies:
            # Said here, before anyone clicks, rather than as an error on every output.
            gr.Markdown(i18n("px_not_applicable"), elem_id="px-not-applicable")
        with gr.Row():
            texts = gr.Textbox(EXAMPLE, label=i18n("px_texts"), lines=8, scale=3, elem_id="px-texts")
            with gr.Column(scale=1):
                k = gr.Slider(1, 20, value=5, step=1, label=i18n("px_k"))
                run = gr.Button(i18n("btn_compare_prefixes"), variant="primary", elem_id="px-run", interactive=applies)
        summary = gr.Markdown(elem_id="px-summary")
        cosines = gr.Dataframe(label=i18n("px_cosines"), interactive=False, wrap=True,
                               elem_id="px-cosines")
        matrices = gr.Plot(empty_figure(), elem_id="px-matrices")
        with gr.Row():
            overlap = gr.Dataframe(label=i18n("px_overlap"), interactive=False, elem_id="px-overlap")
        neighbours = gr.Dataframe(label=i18n("px_neighbours"), interactive=False, wrap=True, max_height=400,
                                  column_widths=NEIGHBOUR_WIDTHS, elem_id="px-neighbours")
        # Lasso, box or click on the map selects texts (any of a text's points selects the text).
        pmap = map_component("px-map", value=figure_value(empty_figure("")))
        result_state = gr.State(None)  # the compared texts: all a judgment needs
        with gr.Accordion(i18n("px_selected_title"), open=True):
            selection_view = gr.Markdown(i18n("px_select_help"), elem_id="px-selection")
            selection_table = gr.Dataframe(interactive=False, wrap=True, max_height=260, visible=False,
                                           elem_id="px-selection-table")
            selection = gr.State([])  # text indexes, checked on the server

        with gr.Column(variant="panel"):
            gr.Markdown(i18n("px_judge"))
            with gr.Row():
                which = gr.Dropdown([], label=i18n("px_text"), scale=3)
                verdict = gr.Radio(CHOICES, value="query", label=i18n("px_better_with"), scale=2)
                save = gr.Button(i18n("btn_save"), size="sm", scale=1, elem_id="px-save")
                save_selected = gr.Button(i18n("btn_save_selected"), size="sm", scale=1, elem_id="px-save-selected")
            comment = gr.Textbox(label=i18n("comment_optional"), lines=1)
            with gr.Row():
                flag_status = gr.Markdown(elem_id="px-flag-status")
                undo = gr.Button(i18n("btn_undo"), size="sm", elem_id="px-undo")
            last_id = gr.State(None)

        @common.user_errors
        def compare_prefixes(texts: str, k: float = 5):
            """Each text under query:, passage: and no prefix: cosines, matrices, neighbours, overlap@k, map."""
            cosines_, matrices_, neighbours_, overlap_, *rest = run_compare(studio, texts, k)
            return (common.fixed_decimals(cosines_, 3), matrices_, common.fixed_decimals(neighbours_, 3),
                    common.fixed_decimals(overlap_, 2), *rest)

        run.click(compare_prefixes, [texts, k],
                  [cosines, matrices, neighbours, overlap, pmap, summary, which, result_state],
                  api_name="compare_prefixes").success(
            common.user_errors(lambda: ([], t("nothing_selected"), gr.update(value=None, visible=False))), None,
            [selection, selection_view, selection_table], api_visibility="private")

        @common.user_errors
        def on_select(texts: list[str] | None, event: gr.SelectData):
            if not texts:
                return [], t("px_compare_first"), gr.update(value=None, visible=False)
            ids = selected_ids(event.index, len(texts))
            if not ids:
                return [], t("nothing_selected"), gr.update(value=None, visible=False)
            return ids, t("n_selected", n=len(ids)), gr.update(value=localized(selection_frame(texts, ids)), visible=True)

        pmap.select(on_select, result_state, [selection, selection_view, selection_table], api_visibility="private")

        @common.user_errors
        def judge(texts: list[str] | None, index: int | None, better: str, note: str, user_token: str,
                  request: gr.Request, profile: gr.OAuthProfile | None):
            if not texts or index is None:
                raise UserError("compare_prefixes_then_pick")
            if not isinstance(index, int) or not 0 <= index < len(texts):
                raise UserError("pick_compared_text", count=len(texts))
            identity = common.identify(studio, request, profile, user_token)
            record = common.flag(studio, identity, Judgment(kind="prefer", anchor=texts[index], label=better,
                                                            comment=note, tab="prefixes"))
            return common.judgment_status(record, t("px_better_what", better=variant_label(better))), record, ""

        save.click(judge, [result_state, which, verdict, comment, token], [flag_status, last_id, comment],
                   api_visibility="private")

        @common.user_errors
        def judge_selected(texts: list[str] | None, ids: list[int] | None, better: str, note: str, user_token: str,
                           request: gr.Request, profile: gr.OAuthProfile | None):
            identity = common.identify(studio, request, profile, user_token)
            created, message = save_selection(studio, identity, texts, ids, better, note)
            return message, created, ""

        save_selected.click(judge_selected, [result_state, selection, verdict, comment, token],
                            [flag_status, last_id, comment], api_visibility="private")

        undo.click(common.undo_handler(studio), [last_id, token], [flag_status, last_id],
                   api_visibility="private")
