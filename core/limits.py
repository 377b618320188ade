"""Server-side caps on what one request may ask for, whatever the client is.

They are checked on the server because the API bypasses the browser. Nothing heavy is imported, so any
layer (evaluation, campaigns, the UI) can check a limit without loading the app. ``CallGate`` caps how
many heavy calls one caller has working and waiting at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from core.errors import UserError, word

KIB = 2**10
MIB = 2**20


@dataclass
class Limits:
    """Server-side caps: per request, whatever the client is."""

    max_queries: int = 100
    max_passages: int = 1_000
    max_corpus: int = 5_000
    # Texts one clustering maps (the other tabs keep max_corpus): 50,000 draw in about 10 s (core/exploration/projection.py).
    max_cluster_texts: int = 50_000
    max_chars: int = 20_000
    upload_bytes: int = 5 * MIB  # "5 MiB" on the page; Gradio's own upload check counts in MiB too
    # Heavy calls (scoring, encoding ahead) one caller may have working at once, and waiting beyond
    # those (CallGate below): two keep the model busy while one call builds its answer.
    calls_running_per_user: int = 2
    calls_waiting_per_user: int = 16
    # Callers without an identity wait in their address's line, which many people may share (a proxy, an
    # office): it may hold as many as the app's whole queue did before (app.queue_settings' max_size).
    calls_waiting_per_address: int = 64
    # Models loaded from the page or the API beside the default (core.studio.Studio.load_model). Memory is
    # checked per load; this caps what one admin's clicks can pin even where memory is plentiful: every
    # model is scored in Evaluate's comparison, so four models already take four times one model's time.
    max_extra_models: int = 3

    def check_texts(self, texts: Sequence[str], cap: int, what: str) -> None:
        """``what`` names the texts for the message: a ``what_*`` key of core.errors.MESSAGES, less "what_"."""
        if not texts:
            raise UserError("no_texts", what=word("what", what))
        if len(texts) > cap:
            raise UserError("too_many_texts", count=len(texts), what=word("what", what), limit=cap)
        for i, text in enumerate(texts):
            if len(text) > self.max_chars:
                raise UserError("line_too_long", line=i + 1, what=word("what", what), length=len(text),
                                limit=self.max_chars)


@dataclass
class _Line:
    running: int = 0
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)


class CallGate:
    """Per-caller admission to heavy work: ``running`` calls at once, ``waiting`` more queued, the rest refused.

    Gradio hands an endpoint's calls to its handler in arrival order, up to the endpoint's concurrency
    limit, so ten big calls from one person sent first would hold every slot and a small call from
    someone else would wait behind all of them, however fair the model's scheduler
    (``core.encoding.scheduling.FairScheduler``) is once calls reach it. The heavy endpoints therefore take
    every call at once (no concurrency limit) in an ``async`` handler, and ``CallGate`` decides there:

    - at most ``running`` calls of one caller work at once; the scheduler shares the model between
      everyone's working calls batch by batch, smallest remaining first, so a small call goes next;
    - up to ``waiting`` more of that caller's calls wait their turn on the event loop, holding no worker
      thread, and start in the order they came;
    - a call beyond that, or beyond ``waiting_total`` waiting calls of everyone, is refused at once with a
      message that says why, instead of filling the server's queue.

    A caller is whatever key the handler gives: a user name when it knows one, else the client's
    address (callers it cannot tell apart share one line). All of it runs on one event loop (Gradio's),
    so nothing here takes a lock.
    """

    def __init__(self, running: int = 2, waiting: int = 16, waiting_total: int = 256):
        if running < 1 or waiting < 0 or waiting_total < 0:
            raise ValueError(f"running must be 1 or more, waiting and waiting_total 0 or more; got {running}, "
                             f"{waiting}, {waiting_total}")
        self.running = running
        self.waiting = waiting
        self.waiting_total = waiting_total
        self._lines: dict[str, _Line] = {}
        self._waiting_now = 0

    def running_for(self, caller: str) -> int:
        """``caller``'s calls working now (for tests and monitoring)."""
        line = self._lines.get(caller)
        return line.running if line else 0

    def waiting_for(self, caller: str) -> int:
        """``caller``'s calls waiting for a turn now."""
        line = self._lines.get(caller)
        return len(line.waiting) if line else 0

    @asynccontextmanager
    async def admit(self, caller: str, waiting: int | None = None) -> AsyncIterator[None]:
        """Wait for ``caller``'s turn, hold it for the ``async with`` block, then pass it on.

        ``waiting``: this line's own limit on waiting calls instead of the gate's (say, for a line that
        several people share). Raises ``UserError`` at once when the caller already has as many calls
        waiting as allowed (``too_many_calls``), or everyone has (``server_busy``)."""
        line = self._lines.setdefault(caller, _Line())
        if line.running < self.running and not line.waiting:
            line.running += 1
        else:
            if len(line.waiting) >= (self.waiting if waiting is None else waiting):
                raise UserError("too_many_calls", running=line.running, waiting=len(line.waiting))
            if self._waiting_now >= self.waiting_total:
                raise UserError("server_busy", waiting=self._waiting_now)
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            line.waiting.append(turn)
            self._waiting_now += 1
            try:
                await turn  # _release hands a finishing call's place over: ``running`` stays as it is
            except BaseException:  # cancelled (the client went away) while waiting
                if turn in line.waiting:
                    line.waiting.remove(turn)
                    self._waiting_now -= 1
                    self._forget_if_idle(caller, line)
                elif turn.done() and not turn.cancelled():
                    self._release(caller)  # the place was handed over just as it was cancelled: pass it on
                raise
        try:
            yield
        finally:
            self._release(caller)

    def _release(self, caller: str) -> None:
        line = self._lines[caller]
        while line.waiting:
            turn = line.waiting.popleft()
            self._waiting_now -= 1
            if not turn.done():
                turn.set_result(None)
                return
        line.running -= 1
        self._forget_if_idle(caller, line)

    def _forget_if_idle(self, caller: str, line: _Line) -> None:
        if not line.running and not line.waiting and self._lines.get(caller) is line:
            del self._lines[caller]
