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
from core.limits import Limits

__all__ = ["Hit", "ModelRetrieval", "ModelThreshold", "SizedEncoder", "check_retrieval_set", "evaluate",
           "pair_scores", "search", "thresholds"]


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
