"""A clustering as the Clustering tab shows, judges and exports it: plain data, no gradio.

``ClusterResult`` is what ``Studio.cluster`` computes; ``ClusterView`` is what a session keeps of it. The
functions here turn a corpus table into texts to cluster, a selection or a cluster into judgments, and a
result into export files; the tab only adds the page's words and figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from core import __version__
from core.campaigns.uncertain import Choice, ClusterBorders
from core.errors import Message, UserError, word
from core.exploration.clustering import NOISE, KChoice, cluster_label_table
from core.exploration.keywords import cluster_name
from core.exploration.selection import selected_ids
from core.inputs.corpus import (
    embedding_columns,
    extract_embeddings,
    extract_texts,
    load_sample,
    load_table,
    text_columns,
)
from core.inputs.text import split_lines
from core.judgments import ImportResult, Judgment, JudgmentStore, csv_safe
from core.limits import Limits
from core.tempfiles import TempFiles

NO_LABEL = "(none)"  # a label picker's "no label column"
SOURCES = ("sample", "upload", "paste")
SELECTION_KINDS = ("misplaced", "label", "similar", "dissimilar")


class ModelFacts(Protocol):
    """What a judgment records of the model that placed the texts (an ``Encoder`` has these)."""

    model_id: str
    revision: str | None
    uses_prefixes: bool


@dataclass
class ClusterResult:
    texts: list[str]
    labels: list[str] | None  # the user's label column, if any
    clusters: np.ndarray
    coords: np.ndarray
    table: pd.DataFrame
    metrics: dict[str, float] | None
    embeddings: np.ndarray
    method: str
    chosen_k: int | None = None
    warnings: list[str] = field(default_factory=list)
    k_choice: KChoice | None = None  # how k was chosen (given, the label column's classes, silhouette)
    k_candidates: list[tuple[int, float]] = field(default_factory=list)  # silhouette's best (k, score)

    def points(self, with_embeddings: bool = False) -> pd.DataFrame:
        frame = pd.DataFrame({"text": self.texts, "cluster": self.clusters, "x": self.coords[:, 0],
                              "y": self.coords[:, 1]})
        if self.labels is not None:
            frame.insert(1, "label", self.labels)
        if with_embeddings:
            frame["embedding"] = list(self.embeddings.astype(np.float32))
        return frame


@dataclass
class CorpusToCluster:
    """The texts (and labels, or uploaded vectors) a clustering runs on, and what reading them noticed."""

    texts: list[str]
    labels: list[str] | None
    label_column: str | None
    embeddings: np.ndarray | None
    warnings: list[str] = field(default_factory=list)


def corpus_frame(limits: Limits, source: str, path: str | None, pasted: str) -> tuple[pd.DataFrame, list[str]]:
    """The corpus as a table: the bundled sample, pasted lines (one text each), or an uploaded file."""
    if source == "sample":
        return load_sample(), []
    if source == "paste":
        lines = split_lines(pasted)
        if not lines:
            raise UserError("paste_texts")
        return pd.DataFrame({"text": lines}), []
    if not path:
        raise UserError("upload_first")
    loaded = load_table(path, max_bytes=limits.upload_bytes, max_rows=limits.max_cluster_texts)
    return loaded.frame, loaded.warnings


def corpus_to_cluster(frame: pd.DataFrame, source: str, text_column: str | None, label_column: str | None,
                      dim: int, warnings: Sequence[str] = ()) -> CorpusToCluster:
    """The texts of ``text_column`` (else the first text column), labels, and an uploaded embedding column.

    A file with an embedding column (this tab's own export with embeddings, say) is not encoded again;
    its vectors must have the model's dimension ``dim``, checked row by row.
    """
    notes = list(warnings)
    columns = [str(c) for c in frame.columns]
    text_column = text_column if text_column in columns else (text_columns(frame) or columns)[0]
    if label_column in (None, "", NO_LABEL):
        label_column = "topic" if source == "sample" else None
    texts, labels, skipped = extract_texts(frame, text_column, label_column)
    if skipped:
        notes.append(Message("skipped_empty_rows", count=skipped))
    vectors_column = next(iter(embedding_columns(frame)), None) if source == "upload" else None
    embeddings = None
    if vectors_column is not None:
        embeddings = extract_embeddings(frame, vectors_column, text_column, dim)
        notes.append(Message("used_file_embeddings", column=vectors_column, dim=dim))
    return CorpusToCluster(texts, labels, label_column, embeddings, notes)


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
    k_choice: KChoice | None = None  # how k was chosen
    k_candidates: list[tuple[int, float]] = field(default_factory=list)  # silhouette's best (k, score)

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
        return cls(result.texts, result.labels, result.clusters, result.coords, names, table, borders,
                   k_choice=result.k_choice, k_candidates=list(result.k_candidates))

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


# The "Judge texts" table lists a clustering's texts in corpus order; past this many only the first
# rows go to the page. 50,000 real Russian sentences made a 5.4 MB table (0.7 s to postprocess and
# serialise on the 2-core CPU, under load), seven times the map's own 0.8 MB; the rest are reached by
# search or a map selection, and the exports hold every row.
JUDGE_TABLE_ROWS = 2_000


def judge_table(view: ClusterView) -> tuple[pd.DataFrame, bool]:
    """The texts to judge (text, cluster, label) in corpus order, capped at ``JUDGE_TABLE_ROWS``; capped or not.

    Rows keep their corpus positions (a prefix), so a picked row is still text number row + 1.
    """
    points = view.points()
    shown = points.assign(label=points.get("label", ""))[["text", "cluster", "label"]]
    if len(shown) > JUDGE_TABLE_ROWS:
        return shown.head(JUDGE_TABLE_ROWS), True
    return shown, False


def agreement_table(view: ClusterView, names: dict[int, str]) -> pd.DataFrame | None:
    """Clusters x labels, when the corpus has a label column; None otherwise."""
    if view.labels is None or not any(str(lab).strip() for lab in view.labels):
        return None
    return cluster_label_table(view.clusters.tolist(), view.labels, names)


def label_judgments(model: ModelFacts, user: str, view: ClusterView, cluster: int, name: str) -> list[Judgment]:
    """One label judgment per distinct text of ``cluster``, labelled ``name``, as ``user``."""
    clusters = set(view.clusters.tolist())
    if cluster not in clusters:
        raise UserError("no_such_cluster", cluster=cluster)
    if cluster == NOISE:
        raise UserError("noise_not_topic")
    label = (name or "").strip()
    if not label:
        raise UserError("name_cluster_first", cluster=cluster)
    # Clustering is a symmetric task: the texts were encoded with the query prefix.
    prefix = "query: " if model.uses_prefixes else ""
    return [Judgment(kind="label", anchor=text, label=label, tab="clustering", user=user,
                     query_prefix=prefix, passage_prefix=prefix, model_id=model.model_id,
                     model_revision=model.revision, app_version=__version__)
            for text in view.members(cluster)]


def store_batch(store: JudgmentStore, user: str, batch: Sequence[Judgment]) -> tuple[list[int], ImportResult]:
    """Store ``batch`` as ``user`` in one transaction; the ids it created (an undo takes back exactly these:
    a text the user had already judged so keeps its earlier judgment) and the import's counts."""
    batch = [j.replace(user=user) for j in batch]
    hashes = {store.validator.clean(j).content_hash for j in batch}
    newest = store.rows(limit=1, newest_first=True)
    before = int(newest[0]["id"]) if newest else 0
    result = store.import_records(batch, notify=True)
    created = [int(r["id"]) for r in store.rows(user=user)
               if int(r["id"]) > before and r["content_hash"] in hashes]
    return created, result


def selection_judgments(model: ModelFacts, user: str, view: ClusterView, ids: Sequence[int] | None, kind: str,
                        label: str = "", note: str = "") -> list[Judgment]:
    """The selected texts judged as ``user``: misplaced or a label for each, similar / dissimilar for two."""
    chosen = selected_ids(ids, len(view.texts))
    if not chosen:
        raise UserError("select_on_map_first")
    # Clustering is a symmetric task: every text was encoded with the query prefix.
    prefix = "query: " if model.uses_prefixes else ""
    common_fields: dict[str, Any] = dict(tab="clustering", user=user, comment=(note or None), query_prefix=prefix,
                         passage_prefix=prefix, model_id=model.model_id, model_revision=model.revision)
    if kind in ("similar", "dissimilar"):
        if len(chosen) != 2:
            raise UserError("select_exactly_two", kind=word("call", kind), count=len(chosen))
        return [Judgment(kind=kind, anchor=view.texts[chosen[0]], positive=view.texts[chosen[1]], **common_fields)]
    if kind == "misplaced":
        return [Judgment(kind="misplaced", anchor=view.texts[i], label=f"cluster {int(view.clusters[i])}",
                         **common_fields) for i in chosen]
    if kind == "label":
        label = " ".join((label or "").split())
        if not label:
            raise UserError("type_topic_label_selected")
        return [Judgment(kind="label", anchor=text, label=label, **common_fields)
                for text in dict.fromkeys(view.texts[i] for i in chosen)]
    raise ValueError(f"unknown judgment {kind!r} for a selection")


def border_choice(view: ClusterView | None, names: dict | None, n: float | None) -> Choice:
    """The ``n`` texts nearest a border between two clusters, labelled with the clusters' current names."""
    if view is None:
        raise UserError("cluster_first_campaign")
    if view.borders is None:
        raise UserError("clustering_few_clusters")
    if n in (None, "") or float(n) < 1 or not float(n).is_integer():
        raise UserError("items_number", value=n)
    chosen = {**(view.names or {}), **{int(c): v for c, v in (names or {}).items()}}
    return view.borders.choice(view.texts, chosen, int(n))


def selection_frame(view: ClusterView, ids: list[int]) -> pd.DataFrame:
    """The selected texts as a table: point, cluster, label (when the corpus has one), text."""
    frame = pd.DataFrame({"point": [i + 1 for i in ids], "cluster": [int(view.clusters[i]) for i in ids],
                          "text": [view.texts[i] for i in ids]})
    if view.labels is not None:
        frame.insert(2, "label", [view.labels[i] for i in ids])
    return frame


def found_frame(view: ClusterView, ids: list[int]) -> pd.DataFrame:
    return selection_frame(view, ids)


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text cell that a spreadsheet would run as a formula, quoted (labels and texts alike)."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(csv_safe)
    return safe


def export_points(result: ClusterResult, with_embeddings: bool, files: TempFiles | None = None,
                  names: dict[int, str] | None = None) -> tuple[str, str]:
    """The points as CSV and parquet: each text with its cluster's number, name and keywords (a file read
    on its own says what cluster 3 is), its map position, and its embedding when asked.

    ``names``: the clusters' names as the page shows them; by default the ones proposed from their keywords.
    """
    folder = (files or TempFiles.default()).new_folder("clusters")
    points = result.points(with_embeddings)
    keywords = {int(c): str(kw) for c, kw in zip(result.table["cluster"], result.table["keywords"], strict=True)}
    chosen = {c: cluster_name(c, kw) for c, kw in keywords.items()} | (names or {})
    where = list(points.columns).index("cluster") + 1
    clusters = [int(c) for c in points["cluster"]]
    points.insert(where, "cluster_name", [chosen.get(c, "") for c in clusters])
    points.insert(where + 1, "keywords", [keywords.get(c, "") for c in clusters])
    csv_points = points.copy()
    if with_embeddings:
        csv_points["embedding"] = [" ".join(f"{v:.6f}" for v in row) for row in points["embedding"]]
    csv_safe_frame(csv_points).to_csv(folder / "clusters.csv", index=False)
    points.to_parquet(folder / "clusters.parquet", index=False)
    return str(folder / "clusters.csv"), str(folder / "clusters.parquet")
