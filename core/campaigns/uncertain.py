"""Let the model choose: the items it is least sure about, and the rule that chose them.

Three rules, each stated on the campaign it builds:

* ``boundary``: query-passage pairs whose score sits nearest the decision boundary. The boundary is
  given, or by default the midpoint between the mean best score per query (what the model calls a
  match) and the mean of all scores (what it calls unrelated).
* ``tied``: queries whose two best passages are nearly tied; both pairs are judged, which settles
  the order.
* ``border``: texts between two clusters (k-means on the embeddings): the smallest gap between the
  cosine to the nearest centroid and to the second nearest. Judged with a label, one per cluster,
  named by the cluster's keywords.

Embeddings come from the caller (``encode(texts, prefix) -> unit vectors``), so this module needs
no model and no UI.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.campaigns.model import LABEL, MAX_LABELS, RELEVANCE, SCORE, Item, ItemTable
from core.errors import UserError, word

Encode = Callable[[Sequence[str], str], np.ndarray]
RULES: tuple[str, ...] = ("boundary", "tied", "border")
# A campaign people finish in a sitting or two; more can be asked for up to the campaign cap.
DEFAULT_ITEMS = 50


@dataclass
class Choice:
    """Items chosen by a rule, the judgment they suit, labels (border) and the rule in words."""

    table: ItemTable
    judgment: str
    rule: str
    labels: tuple[str, ...] = ()


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not float(n).is_integer() or int(n) < 1:
        raise UserError("items_number", value=n)
    return int(n)


def _distinct(texts: Sequence[str], what: str, minimum: int) -> list[str]:
    out = list(dict.fromkeys(t for t in texts if t))
    if len(out) < minimum:
        raise UserError("give_distinct", minimum=minimum, what=word("what", what), count=len(out))
    return out


def boundary_pairs(queries: Sequence[str], passages: Sequence[str], encode: Encode, n: int = DEFAULT_ITEMS, *,
                   threshold: float | None = None, judgment: str = RELEVANCE) -> Choice:
    """The ``n`` pairs scored nearest the boundary (cosine x 100), nearest first."""
    n = _check_n(n)
    if judgment not in (RELEVANCE, SCORE):
        raise ValueError("boundary pairs are judged as relevance or a score")
    queries, passages = _distinct(queries, "queries", 1), _distinct(passages, "passages", 1)
    scores = (encode(queries, "query") @ encode(passages, "passage").T) * 100.0
    if threshold is None:
        threshold = float((scores.max(axis=1).mean() + scores.mean()) / 2)
        how = (f"{threshold:.1f}, midway between the mean best score per query and the mean of all "
               f"{scores.size:,} scores")
    else:
        threshold = float(threshold)
        how = f"{threshold:.1f}, as given"
    distance = np.abs(scores - threshold).ravel()
    order = np.argsort(distance, kind="stable")[:n]
    items: list[Item] = []
    for flat in order:
        qi, pi = divmod(int(flat), len(passages))
        s = float(scores[qi, pi])
        items.append(Item(len(items) + 1, queries[qi], passages[pi], model_score=s,
                          reason=f"score {s:.1f}, {abs(s - threshold):.1f} from the boundary"))
    rule = (f"boundary: the {len(items)} of {scores.size:,} query-passage pairs scored nearest the boundary "
            f"{how}")
    return Choice(ItemTable(("query", "passage"), items), judgment, rule)


def tied_queries(queries: Sequence[str], passages: Sequence[str], encode: Encode, n: int = DEFAULT_ITEMS, *,
                 judgment: str = RELEVANCE) -> Choice:
    """Queries whose two best passages score closest together; each gives two pairs (about ``n`` items)."""
    n = _check_n(n)
    if judgment not in (RELEVANCE, SCORE):
        raise ValueError("tied queries are judged as relevance or a score")
    queries, passages = _distinct(queries, "queries", 1), _distinct(passages, "passages", 2)
    scores = (encode(queries, "query") @ encode(passages, "passage").T) * 100.0
    top2 = np.argsort(-scores, axis=1, kind="stable")[:, :2]
    margins = scores[np.arange(len(queries)), top2[:, 0]] - scores[np.arange(len(queries)), top2[:, 1]]
    chosen = np.argsort(margins, kind="stable")[:max(1, (n + 1) // 2)]
    items: list[Item] = []
    for qi in chosen:
        first, second = (int(p) for p in top2[qi])
        note = f"top two nearly tied: {scores[qi, first]:.1f} vs {scores[qi, second]:.1f}"
        for pi in (first, second):
            items.append(Item(len(items) + 1, queries[qi], passages[pi], model_score=float(scores[qi, pi]),
                              reason=note))
    rule = (f"tied: the {len(chosen)} of {len(queries):,} queries whose two best passages scored closest "
            f"(margins {margins[chosen].min():.2f} to {margins[chosen].max():.2f}); both pairs of each")
    return Choice(ItemTable(("query", "passage"), items), judgment, rule)


def border_texts(texts: Sequence[str], encode: Encode, n: int = DEFAULT_ITEMS, *, k: int | None = None,
                 seed: int = 0) -> Choice:
    """The ``n`` texts nearest the border between their cluster and the next, to label with a cluster."""
    from core.exploration.clustering import KMeansClusterer
    from core.exploration.keywords import top_keywords

    n = _check_n(n)
    texts = _distinct(texts, "texts", 3)
    if k is not None and not 2 <= int(k) <= MAX_LABELS:
        raise UserError("uncertain_k_range", limit=MAX_LABELS)
    vectors = encode(texts, "query")
    clusterer = KMeansClusterer(k=int(k) if k else None, k_range=(2, MAX_LABELS), seed=seed)
    labels = np.asarray(clusterer.fit_predict(vectors))
    clusters = sorted(set(labels.tolist()))
    if len(clusters) < 2:
        raise UserError("uncertain_single_cluster")
    keywords = top_keywords(texts, labels.tolist(), n=3)
    names = {c: f"{' / '.join(keywords.get(c, [])) or f'cluster {i + 1}'}" for i, c in enumerate(clusters)}
    borders = ClusterBorders.measure(texts, vectors, labels, what=f"{len(clusters)} k-means clusters")
    return borders.choice(texts, names, n)


@dataclass(frozen=True)
class ClusterBorders:
    """Each text's gap between the cosine to its nearest and to its second-nearest cluster centroid.

    Measured once, when a clustering is made (the Clustering tab keeps it instead of the embeddings:
    four small arrays, about 1.2 MB for 50,000 texts), and turned into a campaign later with the
    clusters' names as they are then. Noise (cluster -1) is no label, but its texts are candidates:
    they are what the clustering could not place. A label campaign has at most ``MAX_LABELS`` labels
    (one digit key each), so past that the largest clusters are kept and only texts nearest two of
    them are candidates; ``where`` says so.
    """

    rows: np.ndarray  # positions in the texts, nearest a border first (first occurrence of each text)
    nearest: np.ndarray  # each row's nearest cluster, as a cluster id
    second: np.ndarray  # and its second nearest
    gaps: np.ndarray  # cosine gap between the two
    clusters: tuple[int, ...]  # the clusters that become labels, in label order
    where: str  # which clustering, in words, for the rule

    @classmethod
    def measure(cls, texts: Sequence[str], vectors: np.ndarray, clusters: Sequence[int] | np.ndarray, *,
                what: str = "") -> ClusterBorders:
        vectors = np.asarray(vectors, dtype=np.float32)
        labels = np.asarray(clusters)
        if vectors.ndim != 2 or len(vectors) != len(texts) or len(labels) != len(texts):
            raise ValueError(f"{len(texts)} texts, {len(vectors)} vectors and {len(labels)} cluster labels: "
                             "they must match one to one")
        sizes = {int(c): int((labels == c).sum()) for c in set(labels.tolist()) if c != -1}
        if len(sizes) < 2:
            raise UserError("uncertain_few_clusters")
        kept = sorted(sorted(sizes, key=lambda c: (-sizes[c], c))[:MAX_LABELS])
        where = what or f"{len(sizes)} clusters"
        if len(kept) < len(sizes):
            where += f" (the {len(kept)} largest: a label campaign has at most {MAX_LABELS} labels)"
        # The first occurrence of each text stands for it, so no text is handed out twice.
        firsts: dict[str, int] = {}
        for i, text in enumerate(texts):
            if text and text.strip() and (labels[i] == -1 or int(labels[i]) in kept):
                firsts.setdefault(text, i)
        rows = np.fromiter(sorted(firsts.values()), dtype=np.int64, count=len(firsts))
        centroids = np.stack([vectors[labels == c].mean(axis=0) for c in kept])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True).clip(min=1e-12)
        sims = (vectors @ centroids.T)[rows]  # not vectors[rows]: that copies 150 MB at 50,000 texts
        order = np.argsort(-sims, axis=1, kind="stable")
        at = np.arange(len(rows))
        gaps = sims[at, order[:, 0]] - sims[at, order[:, 1]]
        by_gap = np.argsort(gaps, kind="stable")
        ids = np.asarray(kept)
        return cls(rows=rows[by_gap].astype(np.int32), nearest=ids[order[by_gap, 0]].astype(np.int32),
                   second=ids[order[by_gap, 1]].astype(np.int32), gaps=gaps[by_gap].astype(np.float32),
                   clusters=tuple(kept), where=where)

    def choice(self, texts: Sequence[str], names: Mapping[int, str] | None = None, n: int = DEFAULT_ITEMS) -> Choice:
        """The ``n`` texts nearest a border, to label with one of the clusters (named by ``names``)."""
        n = _check_n(n)
        given = dict(names or {})
        labels = {c: f"{i + 1}: {given.get(c) or f'cluster {c}'}" for i, c in enumerate(self.clusters)}
        items = [Item(j + 1, texts[int(row)], model_score=float(gap) * 100,
                      reason=f"between {labels[int(a)]} and {labels[int(b)]} (gap {gap * 100:.1f})")
                 for j, (row, a, b, gap) in enumerate(zip(self.rows[:n], self.nearest[:n], self.second[:n],
                                                          self.gaps[:n], strict=True))]
        rule = (f"border: the {len(items)} of {len(self.rows):,} texts nearest the border between two of "
                f"{self.where} (smallest gap between the cosine to the nearest and to the second-nearest "
                "centroid)")
        return Choice(ItemTable(("text",), items), LABEL, rule, labels=tuple(labels.values()))
