"""FairScheduler: one batch at a time, smallest remaining request first, ties FIFO, no starvation.

Each test holds the model in one turn, lines the other threads up behind it (``scheduler.waiting``
says when they all wait), then lets go: from there the order is the rule's alone, not the threads'
timing.
"""

from __future__ import annotations

import threading
import time

import pytest

from core.encoding.scheduling import FairScheduler, ModelShare

TIMEOUT_S = 10.0


def wait_for(condition, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the threads to line up")
        time.sleep(0.001)


def take_turns(job: ModelShare, name: str, log: list[str]) -> threading.Thread:
    """Run the whole job as one batch in a new thread, logging its name when it has the model."""
    def run() -> None:
        with job.turn(job.remaining):
            log.append(name)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def hold(scheduler: FairScheduler) -> tuple[threading.Event, threading.Thread]:
    """A thread that holds the model until the returned event is set."""
    release, holding = threading.Event(), threading.Event()

    def run() -> None:
        with scheduler.share(1).turn(1):
            holding.set()
            release.wait(TIMEOUT_S)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert holding.wait(TIMEOUT_S)
    return release, thread


def line_up(scheduler: FairScheduler, jobs: list[tuple[str, int]], log: list[str]) -> list[threading.Thread]:
    """One thread per (name, tokens), each waiting before the next starts: arrival order is the list's."""
    threads = []
    for name, tokens in jobs:
        threads.append(take_turns(scheduler.share(tokens), name, log))
        waiting = len(threads)
        wait_for(lambda n=waiting: scheduler.waiting == n)
    return threads


def join_all(*threads: threading.Thread) -> None:
    for thread in threads:
        thread.join(TIMEOUT_S)
        assert not thread.is_alive(), "a thread is still waiting for the model"


def test_smallest_remaining_request_goes_first_ties_in_arrival_order():
    scheduler = FairScheduler(max_wait_tokens=10**9)
    release, holder = hold(scheduler)
    log: list[str] = []
    threads = line_up(scheduler, [("big", 5_000), ("medium-1", 300), ("medium-2", 300), ("small", 20)], log)
    release.set()
    join_all(holder, *threads)
    assert log == ["small", "medium-1", "medium-2", "big"]


def test_requests_within_one_quantum_keep_their_arrival_order():
    scheduler = FairScheduler(max_wait_tokens=10**9, quantum=512)
    release, holder = hold(scheduler)
    log: list[str] = []
    threads = line_up(scheduler, [("big", 5_000), ("small-400", 400), ("small-20", 20), ("two-batches", 600)], log)
    release.set()
    join_all(holder, *threads)
    assert log == ["small-400", "small-20", "two-batches", "big"]


def test_a_thread_that_frees_the_model_gets_no_head_start():
    """The big request asks again the moment its batch ends; the small ones waiting still go first."""
    scheduler = FairScheduler(max_wait_tokens=10**9)
    log: list[str] = []
    first_batch, smalls_waiting = threading.Event(), threading.Event()
    big = scheduler.share(3_000)

    def run_big() -> None:
        for i in range(3):
            with big.turn(1_000):
                log.append(f"big-{i}")
                if i == 0:
                    first_batch.set()
                    smalls_waiting.wait(TIMEOUT_S)

    big_thread = threading.Thread(target=run_big, daemon=True)
    big_thread.start()
    assert first_batch.wait(TIMEOUT_S)
    smalls = [take_turns(scheduler.share(50), f"small-{i}", log) for i in range(2)]
    wait_for(lambda: scheduler.waiting == 2)
    smalls_waiting.set()
    join_all(big_thread, *smalls)
    assert log == ["big-0", "small-0", "small-1", "big-1", "big-2"]


def test_a_batch_passed_over_by_enough_work_goes_next():
    scheduler = FairScheduler(max_wait_tokens=15)
    release, holder = hold(scheduler)
    log: list[str] = []
    threads = line_up(scheduler, [("big", 5_000), ("small-1", 10), ("small-2", 10), ("small-3", 10)], log)
    release.set()
    join_all(holder, *threads)
    # small-1 and small-2 run (20 tokens of work while big waited, over 15): big goes before small-3.
    assert log == ["small-1", "small-2", "big", "small-3"]


def test_big_request_finishes_under_a_continuous_stream_of_small_ones():
    max_wait_tokens, small_tokens = 30, 10
    scheduler = FairScheduler(max_wait_tokens=max_wait_tokens)
    log: list[str] = []
    big_done = threading.Event()

    def run_big() -> None:
        job = scheduler.share(20 * 1_000)
        for _ in range(20):
            with job.turn(1_000):
                log.append("big")
                time.sleep(0.001)
        big_done.set()

    def small_stream() -> None:
        for _ in range(2_000):  # bounded: far more than the big request needs to finish
            if big_done.is_set():
                return
            with scheduler.share(small_tokens).turn(small_tokens):
                log.append("small")
                time.sleep(0.001)

    streams = [threading.Thread(target=small_stream, daemon=True) for _ in range(3)]
    for thread in streams:
        thread.start()
    wait_for(lambda: len(log) >= 10)  # the small stream is flowing before the big request arrives
    big = threading.Thread(target=run_big, daemon=True)
    big.start()
    join_all(big, *streams)
    assert log.count("big") == 20
    first, last = log.index("big"), len(log) - 1 - log[::-1].index("big")
    runs_between = [len(gap) for gap in "".join("b" if x == "big" else "s" for x in log[first:last + 1]).split("b")]
    # While it waits, small batches run until their work reaches max_wait_tokens (3 of them), plus
    # one that may slip in between the big request's batches, before it asks again.
    assert max(runs_between) <= max_wait_tokens // small_tokens + 1
    assert sum(runs_between) > 0, "the small stream should have overtaken the big request"


def test_an_exception_in_a_turn_frees_the_model():
    scheduler = FairScheduler(max_wait_tokens=1_000)
    release, holder = hold(scheduler)
    log: list[str] = []
    errors: list[Exception] = []

    def failing() -> None:
        try:
            with scheduler.share(10).turn(10):
                raise RuntimeError("backend failed")
        except RuntimeError as error:
            errors.append(error)

    failer = threading.Thread(target=failing, daemon=True)
    failer.start()
    wait_for(lambda: scheduler.waiting == 1)
    waiter = take_turns(scheduler.share(100), "after", log)
    wait_for(lambda: scheduler.waiting == 2)
    release.set()
    join_all(holder, failer, waiter)
    assert len(errors) == 1 and log == ["after"] and not scheduler.busy


def test_remaining_work_shrinks_batch_by_batch():
    scheduler = FairScheduler(max_wait_tokens=1_000)
    job = scheduler.share(300)
    for expected in (200, 100, 0):
        with job.turn(100):
            assert scheduler.busy
        assert job.remaining == expected and not scheduler.busy


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError, match="max_wait_tokens"):
        FairScheduler(max_wait_tokens=-1)
    with pytest.raises(ValueError, match="quantum"):
        FairScheduler(max_wait_tokens=10, quantum=0)
