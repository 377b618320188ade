"""Before a run: can it show a gain? Per kind, the held-out set the run will score and the current score.

A run is judged on judgments it never trained on (core.training.split). When that held-out set cannot
be scored (verdicts of one class only, a single pair) or the model already scores it perfectly, no run
can be promoted, however long it trains: issue 26 saw two such runs of 2 minutes each end "not
promoted (+0.0000)". :func:`assess` says so beforehand, with what to judge next, using exactly the
split :func:`core.training.trainer.split_sets` gives the run, and the metric the run will report,
computed here from the loaded model's embeddings (the run recomputes it in sentence-transformers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import Message, UserError
from core.judgments import Judgment
from core.training.evaluation import (
    LABELS_1NN,
    OWN_POSITIVE,
    SPEARMAN,
    TRIPLET_ACCURACY,
    VERDICTS_AP,
    held_out_metric,
    metric_message,
)
from core.training.recipe import (
    GRADED,
    LABELS,
    POSITIVES,
    TRAINING_KINDS,
    Prompts,
    TrainingRefused,
    TrainingSet,
    build_sets,
    chosen_judgments,
    count_rows,
    same_label_pairs,
)
from core.training.split import DEFAULT_FRACTION
from core.training.trainer import PERFECT, split_sets

READY, REFUSED, TOO_FEW, ALREADY_PERFECT = "ready", "refused", "too few", "already perfect"

# Texts to embeddings: (N, dim), rows L2-normalised; the texts already carry their prefixes.
Encode = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class KindReadiness:
    """Whether one kind of judgments can train to a measurable result, and why not."""

    kind: str  # a key of TRAINING_KINDS
    state: str  # READY, REFUSED (the recipe or the split refuses), TOO_FEW (held-out not scorable), ALREADY_PERFECT
    rows: int  # training rows the kind gives from all the judgments
    train_rows: int = 0
    held_out_rows: int = 0
    metric: str | None = None  # the held-out metric's name, as the run's report names it
    score: float | None = None  # the current model's score on the held-out set
    reason: Message | None = None  # when not READY: why, and what to judge next
    dropped: int = 0  # judgments the hold-out left out of both sides (they share a text with the other side)

    @property
    def ready(self) -> bool:
        return self.state == READY


def assess(judgments: Sequence[Judgment], kinds: Sequence[str], prompts: Prompts, encode: Encode, *,
           fraction: float = DEFAULT_FRACTION, seed: int = 0, batch_size: int = 16, epochs: int = 1,
           warmup: float = 0.1) -> list[KindReadiness]:
    """One :class:`KindReadiness` per kind in ``kinds``, for a run of exactly those kinds together.

    The hold-out is the run's own (same judgments, kinds, fraction and seed), so a kind's held-out size
    and score are the ones its report would start from. ``encode`` is only called for kinds whose
    held-out set can be scored and that get a training step with a learning rate above 0.
    """
    kinds = list(dict.fromkeys(kinds))
    if not kinds:
        raise UserError("training_no_kind")
    counts = count_rows(judgments, prompts)
    try:
        build_sets(chosen_judgments(judgments, kinds), kinds, prompts)
    except TrainingRefused as refusal:
        # Kinds the recipe accepts on their own are refused here only because the others are.
        return [KindReadiness(name, REFUSED, counts[name], reason=refusal.refusals.get(name) or refusal.message)
                for name in kinds]
    try:
        split, train_sets, held_sets = split_sets(judgments, kinds, prompts, fraction, seed)
    except TrainingRefused as refusal:  # enough in all, too few once the held-out part is set aside
        return [KindReadiness(name, REFUSED, counts[name],
                              reason=Message("readiness_after_hold_out", share=round(100 * fraction),
                                             reason=refusal.refusals.get(name) or refusal.message))
                for name in kinds]
    except UserError as refusal:  # no hold-out possible (too few, or every text shared)
        return [KindReadiness(name, REFUSED, counts[name], reason=refusal.message) for name in kinds]
    out = []
    for name in kinds:
        key = POSITIVES if name == GRADED and POSITIVES in train_sets else name
        train, held = train_sets[key], held_sets[key]
        metric = held_out_metric(key, held, train)
        if metric is None:
            out.append(KindReadiness(name, TOO_FEW, counts[name], len(train), len(held),
                                     dropped=split.dropped,
                                     reason=Message("readiness_too_few", rows=len(held), share=round(100 * fraction),
                                                    left_out=_left_out(split.dropped),
                                                    next=Message(f"readiness_next_few_{key}"))))
            continue
        rows = len(same_label_pairs(train, seed)) if key == LABELS else len(train)
        steps = math.ceil(rows / batch_size) * epochs
        if steps - (1 if warmup > 0 else 0) < 1:
            # The warm-up starts at learning rate 0, so a single step changes nothing: measured with
            # multilingual-e5-small on 13 verdicts (batch 16, one step), held-out average precision 0.5 -> 0.5
            # and ParaPhraser Spearman 0.7021 -> 0.7021, 108 s for no change (issue 26's first batch).
            smaller = max(2, math.ceil(rows / 3))
            out.append(KindReadiness(name, TOO_FEW, counts[name], len(train), len(held), metric,
                                     reason=Message("readiness_one_step", rows=rows, batch=batch_size,
                                                    smaller=smaller, steps=math.ceil(rows / smaller) * epochs)))
            continue
        score = held_out_score(metric, held, train, encode)
        if score >= PERFECT:
            out.append(KindReadiness(name, ALREADY_PERFECT, counts[name], len(train), len(held), metric, score,
                                     Message("readiness_perfect", metric=metric_message(metric), rows=len(held),
                                             score=f"{score:.3f}", next=Message(f"readiness_next_perfect_{key}"))))
            continue
        out.append(KindReadiness(name, READY, counts[name], len(train), len(held), metric, score))
    return out


def _left_out(dropped: int) -> Message | str:
    """Why the held-out part is so small when texts are shared (every question judged against one pool)."""
    return Message("readiness_left_out", count=dropped) if dropped else ""


def refuse_unready(readiness: Sequence[KindReadiness]) -> None:
    """TrainingRefused naming each kind that cannot train to a measurable result, and why."""
    unready = [r for r in readiness if not r.ready]
    if unready:
        reasons = [Message("training_kind_reason", kind=TRAINING_KINDS[r.kind].title, reason=r.reason or "")
                   for r in unready]
        raise TrainingRefused("training_not_ready", {r.kind: r.reason for r in unready if isinstance(r.reason, Message)},
                              reasons=reasons)


def held_out_score(metric: str, held: TrainingSet, train: TrainingSet, encode: Encode) -> float:
    """``metric`` of ``held`` with the embeddings ``encode`` gives: the figure the run's report starts from
    (its evaluators compute the same quantities from cosine similarity)."""
    if metric in (SPEARMAN, VERDICTS_AP):
        cosine = _row_cosine(encode(held.column("sentence1")), encode(held.column("sentence2")))
        truth = np.asarray(held.column("score"), dtype=float)
        return spearman(cosine, truth) if metric == SPEARMAN else average_precision(truth > 0.5, cosine)
    if metric == TRIPLET_ACCURACY:
        anchors = encode(held.column("anchor"))
        closer = _row_cosine(anchors, encode(held.column("positive"))) > _row_cosine(anchors,
                                                                                     encode(held.column("negative")))
        return float(np.mean(closer))
    if metric == LABELS_1NN:
        nearest = np.argmax(encode(held.column("text")) @ encode(train.column("text")).T, axis=1)
        labels = train.column("label")
        return float(np.mean([labels[i] == label for i, label in zip(nearest, held.column("label"), strict=True)]))
    if metric == OWN_POSITIVE:
        anchors, positives = encode(held.column("anchor")), encode(held.column("positive"))
        return float(np.mean(np.argmax(anchors @ positives.T, axis=1) == np.arange(len(anchors))))
    raise ValueError(f"unknown held-out metric {metric!r}")


def average_precision(relevant: np.ndarray, scores: np.ndarray) -> float:
    """Average precision of ranking by ``scores`` (ties as scikit-learn's average_precision_score treats
    them, which BinaryClassificationEvaluator reports)."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(np.asarray(relevant, dtype=int), scores))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (ties ranked by their mean, as scipy and EmbeddingSimilarityEvaluator do)."""
    ra, rb = _ranks(np.asarray(a, dtype=float)), _ranks(np.asarray(b, dtype=float))
    if len(ra) < 2 or ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):  # ties share their mean rank
        same = values == value
        ranks[same] = ranks[same].mean()
    return ranks


def _row_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64), axis=1)
