"""A server that stays healthy for weeks: exports expire, session copies are dropped, every handler
turns exceptions into messages. (Figures over real bursts of requests: benchmarks/health.py.)"""

from __future__ import annotations

import datetime
import logging
import os
import time

import pytest

from core.tempfiles import TempFiles
from ui.sessions import SessionJanitor


def test_temp_files_are_swept_after_their_ttl(tmp_path):
    files = TempFiles(tmp_path / "out", ttl_s=60)
    old = files.new_folder("export")
    (old / "a.csv").write_text("x" * 1000)
    past = time.time() - 61
    os.utime(old, (past, past))
    fresh = files.new_folder("export")  # sweeps first: the old folder goes, the new one stays
    assert not old.exists() and fresh.is_dir()
    (fresh / "b.csv").write_text("y" * 10)
    assert files.size_bytes() == 10
    assert files.sweep(now=time.time() + 61) == 1 and files.size_bytes() == 0
    files.clear()
    assert not files.root.exists()
    with pytest.raises(ValueError):
        TempFiles(tmp_path, ttl_s=-1)


class FakeSession:
    def __init__(self, value):
        self.config_values = {1: {"props": {"value": value}}, 2: {"props": {}}, 3: {"id": 3}}


class FakeHolder:
    """The parts of gradio's StateHolder the janitor touches."""

    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self.session_data = {}
        self.time_last_used = {}
        self.deleted = []

    def add(self, name, idle_s, value="big" * 1000):
        self.session_data[name] = FakeSession(value)
        self.time_last_used[name] = datetime.datetime.now() - datetime.timedelta(seconds=idle_s)

    def delete_state(self, name):
        self.deleted.append(name)


def test_janitor_drops_copies_of_idle_sessions_and_forgets_old_ones():
    holder = FakeHolder()
    holder.add("active", idle_s=5)
    holder.add("idle", idle_s=120)
    holder.add("gone", idle_s=7200)
    janitor = SessionJanitor(values_idle_s=60, session_ttl_s=3600)
    result = janitor.sweep(holder)
    assert (result.cleared, result.forgotten) == (1, 1)
    assert holder.session_data["active"].config_values[1]["props"]["value"] == "big" * 1000
    assert holder.session_data["idle"].config_values[1]["props"]["value"] is None
    assert "gone" not in holder.session_data and "gone" not in holder.time_last_used and holder.deleted == ["gone"]
    assert janitor.sweep(holder).cleared == 0  # nothing left to drop
    with pytest.raises(ValueError):
        SessionJanitor(interval_s=0)


def test_a_session_whose_copies_were_dropped_still_judges(live_app, api_client):
    """Dropping Gradio's per-session copies must not break the session: its gr.State stays."""
    from gradio_client import Client

    client = Client(live_app.url, verbose=False)
    client.predict("Есть ли нефть?", "Нефть есть.\nБорщ.", "query", "passage", api_name="/similarity")
    holder = live_app.app.state_holder
    result = SessionJanitor(values_idle_s=1e-6).sweep(holder, now=datetime.datetime.now() + datetime.timedelta(seconds=1))
    assert result.cleared >= 1
    again = client.predict("Есть ли нефть?", "Нефть есть.", "query", "passage", api_name="/similarity")
    assert again[3]  # a status line came back


def test_every_event_handler_turns_exceptions_into_messages(live_app):
    """No handler may let an exception reach gradio (which would send its text, or a traceback, to the client)."""
    handlers = [block_fn for block_fn in live_app.app.fns.values() if block_fn.fn is not None]
    unwrapped = [block_fn.name for block_fn in handlers if not getattr(block_fn.fn, "handles_errors", False)]
    assert not unwrapped, f"handlers without user_errors: {unwrapped}"
    # Events with no Python function (the language switch runs only in the page) have nothing to wrap.
    assert len(handlers) > 20


def test_unexpected_errors_are_logged_with_a_reference_and_hidden_from_the_client(caplog):
    import csv

    import gradio as gr

    from ui.common import user_errors

    @user_errors
    def broken():
        raise ZeroDivisionError("secret internals at /srv/app/core.py")

    with caplog.at_level(logging.INFO, logger="user_studio.ui"), pytest.raises(gr.Error) as caught:
        broken()
    message = caught.value.message
    assert "reference" in message and "secret internals" not in message and "/srv" not in message
    reference = message.split("reference ")[1].split(")")[0]
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback is in the server's log

    @user_errors
    def refused(error):
        raise error

    for error, expected in [(ValueError("got 'abc'"), "got 'abc'"), (KeyError("text"), "missing value: text"),
                            (csv.Error("field larger than field limit"), "field larger than field limit"),
                            (OverflowError("Python int too large"), "Python int too large"),
                            (ValueError("<b>x</b>"), "&lt;b&gt;x&lt;/b&gt;")]:
        with pytest.raises(gr.Error) as caught:
            refused(error)
        assert caught.value.message == expected  # quotes kept, markup escaped
