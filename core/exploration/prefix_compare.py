"""Compare the same texts encoded with different prefixes ("query: ", "passage: ", none).

USER-base was trained with an instruction at the start of each text, and the app's prefix tab
shows what the instruction changes: how far each text moves (:func:`variant_cosines`), how the
similarity structure changes (:func:`similarity_matrices`, :func:`similarity_differences`), which
nearest neighbours change (:func:`neighbour_shifts`, :func:`overlap_at_k`,
:func:`overlap_summary`), and a joint 2-D map with each text's points side by side
(:func:`paired_map`).

Every function takes ``variants``: a mapping from a variant name (the app uses ``"query"``,
``"passage"`` and ``"none"``) to an (N, dim) array whose row i embeds text i under that variant.
No model is involved; the caller encodes. Rows are L2-normalised here, so cosine similarity is
a dot product whether or not the caller normalised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "NEIGHBOUR_COLUMNS",
    "neighbour_shifts",
    "overlap_at_k",
    "overlap_summary",
    "paired_map",
    "pair_name",
    "similarity_differences",
    "similarity_matrices",
    "variant_cosines",
    "variant_pairs",
]

DEFAULT_REFERENCE = "none"

NEIGHBOUR_COLUMNS = [
    "text_index",
    "text",
    "variant",
    "rank",
    "neighbour_index",
    "neighbour_text",
    "cosine",
    "reference_rank",
    "rank_shift",
    "in_reference_top_k",
    "overlap_with_reference",
]

# Rows of the N x N similarity matrix handled at once in the neighbour search.
_CHUNK_ROWS = 128
# Elements of the (rows, candidates, N) comparison tensor behind exact reference ranks (~16 MB).
_RANK_CHUNK_ELEMENTS = 4_000_000


def pair_name(a: str, b: str) -> str:
    """Column name for a pair of variants, e.g. ``"query vs none"``."""
    return f"{a} vs {b}"


def _check_variants(variants: Mapping[str, Any], *, min_variants: int = 1) -> dict[str, np.ndarray]:
    """Validate and return float32 copies with unit rows, in the mapping's order."""
    if not isinstance(variants, Mapping):
        raise ValueError(
            f"variants must be a mapping of name -> (N, dim) array, got {type(variants).__name__}"
        )
    if len(variants) < min_variants:
        raise ValueError(f"need at least {min_variants} variant(s) to compare, got {len(variants)}")
    out: dict[str, np.ndarray] = {}
    shape: tuple[int, ...] | None = None
    for name, value in variants.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"variant names must be non-empty strings, got {name!r}")
        x = np.asarray(value)
        if x.ndim == 1 and x.size == 0:
            x = x.reshape(0, 0)
        if x.ndim != 2:
            raise ValueError(f"variant {name!r} must be a 2-D array (n_texts, dim), got shape {x.shape}")
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)) or x.dtype == bool:
            raise ValueError(f"variant {name!r} must be numeric, got dtype {x.dtype}")
        if shape is None:
            shape = x.shape
        elif x.shape != shape:
            # Row i must be the same text in every variant; different shapes mean it is not.
            raise ValueError(f"variant {name!r} has shape {x.shape}, but the first variant has {shape}")
        if x.shape[0] == 0:
            raise ValueError("no texts to compare: the variants have 0 rows")
        if x.shape[1] == 0:
            raise ValueError(f"variant {name!r} has 0 dimensions")
        x = x.astype(np.float64)
        if not np.isfinite(x).all():
            raise ValueError(f"variant {name!r} contains NaN or infinite values")
        norms = np.linalg.norm(x, axis=1)
        if (norms == 0).any():
            raise ValueError(
                f"variant {name!r} has zero vectors (cosine undefined), first at row {int(np.flatnonzero(norms == 0)[0])}"
            )
        out[name] = (x / norms[:, None]).astype(np.float32)
    return out


def _check_reference(reference: str | None, names: Sequence[str], *, required: bool = False) -> None:
    if reference is None:
        if required:
            raise ValueError("a reference variant is required")
        return
    if reference not in names:
        raise ValueError(f"reference variant {reference!r} is not among the variants {list(names)}")


def _check_texts(texts: Sequence[str] | None, n: int) -> list[str] | None:
    if texts is None:
        return None
    if isinstance(texts, str):
        raise ValueError("texts must be a sequence of strings, not a single string")
    texts = list(texts)
    if len(texts) != n:
        raise ValueError(f"got {len(texts)} texts for {n} embedding rows")
    return [str(t) for t in texts]


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def variant_pairs(names: Sequence[str], reference: str | None = DEFAULT_REFERENCE) -> list[tuple[str, str]]:
    """Pairs to compare: each variant against the reference first (reference on the right), then the rest.

    ``["query", "passage", "none"]`` with reference ``"none"`` gives ``query vs none``,
    ``passage vs none``, ``query vs passage``; without a reference (or when it is absent), all
    pairs in the given order.
    """
    names = list(names)
    if reference is None or reference not in names:
        return list(combinations(names, 2))
    others = [n for n in names if n != reference]
    return [(n, reference) for n in others] + list(combinations(others, 2))


def variant_cosines(
    variants: Mapping[str, Any],
    *,
    reference: str | None = DEFAULT_REFERENCE,
    texts: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per text, the cosine between its embeddings under each pair of variants.

    Returns a DataFrame indexed by ``text_index`` with one column per pair (see
    :func:`variant_pairs`), e.g. ``"query vs none"``, and a leading ``text`` column when
    ``texts`` is given. 1.0 means the prefix did not move the text at all.
    """
    vecs = _check_variants(variants, min_variants=2)
    n = next(iter(vecs.values())).shape[0]
    texts = _check_texts(texts, n)
    columns: dict[str, Any] = {} if texts is None else {"text": texts}
    for a, b in variant_pairs(list(vecs), reference):
        columns[pair_name(a, b)] = np.einsum("ij,ij->i", vecs[a], vecs[b]).astype(np.float64)
    return pd.DataFrame(columns, index=pd.RangeIndex(n, name="text_index"))


def similarity_matrices(variants: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The N x N cosine similarity matrix of the texts under each variant (float32, diagonal 1)."""
    vecs = _check_variants(variants)
    out = {}
    for name, x in vecs.items():
        sim = x @ x.T
        np.fill_diagonal(sim, 1.0)  # exactly 1 rather than 1 +- rounding
        out[name] = sim
    return out


def similarity_differences(
    matrices: Mapping[str, np.ndarray], reference: str = DEFAULT_REFERENCE
) -> dict[str, np.ndarray]:
    """Each variant's similarity matrix minus the reference's, keyed like ``"query - none"``.

    ``matrices`` is the output of :func:`similarity_matrices`. Positive entries are pairs of
    texts the prefix pulls together.
    """
    if not isinstance(matrices, Mapping) or not matrices:
        raise ValueError("matrices must be a non-empty mapping of variant name -> (N, N) array")
    _check_reference(reference, list(matrices), required=True)
    ref = np.asarray(matrices[reference])
    if ref.ndim != 2 or ref.shape[0] != ref.shape[1]:
        raise ValueError(f"similarity matrices must be square, got {ref.shape} for {reference!r}")
    out = {}
    for name, m in matrices.items():
        if name == reference:
            continue
        m = np.asarray(m)
        if m.shape != ref.shape:
            raise ValueError(f"matrix {name!r} has shape {m.shape}, but {reference!r} has {ref.shape}")
        out[f"{name} - {reference}"] = (m - ref).astype(np.float32)
    return out


def _top_k(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k most similar other rows, ties broken by lower index (a stable sort's order).

    Exact duplicates among the texts give exactly tied similarities, so the tie rule matters: it
    must agree with :func:`_stable_ranks`, or the reference variant would show non-zero shifts
    against itself.
    """
    n = x.shape[0]
    indices = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n)
        rows = np.arange(stop - start)
        sim = x[start:stop] @ x.T
        sim[rows, rows + start] = -np.inf  # never one's own neighbour
        kth = -np.partition(-sim, k - 1, axis=1)[:, k - 1]
        greater = sim > kth[:, None]
        equal = sim == kth[:, None]
        need = k - greater.sum(axis=1)
        # Among values tied with the k-th, keep the lowest indices: exactly k per row.
        chosen = greater | (equal & (np.cumsum(equal, axis=1) <= need[:, None]))
        idx = np.nonzero(chosen)[1].reshape(stop - start, k)  # ascending index within each row
        val = np.take_along_axis(sim, idx, axis=1)
        order = np.argsort(-val, axis=1, kind="stable")
        indices[start:stop] = np.take_along_axis(idx, order, axis=1)
        sims[start:stop] = np.take_along_axis(val, order, axis=1)
    return indices, sims


def _stable_ranks(x: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """1-based rank of ``candidates[i, c]`` among row i's neighbours (self excluded), ties by index."""
    n = x.shape[0]
    ranks = np.empty(candidates.shape, dtype=np.int64)
    all_idx = np.arange(n)
    chunk = max(1, _RANK_CHUNK_ELEMENTS // (candidates.shape[1] * n))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        rows = np.arange(stop - start)
        sim = x[start:stop] @ x.T
        sim[rows, rows + start] = -np.inf
        cand = candidates[start:stop]
        target = np.take_along_axis(sim, cand, axis=1)[:, :, None]
        ahead = (sim[:, None, :] > target) | ((sim[:, None, :] == target) & (all_idx < cand[:, :, None]))
        ranks[start:stop] = 1 + ahead.sum(axis=2)
    return ranks


def _empty_neighbours(with_text: bool) -> pd.DataFrame:
    cols = [c for c in NEIGHBOUR_COLUMNS if with_text or c not in ("text", "neighbour_text")]
    dtypes = {
        "text_index": "int64",
        "text": "object",
        "variant": "object",
        "rank": "int64",
        "neighbour_index": "int64",
        "neighbour_text": "object",
        "cosine": "float64",
        "reference_rank": "int64",
        "rank_shift": "int64",
        "in_reference_top_k": "bool",
        "overlap_with_reference": "float64",
    }
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in cols})


def neighbour_shifts(
    variants: Mapping[str, Any],
    texts: Sequence[str] | None = None,
    k: int = 5,
    reference: str = DEFAULT_REFERENCE,
) -> pd.DataFrame:
    """Each text's top-k neighbours under each variant, and how they moved against the reference.

    Returns one row per (text, variant, rank) with the columns in :data:`NEIGHBOUR_COLUMNS`
    (the two text columns only when ``texts`` is given):

    * ``rank``: 1..k under this variant; ``cosine``: the similarity under this variant.
    * ``reference_rank``: the same neighbour's rank under the reference variant (1..N-1).
    * ``rank_shift``: ``reference_rank - rank``; positive means the prefix pulled the neighbour
      closer, 0 on the reference's own rows.
    * ``in_reference_top_k``: whether the neighbour is also in the reference's top k.
    * ``overlap_with_reference``: overlap@k of this text's top-k sets under this variant and
      the reference, ``|A & B| / k`` (1.0 on the reference's rows).

    ``k`` is clamped to N-1; a single text has no neighbours and gives an empty DataFrame with
    these columns. Ties (duplicate texts) are broken by lower text index, consistently.
    """
    k = _check_k(k)
    vecs = _check_variants(variants)
    names = list(vecs)
    _check_reference(reference, names, required=True)
    n = vecs[reference].shape[0]
    texts = _check_texts(texts, n)
    k = min(k, n - 1)
    if k == 0:
        return _empty_neighbours(texts is not None)

    tops = {name: _top_k(x, k) for name, x in vecs.items()}
    ref_idx = tops[reference][0]
    # One pass over the reference similarities ranks every variant's neighbours at once.
    all_ranks = _stable_ranks(vecs[reference], np.concatenate([tops[name][0] for name in names], axis=1))
    frames = []
    for v, name in enumerate(names):
        idx, sims = tops[name]
        ref_rank = all_ranks[:, v * k : (v + 1) * k]
        in_ref = (idx[:, :, None] == ref_idx[:, None, :]).any(axis=2)
        frame = {
            "text_index": np.repeat(np.arange(n), k),
            "variant": name,
            "rank": np.tile(np.arange(1, k + 1), n),
            "neighbour_index": idx.ravel(),
            "cosine": sims.ravel().astype(np.float64),
            "reference_rank": ref_rank.ravel(),
            "rank_shift": (ref_rank - np.arange(1, k + 1)).ravel(),
            "in_reference_top_k": in_ref.ravel(),
            "overlap_with_reference": np.repeat(in_ref.sum(axis=1) / k, k),
        }
        if texts is not None:
            arr = np.asarray(texts, dtype=object)
            frame["text"] = arr[frame["text_index"]]
            frame["neighbour_text"] = arr[idx.ravel()]
        frames.append(pd.DataFrame(frame))
    out = pd.concat(frames, ignore_index=True)
    return out[[c for c in NEIGHBOUR_COLUMNS if c in out.columns]]


def overlap_at_k(
    variants: Mapping[str, Any],
    k: int = 5,
    reference: str | None = DEFAULT_REFERENCE,
) -> pd.DataFrame:
    """Per text, overlap@k (``|A & B| / k``) of its top-k neighbour sets under each pair of variants.

    Indexed by ``text_index``, one column per pair (see :func:`variant_pairs`). ``k`` is clamped
    to N-1; a single text has no neighbours, so the result has no rows.
    """
    k = _check_k(k)
    vecs = _check_variants(variants, min_variants=2)
    names = list(vecs)
    _check_reference(reference, names)
    n = next(iter(vecs.values())).shape[0]
    pairs = variant_pairs(names, reference)
    k = min(k, n - 1)
    if k == 0:
        return pd.DataFrame(
            {pair_name(a, b): pd.Series(dtype="float64") for a, b in pairs},
            index=pd.RangeIndex(0, name="text_index"),
        )
    tops = {name: _top_k(x, k)[0] for name, x in vecs.items()}
    columns = {}
    for a, b in pairs:
        shared = (tops[a][:, :, None] == tops[b][:, None, :]).any(axis=2).sum(axis=1)
        columns[pair_name(a, b)] = shared / k
    return pd.DataFrame(columns, index=pd.RangeIndex(n, name="text_index"))


def overlap_summary(
    variants: Mapping[str, Any],
    k: int = 5,
    reference: str | None = DEFAULT_REFERENCE,
) -> pd.DataFrame:
    """One row per pair of variants: mean overlap@k over the texts and the share of identical top-k sets.

    Columns: ``pair``, ``variant_a``, ``variant_b``, ``k`` (after clamping to N-1), ``n_texts``,
    ``mean_overlap`` and ``identical_share``; the last two are NaN for a single text.
    """
    per_text = overlap_at_k(variants, k, reference)
    names = list(variants)
    n = np.asarray(next(iter(variants.values()))).shape[0]
    k_used = min(_check_k(k), n - 1)
    rows = []
    for a, b in variant_pairs(names, reference):
        col = per_text[pair_name(a, b)]
        rows.append(
            {
                "pair": pair_name(a, b),
                "variant_a": a,
                "variant_b": b,
                "k": k_used,
                "n_texts": n,
                "mean_overlap": float(col.mean()) if len(col) else float("nan"),
                "identical_share": float((col == 1.0).mean()) if len(col) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def paired_map(
    variants: Mapping[str, Any],
    reference: str | None = DEFAULT_REFERENCE,
    *,
    texts: Sequence[str] | None = None,
    **projection_kwargs: Any,
) -> pd.DataFrame:
    """One 2-D map of every text under every variant, for drawing each text's points joined by a line.

    All variants are stacked and projected by a single :func:`core.exploration.projection.project_2d` call,
    so their coordinates are comparable (separate maps would each have arbitrary axes).
    ``projection_kwargs`` go to ``project_2d`` (``n_neighbors``, ``min_dist``, ``metric``,
    ``seed``, ``n_epochs``).

    Returns one row per (variant, text), reference variant first, with columns ``text_index``,
    ``variant``, ``x``, ``y``, then ``text`` when ``texts`` is given, and, with a reference,
    ``ref_x`` and ``ref_y``: the same text's reference point, so a segment from
    (``ref_x``, ``ref_y``) to (``x``, ``y``) shows where the prefix moved it. Texts whose
    embedding a prefix leaves unchanged share one point.
    """
    from core.exploration.projection import project_2d

    vecs = _check_variants(variants)
    names = list(vecs)
    _check_reference(reference, names)
    if reference is not None:
        names = [reference] + [nm for nm in names if nm != reference]
    n = vecs[names[0]].shape[0]
    texts = _check_texts(texts, n)
    coords = project_2d(np.concatenate([vecs[nm] for nm in names]), **projection_kwargs)
    frame: dict[str, Any] = {
        "text_index": np.tile(np.arange(n), len(names)),
        "variant": np.repeat(np.asarray(names, dtype=object), n),
        "x": coords[:, 0].astype(np.float64),
        "y": coords[:, 1].astype(np.float64),
    }
    if texts is not None:
        frame["text"] = np.tile(np.asarray(texts, dtype=object), len(names))
    if reference is not None:
        frame["ref_x"] = np.tile(coords[:n, 0], len(names)).astype(np.float64)
        frame["ref_y"] = np.tile(coords[:n, 1], len(names)).astype(np.float64)
    return pd.DataFrame(frame)
