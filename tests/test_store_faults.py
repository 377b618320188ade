"""A database that goes away mid-run (issue 22, point 7): users get a clear "try again", the app keeps
serving what needs no database, reconnects by itself, and nothing acknowledged is lost.

One live app on one PostgreSQL server of this module's own (the test stops and starts it, which the
session's shared server must never be)."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

import pytest

from core.errors import MESSAGES
from tests.postgres import PostgresServer
from ui.i18n.errors import MESSAGES_RU

UNAVAILABLE = MESSAGES["store_unavailable"]


@pytest.fixture(scope="module")
def server():
    from tests.pg_fixtures import require_postgres

    require_postgres()
    with PostgresServer() as pg:
        pg.create_database("faults")
        yield pg


@pytest.fixture(scope="module")
def live(server, tiny_model_dir, tmp_path_factory):
    from gradio_client import Client

    from tests.app_server import start_app, stop_app

    app = start_app(tiny_model_dir, tmp_path_factory.mktemp("faults-data"), warm_projection=False,
                    store=server.url("faults"))
    try:
        yield app, Client(app.url, verbose=False)
    finally:
        stop_app(app)


def flag(client, anchor: str) -> dict:
    return client.predict("similar", anchor, "кот", "", None, "", "", "", "", "api", "", api_name="/flag")


def health(url: str) -> dict:
    with urllib.request.urlopen(url + "health", timeout=10) as response:  # noqa: S310 (local URL)
        return json.loads(response.read())


def error_of(call) -> str:
    with pytest.raises(Exception) as info:  # noqa: PT011 (gradio_client raises AppError; its text matters)
        call()
    return str(info.value)


def test_the_try_again_message_exists_in_russian():
    assert "попробуйте ещё раз" in MESSAGES_RU["store_unavailable"]


def test_connections_ended_by_the_server_are_replaced_without_an_error(live, server):
    app, client = live
    first = flag(client, "кошка 1")["id"]
    # An administrator (or a failover) ends every connection of the app: the pool's pre-ping notices.
    server.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE datname = 'faults' AND pid <> pg_backend_pid()")
    second = flag(client, "кошка 2")["id"]
    assert second != first and app.store.get(first) is not None and app.store.get(second) is not None


def test_a_stopped_database_says_try_again_keeps_exploring_and_comes_back_by_itself(live, server, caplog):
    app, client = live
    stored_before = app.store.count()  # the module's other test may have run first (pytest-randomly)
    acknowledged = [flag(client, f"собака {i}")["id"] for i in range(3)]
    assert health(app.url)["database"] == "ok"
    server.pause()
    try:
        caplog.set_level(logging.INFO)
        for attempt in range(3):
            message = error_of(lambda a=attempt: flag(client, f"во время простоя {a}"))
            assert UNAVAILABLE in message and "Traceback" not in message
        # What needs no database still answers; the load balancer hears that the database is away.
        assert client.predict("Москва", "столица России", "query", "passage", api_name="/similarity")
        assert health(app.url) == {"status": "ok", "database": "unavailable"}
        # Three refused calls, three short lines in the server log: no traceback per retry.
        tracebacks = [r for r in caplog.records if r.exc_info]
        assert len(tracebacks) == 1, [r.getMessage() for r in tracebacks]
        assert "is not answering" in tracebacks[0].getMessage()
    finally:
        server.resume()
    # No restart of the app: its next judgment goes through, and every acknowledged one is still there.
    after = flag(client, "после простоя")["id"]
    assert health(app.url)["database"] == "ok"
    for rid in [*acknowledged, after]:
        assert app.store.get(rid) is not None, f"acknowledged judgment {rid} is missing"
    assert app.store.count() == stored_before + len({*acknowledged, after})  # nothing from the outage
