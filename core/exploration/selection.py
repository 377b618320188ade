"""Selections on a map: point ids from the browser, checked; texts found by a string or by meaning.

The ids of a lasso, box or click come from the client, so nothing about them is trusted: each must
be a whole number naming a point of the map the server drew, and a selection has a size cap.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import cast

import numpy as np

from core.errors import UserError

# A selection becomes one judgment per text; past this a misdrawn lasso would flood the store.
MAX_SELECTION = 5_000
MAX_SEARCH_CHARS = 200


def selected_ids(raw: object, n_points: int, cap: int = MAX_SELECTION) -> list[int]:
    """Distinct point ids in the order given, or ValueError naming the bad one."""
    if raw is None:
        return []
    if isinstance(raw, bool | str | bytes) or not isinstance(raw, Sequence | np.ndarray):
        raw = [raw]
    ids: dict[int, None] = {}
    for position, value in enumerate(raw):
        # Every numbers.Real converts like a float; typeshed's Real does not say so, hence the casts.
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or float(value) != int(cast(float, value))):
            raise UserError("selection_not_point", item=position + 1, value=value)
        point = int(cast(float, value))
        if not 0 <= point < n_points:
            raise UserError("selection_no_such_point", item=position + 1, point=point, count=n_points)
        ids[point] = None
        if len(ids) > cap:
            raise UserError("selection_too_big", limit=cap)
    return list(ids)


def containing(texts: Sequence[str], needle: str, limit: int = MAX_SELECTION) -> list[int]:
    """Ids of the texts that contain ``needle`` (case-insensitive), at most ``limit``."""
    needle = " ".join(str(needle or "").split()).casefold()
    if not needle:
        raise UserError("find_nothing_typed")
    if len(needle) > MAX_SEARCH_CHARS:
        raise UserError("find_too_long", limit=MAX_SEARCH_CHARS, length=len(needle))
    return [i for i, text in enumerate(texts) if needle in " ".join(str(text).split()).casefold()][:limit]


def nearest(embeddings: np.ndarray, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` texts most similar to ``query`` (cosine of normalised vectors), best first."""
    if embeddings.ndim != 2 or len(embeddings) == 0:
        raise UserError("search_no_texts")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise UserError("whole_number_min", name="k", low=1, value=k)
    scores = embeddings @ np.asarray(query, dtype=embeddings.dtype).reshape(-1)
    k = min(int(k), len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    order = top[np.lexsort((top, -scores[top]))]  # best first; ties by id, so the result is stable
    return [(int(i), float(scores[i])) for i in order]
