"""Tab 1: several queries against several passages, a heatmap, rankings, and relevance judgments."""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr
import numpy as np
import pandas as pd

from core.corpus import load_table
from core.judgments import Judgment
from core.studio import SimilarityResult, Studio
from core.text import split_lines
from ui import common
from ui.plots import empty_figure, similarity_heatmap, similarity_side_by_side

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
    model_id: str = ""  # the model whose scores are judged
    model_revision: str | None = None

    def pair(self, row: int) -> Judgment:
        """The pair shown in ranking row ``row``, as a judgment still to be given its verdict."""
        if not 0 <= row < len(self.pairs):
            raise ValueError(f"there is no row {row + 1} in the ranking")
        qi, pi = (int(i) for i in self.pairs[row])
        return Judgment(kind="relevant", anchor=self.queries[qi], positive=self.passages[pi], tab="similarity",
                        query_prefix=self.query_prefix, passage_prefix=self.passage_prefix,
                        model_id=self.model_id or None, model_revision=self.model_revision)

    @classmethod
    def of(cls, result: SimilarityResult) -> RankedPairs:
        ranking = result.ranking
        pairs = np.stack([ranking["query #"].to_numpy() - 1, ranking["passage #"].to_numpy() - 1], axis=1)
        return cls(result.queries, result.passages, pairs.astype(np.int32), ranking["score"].to_numpy(np.float32),
                   result.query_prefix, result.passage_prefix, result.model_id, result.model_revision)


def run_similarity(studio: Studio, queries: str, passages: str, query_prefix: str = "query",
                   passage_prefix: str = "passage", model: str | None = None):
    result = studio.similarity(split_lines(queries), split_lines(passages), query_prefix or "none",
                               passage_prefix or "none", model=model or None)
    figure = similarity_heatmap(result.scores, result.queries, result.passages)
    notes = [f"⚠️ {html.escape(w)}" for w in result.warnings]
    status = " · ".join(notes) or (f"{len(result.queries)} queries × {len(result.passages)} passages, "
                                  f"prefixes `{result.query_prefix or '∅'}` / `{result.passage_prefix or '∅'}`")
    if len(studio.encoders) > 1:
        status += f" · model `{html.escape(common.display_model(result.model_id))}`"
    return figure, result.ranking, result.tokens, status, RankedPairs.of(result)


def run_side_by_side(studio: Studio, queries: str, passages: str, query_prefix: str, passage_prefix: str,
                     model: str | None, other: str | None):
    """The same queries and passages scored by a second model: both heatmaps, and a table of each pair's
    two scores and the change, largest change first (what a tuned model learnt from the judgments)."""
    if not other:
        return gr.update(visible=False), "", gr.update(value=None, visible=False)
    first = studio.similarity(split_lines(queries), split_lines(passages), query_prefix or "none",
                              passage_prefix or "none", model=model or None)
    second = studio.similarity(split_lines(queries), split_lines(passages), query_prefix or "none",
                               passage_prefix or "none", model=other)
    if first.model_id == second.model_id:
        raise ValueError("pick a second model other than the first")
    names = (common.display_model(first.model_id), common.display_model(second.model_id))
    figure = similarity_side_by_side(first.scores, second.scores, names, first.queries, first.passages)
    gap = np.abs(first.scores - second.scores)
    top_first, top_second = first.scores.argmax(axis=1), second.scores.argmax(axis=1)
    agree = int((top_first == top_second).sum())
    summary = (f"**{html.escape(names[0])}** vs **{html.escape(names[1])}**: mean |difference| "
               f"{gap.mean():.2f}, largest {gap.max():.2f} (cosine × 100); the top passage agrees for "
               f"{agree} of {len(first.queries)} queries.")
    return gr.update(value=figure, visible=True), summary, gr.update(value=score_changes(first, second, names),
                                                                     visible=True)


def score_changes(first: SimilarityResult, second: SimilarityResult, names: tuple[str, str],
                  limit: int = 200) -> pd.DataFrame:
    """Every query-passage pair with both models' scores and the change, largest change first."""
    if names[0] == names[1]:
        names = (f"{names[0]} (1)", f"{names[1]} (2)")
    change = second.scores - first.scores
    rows = [{"query": first.queries[qi], "passage": first.passages[pi],
             names[0]: round(float(first.scores[qi, pi]), 2), names[1]: round(float(second.scores[qi, pi]), 2),
             "change": round(float(change[qi, pi]), 2)}
            for qi in range(change.shape[0]) for pi in range(change.shape[1])]
    frame = pd.DataFrame(rows, columns=["query", "passage", *names, "change"])
    order = frame["change"].abs().sort_values(ascending=False, kind="stable").index
    return frame.loc[order].head(limit).reset_index(drop=True)


def model_choices(studio: Studio):
    """The model pickers' choices as loaded now (a tuned model may have been loaded since the page opened)."""
    models = [common.display_model(m) for m in studio.encoders]
    several = len(models) > 1
    return (gr.update(choices=models, visible=several),
            gr.update(choices=[("(none)", ""), *[(m, m) for m in models]], visible=several))


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
    with gr.Tab("Similarity", id="similarity") as tab:
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
        several = len(studio.encoders) > 1
        # Shown and sent by name (a local folder's name, never its server path); Studio.model resolves it.
        models = [common.display_model(m) for m in studio.encoders]
        with gr.Row():
            table = gr.File(label="…or upload a table with query / passage columns", height=150,
                            file_types=[".csv", ".tsv", ".txt", ".xlsx", ".parquet"])
            with gr.Column():
                # Custom values pass through so that the API's model="" (the default) and an unknown name
                # reach Studio.model, which answers with the loaded names.
                model = gr.Dropdown(models, value=models[0], label="Model", visible=several, elem_id="sim-model",
                                    allow_custom_value=True)
                other = gr.Dropdown([("(none)", ""), *[(m, m) for m in models]], value="", label="Side by side with",
                                    visible=several, elem_id="sim-other", allow_custom_value=True)
                example = gr.Button("Model card example", elem_id="sim-example")
                run = gr.Button("Compare", variant="primary", elem_id="sim-run")
        status = gr.Markdown(elem_id="sim-status")
        heatmap = gr.Plot(empty_figure("Enter queries and passages, then Compare"), elem_id="sim-plot")
        side_status = gr.Markdown(elem_id="sim-side-status")
        side_by_side = gr.Plot(visible=False, elem_id="sim-side-plot")
        changes = gr.Dataframe(label="Both models' scores per pair, largest change first", interactive=False,
                               wrap=True, visible=False, elem_id="sim-changes", max_height=360)
        ranking = gr.Dataframe(label="Passages ranked per query (select a row to judge it)", interactive=False,
                               wrap=True, elem_id="sim-ranking", max_height=480,
                               column_widths=["70px", "36%", "60px", "80px", "44%", "80px"])
        with gr.Accordion("Tokens per text", open=False):
            tokens = gr.Dataframe(interactive=False, wrap=True, column_widths=["90px", "50px", "70%", "80px", "110px"])
        result_state = gr.State(None)  # RankedPairs

        with gr.Column(variant="panel"):
            selected = gr.Markdown("**Judge a pair:** select a row of the ranking.", elem_id="sim-selected")
            pair = gr.State(None)  # the selected row as a Judgment without its verdict
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
        def similarity(queries: str, passages: str, query_prefix: str = "query", passage_prefix: str = "passage",
                       model: str = ""):
            """Cosine x100 of every query against every passage, the ranking per query and token counts.
            model: one of the loaded models (the header lists them); empty for the default."""
            return run_similarity(studio, queries, passages, query_prefix, passage_prefix, model)

        @common.user_errors
        def compare_models(queries: str, passages: str, query_prefix: str, passage_prefix: str, model: str,
                           second: str):
            return run_side_by_side(studio, queries, passages, query_prefix, passage_prefix, model, second)

        inputs = [queries, passages, query_prefix, passage_prefix, model]
        outputs = [heatmap, ranking, tokens, status, result_state]
        run.click(similarity, inputs, outputs, api_name="similarity").success(
            compare_models, [*inputs, other], [side_by_side, side_status, changes], api_visibility="private")
        example.click(common.user_errors(lambda: (CARD_QUERIES, CARD_PASSAGES, "query", "passage")), None,
                      [queries, passages, query_prefix, passage_prefix], api_visibility="private").then(
            similarity, inputs, outputs, api_visibility="private").success(
            compare_models, [*inputs, other], [side_by_side, side_status, changes], api_visibility="private")
        tab.select(common.user_errors(lambda: model_choices(studio)), None, [model, other],
                   api_visibility="private")
        table.upload(common.user_errors(lambda path: table_to_boxes(studio, path)), table,
                     [queries, passages, status], api_visibility="private")

        @common.user_errors
        def select_pair(result: RankedPairs | None, event: gr.SelectData):
            if result is None or event.index is None or not 0 <= int(event.index[0]) < len(result.pairs):
                return gr.update(), None
            row = int(event.index[0])
            qi, pi = (int(i) for i in result.pairs[row])
            chosen = result.pair(row)
            return (f"**Judging:** q{qi + 1} → p{pi + 1} (score {result.scores[row]:.2f})<br>"
                    f"{html.escape(chosen.anchor[:200])} → {html.escape(chosen.positive[:200])}"), chosen

        ranking.select(select_pair, result_state, [selected, pair], api_visibility="private")

        def judge(kind: str):
            @common.user_errors
            def save(chosen: Judgment | None, value: float, note: str, user_token: str, request: gr.Request,
                     profile: gr.OAuthProfile | None):
                if chosen is None:
                    raise ValueError("select a row of the ranking first")
                identity = common.identify(studio, request, profile, user_token)
                record = common.flag(studio, identity, chosen.replace(
                    kind=kind, score=value if kind == "score" else None, comment=note))
                what = {"relevant": "relevant", "not_relevant": "not relevant"}.get(kind, f"score {value}")
                return common.judgment_status(record, what), record, ""
            return save

        for button, kind in ((relevant, "relevant"), (not_relevant, "not_relevant"), (save_score, "score")):
            button.click(judge(kind), [pair, score, comment, token], [flag_status, last_id, comment],
                         api_visibility="private")
        undo.click(common.undo_handler(studio), [last_id, token], [flag_status, last_id], api_visibility="private")

