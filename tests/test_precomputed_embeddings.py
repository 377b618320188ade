"""A corpus uploaded with its embeddings is clustered without encoding, after a dimension check; the cap on
a clustering is 50,000 texts (other tabs keep theirs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.encoding.encoder import Encoder
from core.limits import Limits
from core.studio import Studio


@pytest.fixture(scope="module")
def studio(tiny_model_dir):
    return Studio(Encoder(str(tiny_model_dir), device="cpu", dtype="float32"))


def blobs(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((3, dim)) * 4
    return (centres[np.arange(n) % 3] + rng.standard_normal((n, dim))).astype(np.float32)


def test_the_cap_on_a_clustering_is_50000_and_the_other_tabs_keep_theirs():
    assert Limits().max_cluster_texts == 50_000 and Limits().max_corpus == 5_000


def test_an_upload_with_an_embedding_column_is_not_encoded(studio, tmp_path, monkeypatch):
    from ui.cluster_tab import run_cluster

    vectors = blobs(60, studio.encoder.dim)
    path = tmp_path / "with-vectors.parquet"
    pd.DataFrame({"text": [f"текст номер {i}" for i in range(60)], "embedding": list(vectors)}).to_parquet(path)

    def no_encoding(*args, **kwargs):
        raise AssertionError("the texts were encoded although the file holds their embeddings")

    monkeypatch.setattr(studio.encoder, "encode_detailed", no_encoding)
    monkeypatch.setattr(studio.encoder, "encode", no_encoding)
    _, table, summary, *_, view = run_cluster(studio, "upload", path=str(path), k=3, seed=1)
    assert "embeddings (column “embedding”, 32-d) instead of encoding" in summary
    assert len(view.texts) == 60 and view.vectors is not None and view.vectors.shape == (60, studio.encoder.dim)
    # The three blobs come back as the three clusters.
    assert pd.crosstab(view.clusters, np.arange(60) % 3).gt(0).sum(axis=1).eq(1).all()


def test_vectors_of_the_wrong_dimension_are_refused_naming_the_row(studio, tmp_path):
    from ui.cluster_tab import run_cluster

    dim = studio.encoder.dim
    cells = [" ".join("0.5" for _ in range(dim))] * 4
    cells[2] = " ".join("0.5" for _ in range(dim + 1))
    path = tmp_path / "wrong.csv"
    pd.DataFrame({"text": ["а", "б", "в", "г"], "embedding": cells}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=f"row 3 of column 'embedding' has {dim + 1} numbers, but the model's "
                                         f"embeddings have {dim} dimensions"):
        run_cluster(studio, "upload", path=str(path), k=2)


@pytest.mark.parametrize("shape", [(4, 31), (3, 32), (4,)])
def test_studio_checks_the_shape_of_precomputed_embeddings(studio, shape):
    with pytest.raises(ValueError, match=r"expected \(4, 32\)"):
        studio.cluster(["а", "б", "в", "г"], embeddings=np.ones(shape, dtype=np.float32), k=2)


def test_studio_refuses_a_zero_precomputed_embedding(studio):
    vectors = np.ones((4, 32), dtype=np.float32)
    vectors[1] = 0
    with pytest.raises(ValueError, match="embedding 2 is zero"):
        studio.cluster(["а", "б", "в", "г"], embeddings=vectors, k=2)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_precomputed_corpora_cluster(studio, n):
    result = studio.cluster([f"т{i}" for i in range(n)], embeddings=blobs(n, 32), k=1 if n < 3 else 2)
    assert result.coords.shape == (n, 2) and np.isfinite(result.coords).all()
    np.testing.assert_allclose(np.linalg.norm(result.embeddings, axis=1), 1, atol=1e-5)


def test_a_big_clustering_sends_only_the_first_rows_to_the_judging_table(studio, tmp_path, monkeypatch):
    """Past JUDGE_TABLE_ROWS the table holds a prefix of the corpus (so a picked row is still that
    text), the summary says so, and the map, the view and the exports keep every text."""
    import core.exploration.cluster_view as cluster_view
    import ui.cluster_tab as cluster_tab

    monkeypatch.setattr(cluster_view, "JUDGE_TABLE_ROWS", 25)
    n = 90
    path = tmp_path / "with-vectors.parquet"
    texts = [f"текст номер {i}" for i in range(n)]
    pd.DataFrame({"text": texts, "embedding": list(blobs(n, studio.encoder.dim))}).to_parquet(path)
    figure, _, summary, csv_path, _, shown, view = cluster_tab.run_cluster(studio, "upload", path=str(path), k=3,
                                                                           seed=1)
    assert len(shown) == 25 and list(shown.iloc[:, 0]) == texts[:25]
    assert "first 25 of 90 texts" in summary and "exports hold every row" in summary
    assert len(view.texts) == n and len(pd.read_csv(csv_path)) == n
    assert sum(len(trace.x) for trace in figure.data if trace.x is not None) >= n
    monkeypatch.setattr(cluster_view, "JUDGE_TABLE_ROWS", n)  # exactly at the cap: all rows, no note
    _, _, summary, _, _, shown, _ = cluster_tab.run_cluster(studio, "upload", path=str(path), k=3, seed=1)
    assert len(shown) == n and "first" not in summary
