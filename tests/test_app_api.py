"""Every public endpoint of the live app through gradio_client, as an API user would call it.

The app runs in-process on the tiny random DeBERTa (``live_app`` in conftest), so the numbers are
meaningless but their shape, range, prefixes, limits and escaping are exactly the app's.
"""

from __future__ import annotations

import base64
import csv
import json
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gradio_client.exceptions import AppError

HOSTILE = "<img src=x onerror=alert(1)>"
PASTED = [
    "Есть ли нефть в Удмуртии?",
    "Добыча нефти в Удмуртии началась в 1967 году.",
    "Как приготовить борщ со сметаной?",
    "Рецепт борща: свёкла, капуста и сметана.",
    "Какая погода будет завтра в Москве?",
    "Завтра в Москве дождь.",
    HOSTILE,
]


def similarity(client, queries: str, passages: str, query_prefix: str = "query", passage_prefix: str = "passage"):
    return client.predict(queries, passages, query_prefix, passage_prefix, api_name="/similarity")


def plot_json(value) -> dict:
    """A figure from the API, typed arrays decoded to lists: gr.Plot's {"type": "plotly", "plot": "<JSON>"},
    or the selectable map's value, the figure's JSON itself (ui/map_view.py)."""
    if isinstance(value, str):
        return json.loads(value, object_hook=_decode_typed_array)
    assert value["type"] == "plotly"
    return json.loads(value["plot"], object_hook=_decode_typed_array)


def _decode_typed_array(obj: dict):
    """Plotly 6 sends numpy arrays as {"dtype", "bdata" (base64), "shape"}; turn them back into lists."""
    if set(obj) >= {"dtype", "bdata"}:
        values = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]))
        if obj.get("shape"):
            values = values.reshape([int(n) for n in str(obj["shape"]).split(",")])
        return values.tolist()
    return obj


def frame(value) -> pd.DataFrame:
    return pd.DataFrame(value["data"], columns=value["headers"])


def error_of(call) -> str:
    with pytest.raises(AppError) as caught:
        call()
    return str(caught.value)


# -- /similarity -------------------------------------------------------------------------------------


def test_similarity_scores_every_query_against_every_passage(api_client):
    queries = ["Есть ли нефть в Удмуртии?", "Когда спустили на воду эсминец?"]
    passages = ["Добыча нефти началась в 1967 году.", "Эсминец зачислен в списки ВМФ в 1952 году.", "Борщ."]
    figure, ranking, tokens, status = similarity(api_client, "\n".join(queries), "\n\n".join(passages) + "\n")

    rows = frame(ranking)
    assert list(rows.columns) == ["query #", "rank", "score", "yours", "passage #", "passage", "query"]
    assert len(rows) == len(queries) * len(passages)
    assert rows["score"].between(-100, 100).all()
    for q, group in rows.groupby("query #"):
        assert sorted(group["passage #"]) == [1, 2, 3]
        assert list(group["rank"]) == [1, 2, 3]
        assert group["score"].is_monotonic_decreasing
        assert set(group["query"]) == {"query: " + queries[q - 1]}
    assert set(rows["passage"]) == {"passage: " + p for p in passages}
    # API callers read numbers; the page shows each score to two places (46.40, not 46.4).
    assert all(isinstance(score, float) for score in rows["score"])
    shown = [row[2] for row in ranking["metadata"]["display_value"]]
    assert shown == [f"{score:.2f}" for score in rows["score"]]

    heatmap = plot_json(figure)["data"][0]
    assert heatmap["type"] == "heatmap"
    z = heatmap["z"]
    assert len(z) == 2 and all(len(row) == 3 for row in z)
    # The heatmap shows the same numbers as the ranking.
    for _, row in rows.iterrows():
        assert z[row["query #"] - 1][row["passage #"] - 1] == pytest.approx(row["score"], abs=0.01)

    counts = frame(tokens)
    assert list(counts["role"]) == ["query"] * 2 + ["passage"] * 3
    assert (counts["tokens"] > 0).all()
    assert "2 queries × 3 passages" in status and "query: " in status and "passage: " in status


def test_similarity_with_custom_and_no_prefix(api_client):
    _, ranking, tokens, status = similarity(api_client, "Москва", "столица России\nборщ", "instruct: ", "none")
    rows = frame(ranking)
    assert set(rows["query"]) == {"instruct: Москва"}
    assert set(rows["passage"]) == {"столица России", "борщ"}
    assert "instruct: " in status and "∅" in status
    # No prefix on either side: the inputs are the texts as typed.
    _, ranking, _, _ = similarity(api_client, "Москва", "Москва", "none", "none")
    only = frame(ranking).iloc[0]
    assert only["query"] == only["passage"] == "Москва"
    assert only["score"] == pytest.approx(100, abs=0.05)  # a text against itself


def test_similarity_takes_a_model_by_name(api_client, live_app):
    from pathlib import Path

    name = Path(live_app.studio.encoder.model_id).name
    for model in ("", name):
        _, ranking, _, status = api_client.predict("Москва", "столица", "query", "passage", model,
                                                   api_name="/similarity")
        assert len(frame(ranking)) == 1
    message = error_of(lambda: api_client.predict("Москва", "столица", "query", "passage", "nope",
                                                  api_name="/similarity"))
    assert f"model 'nope' is not loaded; loaded: {name}" in message


def test_similarity_refuses_empty_queries(api_client):
    message = error_of(lambda: similarity(api_client, " \n\n ", "a passage"))
    assert "no queries" in message and "at least one" in message


def test_similarity_rechecks_the_query_limit_on_the_server(api_client, live_app):
    cap = live_app.studio.limits.max_queries
    queries = "\n".join(f"вопрос {i}" for i in range(cap + 1))
    message = error_of(lambda: similarity(api_client, queries, "a passage"))
    assert f"{cap + 1:,} queries" in message and f"limit of {cap:,}" in message


def test_similarity_escapes_markup_in_hover_text(api_client):
    figure, ranking, _, _ = similarity(api_client, HOSTILE, "обычный текст")
    assert frame(ranking).iloc[0]["query"] == "query: " + HOSTILE  # the data itself is kept as typed
    heatmap = plot_json(figure)["data"][0]
    shown = json.dumps([heatmap["hovertext"], heatmap["y"]], ensure_ascii=False)
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "<img" not in shown


def hold_scoring(studio, monkeypatch, held_prefix: str = "") -> threading.Event:
    """Scoring of queries starting with ``held_prefix`` waits until the returned event is set."""
    release = threading.Event()
    scoring = studio.similarity

    def held(queries, *args, **kwargs):
        if queries[0].startswith(held_prefix):
            assert release.wait(60), "the test never released the held calls"
        return scoring(queries, *args, **kwargs)

    monkeypatch.setattr(studio, "similarity", held)
    return release


def wait_for_gate(studio, token: str, running: int, waiting: int) -> str:
    """Wait until the token's user has this many calls working and waiting in the gate; their line's name."""
    who = f"user {studio.identities.identify(token=token).user}"
    deadline = time.monotonic() + 30
    while (studio.gate.running_for(who), studio.gate.waiting_for(who)) != (running, waiting):
        assert time.monotonic() < deadline, "the calls never reached the gate"
        time.sleep(0.02)
    return who


def test_one_users_burst_of_similarity_calls_waits_in_their_own_line_not_in_front_of_others(api_client, live_app,
                                                                                          monkeypatch):
    """Issue 25: ten calls from one user are all taken in at once; two work (here: are held), eight wait
    without a thread, and another user's call answers meanwhile instead of queueing behind them."""
    from gradio_client import Client

    studio = live_app.studio
    release = hold_scoring(studio, monkeypatch, "burst")
    first, second = studio.identities.mint(None), studio.identities.mint(None)
    heavy = Client(live_app.url, verbose=False, download_files=False)
    try:
        burst = [heavy.submit(f"burst {i}", "a passage", "query", "passage", "", 5, first, api_name="/similarity")
                 for i in range(10)]
        who = wait_for_gate(studio, first, running=2, waiting=8)
        started = time.monotonic()
        _, ranking, _, _ = api_client.predict("другой", "a passage", "query", "passage", "", 5, second,
                                              api_name="/similarity")
        assert time.monotonic() - started < 20 and frame(ranking).iloc[0]["query"] == "query: другой"
        assert not any(job.done() for job in burst)  # the other user did not wait for them
    finally:
        release.set()
    for i, job in enumerate(burst):
        _, ranking, _, _ = job.result(timeout=60)
        assert frame(ranking).iloc[0]["query"] == f"query: burst {i}"
    assert (studio.gate.running_for(who), studio.gate.waiting_for(who)) == (0, 0)


def test_similarity_refuses_a_burst_past_the_waiting_limit_with_the_reason(live_app, monkeypatch):
    """Past ``calls_running_per_user`` + ``calls_waiting_per_user`` calls of one user, the next is refused
    at once with a message that says why (not left to fill the server's queue)."""
    from gradio_client import Client

    studio = live_app.studio
    release = hold_scoring(studio, monkeypatch)
    monkeypatch.setattr(studio.gate, "waiting", 1)
    token = studio.identities.mint(None)
    client = Client(live_app.url, verbose=False, download_files=False)
    try:
        held_calls = [client.submit(f"q{i}", "p", "query", "passage", "", 5, token, api_name="/similarity")
                      for i in range(3)]
        wait_for_gate(studio, token, running=2, waiting=1)
        message = error_of(lambda: client.predict("one more", "p", "query", "passage", "", 5, token,
                                                  api_name="/similarity"))
        assert "already have 2 calls working and 1 waiting" in message
    finally:
        release.set()
    for job in held_calls:
        job.result(timeout=60)


# -- /cluster ----------------------------------------------------------------------------------------


def cluster(client, **overrides):
    params = dict(source="sample", texts="", file=None, text_column="text", label_column="(none)",
                  method="k-means", k=0, min_cluster_size=5, n_neighbors=15, min_dist=0.1, metric="cosine",
                  seed=42, colour_by="cluster", with_embeddings=False)
    params.update(overrides)
    return client.predict(*params.values(), api_name="/cluster")


def test_cluster_sample_corpus_with_labels_metrics_and_exports(api_client):
    figure, table, summary, csv_path, parquet_path, points = cluster(api_client, k=4, with_embeddings=True)

    clusters = frame(table)
    assert list(clusters.columns) == ["cluster", "name", "size", "keywords", "examples"]
    assert sorted(clusters["cluster"]) == [0, 1, 2, 3]
    assert clusters["size"].sum() == 360 and clusters["size"].is_monotonic_decreasing  # largest first
    assert (clusters["keywords"].str.len() > 0).all() and (clusters["examples"].str.len() > 0).all()
    assert "4 clusters" in summary and "360 texts" in summary
    assert "ARI" in summary and "NMI" in summary and "topic" in summary  # the sample has topic labels

    shown = frame(points)
    assert len(shown) == 360 and {"text", "cluster", "label"} <= set(shown.columns)
    assert set(shown["cluster"]) == {0, 1, 2, 3}
    assert dict(zip(clusters["cluster"], clusters["size"], strict=True)) == shown["cluster"].value_counts().to_dict()

    traces = plot_json(figure)["data"]
    assert {t["type"] for t in traces} == {"scattergl"}
    assert sum(len(t["x"]) for t in traces) == 360

    parquet = pd.read_parquet(parquet_path)
    assert {"text", "cluster", "x", "y", "label", "embedding"} <= set(parquet.columns)
    assert len(parquet) == 360 and parquet[["x", "y"]].notna().all().all()
    assert len(parquet["embedding"].iloc[0]) == 32  # the tiny model's dimension
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 360 and {"text", "cluster", "x", "y", "embedding"} <= set(rows[0])
    assert len(rows[0]["embedding"].split()) == 32


def test_cluster_pasted_texts_escapes_hover_and_exports_without_embeddings(api_client):
    figure, table, summary, csv_path, parquet_path, points = cluster(
        api_client, source="paste", texts="\n".join(PASTED), k=2)
    assert "2 clusters" in summary and f"{len(PASTED)} texts" in summary
    assert "ARI" not in summary  # pasted texts carry no labels
    assert len(frame(table)) == 2
    assert list(frame(points)["text"]) == PASTED

    parquet = pd.read_parquet(parquet_path)
    assert list(parquet.columns) == ["text", "cluster", "cluster_name", "keywords", "x", "y"]  # issue 26, point 8
    assert list(parquet["text"]) == PASTED
    assert Path(csv_path).stat().st_size > 0

    hovers = json.dumps([t["hovertext"] for t in plot_json(figure)["data"]], ensure_ascii=False)
    assert "&lt;img src=x onerror=alert(1)&gt;" in hovers and "<img" not in hovers


def test_cluster_an_uploaded_table_with_its_columns(api_client, tmp_path):
    from gradio_client import handle_file

    table = pd.DataFrame({"id": range(12), "body": [f"{t} ({i})" for i, t in enumerate(PASTED[:6] * 2)],
                          "kind": ["нефть", "нефть", "борщ", "борщ", "погода", "погода"] * 2})
    path = tmp_path / "corpus.xlsx"
    table.to_excel(path, index=False)
    figure, clusters, summary, _, parquet_path, points = cluster(
        api_client, source="upload", file=handle_file(str(path)), text_column="body", label_column="kind", k=3)
    assert "12 texts" in summary and "ARI" in summary and "`kind`" in summary
    assert list(pd.read_parquet(parquet_path)["text"]) == list(table["body"])


def test_cluster_refuses_a_file_that_is_not_a_table(api_client, tmp_path):
    from gradio_client import handle_file

    path = tmp_path / "corpus.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    message = error_of(lambda: cluster(api_client, source="upload", file=handle_file(str(path))))
    assert "CSV" in message and "Traceback" not in message


def test_cluster_csv_export_escapes_formulas_in_every_text_column(api_client, tmp_path):
    from gradio_client import handle_file

    table = pd.DataFrame({"body": [f"{t} ({i})" for i, t in enumerate(PASTED[:6])] + ["=1+1 текст"],
                          "kind": ["=HYPERLINK(\"http://evil\")", "+нефть", "-борщ", "@погода", "нефть", "борщ", "x"]})
    path = tmp_path / "hostile.csv"
    table.to_csv(path, index=False)
    _, _, _, csv_path, parquet_path, _ = cluster(api_client, source="upload", file=handle_file(str(path)),
                                                 text_column="body", label_column="kind", k=2)
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row, label, text in zip(rows, table["kind"], table["body"], strict=True):
        assert row["label"] == ("'" + label if label[0] in "=+-@" else label)
        assert row["text"] == ("'" + text if text[0] in "=+-@" else text)
    assert list(pd.read_parquet(parquet_path)["label"]) == list(table["kind"])  # only CSV is escaped


def test_cluster_refuses_a_csv_with_200k_columns_with_a_clear_message(api_client, tmp_path):
    from gradio_client import handle_file

    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(200_000)) + "\n" + ",".join("x" * 200_000) + "\n")
    message = error_of(lambda: cluster(api_client, source="upload", file=handle_file(str(path))))
    assert "200,000 columns" in message and "Traceback" not in message and "csv.Error" not in message


def test_cluster_refuses_an_empty_paste(api_client):
    assert "paste at least one text" in error_of(lambda: cluster(api_client, source="paste", texts="  \n"))


# -- /compare_prefixes -------------------------------------------------------------------------------


def test_compare_prefixes(api_client):
    texts = PASTED[:6]
    cosines, matrices, neighbours, overlap, pmap, summary, _which = api_client.predict(
        "\n".join(texts), 3, api_name="/compare_prefixes")
    assert "6 texts" in summary and "top-3" in summary

    cos = frame(cosines)
    assert len(cos) == len(texts) and list(cos["text"]) == texts
    pairs = cos[[c for c in cos.columns if " vs " in c]]
    assert {"query vs none", "passage vs none"} <= set(pairs.columns)
    assert ((pairs >= -1.0001) & (pairs <= 1.0001)).all().all()

    heatmaps = [t for t in plot_json(matrices)["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) >= 3  # query, passage and no prefix at least
    assert all(len(t["z"]) == len(texts) for t in heatmaps)

    shifts = frame(neighbours)
    assert len(shifts) == 3 * len(texts) * 3  # 3 variants x texts x top-3
    assert set(shifts["variant"]) == {"query", "passage", "none"}
    markers = [t for t in plot_json(pmap)["data"] if t.get("mode") == "markers"]
    assert sum(len(t["x"]) for t in markers) == 3 * len(texts)
    assert list(shifts.columns) == ["#", "text", "variant", "rank", "neighbour #", "neighbour", "cosine",
                                    "rank without prefix", "shift"]
    summary_rows = frame(overlap)
    assert list(summary_rows.columns) == ["pair", "k", "texts", "mean overlap@k", "same top-k"]
    assert len(summary_rows) == 3 and summary_rows["mean overlap@k"].between(0, 1).all()


def test_compare_prefixes_caps_k_below_the_number_of_texts(api_client):
    *_, summary, _ = api_client.predict("один\nдва\nтри", 20, api_name="/compare_prefixes")
    assert "3 texts" in summary and "top-2" in summary


def test_compare_prefixes_asks_for_a_second_text_instead_of_comparing_one(api_client):
    """Issue 26: one line used to give "1 texts, top-0 neighbours"; it is refused with what to do."""
    message = error_of(lambda: api_client.predict("одна строка", 5, api_name="/compare_prefixes"))
    assert "1 text has no neighbours to compare; enter at least 2 texts" in message


# -- /flag -------------------------------------------------------------------------------------------


def flag(client, kind, anchor, positive="", score=None, label="", comment="", token="", **extra):
    return client.predict(kind, anchor, positive, extra.get("negative", ""), score, label, comment,
                          extra.get("query_prefix", ""), extra.get("passage_prefix", ""), "api", token,
                          api_name="/flag")


def test_flag_stores_once_per_judgment(api_client, live_app):
    store = live_app.store
    before = store.count()
    first = flag(api_client, "relevant", "Есть ли нефть в Удмуртии?", "Добыча нефти началась в 1967 году.",
                 query_prefix="query: ", passage_prefix="passage: ")
    # No token: a new anonymous identity, whose token comes back once.
    assert isinstance(first["id"], int) and first["user"].startswith("anon:") and first["token"]
    assert first["count"] == 1 and store.count() == before + 1
    token = first["token"]
    again = flag(api_client, "relevant", "Есть ли нефть в Удмуртии?", "Добыча нефти началась в 1967 году.",
                 query_prefix="query: ", passage_prefix="passage: ", comment="a comment is not part of the key",
                 token=token)
    assert again["id"] == first["id"] and again["user"] == first["user"]
    assert store.count() == before + 1

    record = store.get(first["id"])
    assert record["kind"] == "relevant" and record["tab"] == "api"
    assert record["query_prefix"] == "query: " and record["passage_prefix"] == "passage: "
    assert record["model_id"] == live_app.studio.encoder.model_id

    scored = flag(api_client, "score", "кошка", "кот", score=4.5, token=token)
    prefer = flag(api_client, "prefer", "кошка", label="query", token=token)
    assert len({first["id"], scored["id"], prefer["id"]}) == 3 and prefer["count"] == 3
    assert store.get(scored["id"])["score"] == 4.5 and store.get(prefer["id"])["label"] == "query"
    assert store.count() == before + 3
    assert {store.get(i)["user"] for i in (first["id"], scored["id"], prefer["id"])} == {first["user"]}


def test_anonymous_api_callers_do_not_share_an_identity(api_client, live_app):
    one = flag(api_client, "similar", "кошка", "котёнок")
    other = flag(api_client, "similar", "кошка", "котёнок")  # same client, same session, no token
    assert one["user"] != other["user"] and one["token"] != other["token"] and one["id"] != other["id"]
    # A token this server did not issue is refused, not turned into a new identity.
    forged = other["token"][:-2] + ("AA" if not other["token"].endswith("AA") else "BB")
    message = error_of(lambda: flag(api_client, "similar", "кошка", "кот", token=forged))
    assert "not issued by this server" in message
    message = error_of(lambda: flag(api_client, "similar", "кошка", "кот", token=one["user"]))
    assert "not issued by this server" in message


@pytest.mark.parametrize(
    ("kind", "anchor", "positive", "score", "expected"),
    [
        ("bogus", "a", "b", None, "kind must be one of relevant"),
        ("<b>x</b>", "a", "b", None, "got '&lt;b&gt;x&lt;/b&gt;'"),  # markup escaped for the UI
        ("relevant", "", "b", None, "anchor text is empty"),
        ("relevant", "   ", "b", None, "anchor text is empty"),
        ("relevant", "\u200b\u2060\x00", "b", None, "anchor text is empty"),
        ("relevant", "я" * 1_000_000, "b", None, "anchor text is too long"),
        ("score", "a", "b", 7, "score must be between 0 and 5"),
        ("relevant", "a", "", None, "needs the positive text"),
    ],
    ids=["bad-kind", "markup-kind", "empty-anchor", "blank-anchor", "invisible-anchor", "1MB-text", "score-7", "no-positive"],
)
def test_flag_refuses_bad_judgments_with_a_clear_message(api_client, live_app, kind, anchor, positive, score,
                                                         expected):
    before = live_app.store.count()
    message = error_of(lambda: flag(api_client, kind, anchor, positive, score=score))
    assert expected in message
    assert "Traceback" not in message and len(message) < 500
    assert live_app.store.count() == before


def test_review_view_tolerates_the_empty_inputs_sent_on_page_load(live_app):
    """On load the browser sends None for an empty Textbox; the review table must still fill."""
    from core.identity import Identity
    from ui.review_tab import review

    admin = Identity("auth:admin", is_admin=True)
    records, by_kind, by_user, by_tab, summary = review(live_app.studio, admin, "(all)", None, "(all)", 500)
    assert len(records) == live_app.store.count() and "judgments" in summary
    assert len(review(live_app.studio, admin, None, "", None, None)[0]) == live_app.store.count()


def test_flag_cleans_control_characters_as_the_encoder_does(api_client, live_app):
    from core.inputs.text import clean_text

    raw = "\x1b[31mЕсть\x07 ли нефть?\x00 "
    record = live_app.store.get(flag(api_client, "similar", raw, "Нефть\x1b есть.")["id"])
    assert record["anchor"] == clean_text(raw) == "[31mЕсть ли нефть?"
    assert record["positive"] == "Нефть есть."


def test_uploads_over_the_cap_are_refused(api_client, live_app, tmp_path):
    from gradio_client import handle_file

    path = tmp_path / "big.csv"
    path.write_text("text\n" + "слово " * 1_000_000, encoding="utf-8")  # about 13 MB
    assert path.stat().st_size > live_app.studio.limits.upload_bytes
    with pytest.raises(Exception) as caught:
        cluster(api_client, source="upload", file=handle_file(str(path)))
    assert "exceeds the maximum file size of 5242880 bytes" in str(caught.value)  # 5 MiB


def test_the_queue_never_recomputes_gradios_monitoring_summary(api_client, live_app):
    """Monitoring is off, so the summary Gradio would rebuild after every event (pandas over up to 10,000
    past events) is never rebuilt: after some calls it is still the empty one."""
    from ui.app import GRADIO_ANALYTICS_NEVER

    queue = live_app.app._queue
    assert int(GRADIO_ANALYTICS_NEVER) == queue.ANAYLTICS_CACHE_FREQUENCY
    similarity(api_client, "вопрос", "ответ")
    assert queue.events_recorded > 0 and queue.compute_analytics_summary([{"function": "x"}]) == {"functions": {}}


def test_load_model_is_an_endpoint_for_admins_only_then_the_model_scores(api_client, live_app, tmp_path,
                                                                          monkeypatch):
    """Issue 26: /model_memory, /load_model and /unload_model, with the page's rules: an anonymous caller
    is refused (nothing loads); where the server lets everyone load, the model is sized, loaded, used by
    /similarity by its folder's name, and unloaded."""
    import shutil

    studio = live_app.studio
    second = shutil.copytree(Path(studio.encoder.model_id), tmp_path / "api-second")
    assert "only admins" in error_of(lambda: api_client.predict(str(second), api_name="/load_model"))
    assert "only admins" in error_of(lambda: api_client.predict(str(second), api_name="/model_memory"))
    assert list(studio.encoders) == [studio.encoder.model_id]
    monkeypatch.setattr(studio, "model_loads", "everyone")
    monkeypatch.setattr(studio, "memory", lambda device: (64 * 2**30, 128 * 2**30))  # whatever the machine has
    try:
        memory = api_client.predict(str(second), api_name="/model_memory")
        assert memory["fits"] and memory["fp32_bytes"] == 2 * memory["fp16_bytes"] > 0
        loaded = api_client.predict(str(second), api_name="/load_model")
        assert loaded["model"] == "api-second" and loaded["loaded"][-1] == "api-second"
        result = api_client.predict("вопрос", "ответ", "query", "passage", "api-second", api_name="/similarity")
        assert "api-second" in str(result)
        assert "is loaded already" in error_of(lambda: api_client.predict(str(second), api_name="/load_model"))
        assert "cannot be reached" in error_of(lambda: api_client.predict("someone/model", api_name="/load_model"))
        assert api_client.predict("api-second", api_name="/unload_model")["unloaded"] == "api-second"
    finally:
        for model_id in list(studio.encoders)[1:]:
            studio.unload_model(model_id, is_admin=True)
    assert list(studio.encoders) == [studio.encoder.model_id]
