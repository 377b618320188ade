"""Campaigns through gradio_client on the live app: create, two annotators with overlap 2, agreement,
and every campaign endpoint tried as another user."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

PAIRS = [("Где добывают нефть?", "Нефть добывают в Удмуртии."), ("Как варить борщ?", "Борщ варят со свёклой."),
         ("Кто написал «Онегина»?", "Пушкин написал роман в стихах."), ("Какая погода завтра?", "Завтра дождь."),
         ("Сколько стоит билет?", "<img src=x onerror=alert(1)> билет стоит 100 рублей.")]


def error_of(call) -> str:
    with pytest.raises(AppError) as caught:
        call()
    return str(caught.value)


def client_of(live_app) -> Client:
    return Client(live_app.url, verbose=False)


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("campaign-files") / "pairs.csv"
    path.write_text("sentence1,sentence2\n" + "".join(f'"{a}","{b}"\n' for a, b in PAIRS), encoding="utf-8")
    return path


def create(client, path, judgment="score", overlap=2, token="", **extra):
    return client.predict(file=handle_file(str(path)), judgment=judgment, overlap=overlap, token=token,
                          instructions="Насколько похожи тексты?", api_name="/create_campaign", **extra)


def test_two_annotators_with_overlap_2_and_the_agreement(live_app, pairs_file):
    owner, ann, bob, eve = (client_of(live_app) for _ in range(4))
    made = create(owner, pairs_file)
    cid, owner_token = made["campaign"], made["token"]
    assert made["items"] == len(PAIRS) and made["overlap"] == 2 and made["columns"] == ["sentence1", "sentence2"]
    tokens = {}
    planned = {"ann": [5, 4, 0, 3, 2], "bob": [5, 3, 5, 3, 2]}
    for name, client in (("ann", ann), ("bob", bob)):
        token = ""
        answers = iter(planned[name])
        seen = []
        while True:
            item = client.predict(cid, token, api_name="/next_item")
            if item is None:
                break
            token = item.pop("token", token)  # a first call without a token gets a new identity
            assert set(item) == {"item_id", "sentence1", "sentence2"}  # the model's score is hidden by default
            assert (item["sentence1"], item["sentence2"]) == PAIRS[item["item_id"] - 1]
            seen.append(item["item_id"])
            answer = client.predict(kind="score", anchor="", score=float(next(answers)), token=token,
                                    campaign=cid, item_id=item["item_id"], api_name="/flag")
            assert answer["token"] == token
        tokens[name] = token
        assert sorted(seen) == [1, 2, 3, 4, 5]
    # the campaign is complete: a third person gets nothing
    assert eve.predict(cid, "", api_name="/next_item") is None
    progress = ann.predict(cid, tokens["ann"], api_name="/campaign_progress")
    assert progress["line"] == "5 judged by you, 0 left for you; 5 of 5 items complete (10 of 10 judgments)"
    assert progress["judgments"] == 10

    report = owner.predict(cid, 10, owner_token, api_name="/agreement")
    assert report["level"] == "interval" and report["items"] == 5 and report["judgments"] == 10
    assert -1.0 <= report["alpha"] < 1.0
    assert {a["annotator"] for a in report["annotators"]} == {live_app.store.rows(user=u)[0]["user"]
                                                              for u in {r["user"] for r in live_app.store.rows()
                                                                        if r["tab"] == "annotate"}}
    assert report["disputed"][0]["item_id"] == 3  # 0 against 5
    stored = [r for r in live_app.store.rows(kind="score") if r["tab"] == "annotate"
              and r["anchor"] == PAIRS[2][0]]
    assert sorted(r["score"] for r in stored) == [0.0, 5.0]
    assert all(r["query_prefix"] == "query: " and r["passage_prefix"] == "query: " for r in stored)


def test_agreement_and_others_judgments_are_refused_to_another_user(live_app, pairs_file):
    owner, annotator, attacker = (client_of(live_app) for _ in range(3))
    made = create(owner, pairs_file, overlap=1)
    cid = made["campaign"]
    first = annotator.predict(kind="relevant", anchor="чужое", positive="чужое", api_name="/flag")
    token = first["token"]
    item = annotator.predict(cid, token, api_name="/next_item")
    answer = annotator.predict(kind="score", anchor="", score=4.0, token=token, campaign=cid,
                               item_id=item["item_id"], api_name="/flag")
    before = live_app.store.get(answer["id"])
    # agreement: annotator and attacker are neither the creator nor admins
    for client, tok in ((annotator, token), (attacker, ""), (attacker, made["user"])):
        message = error_of(lambda c=client, t=tok: c.predict(cid, 10, t, api_name="/agreement"))
        assert any(reason in message for reason in ("only the campaign's creator and admins",
                                                    "not issued by this server", "no identity"))
    # acting as the annotator or the creator with their displayed ids as tokens is refused
    for forged in (first["user"], made["user"], first["user"].split(":", 1)[1]):
        for call in (lambda f=forged: attacker.predict(cid, f, api_name="/next_item"),
                     lambda f=forged: attacker.predict(cid, 2, f, api_name="/skip_item"),
                     lambda f=forged: attacker.predict(cid, f, api_name="/campaign_progress"),
                     lambda f=forged: attacker.predict(kind="score", anchor="", score=0.0, token=f, campaign=cid,
                                                       item_id=item["item_id"], api_name="/flag")):
            assert "not issued by this server" in error_of(call)
    # the attacker, as themself, cannot answer the item the annotator judged (overlap 1), nor delete it
    mine = attacker.predict(kind="relevant", anchor="моё", positive="моё", api_name="/flag")["token"]
    assert "already has the 1 judgment" in error_of(lambda: attacker.predict(
        kind="score", anchor="", score=0.0, token=mine, campaign=cid, item_id=item["item_id"], api_name="/flag"))
    assert "is not yours" in error_of(lambda: attacker.predict(answer["id"], mine, api_name="/delete_judgment"))
    # the attacker's skip is their own: the annotator still gets their items
    attacker.predict(cid, 2, mine, api_name="/skip_item")
    assert annotator.predict(cid, token, api_name="/next_item")["item_id"] == 2
    assert live_app.store.get(answer["id"]) == before
    assert attacker.predict(cid, mine, api_name="/campaign_progress")["done"] == 0


def test_bad_requests_get_clear_errors(live_app, pairs_file, tmp_path):
    client = client_of(live_app)
    no_columns = tmp_path / "bad.csv"
    no_columns.write_text("вопрос,ответ\nа,б\n", encoding="utf-8")
    assert "needs columns 'query' and 'passage' or 'sentence1' and 'sentence2'; the table has: вопрос, ответ" in \
        error_of(lambda: create(client, no_columns))
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert "is empty" in error_of(lambda: create(client, empty))
    many = tmp_path / "many.csv"  # one row past the cap (Limits.max_corpus); the byte cap: test_campaigns.py
    many.write_text("query,passage\n" + "".join(f"в{i},о{i}\n" for i in range(5_001)), encoding="utf-8")
    assert "more than 5,000 rows, the limit per campaign" in error_of(lambda: create(client, many))
    assert "overlap (people per item) must be a whole number from 1 to 10" in \
        error_of(lambda: create(client, pairs_file, overlap=11))
    assert "a label campaign needs at least two labels" in error_of(
        lambda: create(client, pairs_file, judgment="label"))
    assert "no campaign" in error_of(lambda: client.predict("0123456789abcdef", "", api_name="/next_item"))
    assert "needs both campaign and item_id" in error_of(lambda: client.predict(
        kind="score", anchor="", score=1.0, item_id=1, api_name="/flag"))
    assert "upload a table" in error_of(lambda: client.predict(judgment="score", api_name="/create_campaign"))
    assert "paths on the server are not read" in error_of(lambda: client.predict(
        file=str(live_app.store.path), judgment="score", api_name="/create_campaign"))


def test_the_model_chooses_the_items(live_app):
    client = client_of(live_app)
    queries = "\n".join(f"вопрос номер {i}" for i in range(6))
    passages = "\n".join(f"ответ номер {i} о погоде" for i in range(8))
    made = client.predict(rule="tied", queries=queries, passages=passages, n=4, overlap=1, api_name="/model_campaign")
    assert made["rule"].startswith("tied: the 2 of 6 queries") and made["items"] == 4
    item = client.predict(made["campaign"], made["token"], api_name="/next_item")
    assert "nearly tied" in item["reason"] and "model_score" not in item
    boundary = client.predict(rule="boundary", queries=queries, passages=passages, n=5, token=made["token"],
                              api_name="/model_campaign")
    assert "boundary" in boundary["rule"] and "midway" in boundary["rule"] and boundary["items"] == 5
    assert "the rule must be one of boundary, tied, border" in error_of(lambda: client.predict(rule="guess", queries="а", passages="б",
                                                                api_name="/model_campaign"))


def test_consensus_export_is_the_creators(live_app, pairs_file):
    """The tab's export (a private handler): the creator gets a file, anyone else is refused."""
    from core.identity import Identity
    from ui.annotate_tab import export_consensus

    client = client_of(live_app)
    made = create(client, pairs_file, overlap=1)
    item = client.predict(made["campaign"], made["token"], api_name="/next_item")
    client.predict(kind="score", anchor="", score=3.0, token=made["token"], campaign=made["campaign"],
                   item_id=item["item_id"], api_name="/flag")
    path, note = export_consensus(live_app.studio, Identity(made["user"]), made["campaign"], "scores", "csv", 0)
    assert Path(path).read_text(encoding="utf-8").count("\n") == 2 and "1 scores rows" in note
    with pytest.raises(PermissionError, match="only the campaign's creator and admins"):
        export_consensus(live_app.studio, Identity("anon:someoneelse"), made["campaign"], "scores", "csv", 0)
    admin_path, _ = export_consensus(live_app.studio, Identity("auth:root", is_admin=True), made["campaign"],
                                     "scores", "jsonl", None)
    assert admin_path.endswith(".jsonl")
