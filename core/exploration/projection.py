"""2-D maps of sentence embeddings with UMAP, fast enough to redraw while the user waits.

umap-learn's defaults spend their time in approximate nearest-neighbour descent (plus a 15-35 s
numba compile the first time an input exceeds 4,096 points) and in 500 epochs of layout
optimisation for inputs under 10,000 points. For the few thousand texts the app maps, exact
neighbours by brute force (one chunked matrix product, about 0.4 s for 5,000 768-d vectors on
two cores) are as quick as the approximation and exact, and the layout's trustworthiness
levels off long before 500 epochs. So :func:`project_2d` computes the neighbour graph itself,
hands it to ``umap.UMAP`` as ``precomputed_knn`` and runs a size-dependent number of epochs
(:func:`default_n_epochs`). Measured on 5,000 texts on a shared 2-core machine
(``benchmarks/projection.py``): about 2.1-2.5 s warm against 5.5-6 s for umap-learn's warm
defaults (``metric="cosine"``), with trustworthiness (k=10) 0.003-0.006 lower.

Beyond :data:`EXACT_KNN_MAX_POINTS` texts the N^2 brute force loses to pynndescent's NN-descent,
which is used instead, on the first :data:`PCA_DIMS` principal components rather than the raw
vectors, whose first two also give UMAP its initial layout (spectral initialisation costs as much as
the whole layout at 50,000 points); past 20,000 texts the epochs shrink further
(:func:`default_n_epochs`). A 50,000-text map so takes 6.7-7.1 s on two quiet cores with a seed (one
thread) instead of 22.7-22.9 s, and 4.6-4.9 s without one instead of 14.2-15.6 s, with trustworthiness
within 0.002 of the previous path (``benchmarks/projection.py``). Exact duplicate vectors are projected once and share a point. Inputs too
small for UMAP's spectral initialisation and fuzzy graph (fewer than :data:`MIN_UMAP_POINTS`
distinct texts) get a PCA layout; one text sits at the origin, and a set whose vectors are all
identical collapses to the origin rather than to NaN.

umap-learn, pynndescent and numba are imported lazily, inside the functions, so importing this
module costs nothing; the first import sets ``NUMBA_CACHE_DIR`` (unless already set) to a
writable per-user folder so the compiled code that umap-learn and pynndescent mark cacheable is
reused across runs. Much of umap-learn's layout code is not cacheable and compiles in every new
process (about 15 s on two cores): :func:`warm_up` pays for it in a background thread at
start-up, before the first map is asked for.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import Any, cast

import numpy as np

from core.errors import check_choice

__all__ = [
    "EXACT_KNN_MAX_POINTS",
    "MIN_UMAP_POINTS",
    "SUPPORTED_METRICS",
    "default_n_epochs",
    "default_numba_cache_dir",
    "is_warm",
    "project_2d",
    "warm_up",
]

logger = logging.getLogger(__name__)

SUPPORTED_METRICS: tuple[str, ...] = ("cosine", "euclidean")

# Brute force costs O(N^2 d): at 10,000 768-d vectors it is still about a second on two cores,
# while beyond that the N^2 partial sorts dominate and NN-descent wins.
EXACT_KNN_MAX_POINTS = 10_000

# UMAP's spectral initialisation needs a few eigenvectors of the graph Laplacian and its fuzzy
# graph needs several neighbours per point; below this size both degenerate, so PCA is used.
MIN_UMAP_POINTS = 6

# Rows of the similarity matrix computed at once: 1,024 x 10,000 float32 is 40 MB.
_KNN_CHUNK_ROWS = 1024

# Beyond EXACT_KNN_MAX_POINTS texts, neighbours and layout start from this many principal components
# instead of the raw 768 dimensions: NN-descent's cost grows with the dimension, and UMAP's PCA
# initialisation is then the first two of them, for free (spectral initialisation took 12 s of CPU at
# 50,000 points, as long as the whole layout). On 50,000 synthetic vectors in 30 clusters NN-descent
# took 1.8-2.6 s of CPU on 64 components against 5-7 s on the raw vectors, and the map's trustworthiness
# (k=10, cosine, 3,000 points, in the original space) was 0.9684 from 64 components, 0.9679 from 32 and
# 0.9684-0.9688 from the raw vectors (exploration runs for benchmarks/projection.py, load 4-8).
PCA_DIMS = 64
_PCA_SAMPLE = 10_000

_umap_lock = threading.Lock()
_warm_lock = threading.Lock()
_warm_small = threading.Event()
_warm_large = threading.Event()
_warm_thread: threading.Thread | None = None


def default_numba_cache_dir() -> Path:
    """The folder numba caches compiled code in: ``$XDG_CACHE_HOME`` or ``~/.cache``, then ``user-studio/numba``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "user-studio" / "numba"


def _ensure_numba_cache_dir() -> None:
    # numba reads NUMBA_CACHE_DIR once, when it is first imported, so this must run before
    # umap (which imports numba) and is a no-op when the variable is already set.
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    for candidate in (default_numba_cache_dir(), Path(tempfile.gettempdir()) / "user-studio-numba"):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(candidate, os.W_OK):
            os.environ.setdefault("NUMBA_CACHE_DIR", str(candidate))
            return


def _import_umap() -> Any:
    """Import umap-learn on first use (a few seconds with a warm numba cache, ~18 s without)."""
    with _umap_lock:
        _ensure_numba_cache_dir()
        import umap

        # We pass precomputed neighbours without an NNDescent index, so UMAP.transform is
        # unavailable; we never call it, and the warning would fire on every map. Installed on
        # every call (an existing identical filter is replaced, not duplicated) because
        # warnings.catch_warnings elsewhere, pytest's included, restores the filter list, and
        # not with catch_warnings here because that is not thread-safe beside the warm-up thread.
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        return umap


def default_n_epochs(n_points: int) -> int:
    """Layout epochs for ``n_points`` texts: umap-learn's 500 up to 1,500 texts, fewer beyond.

    Each epoch costs time proportional to N (about 8-13 ms at 5,000 texts on two cores), while
    the layout's trustworthiness gains little after ~150 epochs once N is in the thousands. On
    5,000 real sentence embeddings (benchmarks/projection.py, means over several runs; one run
    scatters by +-0.003): 100 epochs scored about 0.009 below umap-learn's defaults, 150 about
    0.005 below, 200 about 0.004 below for a third more time, and 500 on par. N x epochs is
    therefore held near 750,000 (150 epochs at 5,000 texts), with a floor of 100 epochs, where
    the loss was already close to 0.01. Past 20,000 texts the floor itself gives way (see
    ``_LARGE_EPOCH_BUDGET``): 40 epochs at 50,000.
    """
    return int(np.clip(round(750_000 / max(n_points, 1)), _epoch_floor(n_points), 500))


# Past 20,000 texts N x epochs is held at 2,000,000 (40 epochs at 50,000): there each epoch costs about
# 0.1 s of CPU, single-threaded as a seeded map is. Measured on 50,000 synthetic 768-d vectors in 30
# clusters, seed 42, load 3.6-3.9 on two cores (trustworthiness k=10, cosine, 3,000-point sample):
# 40 epochs 7.2 s, trust 0.9665; 60 epochs 11.0 s, 0.9688; the previous path (NN-descent on the raw
# vectors, spectral init, 100 epochs) 0.9680-0.9688 in 27-38 s: 40 epochs stay within 0.003.
_LARGE_EPOCH_BUDGET = 2_000_000
_MIN_EPOCHS = 40


def _epoch_floor(n_points: int) -> int:
    return int(np.clip(round(_LARGE_EPOCH_BUDGET / max(n_points, 1)), _MIN_EPOCHS, 100))


def _validate_params(n_neighbors: Any, min_dist: Any, metric: Any, seed: Any, n_epochs: Any) -> None:
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, Integral) or n_neighbors < 2:
        raise ValueError(f"n_neighbors must be an integer >= 2, got {n_neighbors!r}")
    if (
        isinstance(min_dist, bool)
        or not isinstance(min_dist, Real)
        # Every Real compares like a float (and Integral like an int); typeshed's ABCs do not say so.
        or not np.isfinite(cast(float, min_dist))
        or not 0.0 <= cast(float, min_dist) <= 1.0
    ):
        raise ValueError(f"min_dist must be a number between 0 and 1, got {min_dist!r}")
    check_choice("metric", metric, SUPPORTED_METRICS)
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= cast(int, seed) < 2**32
    ):
        raise ValueError(f"seed must be None or an integer in [0, 2**32), got {seed!r}")
    if n_epochs is not None and (
        isinstance(n_epochs, bool) or not isinstance(n_epochs, Integral) or n_epochs < 1
    ):
        raise ValueError(f"n_epochs must be None or a positive integer, got {n_epochs!r}")


def _check_embeddings(embeddings: Any, metric: str) -> np.ndarray:
    """Validate and copy the input as a float32 (N, d) array, rows unit-normalised for cosine."""
    try:
        x = np.asarray(embeddings)
    except (TypeError, ValueError) as exc:  # ragged lists of rows
        raise ValueError(f"embeddings must be a 2-D numeric array: {exc}") from exc
    if x.size == 0 and x.ndim <= 2 and (x.ndim < 2 or x.shape[0] == 0):
        raise ValueError("cannot draw a map of no texts: embeddings has 0 rows")
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array of shape (n_texts, dim), got shape {x.shape}")
    if x.shape[1] == 0:
        raise ValueError("embeddings have 0 dimensions")
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"embeddings must be numeric, got dtype {x.dtype}")
    # float64 inputs can hold values that overflow float32; check before casting.
    bad = ~np.isfinite(x).all(axis=1)
    was_float32 = x.dtype == np.float32
    with np.errstate(over="ignore"):  # overflow becomes inf, reported just below
        x = x.astype(np.float32)  # always a copy, so normalising below never touches the caller's data
    if not was_float32:
        bad |= ~np.isfinite(x).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"embeddings contain NaN or infinite values in {rows.size} row(s), first at row {int(rows[0])}"
        )
    if metric == "cosine":
        # Squaring float32 values above ~1e17 can overflow a sum of squares; such inputs take float64
        # (a 300 MB copy at 50,000 x 768, so not for the usual unit-scale embeddings).
        if float(np.abs(x).max()) < 1e15:
            norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64))
        else:
            norms = np.linalg.norm(x.astype(np.float64), axis=1)
        zero = norms == 0
        if zero.any():
            raise ValueError(
                f"cosine distance is undefined for zero vectors: {int(zero.sum())} row(s) are all zeros, "
                f"first at row {int(np.flatnonzero(zero)[0])}"
            )
        x /= norms[:, None].astype(np.float32)
    return x


def _all_identical(x: np.ndarray) -> bool:
    scale = max(float(np.abs(x).max()), 1e-30)
    # In chunks, stopping at the first that differs: a real corpus answers after the first rows
    # instead of building an N x d difference (150 MB at 50,000 x 768).
    for start in range(0, x.shape[0], _KNN_CHUNK_ROWS):
        if np.abs(x[start : start + _KNN_CHUNK_ROWS] - x[0]).max() > 1e-6 * scale:
            return False
    return True


def _pca_layout(x: np.ndarray) -> np.ndarray:
    """The first two principal components, scaled into the unit disc, with deterministic signs."""
    n = x.shape[0]
    out = np.zeros((n, 2), dtype=np.float32)
    xc = x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    if n < 2 or not np.any(xc):
        return out
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    # Components at rounding-error level would only amplify noise into a fake second axis.
    keep = min(2, int(np.sum(s > 1e-6 * s[0])))
    coords = u[:, :keep] * s[:keep]
    for j in range(keep):
        # SVD signs are arbitrary; fixing them makes the layout reproducible across platforms.
        if coords[np.argmax(np.abs(coords[:, j])), j] < 0:
            coords[:, j] = -coords[:, j]
    radius = np.linalg.norm(coords, axis=1).max()
    out[:, :keep] = coords / radius
    return out


def _exact_knn(x: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours (self first) by chunked brute force, as UMAP's precomputed_knn wants.

    For cosine, ``x`` is already unit-normalised, so the similarity matrix is a plain matrix
    product and the distance is ``1 - similarity``.
    """
    n = x.shape[0]
    indices = np.empty((n, k), dtype=np.int32)
    dists = np.empty((n, k), dtype=np.float32)
    sq_norms = np.einsum("ij,ij->i", x, x) if metric == "euclidean" else None
    for start in range(0, n, _KNN_CHUNK_ROWS):
        stop = min(start + _KNN_CHUNK_ROWS, n)
        rows = np.arange(stop - start)
        # score: larger is nearer. Euclidean ranks by |y|^2 - 2 x.y (|x|^2 is constant per row).
        score = x[start:stop] @ x.T
        if sq_norms is not None:
            score *= 2.0
            score -= sq_norms[None, :]
        # Self must come first even among exact duplicates, which UMAP's smoothing assumes.
        score[rows, rows + start] = np.inf
        part = np.argpartition(score, n - k, axis=1)[:, n - k :]
        part_scores = np.take_along_axis(score, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        idx = np.take_along_axis(part, order, axis=1)
        top = np.take_along_axis(part_scores, order, axis=1)
        # Euclidean: |x|^2 + |y|^2 - 2 x.y cancels catastrophically for near neighbours in
        # float32 (1e-7 becomes 3e-4 after the square root), so the k chosen are recomputed.
        d = 1.0 - top if sq_norms is None else np.linalg.norm(x[idx] - x[start:stop, None, :], axis=2)
        d[:, 0] = 0.0
        indices[start:stop] = idx
        dists[start:stop] = np.clip(d, 0.0, None)
    return indices, dists


def _principal_components(x: np.ndarray, dims: int) -> np.ndarray:
    """The first ``dims`` principal components of ``x`` (centred), float32, largest variance first.

    From the d x d covariance (one BLAS product, about 0.5 s for 50,000 x 768 on two cores) rather
    than an SVD of the whole matrix; signs fixed so the layout does not flip between platforms.
    """
    mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    dims = min(dims, x.shape[1])
    # The directions from a random 10,000 rows: a fifth of the product at 50,000 texts, and the leading
    # components of a sample that size are what the map needs (the benchmark's trustworthiness).
    rows = x if x.shape[0] <= _PCA_SAMPLE else x[np.random.default_rng(0).choice(x.shape[0], _PCA_SAMPLE, replace=False)]
    rows = rows - mean
    cov = (rows.T @ rows).astype(np.float64)
    _, vectors = np.linalg.eigh(cov)
    top = vectors[:, ::-1][:, :dims].astype(np.float32)
    z = x @ top - mean @ top  # (x - mean) @ top without a centred copy of x (150 MB at 50,000 x 768)
    flip = z[np.argmax(np.abs(z), axis=0), np.arange(dims)] < 0
    z[:, flip] *= -1
    return np.ascontiguousarray(z, dtype=np.float32)


def _nndescent_knn(x: np.ndarray, k: int, metric: str, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Approximate neighbours for inputs beyond EXACT_KNN_MAX_POINTS, with pynndescent.

    Always the euclidean metric on float32, so one numba specialisation (compiled by
    :func:`warm_up`) serves both metrics: on unit vectors cosine distance is half the
    squared euclidean distance and ranks neighbours identically.
    """
    _import_umap()  # sets NUMBA_CACHE_DIR before pynndescent imports numba
    from pynndescent import NNDescent

    index = NNDescent(
        x,
        n_neighbors=k,
        metric="euclidean",
        random_state=seed,
        n_jobs=1 if seed is not None else -1,
        low_memory=True,
        compressed=True,
        verbose=False,
    )
    indices, dists = index.neighbor_graph
    dists = dists.astype(np.float32)
    if metric == "cosine":
        dists = dists**2 / 2.0
    return indices.astype(np.int32), dists


def project_2d(
    embeddings: Any,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "cosine",
    seed: int | None = None,
    n_epochs: int | None = None,
) -> np.ndarray:
    """Project sentence embeddings to 2-D with UMAP on an exact neighbour graph.

    Neighbours are exact up to :data:`EXACT_KNN_MAX_POINTS` distinct texts (NN-descent beyond),
    and exact duplicate vectors are projected once and share a point.

    Parameters
    ----------
    embeddings : array-like of shape (n_texts, dim)
        Finite vectors; need not be normalised (cosine normalises a copy).
    n_neighbors : int, default 15
        UMAP's neighbourhood size (counting the point itself, as in umap-learn); clamped to
        ``n_texts - 1`` for small inputs.
    min_dist : float in [0, 1], default 0.1
        How tightly UMAP packs neighbouring points.
    metric : {"cosine", "euclidean"}, default "cosine"
    seed : int or None, default None
        With a seed the map is reproducible, but umap-learn then runs its layout on a single
        thread; ``None`` lets it use every core (on two cores, 5,000 texts took 2.1 s instead of
        2.9 s) at the price of a slightly different map on each call.
    n_epochs : int or None, default None
        Layout optimisation epochs; ``None`` picks :func:`default_n_epochs`.

    Returns
    -------
    ndarray of shape (n_texts, 2), float32
        Finite coordinates. One text maps to the origin, an input whose vectors are all
        identical collapses to the origin, and fewer than :data:`MIN_UMAP_POINTS` distinct texts
        are laid out by PCA, scaled into the unit disc.

    Raises
    ------
    ValueError
        For no texts, NaN or infinite values, zero vectors under cosine, or invalid parameters.
    """
    _validate_params(n_neighbors, min_dist, metric, seed, n_epochs)
    x = _check_embeddings(embeddings, metric)
    if x.shape[0] == 1 or _all_identical(x):
        return np.zeros((x.shape[0], 2), dtype=np.float32)
    # Exact duplicates (the same text twice) share one point: they would otherwise form
    # zero-distance cliques that break UMAP's spectral initialisation, and drawing them apart
    # would suggest a difference that is not there.
    x, inverse = _unique_rows(x)
    return _project_unique(x, n_neighbors, min_dist, metric, seed, n_epochs)[inverse]


def _unique_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows in order of first occurrence, and each input row's index among them."""
    # Adding 0.0 turns -0.0 into 0.0 so the byte view compares values, not bit patterns; a copy
    # (150 MB at 50,000 x 768) only when there is a -0.0 to fix.
    rows = np.ascontiguousarray(x)
    if np.any((rows == 0) & np.signbit(rows)):
        rows = rows + np.float32(0.0)
    # Equal rows have equal hashes, so distinct hashes prove there is nothing to merge: a hash per row
    # costs a fraction of sorting N rows of 3 KB each (0.7 s at 50,000 x 768 on a busy machine).
    if len({hash(row.tobytes()) for row in rows}) == rows.shape[0]:
        return x, np.arange(x.shape[0])
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if first.size == x.shape[0]:
        return x, np.arange(x.shape[0])
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return x[first[order]], rank[inverse.ravel()]


def _project_unique(
    x: np.ndarray, n_neighbors: int, min_dist: float, metric: str, seed: int | None, n_epochs: int | None
) -> np.ndarray:
    n = x.shape[0]
    if n < MIN_UMAP_POINTS:
        return _pca_layout(x)

    k = int(min(n_neighbors, n - 1))
    init: str | np.ndarray
    if n <= EXACT_KNN_MAX_POINTS:
        knn_indices, knn_dists = _exact_knn(x, k, metric)
        # Spectral init measured as fast as PCA init here (the Laplacian is small and sparse)
        # and keeps umap-learn's global layout.
        init = "spectral"
    else:
        z = _principal_components(x, PCA_DIMS)
        # Euclidean on the components: for unit vectors that ranks as cosine does, and
        # _nndescent_knn turns the distances into cosine ones.
        knn_indices, knn_dists = _nndescent_knn(z, k, metric, seed)
        init = z[:, :2].astype(np.float64)  # umap-learn's "pca" init, without a second PCA
        x = z  # UMAP only checks the data it is given beside precomputed neighbours; keep it small

    umap = _import_umap()
    reducer = umap.UMAP(
        n_neighbors=k,
        n_components=2,
        min_dist=float(min_dist),
        metric=metric,
        n_epochs=int(n_epochs) if n_epochs is not None else default_n_epochs(n),
        init=init,
        random_state=None if seed is None else int(seed),
        # umap-learn forces one thread when seeded; asking for it avoids its warning.
        n_jobs=1 if seed is not None else -1,
        low_memory=True,
        precomputed_knn=(knn_indices, knn_dists),
        verbose=False,
    )
    coords = np.asarray(reducer.fit_transform(x), dtype=np.float32)
    if not np.isfinite(coords).all():
        # Not seen in practice, but a map must never show NaN; PCA is a faithful stand-in.
        warnings.warn(
            "UMAP produced non-finite coordinates; falling back to PCA", RuntimeWarning, stacklevel=3
        )
        return _pca_layout(x)
    return coords


def is_warm(*, large: bool = False) -> bool:
    """Whether numba's compile has been paid for maps up to EXACT_KNN_MAX_POINTS texts (and beyond, with ``large``)."""
    return _warm_small.is_set() and (not large or _warm_large.is_set())


def _run_warm_up(large: bool) -> None:
    rng = np.random.default_rng(0)
    if not _warm_small.is_set():
        # Two blobs so the graph is connected but not trivial: the same numba specialisations
        # (float32 data, int32 neighbours) as a real map, including spectral initialisation.
        x = rng.standard_normal((120, 16)).astype(np.float32)
        x[:60] += 3.0
        project_2d(x, n_epochs=20)
        project_2d(x, n_epochs=20, seed=0)  # single-threaded layout is a separate specialisation
        _warm_small.set()
    if large and not _warm_large.is_set():
        x = rng.standard_normal((300, 16)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        _nndescent_knn(x, 15, "cosine", 0)  # a seed changes its random draws, not what is compiled
        _warm_large.set()


def _warm_up_logged(large: bool) -> None:
    try:
        _run_warm_up(large)
    except Exception:  # a failed warm-up only means the first map pays the compile
        logger.exception("projection warm-up failed")


def warm_up(background: bool = True, *, large: bool = True) -> threading.Thread | None:
    """Compile UMAP's numba code now so the first map after start-up does not wait for it.

    Parameters
    ----------
    background : bool, default True
        Run in a daemon thread and return it at once; otherwise block until done.
    large : bool, default True
        Also compile the NN-descent used above EXACT_KNN_MAX_POINTS texts (15-35 s of CPU the
        first time, about a second once numba's disk cache holds it). It runs after the
        compile that maps up to that size need, so :func:`is_warm` turns true early.

    Returns
    -------
    The warm-up thread when one was started (or is still running), else ``None``.
    """
    global _warm_thread
    if is_warm(large=large):
        return None
    if not background:
        _run_warm_up(large)
        return None
    with _warm_lock:
        if _warm_thread is not None and _warm_thread.is_alive():
            return _warm_thread
        _warm_thread = threading.Thread(
            target=_warm_up_logged, args=(large,), name="user-studio-projection-warm-up", daemon=True
        )
        _warm_thread.start()
        return _warm_thread
