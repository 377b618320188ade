"""core.exploration.projection: edge sizes, validation, determinism and a layout-quality floor."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from core.exploration import projection
from core.exploration.projection import default_n_epochs, is_warm, project_2d, warm_up


@pytest.fixture(scope="session", autouse=True)
def warmed() -> None:
    # Pay numba's compile once per session (15-35 s cold) instead of in the first test.
    warm_up(background=False, large=False)


def clustered(
    n: int = 600, dim: int = 64, n_clusters: int = 6, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)) * 3.0
    labels = np.arange(n) % n_clusters
    x = centres[labels] + rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def check_map(y: np.ndarray, n: int) -> None:
    assert isinstance(y, np.ndarray)
    assert y.shape == (n, 2)
    assert y.dtype == np.float32
    assert np.isfinite(y).all()


# --- edge sizes -------------------------------------------------------------------------------


@pytest.mark.parametrize("empty", [np.empty((0, 768)), [], np.array([])])
def test_no_texts_is_a_clear_error(empty) -> None:
    with pytest.raises(ValueError, match="no texts"):
        project_2d(empty)


def test_one_text_sits_at_the_origin() -> None:
    y = project_2d(np.random.default_rng(0).standard_normal((1, 768)))
    check_map(y, 1)
    np.testing.assert_array_equal(y, [[0.0, 0.0]])


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_tiny_inputs_get_a_pca_layout(n: int) -> None:
    x = np.random.default_rng(n).standard_normal((n, 768))
    y = project_2d(x)
    check_map(y, n)
    assert len({tuple(p) for p in y.round(6)}) == n, "distinct texts must get distinct points"
    assert np.linalg.norm(y, axis=1).max() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(y, project_2d(x), err_msg="the fallback layout is deterministic")


def test_two_texts_lie_on_one_axis() -> None:
    y = project_2d(np.random.default_rng(0).standard_normal((2, 16)))
    np.testing.assert_allclose(y[:, 1], 0.0, atol=1e-6)
    assert y[0, 0] == pytest.approx(-y[1, 0], abs=1e-6)


@pytest.mark.parametrize("n", [6, 7, 10, 16, 40])
def test_just_above_the_fallback_uses_umap_without_errors(n: int) -> None:
    x, _ = clustered(n, dim=32, n_clusters=2, seed=n)
    check_map(project_2d(x, seed=0), n)


@pytest.mark.parametrize("n", [1, 2, 5, 9, 300])
def test_all_identical_vectors_collapse_to_the_origin(n: int) -> None:
    x = np.tile(np.random.default_rng(0).standard_normal(768), (n, 1))
    y = project_2d(x)
    check_map(y, n)
    np.testing.assert_array_equal(y, np.zeros((n, 2), dtype=np.float32))


def test_duplicates_share_a_point_and_the_rest_is_mapped() -> None:
    x, _ = clustered(200, dim=32)
    x = np.concatenate([x, x[:50], x[:50]])  # every one of the first 50 texts three times
    y = project_2d(x, seed=0)
    check_map(y, 300)
    np.testing.assert_array_equal(y[200:250], y[:50])
    np.testing.assert_array_equal(y[250:], y[:50])
    assert len({tuple(p) for p in y[:200]}) == 200


def test_heavy_duplication_of_a_few_distinct_texts() -> None:
    rng = np.random.default_rng(0)
    distinct = rng.standard_normal((4, 768))
    picks = rng.integers(0, 4, 100)
    y = project_2d(distinct[picks])
    check_map(y, 100)
    for i in range(4):  # four distinct texts: the PCA fallback, each text on its own point
        assert len({tuple(p) for p in y[picks == i]}) == 1


def test_scaled_copies_are_duplicates_under_cosine_but_not_euclidean() -> None:
    base = np.random.default_rng(0).standard_normal((3, 16))
    x = np.concatenate([base, 2.0 * base])
    y_cos = project_2d(x, metric="cosine")
    np.testing.assert_allclose(y_cos[:3], y_cos[3:], atol=1e-6)
    y_euc = project_2d(x, metric="euclidean")
    check_map(y_euc, 6)
    assert not np.allclose(y_euc[:3], y_euc[3:])


# --- invalid input ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_rejected(bad: float) -> None:
    x = np.random.default_rng(0).standard_normal((20, 8))
    x[7, 3] = bad
    with pytest.raises(ValueError, match="NaN or infinite.*row 7"):
        project_2d(x)


def test_float64_overflowing_float32_is_rejected() -> None:
    x = np.random.default_rng(0).standard_normal((20, 8))
    x[2, 0] = 1e300
    with pytest.raises(ValueError, match="NaN or infinite"):
        project_2d(x)


def test_zero_vectors_are_rejected_under_cosine_only() -> None:
    x = np.random.default_rng(0).standard_normal((10, 8))
    x[4] = 0.0
    with pytest.raises(ValueError, match="zero vectors"):
        project_2d(x)
    check_map(project_2d(x, metric="euclidean", seed=0), 10)


@pytest.mark.parametrize(
    "bad", [np.zeros(5), np.zeros((2, 3, 4)), np.zeros((4, 0)), np.array([["a", "b"]] * 3)]
)
def test_bad_shapes_and_dtypes_are_rejected(bad) -> None:
    with pytest.raises(ValueError):
        project_2d(bad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_neighbors": 1}, "n_neighbors"),
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"n_neighbors": 5.0}, "n_neighbors"),
        ({"n_neighbors": True}, "n_neighbors"),
        ({"min_dist": -0.1}, "min_dist"),
        ({"min_dist": 1.5}, "min_dist"),
        ({"min_dist": float("nan")}, "min_dist"),
        ({"min_dist": "0.1"}, "min_dist"),
        ({"metric": "manhattan"}, "metric"),
        ({"metric": None}, "metric"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"n_epochs": 0}, "n_epochs"),
        ({"n_epochs": 10.0}, "n_epochs"),
    ],
)
def test_invalid_parameters_raise_value_error(kwargs: dict, match: str) -> None:
    x = np.random.default_rng(0).standard_normal((10, 8))
    with pytest.raises(ValueError, match=match):
        project_2d(x, **kwargs)


def test_parameters_are_validated_even_for_a_single_text() -> None:
    with pytest.raises(ValueError, match="min_dist"):
        project_2d(np.ones((1, 4)), min_dist=2.0)


def test_numpy_integer_parameters_are_accepted() -> None:
    x, _ = clustered(30, dim=16)
    check_map(project_2d(x, n_neighbors=np.int64(5), seed=np.int32(3), n_epochs=np.int16(50)), 30)


# --- behaviour --------------------------------------------------------------------------------


def test_accepts_lists_and_does_not_modify_the_input() -> None:
    x = np.random.default_rng(0).standard_normal((12, 8)).astype(np.float32) * 5
    before = x.copy()
    check_map(project_2d(x.tolist(), seed=0), 12)
    project_2d(x, seed=0)
    np.testing.assert_array_equal(x, before)


def test_n_neighbors_larger_than_the_input_is_clamped() -> None:
    x, _ = clustered(12, dim=16, n_clusters=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = project_2d(x, n_neighbors=200, seed=0)
    check_map(y, 12)
    assert not [w for w in caught if "n_neighbors" in str(w.message)], "clamped before umap sees it"


def test_same_seed_same_map() -> None:
    x, _ = clustered(150, dim=32)
    a = project_2d(x, seed=7, n_epochs=60)
    b = project_2d(x, seed=7, n_epochs=60)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_layout_keeps_neighbourhoods(metric: str) -> None:
    from sklearn.manifold import trustworthiness

    x, labels = clustered(600, dim=64)
    y = project_2d(x, metric=metric, seed=0)
    check_map(y, 600)
    assert trustworthiness(x, y, n_neighbors=10, metric=metric) >= 0.90
    # Clusters stay apart: each point's nearest map neighbour is almost always from its cluster.
    d = ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(1)] == labels).mean() >= 0.95


def test_exact_knn_matches_brute_force_and_puts_self_first() -> None:
    x, _ = clustered(300, dim=16)
    x = np.concatenate([x, x[:5]])  # duplicates tie with self at distance 0
    for metric in ("cosine", "euclidean"):
        idx, dist = projection._exact_knn(x, 8, metric)
        assert (idx[:, 0] == np.arange(len(x))).all()
        assert (dist[:, 0] == 0).all() and (np.diff(dist, axis=1) >= -1e-6).all()
        if metric == "cosine":
            full = 1.0 - x @ x.T
        else:
            full = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
        np.fill_diagonal(full, -1.0)
        expected = np.sort(full, axis=1)[:, :8]
        expected[:, 0] = 0.0
        np.testing.assert_allclose(dist, expected, atol=1e-5)


def test_default_epochs_shrink_with_size() -> None:
    assert default_n_epochs(10) == 500
    assert default_n_epochs(1500) == 500
    assert default_n_epochs(5000) == 150
    assert default_n_epochs(20_000) == 100
    # Past 20,000 N x epochs is held at 2,000,000 (a 50,000-point map within 10 s), 40 at the least.
    assert default_n_epochs(30_000) == 67 and default_n_epochs(50_000) == 40 and default_n_epochs(200_000) == 40
    sizes = [10, 1000, 2000, 5000, 8000, 20_000, 40_000, 50_000, 100_000]
    assert [default_n_epochs(n) for n in sizes] == sorted((default_n_epochs(n) for n in sizes), reverse=True)


# --- warm-up and imports ----------------------------------------------------------------------


def test_warm_up_is_idempotent() -> None:
    assert is_warm()
    assert warm_up(background=True, large=False) is None


def test_import_is_light_and_sets_a_numba_cache(tmp_path) -> None:
    code = (
        "import os, sys\n"
        "import core.exploration.projection as p\n"
        "assert 'umap' not in sys.modules and 'numba' not in sys.modules, 'imported eagerly'\n"
        "assert 'gradio' not in sys.modules\n"
        "assert 'NUMBA_CACHE_DIR' not in os.environ\n"
        "p._ensure_numba_cache_dir()\n"
        "print(os.environ['NUMBA_CACHE_DIR'])\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True
    )
    cache = Path(out.stdout.strip())
    assert cache == tmp_path / "xdg" / "user-studio" / "numba"
    assert cache.is_dir()


def test_background_warm_up_runs_once_in_a_daemon_thread(monkeypatch) -> None:
    # The real compile is paid by the session fixture; here only the threading contract.
    import threading

    calls = []
    release = threading.Event()

    def fake_run(large: bool) -> None:
        calls.append(large)
        release.wait(5)
        projection._warm_small.set()
        if large:
            projection._warm_large.set()

    monkeypatch.setattr(projection, "_warm_small", threading.Event())
    monkeypatch.setattr(projection, "_warm_large", threading.Event())
    monkeypatch.setattr(projection, "_warm_thread", None)
    monkeypatch.setattr(projection, "_run_warm_up", fake_run)
    thread = warm_up()
    assert isinstance(thread, threading.Thread) and thread.daemon
    assert not is_warm()
    assert warm_up() is thread, "a second call while warming returns the same thread"
    release.set()
    thread.join(5)
    assert is_warm() and is_warm(large=True)
    assert warm_up() is None
    assert calls == [True]


def test_failed_background_warm_up_is_logged_not_raised(monkeypatch, caplog) -> None:
    import threading

    def boom(large: bool) -> None:
        raise RuntimeError("no compiler today")

    monkeypatch.setattr(projection, "_warm_small", threading.Event())
    monkeypatch.setattr(projection, "_warm_thread", None)
    monkeypatch.setattr(projection, "_run_warm_up", boom)
    with caplog.at_level("ERROR", logger="core.exploration.projection"):
        thread = warm_up(large=False)
        thread.join(5)
    assert "warm-up failed" in caplog.text
    assert not is_warm()
    with pytest.raises(RuntimeError):
        warm_up(background=False, large=False)


@pytest.mark.slow
def test_nndescent_path_for_large_inputs(monkeypatch) -> None:
    """Above EXACT_KNN_MAX_POINTS pynndescent finds the neighbours (compiles on first use)."""
    from sklearn.manifold import trustworthiness

    warm_up(background=False, large=True)
    assert is_warm(large=True)
    x, labels = clustered(600, dim=64)
    monkeypatch.setattr(projection, "EXACT_KNN_MAX_POINTS", 100)
    idx, dist = projection._nndescent_knn(x, 10, "cosine", 0)
    exact_idx, exact_dist = projection._exact_knn(x, 10, "cosine")
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, exact_idx, strict=True)])
    assert recall >= 0.9
    # Reported distances are cosine distances (converted from pynndescent's euclidean on unit rows).
    true = 1.0 - np.einsum("id,ikd->ik", x, x[idx])
    np.testing.assert_allclose(dist, np.clip(true, 0.0, None), atol=1e-5)
    y = project_2d(x, seed=0)
    check_map(y, 600)
    assert trustworthiness(x, y, n_neighbors=10, metric="cosine") >= 0.90


@pytest.mark.parametrize("dim", [3, 16, 80])
def test_principal_components_come_largest_first_with_fixed_signs(dim: int) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((500, dim)) * np.linspace(3.0, 0.1, dim)).astype(np.float32)
    z = projection._principal_components(x, 8)
    assert z.shape == (500, min(8, dim)) and z.dtype == np.float32
    variances = z.var(axis=0)
    assert np.all(np.diff(variances) <= 1e-4)  # largest variance first
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-4)
    # Each component's largest entry is positive: the layout does not flip between runs or platforms.
    assert np.all(z[np.argmax(np.abs(z), axis=0), np.arange(z.shape[1])] > 0)
    # With every component kept, distances are those of the input.
    full = projection._principal_components(x, dim)
    np.testing.assert_allclose(np.linalg.norm(full[0] - full[1:20], axis=1),
                               np.linalg.norm(x[0] - x[1:20], axis=1), rtol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_large_maps_start_from_principal_components(monkeypatch, metric: str) -> None:
    """Past EXACT_KNN_MAX_POINTS: NN-descent on PCA_DIMS components, their first two as the initial layout."""
    from sklearn.manifold import trustworthiness

    warm_up(background=False, large=True)
    x, _ = clustered(800, dim=64)
    monkeypatch.setattr(projection, "EXACT_KNN_MAX_POINTS", 100)
    monkeypatch.setattr(projection, "PCA_DIMS", 16)
    seen = {}
    real = projection._nndescent_knn

    def spy(z, k, metric_, seed):
        seen["shape"] = z.shape
        return real(z, k, metric_, seed)

    monkeypatch.setattr(projection, "_nndescent_knn", spy)
    y = project_2d(x, seed=0, metric=metric)
    assert seen["shape"] == (800, 16)
    check_map(y, 800)
    assert trustworthiness(x, y, n_neighbors=10, metric="cosine") >= 0.90
