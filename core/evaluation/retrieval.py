"""Retrieval quality on a user's own data: Recall@k, MRR@10, nDCG@10, misses, and a paired bootstrap.

A :class:`RetrievalSet` holds distinct queries, distinct candidate passages and, per query, the
indices of its relevant passages. Every passage is a candidate for every query. Everything is
computed from one number per relevant pair: its rank among all candidates (1 = ranked first), with
ties broken by passage order, as a stable sort by descending score would. The metrics are binary
relevance:

- Recall@k (as issue 13 defines it, also called hit rate or success@k): 1 when a relevant passage
  is in the top k, else 0;
- MRR@10: 1 / rank of the first relevant passage when it is in the top 10, else 0;
- nDCG@10: sum of 1 / log2(rank + 1) over relevant passages in the top 10, divided by the same sum
  for the ideal ranking (all relevant passages first).

The numbers are per query (arrays), so two models can be compared query by query
(:func:`paired_bootstrap`); ``summary`` averages them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.errors import UserError, word

__all__ = [
    "METRICS",
    "BootstrapInterval",
    "Miss",
    "RetrievalScores",
    "RetrievalSet",
    "misses",
    "normalized",
    "paired_bootstrap",
    "relevant_ranks",
    "retrieval_scores",
]

METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
_CUTOFF = 10  # MRR and nDCG are cut at 10, the depth a person reads


@dataclass(frozen=True)
class RetrievalSet:
    """Distinct queries, distinct candidate passages, and each query's relevant passage indices."""

    queries: list[str]
    passages: list[str]
    relevant: list[frozenset[int]]  # relevant[q]: indices into passages
    duplicate_passages: int = 0  # passages given more than once and kept once
    skipped_rows: int = 0  # pairs with an empty query or passage

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], extra_passages: Iterable[str] = ()) -> RetrievalSet:
        """One (query, relevant passage) per item; ``extra_passages`` are further candidates.

        Texts are used as given (clean them first); equal texts are the same query or passage. A pair
        with an empty side is skipped and counted, since tables often end with half-filled rows.
        """
        query_index: dict[str, int] = {}
        passage_index: dict[str, int] = {}
        relevant: list[set[int]] = []
        given = skipped = 0

        def passage_id(text: str) -> int:
            nonlocal given
            given += 1
            return passage_index.setdefault(text, len(passage_index))

        for position, pair in enumerate(pairs):
            try:
                query, passage = pair
            except (TypeError, ValueError) as exc:
                raise UserError("pair_malformed", pair_number=position + 1, pair=pair) from exc
            for role, text in (("query", query), ("passage", passage)):
                if text is not None and not isinstance(text, str):
                    raise UserError("pair_text_not_str", role=word("role", role), pair_number=position + 1, type=type(text).__name__)
            if not query or not passage:
                skipped += 1
                continue
            q = query_index.setdefault(query, len(query_index))
            if q == len(relevant):
                relevant.append(set())
            relevant[q].add(passage_id(passage))
        if not query_index:
            raise UserError("no_complete_pair")
        for position, text in enumerate(extra_passages):
            if not isinstance(text, str):
                raise UserError("corpus_passage_not_str", position=position + 1, type=type(text).__name__)
            if text:
                passage_id(text)
        return cls(queries=list(query_index), passages=list(passage_index),
                   relevant=[frozenset(r) for r in relevant], duplicate_passages=given - len(passage_index),
                   skipped_rows=skipped)

    @property
    def n_pairs(self) -> int:
        return sum(len(r) for r in self.relevant)


def relevant_ranks(scores: np.ndarray, relevant: Sequence[Iterable[int]]) -> list[np.ndarray]:
    """For each query (a row of ``scores``), the sorted 1-based ranks of its relevant passages.

    A passage's rank is 1 + the passages scored higher + the equal-scored ones listed before it: the
    order of a stable sort by descending score, so an ordering bug cannot hide behind ties.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a (queries, passages) matrix, got shape {scores.shape}")
    if len(relevant) != scores.shape[0]:
        raise ValueError(f"{len(relevant)} relevance sets for {scores.shape[0]} queries")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values")
    n_passages = scores.shape[1]
    out = []
    for q, indices in enumerate(relevant):
        indices = np.asarray(sorted(set(int(i) for i in indices)), dtype=np.int64)
        if indices.size == 0:
            raise ValueError(f"query {q + 1} has no relevant passage")
        if indices[0] < 0 or indices[-1] >= n_passages:
            raise ValueError(f"query {q + 1} names passage {int(indices[-1]) + 1}, but there are {n_passages}")
        row = scores[q]
        values = row[indices]
        higher = (row[None, :] > values[:, None]).sum(axis=1)
        tied_before = ((row[None, :] == values[:, None]) & (np.arange(n_passages)[None, :] < indices[:, None])).sum(axis=1)
        out.append(np.sort(higher + tied_before + 1))
    return out


@dataclass(frozen=True)
class RetrievalScores:
    """Per-query metrics (arrays of one value per query, in the set's order) and their means."""

    per_query: dict[str, np.ndarray]
    first_relevant_rank: np.ndarray  # 1-based rank of each query's best-ranked relevant passage

    def summary(self) -> dict[str, float]:
        return {name: float(values.mean()) for name, values in self.per_query.items()}


def retrieval_scores(ranks: Sequence[np.ndarray], ks: Sequence[int] = (1, 5, 10)) -> RetrievalScores:
    """Recall@k for each k, MRR@10 and nDCG@10 per query, from :func:`relevant_ranks`."""
    if not ranks:
        raise ValueError("no queries to score")
    first = np.array([int(r.min()) for r in ranks])
    per_query: dict[str, np.ndarray] = {f"recall@{k}": (first <= k).astype(np.float64) for k in ks}
    per_query[f"mrr@{_CUTOFF}"] = np.where(first <= _CUTOFF, 1.0 / first, 0.0)
    discounts = 1.0 / np.log2(np.arange(2, _CUTOFF + 2))  # rank r weighs 1 / log2(r + 1)
    ndcg = []
    for r in ranks:
        gain = discounts[r[r <= _CUTOFF] - 1].sum()
        ideal = discounts[: min(len(r), _CUTOFF)].sum()
        ndcg.append(gain / ideal)
    per_query[f"ndcg@{_CUTOFF}"] = np.asarray(ndcg)
    return RetrievalScores(per_query=per_query, first_relevant_rank=first)


def normalized(text: str) -> str:
    """A text as a duplicate check compares it: case folded, runs of whitespace as one space, stripped."""
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class Miss:
    """A query whose first-ranked passage is not relevant."""

    query: int
    ranked_first: int  # passage index
    first_score: float
    first_relevant_rank: int
    relevant: int  # the best-ranked relevant passage
    # The passage ranked first is the query itself (after case and whitespace normalisation): the query
    # was also in the corpus, so this is a flaw of the data, not of the model (issue 26).
    duplicate_of_query: bool = False


def misses(scores: np.ndarray, dataset: RetrievalSet, ranks: Sequence[np.ndarray] | None = None) -> list[Miss]:
    """Queries whose top passage is not relevant, worst first (relevant passage ranked lowest)."""
    ranks = relevant_ranks(scores, dataset.relevant) if ranks is None else ranks
    top = np.argmax(scores, axis=1)  # the first of equal maxima, as in relevant_ranks
    out = []
    for q, query_ranks in enumerate(ranks):
        if query_ranks[0] == 1:
            continue
        relevant = sorted(dataset.relevant[q])
        best = max(relevant, key=lambda p: (scores[q, p], -p))
        first = int(top[q])
        out.append(Miss(query=q, ranked_first=first, first_score=float(scores[q, first]),
                        first_relevant_rank=int(query_ranks[0]), relevant=int(best),
                        duplicate_of_query=normalized(dataset.passages[first]) == normalized(dataset.queries[q])))
    return sorted(out, key=lambda m: (-m.first_relevant_rank, m.query))


@dataclass(frozen=True)
class BootstrapInterval:
    """Mean of a − b over queries and its percentile bootstrap interval."""

    difference: float
    low: float
    high: float
    confidence: float
    n_resamples: int
    samples: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0))

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def paired_bootstrap(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *, n_resamples: int = 2_000,
                     confidence: float = 0.95, seed: int | None = 0) -> BootstrapInterval:
    """Confidence interval for mean(a) − mean(b), resampling queries (the same ones for both models).

    Pairing matters: two models' per-query scores are strongly correlated (hard queries are hard for
    both), so resampling each model alone would give a much wider, wrong interval. 2,000 resamples
    keep the 2.5% and 97.5% percentiles stable to about ±0.005 on 100 queries (their Monte-Carlo
    error); a fixed seed makes the same data give the same interval.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be per-query arrays of the same length, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("no queries to compare")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("per-query scores contain NaN or infinite values")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples must be an integer >= 1, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    differences = a - b
    rng = np.random.default_rng(seed)
    samples = np.empty(n_resamples)
    # In chunks, so 2,000 resamples of 1,000 queries never hold more than ~8 MB of indices at once.
    chunk = max(1, 1_000_000 // differences.size)
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        picks = rng.integers(0, differences.size, size=(stop - start, differences.size))
        samples[start:stop] = differences[picks].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return BootstrapInterval(difference=float(differences.mean()), low=float(low), high=float(high),
                             confidence=confidence, n_resamples=int(n_resamples), samples=samples)
