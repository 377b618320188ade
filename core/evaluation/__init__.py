"""Retrieval evaluation on users' own data: metrics, thresholds, search (no UI code here)."""

from core.evaluation.engine import (
    Hit,
    ModelRetrieval,
    ModelThreshold,
    evaluate,
    pair_scores,
    search,
    thresholds,
)
from core.evaluation.retrieval import (
    METRICS,
    BootstrapInterval,
    Miss,
    RetrievalScores,
    RetrievalSet,
    misses,
    paired_bootstrap,
    relevant_ranks,
    retrieval_scores,
)
from core.evaluation.thresholds import ThresholdChoice, best_f1_threshold, parse_verdicts

__all__ = [
    "METRICS",
    "BootstrapInterval",
    "Hit",
    "Miss",
    "ModelRetrieval",
    "ModelThreshold",
    "RetrievalScores",
    "RetrievalSet",
    "ThresholdChoice",
    "best_f1_threshold",
    "evaluate",
    "misses",
    "pair_scores",
    "paired_bootstrap",
    "parse_verdicts",
    "relevant_ranks",
    "retrieval_scores",
    "search",
    "thresholds",
]
