"""Which judgments train with which loss: the recipe the measurements in issue 9 support.

Measured on 2 CPU cores with multilingual-e5-small and the shared Russian data (1 epoch, batch 16,
lr 2e-5, warm-up 0.1, 128 tokens):

* 200 STS scores with CoSENT: held-out Spearman +0.016…+0.020; 865 ParaPhraser verdicts as 0 / 0.5 / 1
  with CoSENT: +0.039. Scores and verdicts therefore train with CoSENT, binary verdicts as 1 / 0.
* 195 positive-only pairs with MultipleNegativesRankingLoss: −0.020 (worse). Positive-only pairs
  train only from :data:`MIN_POSITIVE_ONLY_PAIRS` up; below that the recipe refuses and says why.
* 1,000 intent labels with BatchAllTripletLoss: 1-NN +0.069 but STS −0.025; as same-label pairs with
  MNRL and a no-duplicates sampler: 1-NN +0.096, STS −0.005. Labels therefore become same-label pairs.

Prefixes are put on the texts exactly as the encoder puts them (:func:`core.inputs.text.add_prefix`): the
recorded prefix of each judgment, or the base model's own query / passage prompt when none was
recorded (API judgments may omit them).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import Message, UserError, check_choice
from core.inputs.text import add_prefix
from core.judgments import Judgment
from core.judgments.model import SCORE_MAX

# Positive-only pairs below this count made the model worse (195 pairs: Spearman −0.020); about
# 1,000 is where in-batch negatives start to carry enough signal (issue 9).
MIN_POSITIVE_ONLY_PAIRS = 1_000
# CoSENT ranks pairs against each other: it needs at least two different scores, and a handful of
# rows; below this a 20 % hold-out would be empty or a single row.
MIN_ROWS = 10

GRADED = "graded"
TRIPLETS = "triplets"
LABELS = "labels"
POSITIVES = "positives"


@dataclass(frozen=True)
class TrainingKind:
    """One kind of training data: which judgments feed it and the loss it trains with."""

    name: str
    title: str
    loss: str
    judgments: str  # what a person gives to produce it


# Titles and what to judge are messages (English strings that the interface translates by key).
TRAINING_KINDS: dict[str, TrainingKind] = {
    GRADED: TrainingKind(GRADED, Message("training_kind_graded"), "CoSENTLoss", Message("training_gives_graded")),
    TRIPLETS: TrainingKind(TRIPLETS, Message("training_kind_triplets"), "MultipleNegativesRankingLoss",
                           Message("training_gives_triplets")),
    LABELS: TrainingKind(LABELS, Message("training_kind_labels"), "MultipleNegativesRankingLoss",
                         Message("training_gives_labels")),
}
# Chosen automatically instead of GRADED when every verdict is positive.
POSITIVE_ONLY = TrainingKind(POSITIVES, Message("training_kind_positives"), "MultipleNegativesRankingLoss",
                             Message("training_gives_positives"))

_POSITIVE = {"relevant": 1.0, "similar": 1.0}
_NEGATIVE = {"not_relevant": 0.0, "dissimilar": 0.0}


class TrainingRefused(UserError):
    """The chosen judgments cannot train a better model; the message says why and what would help.

    ``refusals`` holds the reason per training kind that was refused (by the kind's name).
    """

    def __init__(self, key: str, /, refusals: Mapping[str, Message] | None = None, **values: Any) -> None:
        super().__init__(key, **values)
        self.refusals = dict(refusals or {})


@dataclass(frozen=True)
class Prompts:
    """The literal prefixes to use where a judgment recorded none (the base model's own prompts)."""

    query: str = ""
    passage: str = ""

    @classmethod
    def of_model(cls, prompts: dict[str, str]) -> Prompts:
        return cls(query=prompts.get("query", ""), passage=prompts.get("passage", prompts.get("document", "")))


@dataclass
class TrainingSet:
    """Rows of one kind, ready for sentence-transformers (texts already carry their prefixes)."""

    kind: TrainingKind
    columns: tuple[str, ...]
    rows: list[dict[str, object]] = field(default_factory=list)
    judgments: int = 0  # how many judgments the rows came from

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list:
        return [row[name] for row in self.rows]


def _prefixed(text: str, recorded: str | None, default: str) -> str:
    return add_prefix(text, default if recorded is None else recorded)


def graded_rows(judgments: Sequence[Judgment], prompts: Prompts) -> TrainingSet:
    """``sentence1, sentence2, score`` from scores (score / 5) and verdicts (1 or 0), for CoSENT."""
    out = TrainingSet(TRAINING_KINDS[GRADED], ("sentence1", "sentence2", "score"))
    for j in judgments:
        if not j.positive:
            continue
        if j.kind == "score" and j.score is not None:
            value = float(j.score) / SCORE_MAX
        elif j.kind in _POSITIVE:
            value = _POSITIVE[j.kind]
        elif j.kind in _NEGATIVE:
            value = _NEGATIVE[j.kind]
        else:
            continue
        out.rows.append({"sentence1": _prefixed(j.anchor, j.query_prefix, prompts.query),
                         "sentence2": _prefixed(j.positive, j.passage_prefix, prompts.passage),
                         "score": value})
        out.judgments += 1
    return out


def triplet_rows(judgments: Sequence[Judgment], prompts: Prompts) -> TrainingSet:
    """``anchor, positive, negative``: each text judged better paired with each judged worse, same anchor.

    A text judged both ways for one anchor (people disagreeing) is left out.
    """
    out = TrainingSet(TRAINING_KINDS[TRIPLETS], ("anchor", "positive", "negative"))
    groups: dict[tuple, tuple[dict[str, None], dict[str, None], set[int]]] = {}
    for index, j in enumerate(judgments):
        key = (j.anchor, j.query_prefix, j.passage_prefix)
        positives, negatives, used = groups.setdefault(key, ({}, {}, set()))
        if j.kind in _POSITIVE and j.positive:
            positives[j.positive] = None
            used.add(index)
            if j.negative:
                negatives[j.negative] = None
        elif j.kind in _NEGATIVE and j.positive:
            negatives[j.positive] = None
            used.add(index)
    for (anchor, qp, pp), (positives, negatives, used) in groups.items():
        conflicted = positives.keys() & negatives.keys()
        before = len(out.rows)
        for pos in positives:
            for neg in negatives:
                if pos not in conflicted and neg not in conflicted:
                    out.rows.append({"anchor": _prefixed(anchor, qp, prompts.query),
                                     "positive": _prefixed(pos, pp, prompts.passage),
                                     "negative": _prefixed(neg, pp, prompts.passage)})
        if len(out.rows) > before:
            out.judgments += len(used)
    return out


def label_rows(judgments: Sequence[Judgment], prompts: Prompts) -> TrainingSet:
    """``text, label``: one row per distinct labelled text (a text given two labels keeps the later one)."""
    out = TrainingSet(TRAINING_KINDS[LABELS], ("text", "label"))
    latest: dict[str, str] = {}
    for j in judgments:
        if j.kind == "label" and j.label:
            latest[_prefixed(j.anchor, j.query_prefix, prompts.query)] = j.label
            out.judgments += 1
    out.rows = [{"text": text, "label": label} for text, label in latest.items()]
    return out


def same_label_pairs(labels: TrainingSet, seed: int = 0) -> TrainingSet:
    """``anchor, positive``: every text paired once with another text of its label, for MNRL.

    Labels with a single text give no pair. In-batch negatives are then mostly other labels' texts;
    the no-duplicates sampler keeps a text from being its own negative.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for row in labels.rows:
        groups[str(row["label"])].append(str(row["text"]))
    rng = random.Random(seed)
    out = TrainingSet(TRAINING_KINDS[LABELS], ("anchor", "positive"), judgments=labels.judgments)
    for label in sorted(groups):
        texts = groups[label]
        if len(texts) < 2:
            continue
        for i, text in enumerate(texts):
            partner = rng.choice(texts[:i] + texts[i + 1:])
            out.rows.append({"anchor": text, "positive": partner})
    return out


def positive_pairs(graded: TrainingSet) -> TrainingSet:
    """Graded rows that are all positive, as ``anchor, positive`` pairs for MNRL."""
    rows = [{"anchor": r["sentence1"], "positive": r["sentence2"]} for r in graded.rows]
    return TrainingSet(POSITIVE_ONLY, ("anchor", "positive"), rows, graded.judgments)


BUILDERS = {GRADED: graded_rows, TRIPLETS: triplet_rows, LABELS: label_rows}
# The judgment kinds each training kind reads (the rest are not "chosen" for it).
SOURCES: dict[str, frozenset[str]] = {
    GRADED: frozenset({"score", *_POSITIVE, *_NEGATIVE}),
    TRIPLETS: frozenset({*_POSITIVE, *_NEGATIVE}),
    LABELS: frozenset({"label"}),
}


def chosen_judgments(judgments: Sequence[Judgment], kinds: Sequence[str]) -> list[Judgment]:
    """Only the judgments the chosen kinds train on: the hold-out, counts and hash are over these."""
    wanted = set().union(*(SOURCES[k] for k in kinds if k in SOURCES))
    return [j for j in judgments if j.kind in wanted]


def count_rows(judgments: Sequence[Judgment], prompts: Prompts | None = None) -> dict[str, int]:
    """How many training rows each kind would get from these judgments (for the Train tab)."""
    prompts = prompts or Prompts()
    return {name: len(build(judgments, prompts)) for name, build in BUILDERS.items()}


def build_sets(judgments: Sequence[Judgment], kinds: Sequence[str], prompts: Prompts) -> dict[str, TrainingSet]:
    """The training sets for the chosen kinds, or :class:`TrainingRefused` saying what would help.

    Scores and verdicts that are all positive cannot train CoSENT (nothing to rank against): they
    train as positive-only pairs with MNRL when there are :data:`MIN_POSITIVE_ONLY_PAIRS`, and are
    refused below that.
    """
    for name in kinds:
        check_choice("training kind", name, TRAINING_KINDS)
    if not kinds:
        raise UserError("training_no_kind")
    sets: dict[str, TrainingSet] = {}
    refusals: dict[str, Message] = {}
    for name in dict.fromkeys(kinds):
        built = BUILDERS[name](judgments, prompts)
        kind = TRAINING_KINDS[name]
        if len(built) < MIN_ROWS:
            refusals[name] = Message("training_few_rows", count=len(built), minimum=MIN_ROWS, needs=kind.judgments)
            continue
        if name == GRADED and len({row["score"] for row in built.rows}) < 2:
            if len(built) >= MIN_POSITIVE_ONLY_PAIRS and built.rows[0]["score"] == 1.0:
                sets[POSITIVES] = positive_pairs(built)
                continue
            verdict = Message("training_all_positive" if built.rows[0]["score"] == 1.0 else "training_all_same")
            refusals[name] = Message("training_one_sided", count=len(built), verdict=verdict,
                                     needed=MIN_POSITIVE_ONLY_PAIRS)
            continue
        if name == LABELS and len({row["label"] for row in built.rows}) < 2:
            # One topic: every in-batch negative is a same-topic text and 1-NN is right by construction
            # (issue 26: 28 labels of one topic scored 1.0 before and after).
            refusals[name] = Message("training_one_label", count=len(built), label=str(built.rows[0]["label"]))
            continue
        if name == LABELS:
            pairs = same_label_pairs(built)
            if len(pairs) < MIN_ROWS:
                refusals[name] = Message("training_few_label_pairs", count=len(pairs), minimum=MIN_ROWS)
                continue
        sets[name] = built
    reasons = [Message("training_kind_reason", kind=TRAINING_KINDS[name].title, reason=reason)
               for name, reason in refusals.items()]
    if refusals and not sets:
        raise TrainingRefused("training_nothing", refusals, reasons=reasons)
    if refusals:
        # Training on part of what was asked for would surprise; say what is missing instead.
        raise TrainingRefused("training_leave_out", refusals, reasons=reasons)
    return sets
