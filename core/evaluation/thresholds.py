"""Choosing a similarity threshold from pairs with a relevant / not-relevant verdict.

Scores are whatever the caller gives (the app passes cosine x 100, the scale it shows everywhere).
A pair counts as predicted relevant when its score is at or above the threshold, so the threshold
is always one of the observed scores: the lowest score still called relevant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import Message, UserError

__all__ = ["POSITIVE_LABELS", "NEGATIVE_LABELS", "ThresholdChoice", "best_f1_threshold", "parse_verdicts"]

# What people write in a label column. In a column that also holds -1 (ParaPhraser's -1 / 0 / 1 classes)
# only the extremes are verdicts: there 0 means "near paraphrase" and is refused by name rather than
# guessed; in a 1 / 0 column, 0 is "not relevant".
POSITIVE_LABELS = frozenset({"1", "1.0", "true", "yes", "y", "relevant", "positive", "pos", "+", "да", "релевантно",
                             "релевантный", "similar"})
NEGATIVE_LABELS = frozenset({"0", "0.0", "-1", "-1.0", "false", "no", "n", "not_relevant", "not relevant",
                             "irrelevant", "negative", "neg", "-", "нет", "нерелевантно", "не релевантно",
                             "dissimilar"})
THREE_WAY_MARKS = frozenset({"-1", "-1.0"})  # a column with these is a -1 / 0 / 1 column
NEAR_PARAPHRASE = frozenset({"0", "0.0"})  # what 0 means there


def parse_verdicts(values: Sequence[Any], *, what: str | None = None) -> np.ndarray:
    """Booleans (True = relevant) from a label column, or a ValueError naming the first bad row."""
    what = what or Message("verdict_label")  # what the messages call a cell
    out = np.zeros(len(values), dtype=bool)
    texts = [None if isinstance(value, (bool, np.bool_)) else
             "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip().lower()
             for value in values]
    three_way = any(text in THREE_WAY_MARKS for text in texts)
    for i, (value, text) in enumerate(zip(values, texts, strict=True)):
        if text is None:
            out[i] = bool(value)
            continue
        if three_way and text in NEAR_PARAPHRASE:
            raise UserError("verdict_three_way_zero", row=i + 1, what=what)
        if text in POSITIVE_LABELS:
            out[i] = True
        elif text not in NEGATIVE_LABELS:
            if not text:
                raise UserError("verdict_empty", row=i + 1, what=what)
            raise UserError("verdict_unknown", row=i + 1, what=what, value=text)
    return out


@dataclass(frozen=True)
class ThresholdChoice:
    """The F1-maximising threshold and what it gives on the pairs it was chosen on."""

    threshold: float
    f1: float
    precision: float
    recall: float
    n_relevant: int
    n_not_relevant: int


def best_f1_threshold(scores: Sequence[float] | np.ndarray, relevant: Sequence[bool] | np.ndarray) -> ThresholdChoice:
    """The threshold (one of ``scores``) that maximises F1 of "score >= threshold means relevant".

    Among equal F1, the higher threshold wins (fewer pairs let through for the same F1). Needs at
    least one pair of each class: with one class only, any threshold is as good as any other.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(relevant)
    if scores.ndim != 1 or labels.shape != scores.shape:
        raise ValueError(f"scores and verdicts must be 1-D of the same length, got {scores.shape} and {labels.shape}")
    if labels.dtype != bool:
        raise ValueError("verdicts must be booleans (True = relevant); use parse_verdicts on a label column")
    if not np.isfinite(scores).all():
        bad = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise ValueError(f"score {bad + 1} is not a finite number")
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        missing = Message("class_relevant" if n_pos == 0 else "class_not_relevant")
        raise UserError("threshold_needs_both_classes", missing=missing, count=len(labels))
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # Cut after each run of equal scores: a threshold cannot split pairs that score the same.
    last_of_run = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    true_positives = np.cumsum(sorted_labels)[last_of_run]
    predicted = (np.arange(1, len(scores) + 1))[last_of_run]
    precision = true_positives / predicted
    recall = true_positives / n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(true_positives > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f1))  # the first maximum is the highest threshold
    return ThresholdChoice(threshold=float(sorted_scores[last_of_run][best]), f1=float(f1[best]),
                           precision=float(precision[best]), recall=float(recall[best]),
                           n_relevant=n_pos, n_not_relevant=n_neg)
