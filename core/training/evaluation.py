"""Before/after scores: the held-out judgments and a fixed regression set.

Each held-out set is scored with the sentence-transformers evaluator that fits it: graded scores with
``EmbeddingSimilarityEvaluator`` (Spearman of cosine), binary verdicts with
``BinaryClassificationEvaluator`` (average precision of cosine), triplets with ``TripletEvaluator``
(cosine accuracy); labels by 1-nearest-neighbour accuracy of held-out texts against the training
texts, and positive-only pairs by how often a query's own positive is its nearest held-out passage.

The regression set (``assets/paraphraser_regression.csv``: 400 ParaPhraser pairs) catches a model
that learns the judgments and forgets general similarity.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import Message
from core.inputs.text import add_prefix
from core.training.recipe import GRADED, LABELS, POSITIVES, TRIPLETS, TrainingSet

if TYPE_CHECKING:
    from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

REGRESSION_SET = Path(__file__).resolve().parents[2] / "assets" / "paraphraser_regression.csv"
HELD_OUT = "held-out"
REGRESSION = "regression"
# Metric names as reports store them (English, also in older reports); the interface words each one by
# the key beside it (core.errors.MESSAGES "metric_<key>"), so a Russian page never shows the English name.
SPEARMAN = "scores: Spearman"
VERDICTS_AP = "verdicts: average precision"
TRIPLET_ACCURACY = "triplets: accuracy"
LABELS_1NN = "labels: 1-NN accuracy"
OWN_POSITIVE = "pairs: own positive first"
PARAPHRASER = "ParaPhraser Spearman"
METRIC_KEYS = {SPEARMAN: "spearman", VERDICTS_AP: "verdicts_ap", TRIPLET_ACCURACY: "triplets_accuracy",
               LABELS_1NN: "labels_1nn", OWN_POSITIVE: "own_positive", PARAPHRASER: "paraphraser"}
SPLIT_KEYS = {HELD_OUT: "held_out", REGRESSION: "regression"}


def metric_message(name: str) -> str:
    """A metric's name as a message the interface translates (an unknown name stays as it is)."""
    return Message(f"metric_{METRIC_KEYS[name]}") if name in METRIC_KEYS else name


def split_message(split: str) -> str:
    return Message(f"split_{SPLIT_KEYS[split]}") if split in SPLIT_KEYS else split


def held_out_metric(name: str, held: TrainingSet, train: TrainingSet | None) -> str | None:
    """The metric a held-out set of kind ``name`` is scored with, or None when it cannot be scored
    (empty; verdicts of one class only; labels with nothing to compare against; a single pair)."""
    if not len(held):
        return None
    if name == GRADED:
        scores = set(held.column("score"))
        if scores <= {0.0, 1.0}:
            return VERDICTS_AP if len(scores) == 2 else None
        return SPEARMAN
    if name == TRIPLETS:
        return TRIPLET_ACCURACY
    if name == LABELS:
        return LABELS_1NN if train is not None and len(train) else None
    if name == POSITIVES:
        return OWN_POSITIVE if len(held) >= 2 else None
    return None


@dataclass(frozen=True)
class Score:
    """One metric measured once."""

    name: str
    split: str  # HELD_OUT or REGRESSION
    value: float
    rows: int


@dataclass(frozen=True)
class MetricChange:
    """One metric before and after training."""

    name: str
    split: str
    before: float
    after: float
    rows: int

    @property
    def change(self) -> float:
        return self.after - self.before

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change}


def compare(before: Sequence[Score], after: Sequence[Score]) -> list[MetricChange]:
    later = {(s.name, s.split): s for s in after}
    return [MetricChange(s.name, s.split, s.value, later[(s.name, s.split)].value, s.rows)
            for s in before if (s.name, s.split) in later]


@dataclass(frozen=True)
class RegressionSet:
    """Pairs scored 0 / 0.5 / 1 (ParaPhraser's classes −1 / 0 / 1)."""

    sentences1: list[str]
    sentences2: list[str]
    scores: list[float]

    @classmethod
    def load(cls, path: str | Path = REGRESSION_SET) -> RegressionSet:
        with Path(path).open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows:
            raise ValueError(f"the regression set {path} is empty")
        return cls([r["text_1"] for r in rows], [r["text_2"] for r in rows],
                   [(int(r["class"]) + 1) / 2 for r in rows])

    def with_prefix(self, prefix: str) -> RegressionSet:
        """Paraphrase is symmetric: both sides get the model's query prompt, as its card advises."""
        return RegressionSet([add_prefix(t, prefix) for t in self.sentences1],
                             [add_prefix(t, prefix) for t in self.sentences2], self.scores)


class Evaluation:
    """The held-out sets (and the training labels 1-NN compares against) plus the regression set."""

    def __init__(self, held_out: dict[str, TrainingSet], train: dict[str, TrainingSet],
                 regression: RegressionSet | None = None, batch_size: int = 32) -> None:
        self.held_out = held_out
        self.train = train
        self.regression = regression
        self.batch_size = batch_size

    @property
    def steps(self) -> list[tuple[str, int, Callable[[Any], float]]]:
        """(metric name, rows, function of the model) for every set that can be scored."""
        steps = []
        functions = {SPEARMAN: self._similarity, VERDICTS_AP: self._binary, TRIPLET_ACCURACY: self._triplets,
                     OWN_POSITIVE: self._own_positive}
        for name, held in self.held_out.items():
            metric = held_out_metric(name, held, self.train.get(name))
            if metric == LABELS_1NN:
                steps.append((metric, len(held), self._nearest_label(held, self.train[name])))
            elif metric is not None:
                steps.append((metric, len(held), functions[metric](held)))
        return steps

    def score(self, model: Any) -> list[Score]:
        """Every metric for ``model`` (a SentenceTransformer whose prompts are switched off)."""
        scores = [Score(name, HELD_OUT, float(fn(model)), rows) for name, rows, fn in self.steps]
        if self.regression is not None:
            value = self._similarity_of(self.regression.sentences1, self.regression.sentences2,
                                        self.regression.scores, "regression")(model)
            scores.append(Score(PARAPHRASER, REGRESSION, float(value), len(self.regression.scores)))
        return scores

    # -- metrics -------------------------------------------------------------------------------
    def _similarity(self, held: TrainingSet) -> Callable[[Any], float]:
        return self._similarity_of(held.column("sentence1"), held.column("sentence2"), held.column("score"),
                                   "held-out")

    def _similarity_of(self, first: list[str], second: list[str], scores: list[float],
                       name: str) -> Callable[[Any], float]:
        from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

        evaluator = EmbeddingSimilarityEvaluator(first, second, scores, batch_size=self.batch_size, name=name,
                                                 similarity_fn_names=["cosine"], write_csv=False)
        return lambda model: evaluator(model)[_primary_metric(evaluator)]

    def _binary(self, held: TrainingSet) -> Callable[[Any], float]:
        from sentence_transformers.sentence_transformer.evaluation import BinaryClassificationEvaluator

        evaluator = BinaryClassificationEvaluator(
            held.column("sentence1"), held.column("sentence2"), [int(s) for s in held.column("score")],
            batch_size=self.batch_size, name="held-out", similarity_fn_names=["cosine"], write_csv=False)
        return lambda model: evaluator(model)[_primary_metric(evaluator)]

    def _triplets(self, held: TrainingSet) -> Callable[[Any], float]:
        from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator

        evaluator = TripletEvaluator(held.column("anchor"), held.column("positive"), held.column("negative"),
                                     batch_size=self.batch_size, name="held-out",
                                     similarity_fn_names=["cosine"], write_csv=False)
        return lambda model: evaluator(model)[_primary_metric(evaluator)]

    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False))

    def _nearest_label(self, held: TrainingSet, train: TrainingSet) -> Callable[[Any], float]:
        def accuracy(model: Any) -> float:
            reference = self._encode(model, train.column("text"))
            queries = self._encode(model, held.column("text"))
            nearest = np.argmax(queries @ reference.T, axis=1)
            labels = train.column("label")
            hits = [labels[i] == label for i, label in zip(nearest, held.column("label"), strict=True)]
            return float(np.mean(hits))
        return accuracy

    def _own_positive(self, held: TrainingSet) -> Callable[[Any], float]:
        def accuracy(model: Any) -> float:
            anchors = self._encode(model, held.column("anchor"))
            positives = self._encode(model, held.column("positive"))
            return float(np.mean(np.argmax(anchors @ positives.T, axis=1) == np.arange(len(anchors))))
        return accuracy


def _primary_metric(evaluator: SentenceEvaluator) -> str:
    """The key of the evaluator's main score; read after each run, which prefixes it with the set's name."""
    assert evaluator.primary_metric is not None  # the evaluators used here always name one
    return evaluator.primary_metric
