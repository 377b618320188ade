"""Keep per-session memory bounded on a server that runs for weeks.

Gradio keeps, for every session, a copy of the last value of every input and output component
(``SessionState.config_values``, used only for deep links) plus its ``gr.State`` values, until 10,000
sessions have come after it. An API client that sent one 100 x 1,000 similarity request held about
170 MB that way, forever. The janitor drops those copies once a session has been idle for a minute
(the tabs' own ``gr.State`` stays, so a user who comes back can still judge), forgets sessions idle
for longer than ``session_ttl_s``, and hands freed memory back to the operating system. It also
deletes the app's expired export files (see core/tempfiles.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime
import logging
import threading
import weakref
from dataclasses import dataclass

import gradio as gr

from core.tempfiles import TempFiles

log = logging.getLogger("user_studio.sessions")


def _libc_malloc_trim() -> None:
    """glibc keeps freed heap pages; malloc_trim returns them. A no-op where there is no glibc."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


@dataclass
class SweepResult:
    cleared: int = 0  # sessions whose component copies were dropped
    forgotten: int = 0  # sessions removed entirely


class SessionJanitor:
    """Sweeps a running app's session store every ``interval_s`` seconds, in a daemon thread."""

    def __init__(self, *, interval_s: float = 30.0, values_idle_s: float = 60.0,
                 session_ttl_s: float = 3_600.0) -> None:
        if min(interval_s, values_idle_s, session_ttl_s) <= 0:
            raise ValueError("interval_s, values_idle_s and session_ttl_s must be positive")
        self.interval_s = interval_s
        self.values_idle_s = values_idle_s
        self.session_ttl_s = session_ttl_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self, app: gr.Blocks, files: TempFiles | None = None) -> None:
        """Start sweeping ``app`` (and the expired ``files``) once it is launched; the thread ends when the
        app is gone."""
        app_ref = weakref.ref(app)

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                blocks = app_ref()
                if blocks is None:
                    return
                holder = getattr(blocks, "state_holder", None)
                if holder is None or not getattr(blocks, "is_running", True):
                    continue
                try:
                    self.sweep(holder)
                    if files is not None:
                        files.sweep()
                except Exception:  # never let housekeeping take the server down
                    log.exception("session sweep failed")

        self._thread = threading.Thread(target=loop, name="user-studio-session-janitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def sweep(self, holder, now: datetime.datetime | None = None) -> SweepResult:
        """One pass over Gradio's StateHolder."""
        now = now or datetime.datetime.now()
        result = SweepResult()
        for session_id in list(holder.session_data):
            last_used = holder.time_last_used.get(session_id)
            idle = (now - last_used).total_seconds() if last_used else float("inf")
            if idle > self.session_ttl_s:
                holder.delete_state(session_id)  # runs the State delete callbacks
                with holder.lock:
                    holder.session_data.pop(session_id, None)
                    holder.time_last_used.pop(session_id, None)
                result.forgotten += 1
            elif idle > self.values_idle_s and _drop_component_copies(holder.session_data.get(session_id)):
                result.cleared += 1
        if result.cleared or result.forgotten:
            _libc_malloc_trim()
            log.info("session sweep: dropped component copies of %d sessions, forgot %d", result.cleared,
                     result.forgotten)
        return result


def _drop_component_copies(session) -> bool:
    """Forget the values Gradio copied into a session's config; True if there was anything to drop."""
    dropped = False
    for config in getattr(session, "config_values", {}).values():
        props = config.get("props") if isinstance(config, dict) else None
        if props and props.get("value") is not None:
            props["value"] = None
            dropped = True
    return dropped
