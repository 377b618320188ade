"""Who runs the model next: one batch at a time, the request with the least work left first.

``threading.Lock`` is neither fair nor FIFO: a thread that releases it usually takes it straight
back, so a request of hundreds of batches, holding the model for one batch at a time, would still
shut out a small request that arrived in the middle. ``FairScheduler`` hands the model out itself:

- every waiting batch carries its request's remaining work (padded tokens, this batch included);
- the smallest remaining request goes next (shortest remaining processing time keeps small calls
  fast), ties in the order the requests arrived;
- anti-starvation: a batch that has watched ``max_skips`` other batches run while it waited goes
  next, so a big request still advances under a continuous stream of small ones.

The model is free again when a turn's ``with`` block ends, however it ends. Turns do not nest: a
thread holding one must not ask for another.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# Under a continuous stream of small calls, a big request gets at least one batch in every
# DEFAULT_MAX_SKIPS + 1; a small call waits behind at most one big batch per turn. See
# benchmarks/results/load.json for the figures this value gave.
DEFAULT_MAX_SKIPS = 4


@dataclass(eq=False)
class _Waiter:
    remaining: int  # the request's tokens still to encode, this batch included
    arrival: int  # the request's place in arrival order (ties go to the earlier request)
    skips: int = 0  # batches that ran while this one waited


class Job:
    """One request's share of the model: its remaining work, and a turn for each of its batches."""

    def __init__(self, scheduler: FairScheduler, tokens: int, arrival: int):
        self._scheduler = scheduler
        self.remaining = tokens
        self.arrival = arrival

    @contextmanager
    def turn(self, tokens: int) -> Iterator[None]:
        """Wait for the model, hold it for the ``with`` block (one batch of ``tokens``), then free it."""
        with self._scheduler._turn(self.remaining, self.arrival):
            yield
        self.remaining = max(0, self.remaining - tokens)


class FairScheduler:
    """Grants the model to one batch at a time: smallest remaining request first, ties FIFO,
    and no batch passed over more than ``max_skips`` times."""

    def __init__(self, max_skips: int = DEFAULT_MAX_SKIPS):
        if max_skips < 0:
            raise ValueError(f"max_skips must be 0 or more, got {max_skips}")
        self.max_skips = max_skips
        self._cond = threading.Condition()
        self._busy = False
        self._waiting: list[_Waiter] = []
        self._arrivals = itertools.count()

    def job(self, tokens: int) -> Job:
        """A request about to run batches worth ``tokens`` in all; its arrival sets its place in ties."""
        with self._cond:
            return Job(self, tokens, next(self._arrivals))

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
    def _turn(self, remaining: int, arrival: int) -> Iterator[None]:
        me = _Waiter(remaining, arrival)
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
                other.skips += 1
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _next(self) -> _Waiter:
        starving = [w for w in self._waiting if w.skips >= self.max_skips]
        if starving:
            return min(starving, key=lambda w: (-w.skips, w.arrival))
        return min(self._waiting, key=lambda w: (w.remaining, w.arrival))
