"""Who runs the model next: one batch at a time, the request with the least work left first.

``threading.Lock`` is neither fair nor FIFO: a thread that releases it usually takes it straight
back, so a request of hundreds of batches, holding the model for one batch at a time, would still
shut out a small request that arrived in the middle. ``FairScheduler`` hands the model out itself:

- every waiting batch carries its request's remaining work (padded tokens, this batch included);
- the smallest remaining request goes next (shortest remaining processing time keeps small calls
  fast), ties in the order the requests arrived. Remaining work is counted in whole ``quantum``s
  (the encoder's batch budget): requests that fit in one batch all tie and keep their arrival
  order, since reordering them gains nothing and only spreads their latencies;
- anti-starvation: a batch that has watched ``max_wait_tokens`` of other batches' work run while
  it waited goes next. Under a continuous stream of small requests a big one therefore still gets
  at least batch / (batch + max_wait_tokens) of the model's work, whatever the batch sizes.

The model is free again when a turn's ``with`` block ends, however it ends. Turns do not nest: a
thread holding one must not ask for another.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(eq=False)
class _Waiter:
    remaining: int  # the request's tokens still to encode, this batch included
    arrival: int  # the request's place in arrival order (ties go to the earlier request)
    tokens: int  # this batch's tokens
    passed: int = 0  # tokens of other batches that ran while this one waited


class ModelShare:
    """One request's share of the model: its remaining work, and a turn for each of its batches."""

    def __init__(self, scheduler: FairScheduler, tokens: int, arrival: int):
        self._scheduler = scheduler
        self.remaining = tokens
        self.arrival = arrival

    @contextmanager
    def turn(self, tokens: int) -> Iterator[None]:
        """Wait for the model, hold it for the ``with`` block (one batch of ``tokens``), then free it."""
        with self._scheduler._turn(_Waiter(self.remaining, self.arrival, tokens)):
            yield
        self.remaining = max(0, self.remaining - tokens)


class FairScheduler:
    """Grants the model to one batch at a time: smallest remaining request first (in ``quantum``s of
    tokens), ties FIFO, and no batch kept waiting while more than ``max_wait_tokens`` of other work runs."""

    def __init__(self, max_wait_tokens: int, quantum: int = 1):
        if max_wait_tokens < 0 or quantum < 1:
            raise ValueError(f"max_wait_tokens must be 0 or more and quantum 1 or more, got {max_wait_tokens}, "
                             f"{quantum}")
        self.max_wait_tokens = max_wait_tokens
        self.quantum = quantum
        self._cond = threading.Condition()
        self._busy = False
        self._waiting: list[_Waiter] = []
        self._arrivals = itertools.count()

    def share(self, tokens: int) -> ModelShare:
        """A request about to run batches worth ``tokens`` in all; its arrival sets its place in ties."""
        with self._cond:
            return ModelShare(self, tokens, next(self._arrivals))

    @property
    def waiting(self) -> int:
        """Batches waiting for the model now (for tests and monitoring)."""
        with self._cond:
            return len(self._waiting)

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._busy

    @contextmanager
    def _turn(self, me: _Waiter) -> Iterator[None]:
        with self._cond:
            self._waiting.append(me)
            try:
                # The next holder is decided by the rule, under the lock, whoever wakes first: a
                # thread that has just freed the model and asks again gets no head start.
                while self._busy or self._next() is not me:
                    self._cond.wait()
            except BaseException:  # interrupted while waiting: it may have been next in line
                self._waiting.remove(me)
                self._cond.notify_all()
                raise
            self._waiting.remove(me)
            for other in self._waiting:
                other.passed += me.tokens
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _next(self) -> _Waiter:
        starving = [w for w in self._waiting if w.passed >= self.max_wait_tokens]
        if starving:
            return min(starving, key=lambda w: (-w.passed, w.arrival))
        return min(self._waiting, key=lambda w: (-(-w.remaining // self.quantum), w.arrival))
