"""Selections on the clustering map: ids checked on the server, judgments on a selection, search."""

from __future__ import annotations

import numpy as np
import pytest

from core.encoding.encoder import Encoder
from core.exploration.selection import MAX_SELECTION, containing, nearest, selected_ids
from core.identity import Identity
from core.judgments import JudgmentStore
from core.studio import Studio

ALICE = Identity(user="anon:alice000001", is_admin=False, token="t")
MALLORY = Identity(user="anon:mallory0001", is_admin=False, token="t")


# -- ids from the browser -------------------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [(None, []), ([], []), ([3], [3]), (2, [2]), ([4, 1, 4, 1.0], [4, 1]),
                                           (np.array([0, 9]), [0, 9])])
def test_selected_ids_are_distinct_whole_numbers_in_range(raw, expected):
    assert selected_ids(raw, 10) == expected


@pytest.mark.parametrize("raw, match", [([10], "map has 10 points"), ([-1], "map has 10 points"),
                                        ([1.5], "item 1 is not a point id"), ([0, True], "item 2 is not"),
                                        (["3"], "not a point id"), ("0,1", "not a point id"),
                                        ([0, None], "item 2")])
def test_bad_ids_are_refused_naming_the_item(raw, match):
    with pytest.raises(ValueError, match=match):
        selected_ids(raw, 10)


def test_a_selection_has_a_size_cap():
    assert len(selected_ids(list(range(MAX_SELECTION)), MAX_SELECTION + 1)) == MAX_SELECTION
    with pytest.raises(ValueError, match="at most 3"):
        selected_ids([0, 1, 2, 3], 10, cap=3)


def test_containing_is_case_and_space_insensitive():
    texts = ["Погода  завтра", "ПОГОДА сегодня", "Курс рубля", ""]
    assert containing(texts, "погода") == [0, 1] and containing(texts, " погода   завтра ") == [0]
    assert containing(texts, "нет такого") == []
    for bad in ("", "   ", None):
        with pytest.raises(ValueError, match="type some text"):
            containing(texts, bad)
    with pytest.raises(ValueError, match="at most 200"):
        containing(texts, "я" * 201)


def test_nearest_is_best_first_stable_and_checks_k():
    vectors = np.array([[1, 0], [0, 1], [1, 0], [0.6, 0.8]], dtype=np.float32)
    assert [i for i, _ in nearest(vectors, np.array([1, 0]), 3)] == [0, 2, 3]  # the tie keeps id order
    assert len(nearest(vectors, np.array([0, 1]), 99)) == 4
    for k in (0, 1.5, True):
        with pytest.raises(ValueError, match="k must be"):
            nearest(vectors, np.array([1, 0]), k)
    with pytest.raises(ValueError, match="no texts"):
        nearest(np.zeros((0, 2), dtype=np.float32), np.array([1, 0]), 1)


# -- judging a selection --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clustered(tiny_model_dir, tmp_path_factory):
    from core.exploration.cluster_view import ClusterView
    from ui.cluster_tab import run_cluster

    store = JudgmentStore(tmp_path_factory.mktemp("map") / "feedback.sqlite")
    studio = Studio(Encoder(str(tiny_model_dir), device="cpu", dtype="float32"), store=store)
    *_, view = run_cluster(studio, "sample", k=3, seed=1)
    assert isinstance(view, ClusterView)
    return studio, view


def test_a_label_for_the_selection_is_one_judgment_per_text_and_undo_takes_the_batch(clustered):
    from ui.cluster_tab import save_selection

    studio, view = clustered
    ids = [5, 17, 40, 5]
    created, message = save_selection(studio, ALICE, view, ids, "label", "  погода  ")
    assert len(created) == 3 and "label “погода”" in message
    rows = studio.store.rows(kind="label", user=ALICE.user)
    assert sorted(r["anchor"] for r in rows) == sorted(view.texts[i] for i in (5, 17, 40))
    assert {r["label"] for r in rows} == {"погода"} and {r["tab"] for r in rows} == {"clustering"}
    # Another user cannot take the batch back; its owner can.
    from core.judgments import NotOwnerError

    with pytest.raises(NotOwnerError):
        studio.store.delete(created[0], MALLORY.user)
    assert all(studio.store.delete(record, ALICE.user) for record in created)


def test_misplaced_for_each_and_similar_for_exactly_two(clustered):
    from ui.cluster_tab import save_selection

    studio, view = clustered
    created, _ = save_selection(studio, ALICE, view, [1, 2, 3], "misplaced")
    rows = [studio.store.get(r) for r in created]
    assert [r["label"] for r in rows] == [f"cluster {int(view.clusters[i])}" for i in (1, 2, 3)]
    with pytest.raises(ValueError, match="exactly two"):
        save_selection(studio, ALICE, view, [1, 2, 3], "similar")
    (pair,) = save_selection(studio, ALICE, view, [7, 9], "dissimilar")[0]
    assert (studio.store.get(pair)["anchor"], studio.store.get(pair)["positive"]) == (view.texts[7], view.texts[9])


@pytest.mark.parametrize("ids, kind, label, match", [
    ([], "label", "x", "select texts on the map first"), ([0], "label", " ", "type a topic label"),
    ([999], "misplaced", "", "map has 360 points"), ([0], "prefer", "", "unknown judgment")])
def test_bad_selection_requests_are_refused(clustered, ids, kind, label, match):
    from ui.cluster_tab import save_selection

    studio, view = clustered
    before = studio.store.count()
    with pytest.raises(ValueError, match=match):
        save_selection(studio, ALICE, view, ids, kind, label)
    assert studio.store.count() == before


def test_found_texts_are_ringed_on_the_map(clustered):
    import json

    from ui.cluster_tab import highlight

    _, view = clustered
    ids = containing(view.texts, "погод")
    assert ids
    figure = json.loads(highlight(view, ids, "containing “погод”", None, "cluster"))
    ring = figure["data"][-1]
    assert ring["name"].startswith(f"{len(ids)} containing")
    assert decoded(ring["customdata"]).tolist() == ids  # the ringed points select as themselves


def decoded(array) -> np.ndarray:
    """Plotly's JSON sends numpy arrays as {"dtype", "bdata" (base64)}."""
    import base64

    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array)


# -- large maps: binary arrays, hover texts fetched lazily ------------------------------------------
def large_points(n: int):
    import pandas as pd

    rng = np.random.default_rng(0)
    return pd.DataFrame({"text": [f"Текст номер {i}: о погоде, о ценах и о чём-нибудь ещё" for i in range(n)],
                         "cluster": rng.integers(0, 30, n), "x": rng.normal(size=n).astype(np.float32),
                         "y": rng.normal(size=n).astype(np.float32)})


def test_a_50000_point_map_is_under_a_megabyte_and_its_hovers_come_from_the_server():
    import json

    from ui.map_view import figure_value as value_of
    from ui.map_view import hover_text
    from ui.plots import cluster_map

    points = large_points(50_000)
    value = value_of(cluster_map(points, "cluster", "50,000"))
    assert len(value.encode()) < 1_200_000  # coordinates and ids as binary arrays, no texts
    figure = json.loads(value)
    key = figure["layout"]["meta"]["hover_key"]
    assert all("hovertext" not in t and t["hoverinfo"] == "none" for t in figure["data"])
    assert sum(len(decoded(t["customdata"])) for t in figure["data"]) == 50_000
    assert "Текст номер 12345:" in hover_text([key, 12345]) and "cluster" in hover_text([key, 12345.0])
    # Unknown keys, ids and shapes get nothing, never an error.
    for bad in ([key, 50_000], [key, -1], [key, 1.5], [key, True], ["nope", 1], [key], "x", None, [key, "1"]):
        assert hover_text(bad) == ""


def test_small_maps_keep_their_hover_texts():
    import json

    from ui.map_view import figure_value as value_of
    from ui.plots import cluster_map

    figure = json.loads(value_of(cluster_map(large_points(300), "cluster", "300")))
    assert "meta" not in figure["layout"] and all(t["hovertext"] for t in figure["data"])
