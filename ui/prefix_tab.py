"""Tab 3: the same texts with `query: `, with `passage: ` and with no prefix, side by side."""

import html

import gradio as gr
import pandas as pd

from core.studio import PrefixComparison, Studio
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
            gr.update(choices=options, value=0 if options else None), result)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Three decimals and texts counted from 1, as in the other tabs."""
    frame = frame.round(3)
    for column in ("text_index", "neighbour_index"):
        if column in frame:
            frame[column] = frame[column] + 1
    return frame.rename(columns={"text_index": "#", "neighbour_index": "neighbour #"})


def build(studio: Studio) -> None:
    with gr.Tab("Prefixes", id="prefixes"):
        gr.Markdown(f"**Why prefixes?** {PREFIX_HELP}")
        with gr.Row():
            texts = gr.Textbox(EXAMPLE, label="Texts, one per line", lines=8, scale=3, elem_id="px-texts")
            with gr.Column(scale=1):
                k = gr.Slider(1, 20, value=5, step=1, label="Neighbours k")
                run = gr.Button("Compare prefixes", variant="primary", elem_id="px-run")
        summary = gr.Markdown(elem_id="px-summary")
        cosines = gr.Dataframe(label="Cosine between variants of the same text", interactive=False, wrap=True,
                               elem_id="px-cosines")
        matrices = gr.Plot(empty_figure("Run the comparison"), elem_id="px-matrices")
        with gr.Row():
            overlap = gr.Dataframe(label="Mean overlap@k between variants", interactive=False)
        neighbours = gr.Dataframe(label="Top-k neighbours per variant, with rank shifts", interactive=False,
                                  wrap=True, max_height=400)
        pmap = gr.Plot(empty_figure(""), elem_id="px-map")
        result_state = gr.State(None)

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
        def judge(result: PrefixComparison | None, index: int | None, better: str, note: str,
                  request: gr.Request, profile: gr.OAuthProfile | None):
            if result is None or index is None:
                raise ValueError("compare prefixes first, then pick a text")
            record = common.flag(studio, request, profile, kind="prefer", anchor=result.texts[int(index)],
                                 label=better, comment=note, tab="prefixes")
            return common.judgment_status(record, f"{better} gives better neighbours"), record, ""

        save.click(judge, [result_state, which, verdict, comment], [flag_status, last_id, comment],
                   api_visibility="private")
        undo.click(common.undo_handler(studio), last_id, [flag_status, last_id], api_visibility="private")
