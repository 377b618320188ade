"""Tab: retrieval quality on the user's own pairs, a threshold from verdicts, and search in a corpus.

The computing is in ``core.evaluation``; this module reads uploads, picks models, and turns results
into tables, a figure and the ``/evaluate`` endpoint's dictionary. A session keeps only what a
judgment needs (the shown search hits), never embeddings or score matrices.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.encoding import Encoder
from core.errors import Message, UserError, message_of
from core.evaluation import (
    METRICS,
    ModelRetrieval,
    ModelThreshold,
    RetrievalReading,
    RetrievalSet,
    judged_pairs,
    paired_bootstrap,
    read_retrieval,
)
from core.evaluation import evaluate as evaluate_models
from core.evaluation import search as search_corpus
from core.evaluation import thresholds as find_thresholds
from core.evaluation.data import cell_texts, corpus_column, label_column, pair_columns
from core.evaluation.thresholds import parse_verdicts
from core.identity import Identity
from core.inputs.corpus import LoadedCorpus, load_table
from core.inputs.text import clean_text
from core.judgments import Judgment
from core.studio import Studio
from ui import common
from ui.i18n import i18n, localized, t, translate_error
from ui.plots import PALETTE, empty_figure
from ui.ranking import RankedPairs

FILE_TYPES = [".csv", ".tsv", ".txt", ".xlsx", ".parquet"]
AUTO = ""  # a column dropdown's "find it by itself"
# The misses table lists the worst first; past this many per model it stops being read, and the
# browser pays for every row.
MISSES_SHOWN = 100
SEARCH_K_MAX = 100
SOURCES = [(i18n("ev_source_upload"), "upload"), (i18n("ev_source_judgments"), "judgments")]


# -- inputs ---------------------------------------------------------------------------------------

def read_table(studio: Studio, path: str | None, what: str, max_rows: int | None = None) -> LoadedCorpus:
    if not path:
        raise UserError("upload_what_first", what=what)
    return load_table(path, max_bytes=studio.limits.upload_bytes, max_rows=max_rows or studio.limits.max_corpus)


def read_corpus(studio: Studio, path: str | None) -> tuple[list[str], str | None, list[str]]:
    """The passages of a corpus file (a table's passage column, or a .txt file's lines), the column they
    came from when the table had a choice, and warnings."""
    loaded = read_table(studio, path, Message("upload_what_corpus"))
    column = corpus_column(loaded.frame)
    texts = [t for t in cell_texts(loaded.frame[column].tolist()) if t]
    if not texts:
        raise UserError("corpus_column_empty", column=column)
    chosen = column if loaded.format != "txt" and loaded.frame.shape[1] > 1 else None
    return texts, chosen, list(loaded.warnings)


def select_encoders(studio: Studio, models: str | Sequence[str] | None,
                    identity: Identity | None = None) -> dict[str, Encoder]:
    """Loaded models by name (a list or a comma-separated string); none named: all of them. Only those
    ``identity`` may use: someone else's private tuned model is as unknown as one never loaded."""
    user, is_admin = common.access(identity)
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",")]
    names = [m for m in (models or []) if isinstance(m, str) and m.strip()]
    if not names:
        return studio.models_for(user, is_admin)
    chosen: dict[str, Encoder] = {}
    for name in names:
        encoder = studio.model(name.strip(), user, is_admin)
        chosen[encoder.model_id] = encoder
    return chosen


def ticked_models(studio: Studio, names: list[str] | None, identity: Identity | None = None) -> list[str] | None:
    """The models ticked in the tab; with several loaded, ticking none is a mistake, not "all"."""
    if len(studio.models_for(*common.access(identity))) > 1 and not names:
        raise UserError("tick_a_model")
    return names or None


def model_pickers(studio: Studio, ticked: list[str] | None, picked: str | None, offered: list[str] | None,
                  identity: Identity | None = None):
    """The model pickers for the models loaded now that ``identity`` may use: the Train tab can load a
    tuned version at any time.

    Ticks and the search model the user chose stay; a newly loaded model is ticked.
    """
    names = [common.display_model(m) for m in studio.models_for(*common.access(identity))]
    new = [n for n in names if n not in (offered or [])]
    kept = [n for n in (ticked or []) if n in names] + new
    several = len(names) > 1
    return (gr.update(choices=names, value=kept, visible=several),
            gr.update(choices=names, value=picked if picked in names else names[0], visible=several), names)


def column_choice(value: str | None) -> str | None:
    return (value or "").strip() or None


# -- retrieval ------------------------------------------------------------------------------------

@dataclass
class EvaluationReport:
    """A finished evaluation: the set's sizes, each model's results, and what to tell the user."""

    dataset: RetrievalSet
    results: dict[str, ModelRetrieval]
    query_prefix: str
    passage_prefix: str
    from_table: int  # distinct passages in the pairs table
    warnings: list[str] = field(default_factory=list)

    def as_api(self) -> dict:
        return {"queries": len(self.dataset.queries), "passages": len(self.dataset.passages),
                "models": {common.display_model(m): r.summary() for m, r in self.results.items()}}


def run_evaluation(studio: Studio, file: str | None, corpus: str | None = None, query_prefix: str = "query",
                   passage_prefix: str = "passage", models: str | Sequence[str] | None = None,
                   query_column: str | None = None, passage_column: str | None = None,
                   identity: Identity | None = None) -> EvaluationReport:
    encoders = select_encoders(studio, models, identity)  # an unknown model fails before any file is read
    loaded = read_table(studio, file, Message("upload_what_pairs"))
    query_column, passage_column = pair_columns(loaded.frame, column_choice(query_column),
                                                column_choice(passage_column))
    pairs = list(zip(cell_texts(loaded.frame[query_column].tolist()),
                     cell_texts(loaded.frame[passage_column].tolist()), strict=True))
    warnings = list(loaded.warnings)
    from_table = RetrievalSet.from_pairs(pairs)
    extra: list[str] = []
    if corpus:
        extra, _, notes = read_corpus(studio, corpus)
        warnings += notes
    dataset = RetrievalSet.from_pairs(pairs, extra_passages=extra)
    if dataset.skipped_rows:
        warnings.append(Message("skipped_incomplete_rows", count=dataset.skipped_rows))
    results = evaluate_models(encoders, dataset, studio.limits, query_prefix=query_prefix or "none",
                              passage_prefix=passage_prefix or "none")
    return EvaluationReport(dataset, results, query_prefix or "none", passage_prefix or "none",
                            len(from_table.passages), warnings)


def metrics_table(report: EvaluationReport) -> pd.DataFrame:
    """One row per model, the metrics side by side."""
    rows = [{"model": common.display_model(m), **{k: round(v, 3) for k, v in r.summary().items()}}
            for m, r in report.results.items()]
    return pd.DataFrame(rows, columns=["model", *METRICS])


def differences_table(report: EvaluationReport, n_resamples: int = 2_000) -> pd.DataFrame:
    """Each further model against the first: mean difference per metric and its 95% bootstrap interval."""
    models = list(report.results)
    rows = []
    for other in models[1:]:
        first, second = report.results[models[0]], report.results[other]
        for metric in METRICS:
            interval = paired_bootstrap(first.scores.per_query[metric], second.scores.per_query[metric],
                                        n_resamples=n_resamples)
            verdict = t("ev_no_clear_difference")
            if interval.excludes_zero:
                winner = models[0] if interval.difference > 0 else other
                verdict = t("ev_better", model=common.display_model(winner))
            rows.append({"comparison": f"{common.display_model(models[0])} − {common.display_model(other)}",
                         "metric": metric, "difference": round(interval.difference, 3),
                         "95% interval": f"[{interval.low:+.3f}, {interval.high:+.3f}]", "verdict": verdict})
    return pd.DataFrame(rows, columns=["comparison", "metric", "difference", "95% interval", "verdict"])


def misses_table(report: EvaluationReport) -> pd.DataFrame:
    """Queries each model ranks wrongly first, worst first: what came first and where the answer was; a
    first passage that is the query itself (it was also in the corpus) is noted as such."""
    dataset = report.dataset
    rows = []
    same = t("ev_same_as_query")
    for model_id, result in report.results.items():
        for miss in result.misses[:MISSES_SHOWN]:
            rank = miss.first_relevant_rank
            rows.append({"model": common.display_model(model_id), "query": dataset.queries[miss.query],
                         "ranked first": dataset.passages[miss.ranked_first], "score": round(miss.first_score, 2),
                         "relevant at rank": str(rank) if rank <= 10 else f"{rank} (> 10)",
                         "note": same if miss.duplicate_of_query else "",
                         "relevant passage": dataset.passages[miss.relevant]})
    return pd.DataFrame(rows, columns=["model", "query", "ranked first", "score", "relevant at rank", "note",
                                       "relevant passage"])


def percent(share: float) -> str:
    """A share as a whole percentage, except where rounding would claim 100 % or 0 % that is not exact."""
    value = round(share * 100)
    if value == 100 and share < 1:
        return f"{share * 100:.1f}"
    if value == 0 and share > 0:
        return f"{share * 100:.1f}"
    return str(value)


def reading_text(model_id: str, reading: RetrievalReading) -> str:
    """One sentence on what the model's figures mean, then what to do next."""
    duplicates = t("ev_reading_duplicates", n=reading.duplicates) if reading.duplicates else ""
    sentence = t("ev_reading", model=html.escape(common.display_model(model_id)), share=percent(reading.share),
                 first=f"{reading.first:,}", n=f"{reading.queries:,}", low=percent(reading.low),
                 high=percent(reading.high), top10=percent(reading.top10 / reading.queries),
                 misses=f"{reading.misses:,}", duplicates=duplicates)
    half = f"{(reading.high - reading.low) * 50:.0f}"
    steps = [t(f"ev_next_{code}", n=f"{reading.queries:,}", half=half) for code in reading.advice]
    return sentence + " " + t("ev_next", steps="; ".join(steps)) + "."


def evaluation_summary(report: EvaluationReport) -> str:
    dataset = report.dataset
    corpus = len(dataset.passages) - report.from_table
    parts = [t("ev_summary_head", queries=f"{len(dataset.queries):,}", passages=f"{len(dataset.passages):,}",
               table=f"{report.from_table:,}", corpus=t("ev_summary_corpus", n=f"{corpus:,}") if corpus else ""),
             t("ev_prefixes", qp=html.escape(report.query_prefix), pp=html.escape(report.passage_prefix))]
    if dataset.duplicate_passages:
        parts.append(t("ev_duplicates", n=f"{dataset.duplicate_passages:,}"))
    if len(report.results) < 2:
        parts.append(t("ev_load_second"))
    parts += [f"{t('warning')} {html.escape(translate_error(w))}" for w in report.warnings]
    # Each model's figures in one sentence, on lines of their own below the sizes (issue 26).
    lines = [" · ".join(parts)]
    for model_id, result in report.results.items():
        line = reading_text(model_id, read_retrieval(result))
        if len(result.misses) > MISSES_SHOWN:
            line += " " + t("ev_missed_n", n=f"{len(result.misses):,}") + t("ev_worst_shown", n=MISSES_SHOWN) + "."
        lines.append(line)
    return "\n\n".join(lines)


# -- thresholds -----------------------------------------------------------------------------------

@dataclass
class ThresholdReport:
    results: dict[str, ModelThreshold]
    relevant: np.ndarray
    source: str
    warnings: list[str] = field(default_factory=list)


def labelled_pairs_from_table(studio: Studio, path: str | None) -> tuple[list[str], list[str], np.ndarray, list[str]]:
    loaded = read_table(studio, path, Message("upload_what_labelled_pairs"))
    frame = loaded.frame
    query_column, passage_column = pair_columns(frame)
    verdicts = label_column(frame, exclude=[query_column, passage_column])
    anchors = cell_texts(frame[query_column].tolist())
    others = cell_texts(frame[passage_column].tolist())
    keep = [i for i in range(len(frame)) if anchors[i] and others[i]]
    labels = parse_verdicts([frame[verdicts].iloc[i] for i in keep], what=Message("verdict_column_value", column=verdicts))
    warnings = list(loaded.warnings)
    if len(keep) < len(frame):
        warnings.append(Message("skipped_incomplete_rows", count=len(frame) - len(keep)))
    return [anchors[i] for i in keep], [others[i] for i in keep], labels, warnings


def labelled_pairs_from_judgments(studio: Studio, user: str) -> tuple[list[str], list[str], np.ndarray]:
    """The caller's own relevant / not-relevant judgments (the newest, up to the corpus cap)."""
    if studio.store is None:
        raise UserError("judgments_off")
    anchors, others, relevant = judged_pairs(studio.store, user, studio.limits.max_corpus)
    if not anchors:
        raise UserError("no_relevance_judgments")
    return anchors, others, relevant


def run_thresholds(studio: Studio, anchors: list[str], others: list[str], relevant: np.ndarray,
                   query_prefix: str = "query", passage_prefix: str = "passage",
                   models: str | Sequence[str] | None = None, source: str = "upload",
                   warnings: list[str] | None = None, identity: Identity | None = None) -> ThresholdReport:
    encoders = select_encoders(studio, models, identity)
    results = find_thresholds(encoders, anchors, others, relevant, studio.limits, query_prefix=query_prefix or "none",
                              passage_prefix=passage_prefix or "none")
    return ThresholdReport(results, relevant, source, list(warnings or []))


def thresholds_table(report: ThresholdReport) -> pd.DataFrame:
    rows = [{"model": common.display_model(m), "threshold (cos×100)": round(r.choice.threshold, 2),
             "F1": round(r.choice.f1, 3), "precision": round(r.choice.precision, 3),
             "recall": round(r.choice.recall, 3), "relevant pairs": r.choice.n_relevant,
             "not relevant pairs": r.choice.n_not_relevant} for m, r in report.results.items()]
    return pd.DataFrame(rows)


def score_histograms(report: ThresholdReport) -> go.Figure:
    """Per model: scores of relevant and of not-relevant pairs on shared bins, and the chosen threshold."""
    names = [common.display_model(m) for m in report.results]
    pairs = t("ev_hist_pairs")
    fig = make_subplots(rows=len(names), cols=1, subplot_titles=[html.escape(n) for n in names],
                        vertical_spacing=0.12 if len(names) > 1 else 0.1)
    for row, result in enumerate(report.results.values(), start=1):
        low, high = float(result.scores.min()), float(result.scores.max())
        size = max((high - low) / 30, 0.01)  # ~30 bins over the observed range
        for verdict, name, colour in ((True, t("verdict_relevant"), PALETTE[2]),
                                      (False, t("verdict_not_relevant"), PALETTE[3])):
            fig.add_trace(go.Histogram(x=result.scores[report.relevant == verdict], name=name, marker_color=colour,
                                       opacity=0.6, xbins=dict(start=low, end=high + size, size=size),
                                       legendgroup=name, showlegend=row == 1,
                                       hovertemplate=f"{name}<br>cos×100 %{{x}}<br>{pairs} %{{y}}<extra></extra>"),
                          row=row, col=1)
        fig.add_vline(x=result.choice.threshold, line_dash="dash", line_color="#333", row=row, col=1,
                      annotation_text=t("ev_hist_threshold", threshold=f"{result.choice.threshold:.1f}",
                                        f1=f"{result.choice.f1:.2f}"),
                      annotation_position="top right")
        fig.update_xaxes(title_text=t("plot_cosine"), row=row, col=1)
        fig.update_yaxes(title_text=pairs, row=row, col=1)
    # The legend above the plots: on the right it covers the threshold's label.
    fig.update_layout(barmode="overlay", height=100 + 260 * len(names),
                      margin=dict(l=10, r=10, t=70, b=10), title=t("ev_hist_title"),
                      legend=dict(orientation="h", yanchor="bottom", y=1.06, xanchor="right", x=1))
    return fig


def thresholds_summary(report: ThresholdReport) -> str:
    n = len(report.relevant)
    source = t("ev_th_source_judgments" if report.source == "judgments" else "ev_th_source_table")
    parts = [t("ev_th_summary", n=f"{n:,}", source=source, relevant=f"{int(report.relevant.sum()):,}",
               not_relevant=f"{int((~report.relevant).sum()):,}"),
             t("ev_th_note")]
    if report.source == "judgments":
        parts.append(t("ev_th_in_similarity"))  # where the threshold is used next, without asking
    return " · ".join(parts + [f"{t('warning')} {html.escape(translate_error(w))}" for w in report.warnings])


# -- search ---------------------------------------------------------------------------------------

def run_search(studio: Studio, query: str, corpus: str | None, k: float | None = 10, query_prefix: str = "query",
               passage_prefix: str = "passage", model: str | None = None, identity: Identity | None = None):
    """Top k of an uploaded corpus for one query: a table, a status line and what judging needs."""
    encoder = studio.model(model or None, *common.access(identity))
    passages, column, notes = read_corpus(studio, corpus)
    if k is None or not float(k).is_integer() or not 1 <= k <= SEARCH_K_MAX:
        raise UserError("whole_number_range", name="k", low=1, high=SEARCH_K_MAX, value=k)
    query = clean_text(query or "")
    hits = search_corpus(encoder, query, passages, studio.limits, k=int(k), query_prefix=query_prefix or "none",
                         passage_prefix=passage_prefix or "none")
    shown = [passages[h.passage] for h in hits]
    table = pd.DataFrame({"rank": [h.rank for h in hits], "score": [round(h.score, 2) for h in hits],
                          "passage": shown})
    literal = Studio._literal  # the prefix as the model saw it, as Similarity records it
    view = RankedPairs([query], shown, np.array([[0, i] for i in range(len(hits))], dtype=np.int32).reshape(-1, 2),
                       table["score"].to_numpy(np.float32), literal(query_prefix or "none", encoder),
                       literal(passage_prefix or "none", encoder), encoder.model_id, encoder.revision)
    status = [t("ev_search_status", k=len(hits), n=f"{len(passages):,}")
              + (t("ev_search_column", column=html.escape(column)) if column else ""),
              t("sim_model", model=html.escape(common.display_model(encoder.model_id)))]
    status += [f"{t('warning')} {html.escape(n)}" for n in notes]
    return table, " · ".join(status), view


# -- the tab --------------------------------------------------------------------------------------

def describe_pairs(studio: Studio, path: str | None):
    """After an upload: every column to pick from, the query and passage columns found, and a note."""
    if not path:
        return gr.update(choices=[AUTO], value=AUTO), gr.update(choices=[AUTO], value=AUTO), ""
    loaded = read_table(studio, path, Message("upload_what_table"))
    columns = [AUTO, *[str(c) for c in loaded.frame.columns]]
    try:
        query, passage = pair_columns(loaded.frame)
        note = t("ev_table_note", rows=f"{len(loaded.frame):,}", query=html.escape(query),
                 passage=html.escape(passage))
    except ValueError as error:
        query = passage = AUTO
        note = f"{t('warning')} " + t("ev_pick_columns", error=html.escape(translate_error(message_of(error))))
    note = " · ".join([note] + [f"{t('warning')} {html.escape(translate_error(w))}" for w in loaded.warnings])
    return gr.update(choices=columns, value=query), gr.update(choices=columns, value=passage), note


def build(studio: Studio, token: gr.BrowserState, models_changed: gr.State | None = None) -> None:
    """``models_changed``: a state set when models are loaded or unloaded (ui/models_panel.py)."""
    models = [common.display_model(m) for m in studio.encoders]
    several = len(models) > 1
    with gr.Tab(i18n("ev_tab"), id="evaluate") as tab:
        gr.Markdown(i18n("ev_intro"))
        with gr.Row():
            query_prefix = gr.Dropdown(common.PREFIX_CHOICES, value="query", label=i18n("query_prefix"),
                                       allow_custom_value=True, elem_id="ev-query-prefix")
            passage_prefix = gr.Dropdown(common.PREFIX_CHOICES, value="passage", label=i18n("passage_prefix"),
                                         allow_custom_value=True, elem_id="ev-passage-prefix")
            chosen_models = gr.CheckboxGroup(models, value=models, label=i18n("ev_models"), visible=several,
                                             elem_id="ev-models")

        gr.Markdown(i18n("ev_retrieval"))
        with gr.Row():
            pairs_file = gr.File(label=i18n("ev_pairs_file"), height=150,
                                 file_types=FILE_TYPES, elem_id="ev-file")
            corpus_file = gr.File(label=i18n("ev_corpus_file"),
                                  height=150, file_types=FILE_TYPES, elem_id="ev-corpus")
            with gr.Column():
                query_column = gr.Dropdown([AUTO], value=AUTO, label=i18n("ev_query_column"),
                                           allow_custom_value=True, elem_id="ev-query-column")
                passage_column = gr.Dropdown([AUTO], value=AUTO, label=i18n("ev_passage_column"),
                                             allow_custom_value=True, elem_id="ev-passage-column")
                run = gr.Button(i18n("btn_evaluate"), variant="primary", elem_id="ev-run")
        status = gr.Markdown(elem_id="ev-status")
        metrics = gr.Dataframe(label=i18n("ev_metrics"), interactive=False, wrap=True, elem_id="ev-metrics")
        differences = gr.Dataframe(label=i18n("ev_differences"),
                                   interactive=False, wrap=True, visible=several, elem_id="ev-differences")
        missed = gr.Dataframe(label=i18n("ev_missed"),
                              interactive=False, wrap=True, max_height=420, elem_id="ev-misses",
                              column_widths=["12%", "18%", "24%", "70px", "90px", "100px", "24%"])

        gr.Markdown(i18n("ev_threshold"))
        with gr.Row():
            with gr.Column():
                source = gr.Radio(SOURCES, value="upload", label=i18n("ev_pairs_verdict"), elem_id="th-source")
                labelled_file = gr.File(label=i18n("ev_labelled_file"),
                                        height=150, file_types=FILE_TYPES, elem_id="th-file")
                threshold_run = gr.Button(i18n("btn_find_threshold"), variant="primary", elem_id="th-run")
            threshold_status = gr.Markdown(elem_id="th-status")
        threshold_table = gr.Dataframe(interactive=False, wrap=True, elem_id="th-table")
        histogram = gr.Plot(empty_figure(),  # no text: the page's language is not known yet
                            elem_id="th-plot")

        gr.Markdown(i18n("ev_search"))
        with gr.Row():
            search_corpus_file = gr.File(label=i18n("ev_search_corpus"),
                                         height=150, file_types=FILE_TYPES, elem_id="se-corpus")
            with gr.Column():
                search_query = gr.Textbox(label=i18n("ev_query"), lines=2, elem_id="se-query")
                with gr.Row():
                    k = gr.Number(10, label=i18n("ev_top_k"), precision=0, minimum=1, maximum=SEARCH_K_MAX, elem_id="se-k")
                    search_model = gr.Dropdown(models, value=models[0], label=i18n("model"), visible=several,
                                               allow_custom_value=True, elem_id="se-model")
                search_run = gr.Button(i18n("btn_search"), variant="primary", elem_id="se-run")
        search_status = gr.Markdown(elem_id="se-status")
        hits = gr.Dataframe(label=i18n("ev_hits"), interactive=False, wrap=True,
                            elem_id="se-results", column_widths=["60px", "80px", "85%"])
        hits_state = gr.State(None)  # RankedPairs of the shown hits
        with gr.Column(variant="panel"):
            selected = gr.Markdown(i18n("ev_no_hit"), elem_id="se-selected")
            pair = gr.State(None)
            with gr.Row():
                relevant = gr.Button(i18n("btn_relevant"), size="sm", elem_id="se-relevant")
                not_relevant = gr.Button(i18n("btn_not_relevant"), size="sm", elem_id="se-not-relevant")
                undo = gr.Button(i18n("btn_undo"), size="sm", elem_id="se-undo")
            flag_status = gr.Markdown(elem_id="se-flag-status")
            last_id = gr.State(None)

        offered = gr.State(models)  # the model names the pickers offer
        # The page's own token, copied here when the tab is shown, so that /search from the page may use
        # the caller's private tuned model (a BrowserState input would be a required API parameter).
        caller_token = gr.Textbox("", visible=False, elem_id="ev-caller-token")

        @common.user_errors
        def refresh_models(ticked: list[str] | None, picked: str | None, names: list[str] | None, user_token: str,
                           request: gr.Request, profile: gr.OAuthProfile | None):
            identity = common.caller(studio, request, profile, user_token)
            return (*model_pickers(studio, ticked, picked, names, identity), user_token or "")

        gr.on([tab.select, *([models_changed.change] if models_changed is not None else [])], refresh_models,
              [chosen_models, search_model, offered, token], [chosen_models, search_model, offered, caller_token],
              api_visibility="private")

        # -- retrieval
        @common.user_errors
        def columns_of(path: str | None):
            return describe_pairs(studio, path)

        @common.user_errors
        def clear_results():
            """A new file makes the old results stale."""
            return None, None, None

        stale = [metrics, differences, missed]
        pairs_file.change(clear_results, None, stale, api_visibility="private").then(
            columns_of, pairs_file, [query_column, passage_column, status], api_visibility="private")
        corpus_file.change(clear_results, None, stale, api_visibility="private")

        @common.user_errors
        def evaluate_in_tab(path: str | None, corpus: str | None, q_prefix: str, p_prefix: str, names: list[str],
                            q_column: str, p_column: str, user_token: str, request: gr.Request,
                            profile: gr.OAuthProfile | None):
            identity = common.caller(studio, request, profile, user_token)
            report = run_evaluation(studio, path, corpus, q_prefix, p_prefix, ticked_models(studio, names, identity),
                                    q_column, p_column, identity)
            return (evaluation_summary(report), common.fixed_decimals(localized(metrics_table(report)), 3),
                    gr.update(value=common.fixed_decimals(localized(differences_table(report)), 3),
                              visible=len(report.results) > 1),
                    common.fixed_decimals(localized(misses_table(report)), 2))

        run.click(evaluate_in_tab, [pairs_file, corpus_file, query_prefix, passage_prefix, chosen_models, query_column,
                                    passage_column, token], [status, metrics, differences, missed],
                  api_visibility="private")

        # -- thresholds
        @common.user_errors
        def thresholds_in_tab(from_where: str, path: str | None, q_prefix: str, p_prefix: str, names: list[str],
                              user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            warnings: list[str] = []
            caller = common.caller(studio, request, profile, user_token)
            names = ticked_models(studio, names, caller)
            if from_where == "judgments":
                # Your own verdicts only: who you are comes from the server, checked here.
                identity = common.identify(studio, request, profile, user_token)
                anchors, others, labels = labelled_pairs_from_judgments(studio, identity.user)
            else:
                anchors, others, labels, warnings = labelled_pairs_from_table(studio, path)
            report = run_thresholds(studio, anchors, others, labels, q_prefix, p_prefix, names, from_where, warnings,
                                    caller)
            return thresholds_summary(report), localized(thresholds_table(report)), score_histograms(report)

        threshold_run.click(thresholds_in_tab, [source, labelled_file, query_prefix, passage_prefix, chosen_models,
                                                token], [threshold_status, threshold_table, histogram],
                            api_visibility="private")
        labelled_file.upload(common.user_errors(lambda: "upload"), None, source, api_visibility="private")

        # -- search
        @common.user_errors
        def search(query: str, file: str | None = None, k: float = 10, query_prefix: str = "query",
                   passage_prefix: str = "passage", model: str = "", token: str = "", request: gr.Request = None,
                   profile: gr.OAuthProfile | None = None):
            """The top k passages of an uploaded corpus (a table or a .txt, one passage per line) for one query,
            with cosine x 100. model: one of the loaded models; empty for the default (a tuned model you
            loaded privately needs your token or login)."""
            table, status, view = run_search(studio, query, file, k, query_prefix, passage_prefix, model,
                                             common.caller(studio, request, profile, token))
            return common.fixed_decimals(localized(table), 2), status, view

        search_run.click(search, [search_query, search_corpus_file, k, query_prefix, passage_prefix, search_model,
                                 caller_token],
                         [hits, search_status, hits_state], api_name="search").then(
            common.user_errors(lambda: (t("ev_no_hit"), None)), None,
            [selected, pair], api_visibility="private")

        @common.user_errors
        def select_hit(result: RankedPairs | None, event: gr.SelectData):
            if result is None or event.index is None or not 0 <= int(event.index[0]) < len(result.pairs):
                return gr.update(), None
            row = int(event.index[0])
            chosen = result.pair(row).replace(tab="search")
            return (t("ev_judging", rank=row + 1, score=f"{result.scores[row]:.2f}") + "<br>"
                    f"{html.escape(short_text(chosen.anchor))} → {html.escape(short_text(chosen.positive))}"), chosen

        hits.select(select_hit, hits_state, [selected, pair], api_visibility="private")

        def judge(kind: str):
            @common.user_errors
            def save(chosen: Judgment | None, user_token: str, request: gr.Request,
                     profile: gr.OAuthProfile | None):
                if chosen is None:
                    raise ValueError(t("ev_select_row"))
                identity = common.identify(studio, request, profile, user_token)
                record = common.flag(studio, identity, chosen.replace(kind=kind))
                return common.judgment_status(record, t(f"verdict_{kind}")), record
            return save

        if studio.store is not None:
            for button, kind in ((relevant, "relevant"), (not_relevant, "not_relevant")):
                button.click(judge(kind), [pair, token], [flag_status, last_id], api_visibility="private")
            undo.click(common.undo_handler(studio), [last_id, token], [flag_status, last_id],
                       api_visibility="private")


def short_text(text: str | None, limit: int = 200) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def add_api(studio: Studio) -> None:
    """/evaluate: Recall@1/5/10, MRR@10 and nDCG@10 of the loaded models on the caller's pairs."""

    @common.user_errors
    def evaluate(file: dict | str | None = None, corpus: dict | str | None = None, query_prefix: str = "query",
                 passage_prefix: str = "passage", models: list[str] | str | None = None,
                 query_column: str = "", passage_column: str = "", token: str = "", request: gr.Request = None,
                 profile: gr.OAuthProfile | None = None) -> dict:
        """file: a table (CSV, TSV, XLSX, Parquet) with query and passage columns, one row per relevant pair
        (gradio_client.handle_file); corpus: optional further passages (a table or a .txt, one per line).
        Every passage is a candidate for every query. models: loaded model names, default all you may use
        (a tuned model you loaded privately needs your token or login). Returns
        {"queries", "passages", "models": {model: {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"}}}."""
        report = run_evaluation(studio, common.uploaded_path(file), common.uploaded_path(corpus), query_prefix, passage_prefix,
                                models, query_column, passage_column, common.caller(studio, request, profile, token))
        return report.as_api()

    gr.api(evaluate, api_name="evaluate")


__all__ = ["EvaluationReport", "ThresholdReport", "add_api", "build", "run_evaluation", "run_search",
           "run_thresholds"]
