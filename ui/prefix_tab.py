"""Tab 3: the same texts with `query: `, with `passage: ` and with no prefix, side by side."""

from __future__ import annotations

import html

import gradio as gr
import pandas as pd

from core.judgments import Judgment
from core.studio import Studio
from core.text import PREFIX_HELP, split_lines
from ui import common
from ui.plots import empty_figure, matrices_figure, prefix_map

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
CHOICES = [("query: is better", "query"), ("passage: is better", "passage"), ("no prefix is better", "none")]


def run_compare(studio: Studio, texts: str, k: float = 5):
    result = studio.compare_prefixes(split_lines(texts), int(k))
    summary = f"{len(result.texts)} texts, top-{result.k} neighbours under each variant"
    options = [(f"{i + 1}. {t[:80]}", i) for i, t in enumerate(result.texts)]
    return (readable(result.cosines), matrices_figure(result.matrices, result.texts), readable(result.neighbours),
            readable(result.overlap),
            prefix_map(result.map_points, result.texts), html.escape(summary),
            gr.update(choices=options, value=0 if options else None), list(result.texts))


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Three decimals and texts counted from 1, as in the other tabs."""
    frame = frame.round(3)
    for column in ("text_index", "neighbour_index"):
        if column in frame:
            frame[column] = frame[column] + 1
    return frame.rename(columns={"text_index": "#", "neighbour_index": "neighbour #"})


def build(studio: Studio, token: gr.BrowserState) -> None:
    with gr.Tab("Prefixes", id="prefixes"):
        gr.Markdown(f"**Why prefixes?** {PREFIX_HELP}")
        applies = studio.encoder.uses_prefixes
        if not applies:
            # Said here, before anyone clicks, rather than as an error on every output.
            gr.Markdown(f"ℹ️ `{html.escape(common.display_model(studio.encoder.model_id))}` was trained without "
                        "prefixes, so this comparison does not apply to it. Start the app on a model with "
                        "prefixes (deepvk/USER-base, multilingual-e5-small) to use this tab.",
                        elem_id="px-not-applicable")
        with gr.Row():
            texts = gr.Textbox(EXAMPLE, label="Texts, one per line", lines=8, scale=3, elem_id="px-texts")
            with gr.Column(scale=1):
                k = gr.Slider(1, 20, value=5, step=1, label="Neighbours k")
                run = gr.Button("Compare prefixes", variant="primary", elem_id="px-run", interactive=applies)
        summary = gr.Markdown(elem_id="px-summary")
        cosines = gr.Dataframe(label="Cosine between variants of the same text", interactive=False, wrap=True,
                               elem_id="px-cosines")
        matrices = gr.Plot(empty_figure("Run the comparison"), elem_id="px-matrices")
        with gr.Row():
            overlap = gr.Dataframe(label="Mean overlap@k between variants", interactive=False)
        neighbours = gr.Dataframe(label="Top-k neighbours per variant, with rank shifts", interactive=False,
                                  wrap=True, max_height=400)
        pmap = gr.Plot(empty_figure(""), elem_id="px-map")
        result_state = gr.State(None)  # the compared texts: all a judgment needs

        with gr.Column(variant="panel"):
            gr.Markdown("**Judge:** which variant gives this text the better neighbours?")
            with gr.Row():
                which = gr.Dropdown([], label="Text", scale=3)
                verdict = gr.Radio(CHOICES, value="query", label="Better neighbours with", scale=2)
                save = gr.Button("Save", size="sm", scale=1, elem_id="px-save")
            comment = gr.Textbox(label="Comment (optional)", lines=1)
            with gr.Row():
                flag_status = gr.Markdown(elem_id="px-flag-status")
                undo = gr.Button("Undo", size="sm")
            last_id = gr.State(None)

        @common.user_errors
        def compare_prefixes(texts: str, k: float = 5):
            """Each text under query:, passage: and no prefix: cosines, matrices, neighbours, overlap@k, map."""
            return run_compare(studio, texts, k)

        run.click(compare_prefixes, [texts, k],
                  [cosines, matrices, neighbours, overlap, pmap, summary, which, result_state],
                  api_name="compare_prefixes")

        @common.user_errors
        def judge(texts: list[str] | None, index: int | None, better: str, note: str, user_token: str,
                  request: gr.Request, profile: gr.OAuthProfile | None):
            if not texts or index is None:
                raise ValueError("compare prefixes first, then pick a text")
            if not isinstance(index, int) or not 0 <= index < len(texts):
                raise ValueError(f"pick one of the {len(texts)} compared texts")
            identity = common.identify(studio, request, profile, user_token)
            record = common.flag(studio, identity, Judgment(kind="prefer", anchor=texts[index], label=better,
                                                            comment=note, tab="prefixes"))
            return common.judgment_status(record, f"{better} gives better neighbours"), record, ""

        save.click(judge, [result_state, which, verdict, comment, token], [flag_status, last_id, comment],
                   api_visibility="private")
        undo.click(common.undo_handler(studio), [last_id, token], [flag_status, last_id], api_visibility="private")
