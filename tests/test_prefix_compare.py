"""core.exploration.prefix_compare on small synthetic variants, including edge sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.exploration.prefix_compare import (
    NEIGHBOUR_COLUMNS,
    neighbour_shifts,
    overlap_at_k,
    overlap_summary,
    paired_map,
    similarity_differences,
    similarity_matrices,
    variant_cosines,
    variant_pairs,
)


@pytest.fixture(scope="module", autouse=True)
def warmed() -> None:
    # paired_map runs UMAP: pay numba's compile once here (a no-op if test_projection did).
    from core.exploration.projection import warm_up

    warm_up(background=False, large=False)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_variants(n: int = 30, dim: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """'none' is the base; 'query' a small perturbation of it; 'passage' a larger one."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, dim))
    return {
        "query": unit(base + 0.1 * rng.standard_normal((n, dim))),
        "passage": unit(base + 0.6 * rng.standard_normal((n, dim))),
        "none": unit(base),
    }


def brute_top_k(x: np.ndarray, k: int) -> np.ndarray:
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1, kind="stable")[:, :k]


# --- pairs and cosines ------------------------------------------------------------------------


def test_variant_pairs_put_the_reference_on_the_right_first() -> None:
    assert variant_pairs(["query", "passage", "none"]) == [
        ("query", "none"),
        ("passage", "none"),
        ("query", "passage"),
    ]
    assert variant_pairs(["a", "b", "c"], reference=None) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert variant_pairs(["a", "b"], reference="missing") == [("a", "b")]


def test_variant_cosines_columns_and_values() -> None:
    v = make_variants()
    texts = [f"t{i}" for i in range(30)]
    df = variant_cosines(v, texts=texts)
    assert list(df.columns) == ["text", "query vs none", "passage vs none", "query vs passage"]
    assert df.index.name == "text_index" and len(df) == 30
    np.testing.assert_allclose(df["query vs none"], np.sum(v["query"] * v["none"], axis=1), atol=1e-6)
    assert (df["query vs none"] > df["passage vs none"]).mean() > 0.9  # query moved less, by construction
    assert df[["query vs none", "passage vs none"]].le(1.0 + 1e-6).all().all()


def test_variant_cosines_normalises_inputs() -> None:
    v = make_variants(5)
    scaled = {k: 3.0 * x for k, x in v.items()}
    pd.testing.assert_frame_equal(variant_cosines(v), variant_cosines(scaled), atol=1e-6)


def test_identical_variants_have_cosine_one() -> None:
    x = unit(np.random.default_rng(0).standard_normal((4, 8)))
    df = variant_cosines({"query": x, "none": x.copy()})
    np.testing.assert_allclose(df["query vs none"], 1.0, atol=1e-6)


def test_single_text_cosines() -> None:
    v = make_variants(1)
    df = variant_cosines(v)
    assert len(df) == 1 and df.notna().all().all()


# --- similarity matrices ----------------------------------------------------------------------


def test_similarity_matrices_and_differences() -> None:
    v = make_variants(12)
    mats = similarity_matrices(v)
    assert list(mats) == ["query", "passage", "none"]
    for name, m in mats.items():
        assert m.shape == (12, 12) and m.dtype == np.float32
        np.testing.assert_allclose(m, m.T, atol=1e-6)
        np.testing.assert_array_equal(np.diag(m), 1.0)
        np.testing.assert_allclose(m, v[name] @ v[name].T, atol=1e-5)
    diffs = similarity_differences(mats)
    assert list(diffs) == ["query - none", "passage - none"]
    np.testing.assert_allclose(diffs["query - none"], mats["query"] - mats["none"], atol=1e-6)
    np.testing.assert_array_equal(np.diag(diffs["passage - none"]), 0.0)


def test_similarity_differences_validation() -> None:
    mats = similarity_matrices(make_variants(5))
    with pytest.raises(ValueError, match="reference"):
        similarity_differences(mats, reference="nothing")
    with pytest.raises(ValueError, match="shape"):
        similarity_differences({"none": np.eye(3), "query": np.eye(4)})
    with pytest.raises(ValueError, match="square"):
        similarity_differences({"none": np.ones((3, 4))})
    with pytest.raises(ValueError):
        similarity_differences({})


# --- neighbours -------------------------------------------------------------------------------


def test_neighbour_shifts_match_brute_force() -> None:
    v = make_variants(40)
    texts = [f"text {i}" for i in range(40)]
    df = neighbour_shifts(v, texts, k=5)
    assert list(df.columns) == NEIGHBOUR_COLUMNS
    assert len(df) == 3 * 40 * 5
    ref_order = np.argsort(
        -np.where(np.eye(40, dtype=bool), -np.inf, v["none"] @ v["none"].T), axis=1, kind="stable"
    )
    ref_rank = np.empty_like(ref_order)
    np.put_along_axis(ref_rank, ref_order, np.arange(1, 41)[None, :], axis=1)
    for name, x in v.items():
        part = df[df.variant == name]
        top = brute_top_k(x, 5)
        np.testing.assert_array_equal(part["neighbour_index"].to_numpy().reshape(40, 5), top)
        assert (part["rank"].to_numpy().reshape(40, 5) == np.arange(1, 6)).all()
        expected_ref_rank = np.take_along_axis(ref_rank, top, axis=1)
        np.testing.assert_array_equal(part["reference_rank"].to_numpy().reshape(40, 5), expected_ref_rank)
        np.testing.assert_array_equal(part["rank_shift"], part["reference_rank"] - part["rank"])
        assert (part["neighbour_index"] != part["text_index"]).all()
        assert part["text"].tolist() == [texts[i] for i in part["text_index"]]
        assert part["neighbour_text"].tolist() == [texts[i] for i in part["neighbour_index"]]
    ref = df[df.variant == "none"]
    assert (ref["rank_shift"] == 0).all() and ref["in_reference_top_k"].all()
    assert (ref["overlap_with_reference"] == 1.0).all()
    # cosine column is the similarity under the row's own variant
    row = df[(df.variant == "passage")].iloc[7]
    assert row["cosine"] == pytest.approx(
        float(v["passage"][row.text_index] @ v["passage"][row.neighbour_index]), abs=1e-5
    )


def test_overlap_is_consistent_between_functions() -> None:
    v = make_variants(25)
    df = neighbour_shifts(v, None, k=4)
    assert "text" not in df.columns and "neighbour_text" not in df.columns
    per_text = overlap_at_k(v, k=4)
    assert list(per_text.columns) == ["query vs none", "passage vs none", "query vs passage"]
    for name in ("query", "passage"):
        from_shifts = df[df.variant == name].groupby("text_index")["overlap_with_reference"].first()
        np.testing.assert_allclose(from_shifts.to_numpy(), per_text[f"{name} vs none"].to_numpy())
        in_ref = df[df.variant == name].groupby("text_index")["in_reference_top_k"].mean()
        np.testing.assert_allclose(in_ref.to_numpy(), from_shifts.to_numpy())
    summary = overlap_summary(v, k=4)
    assert list(summary["pair"]) == list(per_text.columns)
    np.testing.assert_allclose(summary["mean_overlap"], per_text.mean().to_numpy())
    assert (summary["k"] == 4).all() and (summary["n_texts"] == 25).all()
    # the small perturbation keeps more neighbours than the large one
    assert (
        summary.set_index("pair").loc["query vs none", "mean_overlap"]
        > summary.set_index("pair").loc["passage vs none", "mean_overlap"]
    )


def test_identical_variants_overlap_fully() -> None:
    x = unit(np.random.default_rng(0).standard_normal((10, 8)))
    summary = overlap_summary({"query": x, "none": x}, k=3)
    assert summary["mean_overlap"].tolist() == [1.0] and summary["identical_share"].tolist() == [1.0]


def test_duplicate_texts_tie_consistently() -> None:
    x = unit(np.random.default_rng(1).standard_normal((6, 8)))
    x = np.concatenate([x, x, x])  # every text three times: exact ties everywhere
    v = {"query": x.copy(), "none": x}
    df = neighbour_shifts(v, k=4)
    assert (df["rank_shift"] == 0).all()
    assert (df["overlap_with_reference"] == 1.0).all()
    first = df[(df.variant == "none") & (df.text_index == 0)]
    assert first["neighbour_index"].tolist()[:2] == [6, 12]  # its copies, lower index first


@pytest.mark.parametrize("n", [2, 3, 5])
def test_k_is_clamped_to_n_minus_one(n: int) -> None:
    v = make_variants(n)
    df = neighbour_shifts(v, [str(i) for i in range(n)], k=5)
    assert len(df) == 3 * n * (n - 1)
    assert df["rank"].max() == n - 1
    assert (df["reference_rank"] <= n - 1).all()
    # with every other text among the neighbours, every variant's set is the same
    assert (df["overlap_with_reference"] == 1.0).all()
    assert overlap_summary(v, k=5)["k"].tolist() == [n - 1] * 3


def test_single_text_has_no_neighbours() -> None:
    v = make_variants(1)
    df = neighbour_shifts(v, ["одна фраза"], k=5)
    assert df.empty and list(df.columns) == NEIGHBOUR_COLUMNS
    assert overlap_at_k(v).empty
    summary = overlap_summary(v)
    assert len(summary) == 3 and summary["mean_overlap"].isna().all() and (summary["k"] == 0).all()


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda v: variant_cosines(v),
        lambda v: similarity_matrices(v),
        lambda v: neighbour_shifts(v, []),
        lambda v: overlap_at_k(v),
        lambda v: paired_map(v),
    ],
)
def test_no_texts_raise(fn) -> None:
    with pytest.raises(ValueError, match="no texts"):
        fn({"query": np.empty((0, 8)), "none": np.empty((0, 8))})


def test_invalid_inputs_raise_value_error() -> None:
    v = make_variants(6)
    with pytest.raises(ValueError, match="shape"):
        variant_cosines({"query": v["query"], "none": v["none"][:5]})
    with pytest.raises(ValueError, match="at least 2"):
        variant_cosines({"none": v["none"]})
    with pytest.raises(ValueError, match="mapping"):
        variant_cosines([v["query"], v["none"]])
    bad = v["query"].copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        variant_cosines({"query": bad, "none": v["none"]})
    zero = v["query"].copy()
    zero[3] = 0.0
    with pytest.raises(ValueError, match="zero vectors"):
        neighbour_shifts({"query": zero, "none": v["none"]})
    with pytest.raises(ValueError, match="reference"):
        neighbour_shifts(v, reference="plain")
    with pytest.raises(ValueError, match="k must"):
        neighbour_shifts(v, k=0)
    with pytest.raises(ValueError, match="k must"):
        overlap_at_k(v, k=2.5)
    with pytest.raises(ValueError, match="texts"):
        neighbour_shifts(v, ["only", "two"])
    with pytest.raises(ValueError, match="2-D"):
        similarity_matrices({"none": np.ones(4)})
    with pytest.raises(ValueError, match="names"):
        similarity_matrices({"": v["none"]})


# --- joint map --------------------------------------------------------------------------------


def test_paired_map_shares_one_projection() -> None:
    v = make_variants(20, dim=32)
    texts = [f"t{i}" for i in range(20)]
    df = paired_map(v, texts=texts, seed=0, n_epochs=50)
    assert list(df.columns) == ["text_index", "variant", "x", "y", "text", "ref_x", "ref_y"]
    assert len(df) == 60
    assert df["variant"].tolist() == ["none"] * 20 + ["query"] * 20 + ["passage"] * 20
    assert np.isfinite(df[["x", "y", "ref_x", "ref_y"]].to_numpy()).all()
    ref = df[df.variant == "none"].set_index("text_index")
    for _, part in df.groupby("variant"):
        np.testing.assert_array_equal(part["ref_x"].to_numpy(), ref["x"].to_numpy())
        np.testing.assert_array_equal(part["ref_y"].to_numpy(), ref["y"].to_numpy())
    # one call: the same seed reproduces the map
    pd.testing.assert_frame_equal(df, paired_map(v, texts=texts, seed=0, n_epochs=50))


def test_paired_map_unchanged_texts_share_a_point() -> None:
    x = unit(np.random.default_rng(0).standard_normal((10, 8)))
    df = paired_map({"query": x, "none": x}, seed=0)
    np.testing.assert_array_equal(df["x"], df["ref_x"])
    np.testing.assert_array_equal(df["y"], df["ref_y"])


def test_paired_map_small_and_without_reference() -> None:
    v = make_variants(1)
    df = paired_map(v)  # three points: the PCA fallback of project_2d
    assert len(df) == 3 and np.isfinite(df[["x", "y"]].to_numpy()).all()
    df = paired_map(v, reference=None)
    assert "ref_x" not in df.columns and df["variant"].tolist() == ["query", "passage", "none"]
    with pytest.raises(ValueError, match="min_dist"):
        paired_map(v, min_dist=5.0)
    with pytest.raises(ValueError, match="reference"):
        paired_map(v, reference="plain")


def test_module_is_pure_numpy() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, core.exploration.prefix_compare\nassert not {'umap', 'numba', 'gradio', 'torch'} & set(sys.modules)\n"
    subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], check=True)
