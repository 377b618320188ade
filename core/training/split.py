"""A seeded hold-out of judgments with no text on both sides.

A judgment whose text also appears in training would be scored on something the model was taught,
which flatters it. Judgments that share a text are therefore kept together (connected components of
the text graph) and whole groups go to one side. When one group is too big for that (the Similarity
tab judges every query against the same passages, so everything is connected), texts are assigned to
a side instead and the judgments that would straddle both sides are left out of both, and counted.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import UserError
from core.judgments import Judgment

DEFAULT_FRACTION = 0.2
# Whole groups are used when they give a hold-out within this share of the target (20 % ± 5 points).
_TOLERANCE = 0.05


@dataclass(frozen=True)
class HoldOut:
    """Judgments to train on, judgments to score on, and how many were left out of both."""

    train: list[Judgment]
    held_out: list[Judgment]
    dropped: int = 0


def texts_of(judgment: Judgment) -> tuple[str, ...]:
    return tuple(t for t in (judgment.anchor, judgment.positive, judgment.negative) if t)


def hold_out(judgments: Sequence[Judgment], fraction: float = DEFAULT_FRACTION, seed: int = 0) -> HoldOut:
    """Split ``judgments`` so that about ``fraction`` are held out and no text is on both sides."""
    if not 0 < fraction < 1:
        raise ValueError(f"the hold-out fraction must be between 0 and 1, got {fraction}")
    items = list(judgments)
    if len(items) < 2:
        raise UserError("hold_out_too_few", count=len(items))
    target = max(1, round(fraction * len(items)))
    groups = _groups(items)
    rng = random.Random(seed)
    order = list(groups)
    rng.shuffle(order)
    held: list[int] = []
    for root in order:
        if len(held) >= target:
            break
        if len(held) + len(groups[root]) <= target * (1 + _TOLERANCE / fraction):
            held.extend(groups[root])
    if abs(len(held) - target) <= _TOLERANCE * len(items) and len(held) < len(items):
        chosen = set(held)
        return HoldOut([j for i, j in enumerate(items) if i not in chosen], [items[i] for i in sorted(chosen)])
    return _split_by_text(items, fraction, rng)


def _groups(items: list[Judgment]) -> dict[int, list[int]]:
    """Judgment indexes grouped by connected component of shared texts (union-find)."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[str, int] = {}
    for i, judgment in enumerate(items):
        for text in texts_of(judgment):
            j = first_seen.setdefault(text, i)
            parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(items)):
        groups.setdefault(find(i), []).append(i)
    return groups


def _split_by_text(items: list[Judgment], fraction: float, rng: random.Random) -> HoldOut:
    """Each distinct text goes to the hold-out side with a probability that keeps ``fraction`` of the
    judgments that stay; a judgment with texts on both sides is dropped."""
    texts = sorted({t for j in items for t in texts_of(j)})
    sizes = [len(set(texts_of(j))) for j in items]
    # For pairs, p² / (p² + (1-p)²) = fraction.
    mean_size = max(1.0, sum(sizes) / len(sizes))
    ratio = (fraction / (1 - fraction)) ** (1 / mean_size)
    probability = ratio / (1 + ratio)
    for _ in range(32):  # a few seeded tries until both sides get something
        side = {t: rng.random() < probability for t in texts}
        train, held, dropped = [], [], 0
        for judgment in items:
            sides = {side[t] for t in texts_of(judgment)}
            if sides == {True}:
                held.append(judgment)
            elif sides == {False}:
                train.append(judgment)
            else:
                dropped += 1
        if train and held:
            return HoldOut(train, held, dropped)
    raise UserError("hold_out_impossible")


def held_out_share(split: HoldOut) -> float:
    total = len(split.train) + len(split.held_out)
    return len(split.held_out) / total if total else math.nan
