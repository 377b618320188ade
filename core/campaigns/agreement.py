"""How much annotators agree: Krippendorff's alpha, each annotator against the others, disputed items.

Krippendorff's alpha is computed from the coincidence matrix (Krippendorff, *Computing Krippendorff's
Alpha-Reliability*, 2011): every item judged by ``m >= 2`` people contributes each ordered pair of
its values with weight ``1 / (m - 1)``; ``alpha = 1 - D_o / D_e`` with the observed disagreement
``D_o`` inside items and the disagreement ``D_e`` expected by chance from all pairable values.
Nominal data (relevant / not relevant, labels) use ``delta = 0 if equal else 1``; interval data
(0-5 scores) use ``delta = (a - b) ** 2``. Items judged once cannot be paired and are left out, as
the method prescribes. Pure Python: a campaign's few thousand judgments need no numpy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TypeVar

from core.errors import check_choice

NOMINAL, INTERVAL = "nominal", "interval"
LEVELS = (NOMINAL, INTERVAL)

# Units of the per-pair agreement shown to people: an interval difference is divided by the score
# scale's width (0-5), so "0.8" means "scores 1 point apart on average", comparable across campaigns.
SCORE_RANGE = 5.0

Value = Hashable
# Any hashable item id (a campaign's are ints); a TypeVar because a Mapping's key type is invariant.
ItemId = TypeVar("ItemId", bound=Hashable)
# item -> annotator -> value
Ratings = Mapping[ItemId, Mapping[str, Value]]


def _delta(level: str, a: Value, b: Value) -> float:
    if level == NOMINAL:
        return 0.0 if a == b else 1.0
    return (float(a) - float(b)) ** 2  # type: ignore[arg-type]


def _check_level(level: str) -> None:
    if level not in LEVELS:
        check_choice("level", level, LEVELS)


def krippendorff_alpha(units: Sequence[Sequence[Value]], level: str = NOMINAL) -> float | None:
    """Alpha over ``units`` (each the values one item received, any number of annotators).

    None when it is undefined: fewer than two pairable values, or every value the same (no
    disagreement can be expected by chance, so agreement cannot be told from it).
    """
    _check_level(level)
    pairable = [list(u) for u in units if len(u) >= 2]
    coincidences: dict[tuple[Value, Value], float] = defaultdict(float)
    for values in pairable:
        weight = 1.0 / (len(values) - 1)
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if i != j:
                    coincidences[(a, b)] += weight
    # Weights are fractions, so the totals are floats (a Counter is typed for whole counts).
    totals: defaultdict[Value, float] = defaultdict(float)
    for (a, _), weight in coincidences.items():
        totals[a] += weight
    n = sum(totals.values())
    if n < 2:
        return None
    observed = sum(w * _delta(level, a, b) for (a, b), w in coincidences.items()) / n
    categories = list(totals)
    expected = sum(totals[a] * totals[b] * _delta(level, a, b)
                   for a in categories for b in categories) / (n * (n - 1))
    if expected == 0:
        return None
    return 1.0 - observed / expected


def pair_agreement(level: str, a: Value, b: Value) -> float:
    """1 when two values agree fully, 0 at most apart: equal or not (nominal), 1 - |a - b| / 5 (scores)."""
    if level == NOMINAL:
        return 1.0 if a == b else 0.0
    return max(0.0, 1.0 - abs(float(a) - float(b)) / SCORE_RANGE)  # type: ignore[arg-type]


def item_agreement(values: Sequence[Value], level: str) -> float | None:
    """Mean agreement over every pair of values one item received; None with fewer than two."""
    pairs = list(combinations(values, 2))
    if not pairs:
        return None
    return sum(pair_agreement(level, a, b) for a, b in pairs) / len(pairs)


@dataclass(frozen=True)
class AnnotatorAgreement:
    """One annotator against the others on the items they share.

    ``agreement``: mean pair agreement of their value with each other value on the same item.
    ``alpha_without``: the campaign's alpha with this annotator left out (above ``alpha``: they
    lower agreement).
    """

    annotator: str
    judgments: int
    items_shared: int
    agreement: float | None
    alpha_without: float | None


@dataclass(frozen=True)
class DisputedItem:
    item: Hashable
    judgments: int
    agreement: float
    values: dict[str, Value]


@dataclass(frozen=True)
class AgreementReport:
    level: str
    alpha: float | None
    items: int  # items with at least two judgments: the ones alpha is computed on
    judgments: int  # judgments on those items
    all_items: int  # items with any judgment
    all_judgments: int
    annotators: list[AnnotatorAgreement] = field(default_factory=list)
    disputed: list[DisputedItem] = field(default_factory=list)


def agreement_report(ratings: Ratings[ItemId], level: str, *, top: int = 10) -> AgreementReport:
    """Alpha, per-annotator agreement and the ``top`` items with the least agreement."""
    _check_level(level)
    rated = {item: dict(values) for item, values in ratings.items() if values}
    pairable = {item: values for item, values in rated.items() if len(values) >= 2}
    alpha = krippendorff_alpha([list(v.values()) for v in pairable.values()], level)
    annotators: dict[str, list[ItemId]] = defaultdict(list)
    for item, values in rated.items():
        for who in values:
            annotators[who].append(item)
    people = []
    for who, items in sorted(annotators.items()):
        scores = [pair_agreement(level, rated[item][who], other)
                  for item in items for other_who, other in rated[item].items() if other_who != who]
        shared = sum(1 for item in items if len(rated[item]) >= 2)
        without = krippendorff_alpha(
            [[v for w, v in values.items() if w != who] for values in pairable.values()], level)
        people.append(AnnotatorAgreement(who, len(items), shared, sum(scores) / len(scores) if scores else None,
                                         without))
    disputed = []
    for item, values in pairable.items():
        score = item_agreement(list(values.values()), level)
        if score is not None and score < 1.0:
            disputed.append(DisputedItem(item, len(values), score, values))
    disputed.sort(key=lambda d: (d.agreement, -d.judgments, str(d.item)))
    return AgreementReport(level=level, alpha=alpha, items=len(pairable),
                           judgments=sum(len(v) for v in pairable.values()), all_items=len(rated),
                           all_judgments=sum(len(v) for v in rated.values()), annotators=people,
                           disputed=disputed[:max(0, top)])
