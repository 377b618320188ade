"""Tab 1: several queries against several passages, a heatmap, rankings, and relevance judgments."""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr
import numpy as np

from core.corpus import load_table
from core.judgments import Judgment
from core.studio import SimilarityResult, Studio
from core.text import split_lines
from ui import common
from ui.plots import empty_figure, similarity_heatmap

CARD_QUERIES = "Когда был спущен на воду первый миноносец «Спокойный»?\nЕсть ли нефть в Удмуртии?"
CARD_PASSAGES = (
    "Спокойный (эсминец) Зачислен в списки ВМФ СССР 19 августа 1952 года.\n"
    "Нефтепоисковые работы в Удмуртии были начаты сразу после Второй мировой войны в 1945 году и продолжаются "
    "по сей день. Добыча нефти началась в 1967 году."
)


@dataclass(frozen=True)
class RankedPairs:
    """What a session keeps of a similarity result: enough to judge a row, nothing more.

    The full result (tables, figure) went to the browser; keeping it per session cost about 170 MB
    for a 100 x 1,000 request, for as long as the session lived.
    """

    queries: list[str]
    passages: list[str]
    pairs: np.ndarray  # (rows, 2) query and passage index of each ranking row
    scores: np.ndarray  # (rows,) the score shown in each ranking row
    query_prefix: str
    passage_prefix: str

    @classmethod
    def of(cls, result: SimilarityResult) -> RankedPairs:
        ranking = result.ranking
        pairs = np.stack([ranking["query #"].to_numpy() - 1, ranking["passage #"].to_numpy() - 1], axis=1)
        return cls(result.queries, result.passages, pairs.astype(np.int32), ranking["score"].to_numpy(np.float32),
                   result.query_prefix, result.passage_prefix)


def run_similarity(studio: Studio, queries: str, passages: str, query_prefix: str = "query",
                   passage_prefix: str = "passage"):
    result = studio.similarity(split_lines(queries), split_lines(passages), query_prefix or "none",
                               passage_prefix or "none")
    figure = similarity_heatmap(result.scores, result.queries, result.passages)
    notes = [f"⚠️ {html.escape(w)}" for w in result.warnings]
    status = " · ".join(notes) or (f"{len(result.queries)} queries × {len(result.passages)} passages, "
                                  f"prefixes `{result.query_prefix or '∅'}` / `{result.passage_prefix or '∅'}`")
    return figure, result.ranking, result.tokens, status, RankedPairs.of(result)


def table_to_boxes(studio: Studio, path: str | None):
    """An uploaded table with ``query`` and/or ``passage`` columns fills the two boxes."""
    if not path:
        return gr.update(), gr.update(), ""
    loaded = load_table(path, max_bytes=studio.limits.upload_bytes, max_rows=studio.limits.max_passages)
    columns = {str(c).strip().lower(): c for c in loaded.frame.columns}
    if "query" not in columns and "passage" not in columns:
        raise ValueError(f"the table needs a 'query' or 'passage' column; it has {', '.join(map(str, loaded.frame.columns))}")

    def column(name: str):
        if name not in columns:
            return gr.update()
        values = loaded.frame[columns[name]].dropna().astype(str).str.replace("\n", " ").str.strip()
        return "\n".join(dict.fromkeys(v for v in values if v))

    return column("query"), column("passage"), " · ".join(html.escape(w) for w in loaded.warnings)


def build(studio: Studio, token: gr.BrowserState) -> None:
    with gr.Tab("Similarity", id="similarity"):
        gr.Markdown(
            "Score every query against every passage. USER-base expects `query: ` on questions and "
            "`passage: ` on the documents searched; the card's example is one click away."
        )
        with gr.Row():
            with gr.Column():
                queries = gr.Textbox(label="Queries, one per line", lines=5, elem_id="sim-queries")
                query_prefix = gr.Dropdown(common.PREFIX_CHOICES, value="query", label="Query prefix",
                                           allow_custom_value=True)
            with gr.Column():
                passages = gr.Textbox(label="Passages, one per line", lines=5, elem_id="sim-passages")
                passage_prefix = gr.Dropdown(common.PREFIX_CHOICES, value="passage", label="Passage prefix",
                                             allow_custom_value=True)
        with gr.Row():
            table = gr.File(label="…or upload a table with query / passage columns", height=150,
                            file_types=[".csv", ".tsv", ".txt", ".xlsx", ".parquet"])
            with gr.Column():
                example = gr.Button("Model card example", elem_id="sim-example")
                run = gr.Button("Compare", variant="primary", elem_id="sim-run")
        status = gr.Markdown(elem_id="sim-status")
        heatmap = gr.Plot(empty_figure("Enter queries and passages, then Compare"), elem_id="sim-plot")
        ranking = gr.Dataframe(label="Passages ranked per query (select a row to judge it)", interactive=False,
                               wrap=True, elem_id="sim-ranking", max_height=480,
                               column_widths=["70px", "36%", "60px", "80px", "44%", "80px"])
        with gr.Accordion("Tokens per text", open=False):
            tokens = gr.Dataframe(interactive=False, wrap=True, column_widths=["90px", "50px", "70%", "80px", "110px"])
        result_state = gr.State(None)  # RankedPairs

        with gr.Column(variant="panel"):
            selected = gr.Markdown("**Judge a pair:** select a row of the ranking.", elem_id="sim-selected")
            pair = gr.State(None)
            with gr.Row():
                relevant = gr.Button("👍 Relevant", size="sm", elem_id="sim-relevant")
                not_relevant = gr.Button("👎 Not relevant", size="sm", elem_id="sim-not-relevant")
                score = gr.Slider(0, 5, value=3, step=0.5, label="Similarity score 0–5")
                save_score = gr.Button("Save score", size="sm")
            comment = gr.Textbox(label="Comment (optional)", lines=1)
            with gr.Row():
                flag_status = gr.Markdown(elem_id="sim-flag-status")
                undo = gr.Button("Undo", size="sm", elem_id="sim-undo")
            last_id = gr.State(None)

        @common.user_errors
        def similarity(queries: str, passages: str, query_prefix: str = "query", passage_prefix: str = "passage"):
            """Cosine x100 of every query against every passage, the ranking per query and token counts."""
            return run_similarity(studio, queries, passages, query_prefix, passage_prefix)

        run.click(similarity, [queries, passages, query_prefix, passage_prefix],
                  [heatmap, ranking, tokens, status, result_state], api_name="similarity")
        example.click(common.user_errors(lambda: (CARD_QUERIES, CARD_PASSAGES, "query", "passage")), None,
                      [queries, passages, query_prefix, passage_prefix], api_visibility="private").then(
            similarity, [queries, passages, query_prefix, passage_prefix],
            [heatmap, ranking, tokens, status, result_state], api_visibility="private")
        table.upload(common.user_errors(lambda path: table_to_boxes(studio, path)), table,
                     [queries, passages, status], api_visibility="private")

        @common.user_errors
        def select_pair(result: RankedPairs | None, event: gr.SelectData):
            if result is None or event.index is None or not 0 <= int(event.index[0]) < len(result.pairs):
                return gr.update(), None
            row = int(event.index[0])
            qi, pi = (int(i) for i in result.pairs[row])
            chosen = {"query": result.queries[qi], "passage": result.passages[pi],
                      "query_prefix": result.query_prefix, "passage_prefix": result.passage_prefix}
            return (f"**Judging:** q{qi + 1} → p{pi + 1} (score {result.scores[row]:.2f})<br>"
                    f"{html.escape(chosen['query'][:200])} → {html.escape(chosen['passage'][:200])}"), chosen

        ranking.select(select_pair, result_state, [selected, pair], api_visibility="private")

        def judge(kind: str):
            @common.user_errors
            def save(chosen: dict | None, value: float, note: str, user_token: str, request: gr.Request,
                     profile: gr.OAuthProfile | None):
                if not chosen:
                    raise ValueError("select a row of the ranking first")
                identity = common.identify(studio, request, profile, user_token)
                record = common.flag(studio, identity, Judgment(
                    kind=kind, anchor=chosen["query"], positive=chosen["passage"],
                    score=value if kind == "score" else None, comment=note, tab="similarity",
                    query_prefix=chosen["query_prefix"], passage_prefix=chosen["passage_prefix"]))
                what = {"relevant": "relevant", "not_relevant": "not relevant"}.get(kind, f"score {value}")
                return common.judgment_status(record, what), record, ""
            return save

        for button, kind in ((relevant, "relevant"), (not_relevant, "not_relevant"), (save_score, "score")):
            button.click(judge(kind), [pair, score, comment, token], [flag_status, last_id, comment],
                         api_visibility="private")
        undo.click(common.undo_handler(studio), [last_id, token], [flag_status, last_id], api_visibility="private")

