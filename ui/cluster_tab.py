"""Tab 2: cluster a corpus, draw it on a UMAP map, name the clusters, judge texts."""

from __future__ import annotations

import html
from dataclasses import dataclass, replace

import gradio as gr
import numpy as np
import pandas as pd

from core import __version__
from core.campaigns.uncertain import DEFAULT_ITEMS, ClusterBorders
from core.clustering import CLUSTERERS, NOISE, cluster_label_table
from core.corpus import (
    embedding_columns,
    extract_embeddings,
    extract_texts,
    label_candidates,
    load_sample,
    load_table,
    text_columns,
)
from core.errors import Message, UserError, word
from core.identity import Identity
from core.judgments import Judgment, csv_safe
from core.keywords import cluster_name
from core.selection import containing, nearest, selected_ids
from core.studio import ClusterResult, Studio
from core.tempfiles import TempFiles
from core.text import split_lines
from ui import common
from ui.i18n import i18n, localized, t, translate_error
from ui.map_view import figure_value, map_component
from ui.plots import cluster_map, empty_figure, with_highlight

NO_LABEL = "(none)"
SOURCES = [(i18n("cl_source_sample"), "sample"), (i18n("cl_source_upload"), "upload"),
           (i18n("cl_source_paste"), "paste")]


def corpus_frame(studio: Studio, source: str, path: str | None, pasted: str) -> tuple[pd.DataFrame, list[str]]:
    if source == "sample":
        return load_sample(), []
    if source == "paste":
        lines = split_lines(pasted)
        if not lines:
            raise UserError("paste_texts")
        return pd.DataFrame({"text": lines}), []
    if not path:
        raise UserError("upload_first")
    loaded = load_table(path, max_bytes=studio.limits.upload_bytes, max_rows=studio.limits.max_cluster_texts)
    return loaded.frame, loaded.warnings


def describe_columns(studio: Studio, source: str, path: str | None, pasted: str):
    """After an upload: offer the text columns and the label columns."""
    frame, warnings = corpus_frame(studio, source, path, pasted)
    texts = text_columns(frame) or [str(c) for c in frame.columns]
    labels = [NO_LABEL] + [c for c in label_candidates(frame) if c != texts[0]]
    note = t("cl_columns_note", rows=f"{len(frame):,}", columns=", ".join(html.escape(str(c)) for c in frame.columns))
    return (gr.update(choices=texts, value=texts[0]),
            gr.update(choices=labels, value=labels[1] if len(labels) > 1 else NO_LABEL),
            " · ".join([note] + [html.escape(translate_error(w)) for w in warnings]))


# The "Judge texts" table lists a clustering's texts in corpus order; past this many only the first
# rows go to the page. 50,000 real Russian sentences made a 5.4 MB table (0.7 s to postprocess and
# serialise on the 2-core CPU, under load), seven times the map's own 0.8 MB; the rest are reached by
# search or a map selection, and the exports hold every row.
JUDGE_TABLE_ROWS = 2_000


def run_cluster(studio: Studio, source: str = "sample", pasted: str = "", path: str | None = None,
                text_column: str | None = None, label_column: str | None = None, method: str = "k-means",
                k: float | None = 0, min_cluster_size: float = 5, n_neighbors: float = 15, min_dist: float = 0.1,
                metric: str = "cosine", seed: float | None = 42, colour_by: str = "cluster",
                with_embeddings: bool = False, progress=None):
    frame, warnings = corpus_frame(studio, source, path, pasted)
    columns = [str(c) for c in frame.columns]
    text_column = text_column if text_column in columns else (text_columns(frame) or columns)[0]
    if label_column in (None, "", NO_LABEL):
        label_column = "topic" if source == "sample" else None
    texts, labels, skipped = extract_texts(frame, text_column, label_column)
    if skipped:
        warnings.append(Message("skipped_empty_rows", count=skipped))
    # A file with an embedding column (this tab's own export with embeddings, say) is not encoded again;
    # its vectors must have the model's dimension, checked row by row.
    vectors_column = (embedding_columns(frame) or [None])[0] if source == "upload" else None
    embeddings = None
    if vectors_column is not None:
        embeddings = extract_embeddings(frame, vectors_column, text_column, studio.encoder.dim)
        warnings.append(Message("used_file_embeddings", column=vectors_column, dim=studio.encoder.dim))
    result = studio.cluster(
        texts, labels, method=method, k=int(k) if k else None, min_cluster_size=int(min_cluster_size),
        n_neighbors=int(n_neighbors), min_dist=float(min_dist), metric=metric,
        seed=int(seed) if seed not in (None, "") else None, progress=progress, embeddings=embeddings,
    )
    warnings += result.warnings
    points = result.points()
    by = "label" if colour_by == "label" and result.labels is not None else "cluster"
    n_clusters = len(set(result.clusters.tolist()) - {-1})
    title = t("cl_map_title", n=f"{len(texts):,}", k=n_clusters, method=method,
              chosen=t("cl_map_chosen", k=result.chosen_k) if method != "HDBSCAN" and not k else "")
    view = ClusterView.of(result)
    if embeddings is not None:  # search by meaning cannot get them from the encoder's cache
        view = replace(view, vectors=result.embeddings.astype(np.float16))
    figure = cluster_map(points, by, title, view.names)
    summary = [t("cl_summary", n=n_clusters, texts=f"{len(texts):,}")]
    if result.metrics:
        summary.append(t("cl_against", column=html.escape(str(label_column)), ari=f"{result.metrics['ari']:.3f}",
                         nmi=f"{result.metrics['nmi']:.3f}"))
    summary += [f"{t('warning')} {html.escape(translate_error(w))}" for w in warnings]
    shown = points.assign(label=points.get("label", ""))[["text", "cluster", "label"]]
    if len(shown) > JUDGE_TABLE_ROWS:
        # Rows keep their corpus positions (a prefix), so a picked row is still text number row + 1.
        summary.append(t("cl_table_capped", shown=f"{JUDGE_TABLE_ROWS:,}", total=f"{len(shown):,}"))
        shown = shown.head(JUDGE_TABLE_ROWS)
    csv_path, parquet_path = export_points(result, with_embeddings, studio.files)
    return (figure, localized(view.named_table()), " · ".join(summary), csv_path, parquet_path, localized(shown),
            view)


@dataclass(frozen=True)
class ClusterView:
    """What a session keeps of a clustering: the points to judge and recolour, not the embeddings.

    The exports already hold the embeddings; keeping them per session held 15 MB for 5,000 texts.
    """

    texts: list[str]
    labels: list[str] | None
    clusters: np.ndarray
    coords: np.ndarray
    names: dict[int, str] | None = None  # each cluster's name as first proposed (from its keywords)
    table: pd.DataFrame | None = None  # one row per cluster (size, keywords, examples)
    borders: ClusterBorders | None = None  # texts by closeness to a border, for a campaign (None: one cluster)
    # Only for uploaded embeddings (float16: ranking needs no more; 77 MB for 50,000 768-d vectors).
    vectors: np.ndarray | None = None

    @classmethod
    def of(cls, result: ClusterResult) -> ClusterView:
        table = result.table
        names = {int(c): cluster_name(int(c), kw) for c, kw in zip(table["cluster"], table["keywords"], strict=True)}
        try:
            n_clusters = len(set(result.clusters.tolist()) - {NOISE})
            borders = ClusterBorders.measure(result.texts, result.embeddings, result.clusters,
                                             what=f"{n_clusters} {result.method} clusters")
        except ValueError:  # fewer than two clusters: no text is on a border
            borders = None
        return cls(result.texts, result.labels, result.clusters, result.coords, names, table, borders)

    def named_table(self, names: dict[int, str] | None = None) -> pd.DataFrame | None:
        """The clusters table with each cluster's name (``names``: the edited ones) beside its number."""
        if self.table is None:
            return None
        chosen = {**(self.names or {}), **(names or {})}
        table = self.table.copy()
        table.insert(1, "name", [chosen.get(int(c), "") for c in table["cluster"]])
        return table

    def members(self, cluster: int) -> list[str]:
        """The distinct texts of one cluster, in corpus order."""
        return list(dict.fromkeys(t for t, c in zip(self.texts, self.clusters.tolist(), strict=True) if c == cluster))

    def points(self) -> pd.DataFrame:
        frame = pd.DataFrame({"text": self.texts, "cluster": self.clusters, "x": self.coords[:, 0],
                              "y": self.coords[:, 1]})
        if self.labels is not None:
            frame.insert(1, "label", self.labels)
        return frame


def cluster_choices(view: ClusterView, names: dict[int, str]) -> list[tuple[str, int]]:
    """The name picker's clusters (not noise: it is not a topic), largest first, as the table lists them."""
    sizes = {int(c): int(n) for c, n in zip(view.table["cluster"], view.table["size"], strict=True)} \
        if view.table is not None else {}
    return [(t("cl_choice", cluster=c, name=names.get(c, ""), n=sizes.get(c, 0)), c) for c in sizes if c != NOISE]


def agreement_table(view: ClusterView, names: dict[int, str]) -> pd.DataFrame | None:
    """Clusters x labels, when the corpus has a label column; None otherwise."""
    if view.labels is None or not any(str(lab).strip() for lab in view.labels):
        return None
    return cluster_label_table(view.clusters.tolist(), view.labels, names)


def label_judgments(studio: Studio, identity: Identity, view: ClusterView, cluster: int,
                    name: str) -> list[Judgment]:
    """One label judgment per distinct text of ``cluster``, labelled ``name``, as ``identity``."""
    clusters = set(view.clusters.tolist())
    if cluster not in clusters:
        raise UserError("no_such_cluster", cluster=cluster)
    if cluster == NOISE:
        raise UserError("noise_not_topic")
    label = (name or "").strip()
    if not label:
        raise UserError("name_cluster_first", cluster=cluster)
    # Clustering is a symmetric task: the texts were encoded with the query prefix.
    prefix = "query: " if studio.encoder.uses_prefixes else ""
    return [Judgment(kind="label", anchor=text, label=label, tab="clustering", user=identity.user,
                     query_prefix=prefix, passage_prefix=prefix, model_id=studio.encoder.model_id,
                     model_revision=studio.encoder.revision, app_version=__version__)
            for text in view.members(cluster)]


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
        number = int(cluster)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UserError("pick_cluster_from_list", value=cluster) from None
    batch = label_judgments(studio, identity, view, number, name)
    store = studio.store
    hashes = {store.validator.clean(j).content_hash for j in batch}
    newest = store.rows(limit=1, newest_first=True)
    before = int(newest[0]["id"]) if newest else 0
    result = store.import_records(batch, notify=True)
    created = [int(r["id"]) for r in store.rows(kind="label", user=identity.user)
               if int(r["id"]) > before and r["content_hash"] in hashes]
    label = html.escape(batch[0].label or "")
    already = t("cl_already", n=result.duplicates) if result.duplicates else ""
    return created, t("cl_saved_label", label=label, n=result.added, cluster=number, already=already)


def selection_frame(view: ClusterView, ids: list[int]) -> pd.DataFrame:
    """The selected texts as a table: point, cluster, label (when the corpus has one), text."""
    frame = pd.DataFrame({"point": [i + 1 for i in ids], "cluster": [int(view.clusters[i]) for i in ids],
                          "text": [view.texts[i] for i in ids]})
    if view.labels is not None:
        frame.insert(2, "label", [view.labels[i] for i in ids])
    return frame


def found_frame(view: ClusterView, ids: list[int]) -> pd.DataFrame:
    return selection_frame(view, ids)


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
    ids = selected_ids(ids, len(view.texts))
    if not ids:
        raise UserError("select_on_map_first")
    # Clustering is a symmetric task: every text was encoded with the query prefix.
    prefix = "query: " if studio.encoder.uses_prefixes else ""
    common_fields = dict(tab="clustering", user=identity.user, comment=(note or None), query_prefix=prefix,
                         passage_prefix=prefix, model_id=studio.encoder.model_id,
                         model_revision=studio.encoder.revision)
    if kind in ("similar", "dissimilar"):
        if len(ids) != 2:
            raise UserError("select_exactly_two", kind=word("call", kind), count=len(ids))
        batch = [Judgment(kind=kind, anchor=view.texts[ids[0]], positive=view.texts[ids[1]], **common_fields)]
    elif kind == "misplaced":
        batch = [Judgment(kind="misplaced", anchor=view.texts[i], label=f"cluster {int(view.clusters[i])}",
                          **common_fields) for i in ids]
    elif kind == "label":
        label = " ".join((label or "").split())
        if not label:
            raise UserError("type_topic_label_selected")
        batch = [Judgment(kind="label", anchor=text, label=label, **common_fields)
                 for text in dict.fromkeys(view.texts[i] for i in ids)]
    else:
        raise ValueError(f"unknown judgment {kind!r} for a selection")
    created = [common.flag(studio, identity, judgment) for judgment in batch]
    what = {"misplaced": t("cl_not_in_cluster"), "label": t("cl_label_what", label=html.escape(label))}.get(kind, kind)
    return created, t("cl_saved_selection", n=len(created), what=what)


def make_border_campaign(studio: Studio, identity: Identity, view: ClusterView | None, names: dict | None,
                         n: float | None, overlap: float | None, name: str = ""):
    """A label campaign of this clustering's border texts, labelled with the clusters' current names."""
    from ui.annotate_tab import create_from_choice

    if view is None:
        raise UserError("cluster_first_campaign")
    if view.borders is None:
        raise UserError("clustering_few_clusters")
    if n in (None, "") or float(n) < 1 or not float(n).is_integer():
        raise UserError("items_number", value=n)
    chosen = {**(view.names or {}), **{int(c): v for c, v in (names or {}).items()}}
    choice = view.borders.choice(view.texts, chosen, int(n))
    return create_from_choice(studio, identity, choice, overlap if overlap not in (None, "") else 2,
                              name=" ".join((name or "").split()) or "cluster borders")


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text cell that a spreadsheet would run as a formula, quoted (labels and texts alike)."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(csv_safe)
    return safe


def export_points(result: ClusterResult, with_embeddings: bool,
                  files: TempFiles | None = None) -> tuple[str, str]:
    folder = (files or TempFiles.default()).new_folder("clusters")
    points = result.points(with_embeddings)
    csv_points = points.copy()
    if with_embeddings:
        csv_points["embedding"] = [" ".join(f"{v:.6f}" for v in row) for row in points["embedding"]]
    csv_safe_frame(csv_points).to_csv(folder / "clusters.csv", index=False)
    points.to_parquet(folder / "clusters.parquet", index=False)
    return str(folder / "clusters.csv"), str(folder / "clusters.parquet")


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
                k = gr.Number(0, label=i18n("cl_k"), precision=0, minimum=0, maximum=100, elem_id="cl-k")
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
                 name_cluster, cluster_name_box, agreement, selection, selection_view, selection_table, found]

        @common.user_errors
        def clear_results():
            return (figure_value(empty_figure(t("cl_empty_map"))), None, None, None, None, None,
                    {"a": None, "b": None, "next": "a"}, "A: – · B: –", {}, gr.update(choices=[], value=None), "",
                    gr.update(value=None, visible=False), [], t("nothing_selected"), gr.update(value=None, visible=False),
                    gr.update(value=None, visible=False))

        upload.upload(clear_results, None, stale, api_visibility="private").then(
            common.user_errors(lambda p: describe_columns(studio, "upload", p, "")), upload,
            [text_column, label_column, summary], api_visibility="private").success(
            common.user_errors(lambda: "upload"), None, source, api_visibility="private").failure(
            common.user_errors(lambda: None), None, upload, api_visibility="private")
        source.input(clear_results, None, stale, api_visibility="private")

        @common.user_errors
        def pasted_changed(current: str):
            # Typing in the box makes a clustering of pasted texts stale, not one of the sample or a file.
            return clear_results() if current == "paste" else tuple(gr.update() for _ in stale)

        pasted.input(pasted_changed, source, stale, api_visibility="private")

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
                    {"a": None, "b": None, "next": "a"}, "A: – · B: –"
            names = dict(view.names or {})
            choices = cluster_choices(view, names)
            first = choices[0][1] if choices else None
            crosstab = agreement_table(view, names)
            return (names, gr.update(choices=choices, value=first), names.get(first, "") if first is not None else "",
                    gr.update(value=localized(crosstab), visible=crosstab is not None),
                    {"a": None, "b": None, "next": "a"}, "A: – · B: –")

        run.click(cluster, [source, pasted, upload, text_column, label_column, method, k, min_cluster_size,
                            n_neighbors, min_dist, metric, seed, colour_by, with_embeddings],
                  [plot, table, summary, csv_file, parquet_file, points, result_state], api_name="cluster").success(
            after_cluster, result_state, [names_state, name_cluster, cluster_name_box, agreement, picked, picked_view],
            api_visibility="private")

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
                return "–" if j is None else f"#{j + 1} (cluster {result.clusters[j]}) {html.escape(result.texts[j][:120])}"

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
                return [], "Nothing selected.", gr.update(value=None, visible=False)
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
