"""Interchangeable clusterers for sentence embeddings, plus metrics and a per-cluster summary table.

Every clusterer follows one tiny protocol, ``fit_predict(embeddings) -> np.ndarray[int]`` with ``-1``
meaning noise, so the app (and tests) can swap k-means, HDBSCAN and agglomerative clustering the way
BERTopic swaps its ``hdbscan_model``. Classes follow scikit-learn conventions: the constructor only
stores parameters, ``fit_predict`` validates them and the input and raises a clear ``ValueError``,
and fitted results live in attributes ending with ``_``.

Small inputs are first-class: the app lets users paste three sentences, so 1, 2 or 3 points and
all-identical vectors must give sensible labels instead of a scikit-learn traceback.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
import pandas as pd
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score
from threadpoolctl import threadpool_limits

from core.errors import UserError, check_choice
from core.exploration.keywords import top_keywords

__all__ = [
    "CLUSTERERS",
    "AgglomerativeClusterer",
    "Clusterer",
    "HDBSCANClusterer",
    "KChoice",
    "KMeansClusterer",
    "choose_k",
    "cluster_label_table",
    "cluster_metrics",
    "cluster_table",
    "make_clusterer",
    "top_candidates",
]

NOISE = -1
# scikit-learn's k-means runs on an OpenMP pool whose threads spin while waiting. On the few
# thousand texts this app clusters, one thread is as fast, and it does not collapse when the
# cores are busy (measured: 0.01 s with one thread vs 1 s with two on a loaded 2-core machine).
_SERIAL_BELOW = 20_000
# HDBSCAN (cosine: brute force) and agglomerative clustering hold every pairwise distance: 10,000 texts
# are 0.4-0.8 GB, 50,000 would be 10-20 GB. Past this, k-means (which scales linearly) is the choice.
PAIRWISE_MAX_POINTS = 10_000
# Past this many texts k-means fits (and picks k) on a random sample this size, then refines the
# sample's centres on every text in one run: ten restarts on 50,000 x 768 take minutes on two cores.
# Measured on 50,000 synthetic 768-d vectors in 30 clusters (load 1.3-1.5): k=30 took 9.9 s with a
# 5,000 sample and 12.9 s with 10,000, ARI against the true clusters 0.696 and 0.697; k by silhouette
# (2-12) 32 s and 69 s, the same k chosen. 32 s is what a 5,000-text corpus (the old cap) cost anyway.
KMEANS_SAMPLE = 5_000

KeywordsFn = Callable[[Sequence[str], Sequence[int]], Mapping[int, Sequence[str]]]


@runtime_checkable
class Clusterer(Protocol):
    """Anything with ``fit_predict(embeddings) -> labels`` (one int per row, -1 = noise)."""

    def fit_predict(self, embeddings: np.ndarray) -> np.ndarray: ...


# --------------------------------------------------------------------------------------------------
# shared helpers


def _validate_embeddings(embeddings: Any) -> np.ndarray:
    """Return a finite 2-D float array with at least one row, or raise a ValueError saying why."""
    try:
        X = np.asarray(embeddings, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"embeddings must be a numeric 2-D array: {exc}") from exc
    if X.ndim == 1 and X.size == 0:
        X = X.reshape(0, 0)
    if X.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (n_texts, dim), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError("cannot cluster an empty set: embeddings has 0 rows")
    if X.shape[1] == 0:
        raise ValueError("embeddings have 0 dimensions")
    if not np.isfinite(X).all():
        raise ValueError("embeddings contain NaN or infinite values")
    return X


def _n_distinct(X: np.ndarray) -> int:
    # k-means/agglomerative cannot make more clusters than there are distinct points (scikit-learn
    # warns and returns duplicates), so every k is clamped to this.
    return int(np.unique(X, axis=0).shape[0])


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_k_range(k_range: Any) -> tuple[int, int]:
    try:
        lo, hi = k_range
    except (TypeError, ValueError) as exc:
        raise ValueError(f"k_range must be a pair (min_k, max_k), got {k_range!r}") from exc
    lo = _check_int("k_range[0]", lo, 2)
    hi = _check_int("k_range[1]", hi, 2)
    if hi < lo:
        raise ValueError(f"k_range must be increasing (min_k <= max_k), got {k_range!r}")
    return lo, hi


def _silhouette_search(
    X: np.ndarray,
    fit: Callable[[int], np.ndarray],
    k_range: tuple[int, int],
    *,
    metric: str,
    sample_size: int | None,
    seed: int,
) -> tuple[int, np.ndarray, dict[int, float]]:
    """Try every k in ``k_range`` (clamped to what N allows) and keep the best silhouette.

    Returns (k, labels, scores). When no k can be scored (N <= 2, or < 2 distinct points) the
    honest answer is one cluster: silhouette is undefined there and splitting two points apart is
    no more justified than keeping them together.
    """
    n = X.shape[0]
    distinct = _n_distinct(X)
    # silhouette needs 2 <= k <= n - 1; more clusters than distinct points is meaningless.
    hi = min(k_range[1], n - 1, distinct)
    candidates = range(k_range[0], hi + 1)
    if len(candidates) == 0:
        return 1, np.zeros(n, dtype=np.int64), {}

    # silhouette is O(N^2) in memory and time; a random sample keeps the search interactive on
    # thousands of texts while still ranking k's reliably.
    sample = sample_size if sample_size is not None and n > sample_size else None
    # Scored on the vectors less their mean: sentence embeddings share one direction (e5's cosines sit
    # between 0.77 and 0.92), which makes every cosine distance small and the first split along it look
    # best. Measured on e5-small vectors of intents_ru (25 texts per scenario, 6 random scenario sets per
    # size, k-means over k = 2-12): ARI at the k chosen, raw vs centred silhouette, 2 topics 0.585 vs
    # 0.633, 3: 0.371 vs 0.411, 4: 0.275 vs 0.446, 8: 0.094 vs 0.194, 12: 0.037 vs 0.092 (raw picked
    # k = 2 in most sets). Dropping k = 2 instead helped 4-12 topics but cost 2 topics 0.585 -> 0.358.
    # benchmarks/cluster_k.py measures it again.
    scored = X - X.mean(axis=0) if metric == "cosine" else X
    scores: dict[int, float] = {}
    best: tuple[float, int, np.ndarray] | None = None
    for k in candidates:
        labels = fit(k)
        if len(np.unique(labels)) < 2:  # degenerate fit (e.g. near-duplicates): cannot be scored
            continue
        score = float(silhouette_score(scored, labels, metric=metric, sample_size=sample, random_state=seed))
        scores[k] = score
        if best is None or score > best[0]:
            best = (score, k, labels)
    if best is None:
        return 1, np.zeros(n, dtype=np.int64), scores
    return best[1], best[2], scores


# --------------------------------------------------------------------------------------------------
# clusterers


class KMeansClusterer:
    """k-means with ``k`` given, or chosen by the cosine silhouette over ``k_range``.

    Parameters
    ----------
    k : number of clusters, or None to choose it by silhouette.
    k_range : (min_k, max_k) searched when k is None; clamped to N - 1 and to the number of
        distinct points.
    seed : random state for k-means and the silhouette sample.
    n_init : k-means restarts; 10 keeps results stable across seeds on real text embeddings.
    silhouette_metric : distance used to score k; cosine matches how sentence embeddings are compared.
    sample_size : silhouette is computed on at most this many random points.

    Attributes after ``fit_predict``: ``labels_``, ``k_`` (the k used), ``silhouette_scores_``
    (``{k: score}`` for every k tried; empty when k was given or could not be scored).
    """

    def __init__(
        self,
        k: int | None = None,
        k_range: tuple[int, int] = (2, 12),
        seed: int = 0,
        n_init: int = 10,
        silhouette_metric: str = "cosine",
        sample_size: int | None = 2000,
    ) -> None:
        self.k = k
        self.k_range = k_range
        self.seed = seed
        self.n_init = n_init
        self.silhouette_metric = silhouette_metric
        self.sample_size = sample_size

    def _kmeans(self, X: np.ndarray, k: int) -> np.ndarray:
        model = KMeans(n_clusters=k, n_init=int(self.n_init), random_state=self.seed)
        if X.shape[0] >= _SERIAL_BELOW:
            return model.fit_predict(X).astype(np.int64)
        with threadpool_limits(limits=1, user_api="openmp"):
            return model.fit_predict(X).astype(np.int64)

    def fit_predict(self, embeddings: np.ndarray) -> np.ndarray:
        X = _validate_embeddings(embeddings)
        _check_int("n_init", self.n_init, 1)
        if self.sample_size is not None:
            _check_int("sample_size", self.sample_size, 2)
        n = X.shape[0]
        if n > KMEANS_SAMPLE:
            return self._fit_large(X)
        self.silhouette_scores_: dict[int, float] = {}

        if self.k is not None:
            k = _check_int("k", self.k, 1)
            k = min(k, n, _n_distinct(X))
            labels = np.zeros(n, dtype=np.int64) if k == 1 else self._kmeans(X, k)
        else:
            k_range = _check_k_range(self.k_range)
            k, labels, self.silhouette_scores_ = _silhouette_search(
                X,
                lambda kk: self._kmeans(X, kk),
                k_range,
                metric=self.silhouette_metric,
                sample_size=self.sample_size,
                seed=self.seed,
            )
        self.k_ = k
        self.labels_ = labels
        return labels


    def _fit_large(self, X: np.ndarray) -> np.ndarray:
        """k-means (k chosen by silhouette when not given) on a random sample, then refined on every text."""
        rows = np.random.default_rng(self.seed).choice(X.shape[0], KMEANS_SAMPLE, replace=False)
        small = KMeansClusterer(self.k, self.k_range, self.seed, self.n_init, self.silhouette_metric,
                                self.sample_size)
        sample_labels = small.fit_predict(X[rows])
        k = small.k_
        self.silhouette_scores_ = small.silhouette_scores_
        if k == 1:
            labels = np.zeros(X.shape[0], dtype=np.int64)
        else:
            centres = np.stack([X[rows][sample_labels == c].mean(axis=0) for c in range(k)])
            labels = KMeans(n_clusters=k, init=centres, n_init=1, random_state=self.seed).fit_predict(X)
            labels = labels.astype(np.int64)
        self.k_ = k
        self.labels_ = labels
        return labels


def _check_pairwise_size(n: int, name: str) -> None:
    if n > PAIRWISE_MAX_POINTS:
        raise UserError("clusterer_too_many_texts", name=name, limit=PAIRWISE_MAX_POINTS, count=n,
                        gigabytes=f"{n * n * 8 / 2e9:.0f}")


class HDBSCANClusterer:
    """Density-based clustering (scikit-learn's HDBSCAN); finds k itself and marks outliers -1.

    With fewer points than ``min_cluster_size`` no cluster could ever form, so the whole set is
    treated as one candidate cluster (``allow_single_cluster``) instead of failing or returning
    nothing but noise.
    """

    def __init__(
        self,
        min_cluster_size: int = 5,
        min_samples: int | None = None,
        metric: str = "cosine",
        cluster_selection_epsilon: float = 0.0,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.metric = metric
        self.cluster_selection_epsilon = cluster_selection_epsilon

    def fit_predict(self, embeddings: np.ndarray) -> np.ndarray:
        X = _validate_embeddings(embeddings)
        mcs = _check_int("min_cluster_size", self.min_cluster_size, 2)
        ms = None if self.min_samples is None else _check_int("min_samples", self.min_samples, 1)
        if self.metric == "cosine" and np.any(np.linalg.norm(X, axis=1) == 0):
            raise ValueError("cosine distance is undefined for all-zero embedding vectors")
        n = X.shape[0]
        _check_pairwise_size(n, "HDBSCAN")
        if n == 1 or _n_distinct(X) == 1:
            # HDBSCAN calls identical points noise (no density contrast); they are one group.
            labels = np.zeros(n, dtype=np.int64)
        else:
            single = n < mcs
            mcs = min(mcs, n)
            ms = min(ms if ms is not None else mcs, n)
            model = HDBSCAN(
                min_cluster_size=mcs,
                min_samples=ms,
                metric=self.metric,
                cluster_selection_epsilon=float(self.cluster_selection_epsilon),
                allow_single_cluster=single,
                copy=True,
            )
            labels = model.fit_predict(X).astype(np.int64)
        self.labels_ = labels
        self.k_ = int(len(set(labels.tolist()) - {NOISE}))
        return labels


class AgglomerativeClusterer:
    """Hierarchical clustering: ``k`` clusters, or cut at ``distance_threshold``, or k by silhouette.

    Give at most one of ``k`` / ``distance_threshold``; with neither, k is chosen by silhouette over
    ``k_range`` exactly like :class:`KMeansClusterer`. ``linkage="ward"`` needs ``metric="euclidean"``.
    """

    def __init__(
        self,
        k: int | None = None,
        distance_threshold: float | None = None,
        linkage: str = "average",
        metric: str = "cosine",
        k_range: tuple[int, int] = (2, 12),
        seed: int = 0,
        sample_size: int | None = 2000,
    ) -> None:
        self.k = k
        self.distance_threshold = distance_threshold
        self.linkage = linkage
        self.metric = metric
        self.k_range = k_range
        self.seed = seed
        self.sample_size = sample_size

    def _check_params(self) -> None:
        if self.k is not None and self.distance_threshold is not None:
            raise ValueError("give either k or distance_threshold, not both")
        check_choice("linkage", self.linkage, ("ward", "complete", "average", "single"))
        if self.linkage == "ward" and self.metric != "euclidean":
            raise ValueError(f"ward linkage only works with metric='euclidean', got {self.metric!r}")
        if self.distance_threshold is not None and not (
            isinstance(self.distance_threshold, (int, float)) and self.distance_threshold >= 0
        ):
            raise ValueError(f"distance_threshold must be a number >= 0, got {self.distance_threshold!r}")

    def _agglomerative(self, X: np.ndarray, k: int | None, threshold: float | None = None) -> np.ndarray:
        model = AgglomerativeClustering(
            n_clusters=k, distance_threshold=threshold, linkage=self.linkage, metric=self.metric
        )
        return model.fit_predict(X).astype(np.int64)

    def fit_predict(self, embeddings: np.ndarray) -> np.ndarray:
        X = _validate_embeddings(embeddings)
        self._check_params()
        if self.metric == "cosine" and np.any(np.linalg.norm(X, axis=1) == 0):
            raise ValueError("cosine distance is undefined for all-zero embedding vectors")
        n = X.shape[0]
        _check_pairwise_size(n, "agglomerative clustering")
        self.silhouette_scores_: dict[int, float] = {}
        if n == 1 or _n_distinct(X) == 1:
            # scikit-learn needs >= 2 samples; identical points would be split arbitrarily.
            k, labels = 1, np.zeros(n, dtype=np.int64)
        elif self.distance_threshold is not None:
            labels = self._agglomerative(X, None, float(self.distance_threshold))
            k = int(labels.max()) + 1
        elif self.k is not None:
            k = min(_check_int("k", self.k, 1), n, _n_distinct(X))
            labels = np.zeros(n, dtype=np.int64) if k == 1 else self._agglomerative(X, k)
        else:
            k, labels, self.silhouette_scores_ = _silhouette_search(
                X,
                lambda kk: self._agglomerative(X, kk),
                _check_k_range(self.k_range),
                metric="cosine" if self.metric == "cosine" else "euclidean",
                sample_size=self.sample_size,
                seed=self.seed,
            )
        self.k_ = k
        self.labels_ = labels
        return labels


CLUSTERERS: dict[str, type] = {
    "k-means": KMeansClusterer,
    "HDBSCAN": HDBSCANClusterer,
    "agglomerative": AgglomerativeClusterer,
}


def make_clusterer(name: str, **params: Any) -> Clusterer:
    """Build a registered clusterer by its display name; unknown names or parameters raise ValueError."""
    check_choice("clusterer", name, CLUSTERERS)
    cls = CLUSTERERS[name]
    accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"{name} does not take {', '.join(unknown)}; it accepts {', '.join(accepted)}")
    return cls(**params)


# --------------------------------------------------------------------------------------------------
# choosing k

# A label column with more classes than this is not taken for the number of topics (an id or free-text
# column): the Clustering tab's k field goes up to 100.
LABEL_K_MAX = 100


@dataclass(frozen=True)
class KChoice:
    """How k is chosen before clustering: ``k`` (None: by silhouette) and why (``reason``).

    ``reason`` is "given" (the person set k), "labels" (the label column's number of classes),
    "silhouette" (searched), or "density" (HDBSCAN finds its own number). ``classes`` is the label
    column's number of distinct non-empty values, when there is one.
    """

    k: int | None
    reason: str
    classes: int | None = None


def choose_k(method: str, k: int | None, labels: Sequence[Any] | None, n_texts: int) -> KChoice:
    """What a person expects k to be: theirs, else their label column's number of classes, else silhouette.

    On 200 intents_ru texts, 25 from each of the 8 largest scenarios (e5-small), raw silhouette chose k = 2
    (ARI 0.061) where the label column's 8 classes give 0.292; over 6 random sets each of 8 and 12 scenarios,
    the label count gave ARI 0.308 and 0.273 where even the centred silhouette gave 0.194 and 0.092
    (benchmarks/cluster_k.py): labels, when given, say more about the expected topics than the geometry. A column with one class, or more than ``LABEL_K_MAX`` or half the texts
    (nearly one class per text: an id), says nothing about k and leaves it to silhouette.
    """
    check_choice("clusterer", method, CLUSTERERS)
    n_texts = _check_int("n_texts", n_texts, 0)
    classes = None
    if labels is not None:
        values = {str(v).strip() for v in labels if v is not None and str(v).strip()}
        classes = len(values) or None
    if method == "HDBSCAN":
        return KChoice(None, "density", classes)
    if k:
        return KChoice(_check_int("k", k, 1), "given", classes)
    if classes is not None and 2 <= classes <= min(LABEL_K_MAX, n_texts // 2):
        return KChoice(classes, "labels", classes)
    return KChoice(None, "silhouette", classes)


def top_candidates(scores: Mapping[int, float], n: int = 3) -> list[tuple[int, float]]:
    """The ``n`` best (k, silhouette) pairs, best first (ties: the smaller k first)."""
    n = _check_int("n", n, 0)
    return sorted(((int(k), float(s)) for k, s in scores.items()), key=lambda ks: (-ks[1], ks[0]))[:n]


# --------------------------------------------------------------------------------------------------
# evaluation and summaries


def cluster_metrics(labels_true: Sequence[Any], labels_pred: Sequence[int] | np.ndarray) -> dict[str, float]:
    """Adjusted Rand index and normalised mutual information of predicted vs reference labels."""
    y_true = np.asarray(list(labels_true), dtype=object)
    y_pred = np.asarray(list(labels_pred))
    if len(y_true) != len(y_pred):
        raise ValueError(f"labels_true has {len(y_true)} items but labels_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("cannot score empty label lists")
    # sklearn wants one comparable type; mixed None/str/int labels are compared as strings.
    y_true = np.asarray([str(v) for v in y_true])
    return {
        "ari": float(adjusted_rand_score(y_true, y_pred)),
        "nmi": float(normalized_mutual_info_score(y_true, y_pred)),
    }


def cluster_table(
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    keywords_fn: KeywordsFn | None = top_keywords,
    *,
    embeddings: np.ndarray | None = None,
    n_examples: int = 3,
) -> pd.DataFrame:
    """One row per cluster: ``cluster``, ``size``, ``keywords`` (comma-joined), ``examples``.

    Sorted by size, largest first; the noise group (-1), if any, comes last whatever its size
    because it is not a topic. ``examples`` holds up to ``n_examples`` texts joined by `` | ``: the
    ones nearest the cluster centroid when ``embeddings`` are given (most representative), else the
    first ones. ``keywords_fn(texts, labels) -> {label: [words]}`` is pluggable (default:
    :func:`core.exploration.keywords.top_keywords`); pass None for no keywords.
    """
    texts = [str(t) for t in texts]
    labels_arr = np.asarray(list(labels), dtype=np.int64)
    if len(texts) != len(labels_arr):
        raise ValueError(f"texts has {len(texts)} items but labels has {len(labels_arr)}")
    n_examples = _check_int("n_examples", n_examples, 1)
    columns = ["cluster", "size", "keywords", "examples"]
    if not texts:
        return pd.DataFrame(
            {c: pd.Series(dtype="int64" if c in ("cluster", "size") else object) for c in columns}
        )
    X = None
    if embeddings is not None:
        X = _validate_embeddings(embeddings)
        if X.shape[0] != len(texts):
            raise ValueError(f"embeddings has {X.shape[0]} rows but there are {len(texts)} texts")

    keywords = dict(keywords_fn(texts, labels_arr.tolist())) if keywords_fn is not None else {}
    rows = []
    for label in np.unique(labels_arr):
        idx = np.flatnonzero(labels_arr == label)
        if X is not None:
            centroid = X[idx].mean(axis=0)
            norms = np.linalg.norm(X[idx], axis=1) * (np.linalg.norm(centroid) or 1.0)
            sims = X[idx] @ centroid / np.where(norms == 0, 1.0, norms)
            idx = idx[np.argsort(-sims, kind="stable")]
        examples: list[str] = []
        for i in idx:  # skip duplicates so three examples show three different texts
            if texts[i] not in examples:
                examples.append(texts[i])
            if len(examples) == n_examples:
                break
        rows.append(
            {
                "cluster": int(label),
                "size": int(len(idx)),
                "keywords": ", ".join(keywords.get(int(label), [])),
                "examples": " | ".join(examples),
            }
        )
    frame = pd.DataFrame(rows, columns=columns)
    frame["_noise"] = frame["cluster"] == NOISE
    frame = frame.sort_values(["_noise", "size", "cluster"], ascending=[True, False, True], kind="stable")
    return frame.drop(columns="_noise").reset_index(drop=True)


def cluster_label_table(
    clusters: Sequence[int],
    labels: Sequence[Any],
    names: Mapping[int, str] | None = None,
) -> pd.DataFrame:
    """Clusters x labels: how many texts of each cluster carry each label, and where they agree.

    One row per cluster (largest first, noise last, as :func:`cluster_table`): ``cluster``, ``name``
    (from ``names``; empty if none), one count column per label (most frequent label first), ``texts``,
    ``main label`` (the cluster's most frequent label, ties alphabetical) and ``agreement`` (its share of
    the cluster's texts, 0-1). A missing label counts as "(no label)".
    """
    clusters_arr = np.asarray(list(clusters), dtype=np.int64)
    label_list = ["(no label)" if lab is None or str(lab).strip() == "" else str(lab) for lab in labels]
    if len(label_list) != len(clusters_arr):
        raise ValueError(f"clusters has {len(clusters_arr)} items but labels has {len(label_list)}")
    fixed = ["cluster", "name", "texts", "main label", "agreement"]
    if not len(label_list):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in fixed})
    counts = pd.crosstab(pd.Series(clusters_arr, name="cluster"), pd.Series(label_list, name="label"))
    texts_per_label = counts.sum()
    order = sorted(counts.columns, key=lambda lab: (-int(texts_per_label[lab]), lab))
    counts = counts[order]
    # A label spelled like one of the fixed columns ("texts") gets its own heading, not a clash.
    heading = {lab: f"label: {lab}" if lab in fixed else lab for lab in order}
    rows = []
    for cluster_label, row in counts.iterrows():
        cluster = cast(int, cluster_label)  # the crosstab's index: cluster ids (pandas types it Hashable)
        total = int(row.sum())
        best = min(order, key=lambda lab: (-int(row[lab]), lab))
        rows.append({"cluster": int(cluster), "name": (names or {}).get(int(cluster), ""),
                     **{heading[lab]: int(row[lab]) for lab in order}, "texts": total, "main label": best,
                     "agreement": round(int(row[best]) / total, 3)})
    frame = pd.DataFrame(rows, columns=["cluster", "name", *heading.values(), "texts", "main label", "agreement"])
    frame["_noise"] = frame["cluster"] == NOISE
    frame = frame.sort_values(["_noise", "texts", "cluster"], ascending=[True, False, True], kind="stable")
    return frame.drop(columns="_noise").reset_index(drop=True)
