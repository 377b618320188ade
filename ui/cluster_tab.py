"""Tab 2: cluster a corpus, draw it on a UMAP map, name the clusters, judge texts."""

from __future__ import annotations

import html
from dataclasses import replace

import gradio as gr
import numpy as np
import pandas as pd

from core.campaigns.uncertain import DEFAULT_ITEMS
from core.errors import UserError
from core.exploration.cluster_view import (
    NO_LABEL,
    ClusterView,
    agreement_table,
    border_choice,
    corpus_frame,
    corpus_to_cluster,
    export_points,
    found_frame,
    judge_table,
    label_judgments,
    selection_frame,
    selection_judgments,
    store_batch,
)
from core.exploration.clustering import CLUSTERERS, NOISE, KChoice, KMeansClusterer
from core.exploration.selection import containing, nearest, selected_ids
from core.identity import Identity
from core.inputs.corpus import label_candidates, text_columns
from core.judgments import Judgment
from core.studio import Studio
from ui import common
from ui.i18n import i18n, localized, t, translate_error
from ui.map_view import figure_value, map_component
from ui.plots import cluster_map, empty_figure, with_highlight

SOURCES = [(i18n("cl_source_sample"), "sample"), (i18n("cl_source_upload"), "upload"),
           (i18n("cl_source_paste"), "paste")]


def describe_columns(studio: Studio, source: str, path: str | None, pasted: str):
    """After an upload: offer the text columns and the label columns."""
    frame, warnings = corpus_frame(studio.limits, source, path, pasted)
    texts = text_columns(frame) or [str(c) for c in frame.columns]
    labels = [(t("col_none"), NO_LABEL)] + [(c, c) for c in label_candidates(frame) if c != texts[0]]
    note = t("cl_columns_note", rows=f"{len(frame):,}", columns=", ".join(html.escape(str(c)) for c in frame.columns))
    return (gr.update(choices=texts, value=texts[0]),
            gr.update(choices=labels, value=labels[1][1] if len(labels) > 1 else NO_LABEL),
            " · ".join([note] + [html.escape(translate_error(w)) for w in warnings]))


def run_cluster(studio: Studio, source: str = "sample", pasted: str = "", path: str | None = None,
                text_column: str | None = None, label_column: str | None = None, method: str = "k-means",
                k: float | None = 0, min_cluster_size: float = 5, n_neighbors: float = 15, min_dist: float = 0.1,
                metric: str = "cosine", seed: float | None = 42, colour_by: str = "cluster",
                with_embeddings: bool = False, progress=None):
    frame, warnings = corpus_frame(studio.limits, source, path, pasted)
    corpus = corpus_to_cluster(frame, source, text_column, label_column, studio.encoder.dim, warnings)
    result = studio.cluster(
        corpus.texts, corpus.labels, method=method, k=int(k) if k else None, min_cluster_size=int(min_cluster_size),
        n_neighbors=int(n_neighbors), min_dist=float(min_dist), metric=metric,
        seed=int(seed) if seed not in (None, "") else None, progress=progress, embeddings=corpus.embeddings,
    )
    warnings = corpus.warnings + result.warnings
    by = "label" if colour_by == "label" and result.labels is not None else "cluster"
    n_clusters = len(set(result.clusters.tolist()) - {NOISE})
    reason = result.k_choice.reason if result.k_choice is not None else ""
    chosen = {"silhouette": "cl_map_chosen", "labels": "cl_map_chosen_labels"}.get(reason)
    title = t("cl_map_title", n=f"{len(corpus.texts):,}", k=n_clusters, method=method,
              chosen=t(chosen, k=result.chosen_k) if chosen else "")
    view = ClusterView.of(result)
    view = replace(view, names=page_names(view.names))  # the names table, legend and exports show
    if corpus.embeddings is not None:  # search by meaning cannot get them from the encoder's cache
        view = replace(view, vectors=result.embeddings.astype(np.float16))
    figure = cluster_map(result.points(), by, title, view.names)
    summary = [t("cl_summary", n=n_clusters, texts=f"{len(corpus.texts):,}"),
               k_reason(result.k_choice, result.chosen_k, n_clusters, result.k_candidates, corpus.label_column)]
    if result.metrics:
        summary.append(t("cl_against", column=html.escape(str(corpus.label_column)),
                         ari=f"{result.metrics['ari']:.3f}", nmi=f"{result.metrics['nmi']:.3f}"))
    summary += [f"{t('warning')} {html.escape(translate_error(w))}" for w in warnings]
    shown, capped = judge_table(view)
    if capped:
        summary.append(t("cl_table_capped", shown=f"{len(shown):,}", total=f"{len(view.texts):,}"))
    csv_path, parquet_path = export_points(result, with_embeddings, studio.files, view.names)
    return (figure, localized(view.named_table()), " · ".join(summary), csv_path, parquet_path, localized(shown),
            view)


def k_reason(choice: KChoice | None, k: int | None, n_clusters: int, candidates: list[tuple[int, float]],
             label_column: str | None) -> str:
    """One sentence: which k the clustering used and why (the person's, the labels', silhouette's)."""
    if choice is None:
        return ""
    if choice.reason == "density":
        return t("cl_k_density", k=n_clusters)
    if choice.reason == "given":
        return t("cl_k_given", k=k)
    column = html.escape(str(label_column))
    if choice.reason == "labels":
        return t("cl_k_labels", k=k, column=column)
    why = []
    if choice.classes is not None and choice.classes > 1:  # a label column too varied to be the topics
        why.append(t("cl_k_too_many", column=column, classes=f"{choice.classes:,}"))
    if not candidates or k is None or k < 2:
        why.append(t("cl_k_silhouette_one"))
    else:
        scores = dict(candidates)
        low, high = KMeansClusterer().k_range
        why.append(t("cl_k_silhouette", k=k, score=f"{scores.get(k, candidates[0][1]):.3f}", low=low, high=high))
    return "; ".join(why)


def candidate_choices(view: ClusterView | None) -> gr.update:
    """Silhouette's best k as one-click choices (hidden when k was not searched: given, labels, HDBSCAN)."""
    if view is None or view.k_choice is None:
        return gr.update(choices=[], value=None, visible=False)
    if view.k_choice.reason == "given":  # a k picked from the choices (or typed): the choices stay
        return gr.update()
    if view.k_choice.reason != "silhouette" or len(view.k_candidates) < 2:
        return gr.update(choices=[], value=None, visible=False)
    chosen = [(t("cl_k_candidate", k=k, score=f"{score:.3f}"), k) for k, score in view.k_candidates]
    return gr.update(choices=chosen, value=view.k_candidates[0][0], visible=True)


def page_names(names: dict[int, str] | None) -> dict[int, str]:
    """Proposed cluster names as the page shows them: the noise group in the page's language."""
    return {c: t("plot_noise") if c == NOISE else name for c, name in (names or {}).items()}


def cluster_choices(view: ClusterView, names: dict[int, str]) -> list[tuple[str, int]]:
    """The name picker's clusters (not noise: it is not a topic), largest first, as the table lists them."""
    sizes = {int(c): int(n) for c, n in zip(view.table["cluster"], view.table["size"], strict=True)} \
        if view.table is not None else {}
    return [(t("cl_choice", cluster=c, name=names.get(c, ""), n=sizes.get(c, 0)), c) for c in sizes if c != NOISE]


def save_cluster_labels(studio: Studio, identity: Identity, view: ClusterView | None, cluster: object,
                        name: str) -> tuple[list[int], str]:
    """Store the cluster's name as a label judgment for each of its texts, in one transaction.

    Returns the ids this batch created (an undo takes back exactly these: a text the caller had
    already labelled so keeps its earlier judgment) and a status line.
    """
    if studio.store is None:
        raise UserError("judgments_off")
    if view is None:
        raise UserError("cluster_first")
    if cluster in (None, ""):
        raise UserError("pick_cluster_to_name")
    try:
        number = int(cluster)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise UserError("pick_cluster_from_list", value=cluster) from None
    batch = label_judgments(studio.encoder, identity.user, view, number, name)
    created, result = store_batch(studio.store, identity.user, batch)
    label = html.escape(batch[0].label or "")
    already = t("cl_already", n=result.duplicates) if result.duplicates else ""
    return created, t("cl_saved_label", label=label, n=result.added, cluster=number, already=already)


def selection_summary(view: ClusterView, ids: list[int]) -> str:
    clusters = pd.Series([int(view.clusters[i]) for i in ids]).value_counts()
    spread = ", ".join(t("cl_in_cluster", n=n, cluster=c) for c, n in clusters.head(5).items())
    more = t("cl_more_clusters", n=len(clusters) - 5) if len(clusters) > 5 else ""
    return t("cl_selected", n=len(ids), spread=spread, more=more)


def coloured_title(n: int, by: str) -> str:
    """The map's title when it is recoloured: how many texts, coloured by cluster or by label."""
    return t("cl_map_coloured", n=f"{n:,}", by=t("cl_colour_label" if by == "label" else "cl_colour_cluster"))


def highlight(view: ClusterView, ids: list[int], what: str, names: dict | None, by: str) -> str:
    """The map with ``ids`` ringed and listed in the legend as ``what``."""
    by = "label" if by == "label" and view.labels is not None else "cluster"
    points = view.points()
    figure = cluster_map(points, by, t("cl_map_highlight", n=f"{len(view.texts):,}", what=f"{len(ids)} {what}"),
                         names)
    return figure_value(with_highlight(figure, points, ids, f"{len(ids)} {what}"))


def save_selection(studio: Studio, identity: Identity, view: ClusterView | None, ids: list[int] | None, kind: str,
                   label: str = "", note: str = "") -> tuple[list[int], str]:
    """Judge the selected texts as ``identity``: misplaced or label for each, similar / dissimilar for two.

    Returns the ids created (Undo takes the batch back) and a status line.
    """
    if studio.store is None:
        raise UserError("judgments_off")
    if view is None:
        raise UserError("cluster_first")
    batch = selection_judgments(studio.encoder, identity.user, view, ids, kind, label, note)
    created = [common.flag(studio, identity, judgment) for judgment in batch]
    what = {"misplaced": t("cl_not_in_cluster"),
            "label": t("cl_label_what", label=html.escape(batch[0].label or ""))}.get(kind, kind)
    return created, t("cl_saved_selection", n=len(created), what=what)


def make_border_campaign(studio: Studio, identity: Identity, view: ClusterView | None, names: dict | None,
                         n: float | None, overlap: float | None, name: str = ""):
    """A label campaign of this clustering's border texts, labelled with the clusters' current names."""
    choice = border_choice(view, names, n)
    return studio.create_campaign_from(identity.user, choice, is_admin=identity.is_admin,
                                       overlap=overlap if overlap not in (None, "") else 2,
                                       name=" ".join((name or "").split()) or "cluster borders")


def build(studio: Studio, token: gr.BrowserState) -> None:
    with gr.Tab(i18n("cl_tab"), id="clustering"):
        gr.Markdown(i18n("cl_intro"))
        with gr.Row():
            with gr.Column(scale=2):
                source = gr.Radio(SOURCES, value="sample", label=i18n("cl_corpus"), elem_id="cl-source")
                upload = gr.File(label=i18n("cl_file"), height=150,
                                 file_types=[".csv", ".tsv", ".txt", ".xlsx", ".parquet"], elem_id="cl-file")
                pasted = gr.Textbox("", label=i18n("cl_pasted"), lines=4, elem_id="cl-pasted")
                with gr.Row():
                    text_column = gr.Dropdown(["text"], value="text", label=i18n("cl_text_column"), allow_custom_value=True)
                    label_column = gr.Dropdown([NO_LABEL, "topic"], value=NO_LABEL, label=i18n("cl_label_column"),
                                               allow_custom_value=True)
            with gr.Column(scale=1):
                method = gr.Dropdown(list(CLUSTERERS), value="k-means", label=i18n("cl_method"))
                k = gr.Number(0, label=i18n("cl_k_auto"), precision=0, minimum=0, maximum=100, elem_id="cl-k")
                min_cluster_size = gr.Number(5, label=i18n("cl_min_size"), precision=0, minimum=2)
                with gr.Accordion(i18n("cl_map_settings"), open=False):
                    n_neighbors = gr.Slider(2, 100, value=15, step=1, label="n_neighbors")
                    min_dist = gr.Slider(0.0, 1.0, value=0.1, step=0.05, label="min_dist")
                    metric = gr.Dropdown(["cosine", "euclidean"], value="cosine", label="metric")
                    seed = gr.Number(42, label=i18n("cl_seed"), precision=0)
                colour_by = gr.Radio([(i18n("cl_colour_cluster"), "cluster"), (i18n("cl_colour_label"), "label")],
                                     value="cluster", label=i18n("cl_colour_by"))
                with_embeddings = gr.Checkbox(False, label=i18n("cl_with_embeddings"))
                run = gr.Button(i18n("btn_cluster"), variant="primary", elem_id="cl-run")
        summary = gr.Markdown(elem_id="cl-summary")
        k_candidates = gr.Radio([], label=i18n("cl_k_candidates"), visible=False, elem_id="cl-k-candidates")
        # Lasso, box or click on the map selects texts (plotly's toolbar switches between them).
        plot = map_component("cl-plot", value=figure_value(empty_figure()))  # no text: the page's language is not known yet
        with gr.Accordion(i18n("px_selected_title"), open=True):
            selection_view = gr.Markdown(i18n("px_select_help"), elem_id="cl-selection")
            selection_table = gr.Dataframe(interactive=False, wrap=True, max_height=260, visible=False,
                                           elem_id="cl-selection-table")
            selection = gr.State([])  # point ids, checked on the server
            with gr.Row():
                sel_misplaced = gr.Button(i18n("btn_each_misplaced"), size="sm", elem_id="cl-sel-misplaced")
                sel_label = gr.Textbox(label=i18n("cl_sel_label"), lines=1, scale=2, elem_id="cl-sel-label")
                sel_save_label = gr.Button(i18n("btn_save_label_each"), size="sm", elem_id="cl-sel-save-label")
                sel_similar = gr.Button(i18n("btn_two_similar"), size="sm", elem_id="cl-sel-similar")
                sel_dissimilar = gr.Button(i18n("btn_two_dissimilar"), size="sm", elem_id="cl-sel-dissimilar")
            with gr.Row():
                find_text = gr.Textbox(label=i18n("cl_find"), lines=1, scale=2, elem_id="cl-find")
                find = gr.Button(i18n("btn_find"), size="sm", elem_id="cl-find-run")
                meaning = gr.Textbox(label=i18n("cl_meaning"), lines=1, scale=2, elem_id="cl-meaning")
                meaning_k = gr.Number(10, label="k", precision=0, minimum=1, maximum=100, scale=0)
                search = gr.Button(i18n("btn_search"), size="sm", elem_id="cl-meaning-run")
            found = gr.Dataframe(interactive=False, wrap=True, max_height=260, visible=False, elem_id="cl-found")
        table = gr.Dataframe(label=i18n("cl_clusters"), interactive=False, wrap=True, elem_id="cl-table",
                             column_widths=["70px", "18%", "60px", "22%", "45%"])
        with gr.Accordion(i18n("cl_name_title"), open=True):
            gr.Markdown(i18n("cl_name_help"))
            with gr.Row():
                name_cluster = gr.Dropdown([], label=i18n("cl_cluster"), elem_id="cl-name-cluster", scale=2)
                cluster_name_box = gr.Textbox(label=i18n("ann_name"), lines=1, elem_id="cl-name", scale=3)
                rename = gr.Button(i18n("btn_rename"), size="sm", elem_id="cl-rename", scale=1)
                save_labels = gr.Button(i18n("btn_save_as_labels"), size="sm", elem_id="cl-save-labels", scale=1)
            agreement = gr.Dataframe(label=i18n("cl_agreement"),
                                     interactive=False, wrap=True, visible=False, elem_id="cl-agreement")
        if studio.store is not None:
            with gr.Accordion(i18n("cl_campaign_title"), open=False):
                gr.Markdown(i18n("cl_campaign_help"))
                with gr.Row():
                    campaign_n = gr.Number(DEFAULT_ITEMS, label=i18n("ann_items"), precision=0, minimum=1, scale=1,
                                           elem_id="cl-campaign-n")
                    campaign_overlap = gr.Number(2, label=i18n("cl_annotators"), precision=0, minimum=1, scale=1,
                                                 elem_id="cl-campaign-overlap")
                    campaign_name = gr.Textbox(label=i18n("cl_campaign_name"), lines=1, scale=2, elem_id="cl-campaign-name")
                    make_campaign = gr.Button(i18n("btn_make_campaign"), size="sm", scale=1, elem_id="cl-campaign-run")
                campaign_status = gr.Markdown(elem_id="cl-campaign-status")
        names_state = gr.State({})  # cluster -> name, as edited in this session
        with gr.Row():
            csv_file = gr.File(label=i18n("cl_export_csv"))
            parquet_file = gr.File(label=i18n("cl_export_parquet"))
        result_state = gr.State(None)  # ClusterView

        with gr.Accordion(i18n("cl_judge_title"), open=True):
            gr.Markdown(i18n("cl_judge_help"))
            points = gr.Dataframe(interactive=False, wrap=True, max_height=300, elem_id="cl-points",
                                  column_widths=["70%", "80px", "25%"])
            picked = gr.State({"a": None, "b": None, "next": "a"})
            picked_view = gr.Markdown("A: – · B: –", elem_id="cl-picked")
            with gr.Row():
                misplaced = gr.Button(i18n("btn_a_misplaced"), size="sm", elem_id="cl-misplaced")
                similar = gr.Button(i18n("btn_ab_similar"), size="sm", elem_id="cl-similar")
                dissimilar = gr.Button(i18n("btn_ab_dissimilar"), size="sm", elem_id="cl-dissimilar")
            with gr.Row():
                topic = gr.Textbox(label=i18n("cl_topic"), lines=1, scale=3, elem_id="cl-topic")
                save_topic = gr.Button(i18n("btn_save_label"), size="sm", scale=1, elem_id="cl-save-topic")
            comment = gr.Textbox(label=i18n("comment_optional"), lines=1)
            with gr.Row():
                flag_status = gr.Markdown(elem_id="cl-flag-status")
                undo = gr.Button(i18n("btn_undo"), size="sm", elem_id="cl-undo")
            last_id = gr.State(None)

        # A new corpus makes the old map, tables, exports and picks stale: they go before it is read, and
        # a refused file leaves the field (nobody should take it for the data on screen).
        stale = [plot, table, csv_file, parquet_file, points, result_state, picked, picked_view, names_state,
                 name_cluster, cluster_name_box, agreement, selection, selection_view, selection_table, found,
                 k_candidates]

        @common.user_errors
        def clear_results():
            return (figure_value(empty_figure(t("cl_empty_map"))), None, None, None, None, None,
                    {"a": None, "b": None, "next": "a"}, "A: – · B: –", {}, gr.update(choices=[], value=None), "",
                    gr.update(value=None, visible=False), [], t("nothing_selected"), gr.update(value=None, visible=False),
                    gr.update(value=None, visible=False), gr.update(choices=[], value=None, visible=False))

        upload.upload(clear_results, None, stale, api_visibility="private").then(
            common.user_errors(lambda p: describe_columns(studio, "upload", p, "")), upload,
            [text_column, label_column, summary], api_visibility="private").success(
            common.user_errors(lambda: "upload"), None, source, api_visibility="private").failure(
            common.user_errors(lambda: None), None, upload, api_visibility="private")
        source.input(clear_results, None, stale, api_visibility="private")

        @common.user_errors
        def pasted_changed(current: str, texts: str):
            """Typing texts into the box makes them the corpus, as an upload makes its file the corpus (the
            result on screen, of another source or of older texts, is cleared). Emptying the box leaves
            the choice as it is."""
            if (texts or "").strip():
                return "paste", *clear_results()
            if current == "paste":
                return gr.update(), *clear_results()
            return gr.update(), *(gr.update() for _ in stale)

        # change, not input: a paste (or a script filling the box) is not always an input event to Gradio.
        pasted.change(pasted_changed, [source, pasted], [source, *stale], api_visibility="private")

        @common.user_errors
        def cluster(source: str = "sample", texts: str = "", file: str | None = None, text_column: str = "text",
                    label_column: str = NO_LABEL, method: str = "k-means", k: float = 0,
                    min_cluster_size: float = 5, n_neighbors: float = 15, min_dist: float = 0.1,
                    metric: str = "cosine", seed: float | None = 42, colour_by: str = "cluster",
                    with_embeddings: bool = False, progress=gr.Progress()):  # noqa: B008 (gradio injects it)
            """Cluster the sample corpus, pasted texts (source="paste") or an uploaded file; map, table, exports."""
            figure, *rest = run_cluster(studio, source, texts, file, text_column, label_column, method, k,
                                        min_cluster_size, n_neighbors, min_dist, metric, seed, colour_by,
                                        with_embeddings,
                                        progress=lambda fraction, desc: progress(fraction, desc=translate_error(desc)))
            return (figure_value(figure), *rest)

        @common.user_errors
        def after_cluster(view: ClusterView | None):
            """A fresh clustering: its proposed names, the name picker, clusters x labels, no old picks."""
            if view is None:
                return {}, gr.update(choices=[], value=None), "", gr.update(value=None, visible=False), \
                    {"a": None, "b": None, "next": "a"}, "A: – · B: –", candidate_choices(None)
            names = dict(view.names or {})
            choices = cluster_choices(view, names)
            first = choices[0][1] if choices else None
            crosstab = agreement_table(view, names)
            return (names, gr.update(choices=choices, value=first), names.get(first, "") if first is not None else "",
                    gr.update(value=localized(crosstab), visible=crosstab is not None),
                    {"a": None, "b": None, "next": "a"}, "A: – · B: –", candidate_choices(view))

        cluster_inputs = [source, pasted, upload, text_column, label_column, method, k, min_cluster_size,
                          n_neighbors, min_dist, metric, seed, colour_by, with_embeddings]
        cluster_outputs = [plot, table, summary, csv_file, parquet_file, points, result_state]
        after_outputs = [names_state, name_cluster, cluster_name_box, agreement, picked, picked_view, k_candidates]
        run.click(cluster, cluster_inputs, cluster_outputs, api_name="cluster").success(
            after_cluster, result_state, after_outputs, api_visibility="private")

        # One click on another of silhouette's k: it becomes k, and the corpus is clustered again with it.
        k_candidates.input(common.user_errors(lambda chosen: chosen if chosen else gr.update()), k_candidates, k,
                           api_visibility="private").success(
            cluster, cluster_inputs, cluster_outputs, api_visibility="private").success(
            after_cluster, result_state, after_outputs, api_visibility="private")

        @common.user_errors
        def recolour(result: ClusterView | None, by: str, names: dict | None):
            if result is None:
                return gr.update()
            by = "label" if by == "label" and result.labels is not None else "cluster"
            return figure_value(cluster_map(result.points(), by, coloured_title(len(result.texts), by), names))

        colour_by.change(recolour, [result_state, colour_by, names_state], plot, api_visibility="private")

        @common.user_errors
        def show_name(names: dict | None, cluster: int | None):
            return (names or {}).get(int(cluster), "") if cluster not in (None, "") else ""

        name_cluster.input(show_name, [names_state, name_cluster], cluster_name_box, api_visibility="private")

        @common.user_errors
        def rename_cluster(view: ClusterView | None, names: dict | None, cluster: int | None, name: str, by: str):
            if view is None:
                raise UserError("cluster_first")
            if cluster in (None, ""):
                raise UserError("pick_cluster_to_name")
            name = " ".join((name or "").split())
            if not name:
                raise UserError("type_cluster_name")
            if len(name) > 200:
                raise UserError("cluster_name_too_long", limit=200, length=len(name))
            names = {**(names or {}), int(cluster): name}
            by = "label" if by == "label" and view.labels is not None else "cluster"
            crosstab = agreement_table(view, names)
            return (names, localized(view.named_table(names)),
                    gr.update(choices=cluster_choices(view, names), value=int(cluster)),
                    figure_value(cluster_map(view.points(), by, coloured_title(len(view.texts), by), names)),
                    gr.update(value=localized(crosstab), visible=crosstab is not None))

        rename.click(rename_cluster, [result_state, names_state, name_cluster, cluster_name_box, colour_by],
                     [names_state, table, name_cluster, plot, agreement], api_visibility="private")

        @common.user_errors
        def pick(result: ClusterView | None, state: dict, event: gr.SelectData):
            if result is None or event.index is None or not 0 <= int(event.index[0]) < len(result.texts):
                return state, gr.update()
            i = int(event.index[0])
            state = dict(state)
            state[state["next"]] = i
            state["next"] = "b" if state["next"] == "a" else "a"

            def show(j):
                return "–" if j is None else t("cl_pick_line", i=j + 1, cluster=result.clusters[j],
                                               text=html.escape(result.texts[j][:120]))

            return state, f"**A:** {show(state['a'])}<br>**B:** {show(state['b'])}"

        points.select(pick, [result_state, picked], [picked, picked_view], api_visibility="private")

        def judge(kind: str):
            @common.user_errors
            def save(result: ClusterView | None, state: dict, label: str, note: str, user_token: str,
                     request: gr.Request, profile: gr.OAuthProfile | None):
                if result is None or state.get("a") is None:
                    raise UserError("select_text_in_table")
                a = result.texts[state["a"]]
                kwargs: dict = {"anchor": a}
                if kind in ("similar", "dissimilar"):
                    if state.get("b") is None or state["b"] == state["a"]:
                        raise UserError("select_second_text")
                    kwargs["positive"] = result.texts[state["b"]]
                elif kind == "misplaced":
                    kwargs["label"] = f"cluster {result.clusters[state['a']]}"
                else:
                    kwargs["label"] = (label or "").strip()
                    if not kwargs["label"]:
                        raise UserError("type_topic_label")
                # Clustering is a symmetric task: both texts were encoded with the query prefix.
                prefix = "query: " if studio.encoder.uses_prefixes else ""
                identity = common.identify(studio, request, profile, user_token)
                record = common.flag(studio, identity, Judgment(kind=kind, comment=note, tab="clustering",
                                                                query_prefix=prefix, passage_prefix=prefix, **kwargs))
                return common.judgment_status(record, kind.replace("_", " ")), record, ""
            return save

        for button, kind in ((misplaced, "misplaced"), (similar, "similar"), (dissimilar, "dissimilar"),
                             (save_topic, "label")):
            button.click(judge(kind), [result_state, picked, topic, comment, token],
                         [flag_status, last_id, comment], api_visibility="private")

        @common.user_errors
        def save_names(view: ClusterView | None, names: dict | None, cluster: int | None, name: str,
                       user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            # Saved as the caller, identified here; the name typed in the box is what is saved (and kept).
            identity = common.identify(studio, request, profile, user_token)
            created, message = save_cluster_labels(studio, identity, view, cluster, name)
            names = {**(names or {}), int(cluster): " ".join((name or "").split())}
            return message, created, names, localized(view.named_table(names)) if view is not None else gr.update()

        save_labels.click(save_names, [result_state, names_state, name_cluster, cluster_name_box, token],
                          [flag_status, last_id, names_state, table], api_visibility="private")

        if studio.store is not None:
            @common.user_errors
            def border_campaign(view: ClusterView | None, names: dict | None, n: float | None, overlap: float | None,
                                name: str, user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
                identity = common.identify(studio, request, profile, user_token)
                made = make_border_campaign(studio, identity, view, names, n, overlap, name)
                return (t("cl_campaign_made", name=html.escape(made.name), n=f"{made.n_items:,}",
                          overlap=made.overlap, labels=html.escape(", ".join(made.labels or ())), id=made.id)
                        + "<br>" + t("ann_rule_line", rule=html.escape(made.rule)))

            make_campaign.click(border_campaign, [result_state, names_state, campaign_n, campaign_overlap,
                                                  campaign_name, token], campaign_status, api_visibility="private")

        undo.click(common.undo_handler(studio, "cl_label_batch_removed"), [last_id, token], [flag_status, last_id],
                   api_visibility="private")

        # -- the map's selection -----------------------------------------------------------------
        @common.user_errors
        def on_select(view: ClusterView | None, event: gr.SelectData):
            if view is None:
                return [], t("cl_cluster_first"), gr.update(value=None, visible=False)
            ids = selected_ids(event.index, len(view.texts))
            if not ids:
                return [], t("nothing_selected"), gr.update(value=None, visible=False)
            return ids, selection_summary(view, ids), gr.update(value=localized(selection_frame(view, ids)), visible=True)

        plot.select(on_select, result_state, [selection, selection_view, selection_table], api_visibility="private")

        def judge_selection(kind: str):
            @common.user_errors
            def save(view: ClusterView | None, ids: list[int] | None, label: str, note: str, user_token: str,
                     request: gr.Request, profile: gr.OAuthProfile | None):
                identity = common.identify(studio, request, profile, user_token)
                created, message = save_selection(studio, identity, view, ids, kind, label, note)
                return message, created, ""
            return save

        for button, kind in ((sel_misplaced, "misplaced"), (sel_save_label, "label"), (sel_similar, "similar"),
                             (sel_dissimilar, "dissimilar")):
            button.click(judge_selection(kind), [result_state, selection, sel_label, comment, token],
                         [flag_status, last_id, comment], api_visibility="private")

        @common.user_errors
        def find_texts(view: ClusterView | None, needle: str, names: dict | None, by: str):
            if view is None:
                raise UserError("cluster_first")
            ids = containing(view.texts, needle)
            return highlight(view, ids, t("cl_containing", text=" ".join(needle.split())), names, by), \
                gr.update(value=localized(found_frame(view, ids)), visible=True)

        find.click(find_texts, [result_state, find_text, names_state, colour_by], [plot, found],
                   api_visibility="private")

        @common.user_errors
        def search_meaning(view: ClusterView | None, query: str, k: float, names: dict | None, by: str):
            if view is None:
                raise UserError("cluster_first")
            query = " ".join((query or "").split())
            if not query:
                raise UserError("type_query_to_search")
            # The map's texts were encoded with the query prefix (a symmetric task), so is the search;
            # they are in the encoder's cache, so this costs one new encoding.
            embeddings = view.vectors.astype(np.float32) if view.vectors is not None \
                else studio.encoder.encode(view.texts, "query")
            hits = nearest(embeddings, studio.encoder.encode([query], "query")[0], common.whole_number(k, "k"))
            ids = [i for i, _ in hits]
            frame = found_frame(view, ids).assign(score=[round(s * 100, 2) for _, s in hits])
            return (highlight(view, ids, t("cl_nearest", query=query), names, by),
                    gr.update(value=localized(frame), visible=True))

        search.click(search_meaning, [result_state, meaning, meaning_k, names_state, colour_by], [plot, found],
                     api_visibility="private")
