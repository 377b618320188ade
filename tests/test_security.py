"""The attacker's view: learn everything public about user A, then try every handler as A.

Every event handler of the app is called three ways an attacker can reach it: the public API
(gradio_client), ``/gradio_api/call/<api_name>`` (private handlers too) and ``queue/join`` by
``fn_index``, with A's displayed id turned into a session hash and passed wherever a text, a token or
a record id goes. A's judgments must be unchanged afterwards, and none of A's texts, comments or
token may come back. A control run with A's real token shows that the same calls do reach A's data,
so the test can fail.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

TIMEOUT_S = 60
SWEEP_BATCH = 8  # events a session has in flight at once


@pytest.fixture(scope="module")
def target(tiny_model_dir, tmp_path_factory):
    """A fresh app whose only judgments are user A's, made through the public API."""
    from tests.app_server import start_app, stop_app

    live = start_app(tiny_model_dir, tmp_path_factory.mktemp("security-data"), warm_projection=False)
    client = Client(live.url, verbose=False)
    secret = f"секрет-{uuid.uuid4().hex}"
    first = client.predict("relevant", f"{secret} вопрос", f"{secret} ответ", "", None, "", f"{secret} комментарий",
                           "query: ", "passage: ", "api", "", api_name="/flag")
    token = first["token"]
    ids = [first["id"]]
    for kind, extra in (("score", {"score": 4.0}), ("label", {"label": f"{secret} метка"})):
        answer = client.predict(kind, f"{secret} {kind}", f"{secret} другой текст" if kind == "score" else "", "",
                                extra.get("score"), extra.get("label", ""), "", "", "", "api", token,
                                api_name="/flag")
        assert answer["user"] == first["user"]
        ids.append(answer["id"])
    yield {"live": live, "user": first["user"], "token": token, "ids": ids, "secret": secret}
    stop_app(live)


def a_rows(live, user):
    return live.store.rows(user=user)


def component_types(config: dict) -> dict[int, dict]:
    return {c["id"]: c for c in config["components"]}


def attack_inputs(dependency: dict, components: dict[int, dict], text: str, number: int) -> list:
    """Values for every input: the attacker's text (A's id) wherever a string or token goes, A's record id
    wherever a number goes, and each component's default elsewhere."""
    values = []
    for component_id in dependency["inputs"]:
        component = components.get(component_id, {})
        kind, props = component.get("type"), component.get("props", {})
        if kind in ("textbox", "browserstate", "api"):
            values.append(text)
        elif kind == "number":
            values.append(number)
        elif kind in ("state", "file"):
            values.append(None)
        else:
            values.append(props.get("value"))
    return values


def queue_join(url: str, calls: list[tuple[int, list]], session_hash: str) -> list[str]:
    """Send events as the browser does, several at once in one session; for each, everything the server
    streamed back, as text (lines of no event go to every answer)."""
    with httpx.Client(timeout=TIMEOUT_S) as http:
        answers: list[list[str]] = [[] for _ in calls]
        pending: dict[str, int] = {}
        for place, (fn_index, data) in enumerate(calls):
            joined = http.post(url + "gradio_api/queue/join", json={
                "data": data, "fn_index": fn_index, "session_hash": session_hash, "event_data": None,
                "trigger_id": None})
            if joined.status_code != 200:
                answers[place].append(joined.text)
            else:
                pending[joined.json().get("event_id")] = place
        shared: list[str] = []
        if pending:
            with http.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
                for line in stream.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    message = json.loads(line[5:])
                    event_id = message.get("event_id")
                    if event_id in pending:
                        answers[pending[event_id]].append(line)
                        if message.get("msg") == "process_completed":
                            del pending[event_id]
                    else:
                        shared.append(line)
                    if not pending or message.get("msg") == "close_stream":
                        break
        return ["\n".join(answer + shared) for answer in answers]


def call_by_name(url: str, api_name: str, data: list) -> str:
    """POST /gradio_api/call/<name>, then read its result stream; returns all text the server sent."""
    with httpx.Client(timeout=TIMEOUT_S) as http:
        posted = http.post(f"{url}gradio_api/call/{api_name}", json={"data": data})
        if posted.status_code != 200:
            return posted.text
        event_id = posted.json()["event_id"]
        return http.get(f"{url}gradio_api/call/{api_name}/{event_id}").text


@pytest.mark.slow
def test_attacker_cannot_act_as_or_read_user_a(target):
    live, user, ids, secret = target["live"], target["user"], target["ids"], target["secret"]
    before = a_rows(live, user)
    assert len(before) == 3
    # What is public about A: the displayed id (in A's answers and, for admins, tables) and record ids.
    hashes = [user, user.split(":", 1)[1]]
    config_text = httpx.get(live.url + "config", timeout=TIMEOUT_S).text
    for server_path in (str(live.data_dir), str(live.store.path), live.studio.encoder.model_id):
        assert server_path not in config_text, f"the page shows the server path {server_path}"
    config = json.loads(config_text)
    components = component_types(config)
    dependencies = config["dependencies"]
    assert len(dependencies) > 20  # every handler of every tab is in the list

    # Every distinct request once: A's other record ids only change the handlers that take a number, and
    # /gradio_api/call has no session, so it is called once per handler (the same calls as before, less
    # their exact repeats).
    # Almost 500 calls, most answered at once but each waiting about 0.2 s for the queue's round trip:
    # each session sends its events in batches, as a browser does, and the sessions and the calls by
    # name go side by side.
    by_session: dict[str, list[tuple[int, list]]] = {session_hash: [] for session_hash in hashes}
    by_name: list[Callable[[], str]] = []
    for session_hash in hashes:
        for record in ids:
            for fn_index, dependency in enumerate(dependencies):
                data = attack_inputs(dependency, components, user, record)
                if record != ids[0] and data == attack_inputs(dependency, components, user, ids[0]):
                    continue
                by_session[session_hash].append((fn_index, data))
                if dependency.get("api_name") and session_hash == hashes[0] and record == ids[0]:
                    by_name.append(partial(call_by_name, live.url, dependency["api_name"], data))

    def in_batches(session_hash: str) -> list[str]:
        events = by_session[session_hash]
        return [answer for start in range(0, len(events), SWEEP_BATCH)
                for answer in queue_join(live.url, events[start:start + SWEEP_BATCH], session_hash)]

    with ThreadPoolExecutor(max_workers=len(hashes) + 1) as pool:
        sessions = [pool.submit(in_batches, session_hash) for session_hash in hashes]
        named = pool.submit(lambda: [call() for call in by_name])
        answers = [answer for session in sessions for answer in session.result()] + named.result()
    assert a_rows(live, user) == before, "queue/join or /gradio_api/call changed A's judgments"

    # The public API as gradio_client sees it, with the attacker's own session.
    client = Client(live.url, verbose=False)
    for record in ids:
        for token in ("", user, hashes[1], target["token"][:-4] + "AAAA"):
            with pytest.raises(AppError) as refused:
                client.predict(record, token, api_name="/delete_judgment")
            answers.append(str(refused.value))
    with pytest.raises(AppError) as refused:
        client.predict("relevant", "подделка", "от имени A", "", None, "", "", "", "", "api", user, api_name="/flag")
    assert "not issued by this server" in str(refused.value)

    assert a_rows(live, user) == before, "the attacker changed A's judgments"
    everything = "\n".join(answers)
    assert secret not in everything, "one of A's texts came back to the attacker"
    assert target["token"] not in everything
    assert str(live.store.path) not in everything and str(live.data_dir) not in everything
    assert "Traceback" not in everything
    # The attacker's own calls did reach the handlers (they were refused or answered, not ignored).
    assert "not issued by this server" in everything and "process_completed" in everything


def test_the_same_calls_with_a_real_token_do_reach_a_data(target):
    """Control: A's own token deletes A's record through the same public endpoint."""
    live, user, ids = target["live"], target["user"], target["ids"]
    client = Client(live.url, verbose=False)
    answer = client.predict(ids[-1], target["token"], api_name="/delete_judgment")
    assert answer["deleted"] == ids[-1] and answer["user"] == user
    assert len(a_rows(live, user)) == 2
    with pytest.raises(AppError, match=f"there is no judgment #{ids[-1]}"):
        client.predict(ids[-1], target["token"], api_name="/delete_judgment")


def test_another_users_record_is_refused_with_a_clear_message(target):
    live, ids = target["live"], target["ids"]
    client = Client(live.url, verbose=False)
    their_row = live.store.get(ids[0])
    mine = client.predict("similar", "моя пара", "моя вторая", "", None, "", "", "", "", "api", "", api_name="/flag")
    with pytest.raises(AppError, match=f"judgment #{ids[0]} is not yours, so you cannot delete it"):
        client.predict(ids[0], mine["token"], api_name="/delete_judgment")
    with pytest.raises(AppError, match="there is no judgment #999999"):
        client.predict(999_999, mine["token"], api_name="/delete_judgment")
    with pytest.raises(AppError, match="ids are whole numbers"):
        client.predict(1e30, mine["token"], api_name="/delete_judgment")
    assert live.store.get(ids[0]) == their_row  # refused three ways, and left as it was
