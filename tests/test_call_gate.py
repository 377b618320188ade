"""core.limits.CallGate: a few calls per caller at once, the rest wait in order, beyond that a clear refusal.

Each test runs on one event loop, as the app's handlers do; ``settle`` lets every ready task run.
"""

from __future__ import annotations

import asyncio

import pytest

from core.errors import UserError
from core.limits import CallGate


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def hold(gate: CallGate, caller: str, release: asyncio.Event, log: list[str], name: str) -> None:
    async with gate.admit(caller):
        log.append(name)
        await release.wait()


def test_it_validates_its_settings():
    with pytest.raises(ValueError, match="running must be 1 or more"):
        CallGate(running=0)
    with pytest.raises(ValueError, match="waiting"):
        CallGate(waiting=-1)


def test_one_callers_burst_waits_in_order_and_another_caller_goes_at_once():
    async def scenario() -> None:
        gate = CallGate(running=2, waiting=16)
        release = asyncio.Event()
        log: list[str] = []
        burst = [asyncio.create_task(hold(gate, "user a", release, log, f"a{i}")) for i in range(10)]
        await settle()
        assert log == ["a0", "a1"]
        assert (gate.running_for("user a"), gate.waiting_for("user a")) == (2, 8)
        other_release = asyncio.Event()
        other = asyncio.create_task(hold(gate, "user b", other_release, log, "b"))
        await settle()
        assert log[-1] == "b" and gate.running_for("user b") == 1  # not behind a's eight waiting calls
        other_release.set()
        await other
        assert gate.running_for("user b") == 0
        release.set()
        await asyncio.gather(*burst)
        assert log == ["a0", "a1", "b", *(f"a{i}" for i in range(2, 10))]  # a's calls in the order they came
        assert (gate.running_for("user a"), gate.waiting_for("user a")) == (0, 0)
        assert gate._lines == {} and gate._waiting_now == 0  # nothing kept for callers who are done

    asyncio.run(scenario())


def test_a_call_past_the_waiting_limit_is_refused_at_once_with_the_reason():
    async def scenario() -> None:
        gate = CallGate(running=1, waiting=2)
        release = asyncio.Event()
        log: list[str] = []
        tasks = [asyncio.create_task(hold(gate, "user a", release, log, f"a{i}")) for i in range(3)]
        await settle()
        with pytest.raises(UserError) as refused:
            async with gate.admit("user a"):
                pass
        assert refused.value.message.key == "too_many_calls"
        assert "1 calls working and 2 waiting" in str(refused.value)
        async with asyncio.timeout(1):  # someone else is not refused
            other = asyncio.create_task(hold(gate, "user b", asyncio.Event(), log, "b"))
            await settle()
            assert log[-1] == "b"
        other.cancel()
        release.set()
        await asyncio.gather(*tasks)
        assert log == ["a0", "b", "a1", "a2"]

    asyncio.run(scenario())


def test_everyones_waiting_calls_have_a_ceiling_too():
    async def scenario() -> None:
        gate = CallGate(running=1, waiting=5, waiting_total=2)
        release = asyncio.Event()
        log: list[str] = []
        tasks = [asyncio.create_task(hold(gate, who, release, log, who)) for who in ("a", "a", "b", "b")]
        await settle()
        with pytest.raises(UserError) as refused:
            async with gate.admit("a"):  # a third call of a's would wait: two wait already, the most in all
                pass
        assert refused.value.message.key == "server_busy"
        async with gate.admit("c"):  # a caller with nothing running does not wait, so it goes in
            assert gate.running_for("c") == 1
        release.set()
        await asyncio.gather(*tasks)

    asyncio.run(scenario())


def test_a_waiting_call_that_is_cancelled_leaves_its_place_and_a_finished_one_passes_its_turn_on():
    async def scenario() -> None:
        gate = CallGate(running=1, waiting=4)
        release = asyncio.Event()
        log: list[str] = []
        first = asyncio.create_task(hold(gate, "a", release, log, "first"))
        gone = asyncio.create_task(hold(gate, "a", release, log, "gone"))
        last = asyncio.create_task(hold(gate, "a", release, log, "last"))
        await settle()
        assert gate.waiting_for("a") == 2
        gone.cancel()
        await settle()
        assert gate.waiting_for("a") == 1 and gate._waiting_now == 1
        release.set()
        await asyncio.gather(first, last)
        assert gone.cancelled() and log == ["first", "last"]
        assert gate._lines == {} and gate._waiting_now == 0

    asyncio.run(scenario())


def test_an_error_inside_frees_the_place():
    async def scenario() -> None:
        gate = CallGate(running=1, waiting=0)
        with pytest.raises(RuntimeError):
            async with gate.admit("a"):
                raise RuntimeError("the work failed")
        async with gate.admit("a"):  # not refused: the failed call's place is free again
            assert gate.running_for("a") == 1
        assert gate.running_for("a") == 0

    asyncio.run(scenario())


def test_a_place_handed_over_as_its_call_is_cancelled_goes_to_the_next():
    async def scenario() -> None:
        gate = CallGate(running=1, waiting=4)
        release = asyncio.Event()
        log: list[str] = []
        async with gate.admit("a"):
            second = asyncio.create_task(hold(gate, "a", release, log, "second"))
            third = asyncio.create_task(hold(gate, "a", release, log, "third"))
            await settle()
            assert gate.waiting_for("a") == 2
        # Leaving the block handed the place to "second", which has not run since; it goes away now.
        second.cancel()
        release.set()
        await asyncio.gather(second, third, return_exceptions=True)
        assert second.cancelled() and log == ["third"]
        assert gate._lines == {} and gate._waiting_now == 0

    asyncio.run(scenario())


def test_a_line_may_have_its_own_waiting_limit():
    """A line several people share (one address) holds more waiting calls than one user's."""
    async def scenario() -> None:
        gate = CallGate(running=1, waiting=1)
        release = asyncio.Event()
        log: list[str] = []
        tasks = [asyncio.create_task(hold_shared(gate, release, log, f"s{i}")) for i in range(5)]
        await settle()
        assert (gate.running_for("shared"), gate.waiting_for("shared")) == (1, 4)
        with pytest.raises(UserError):
            async with gate.admit("shared", waiting=4):
                pass
        release.set()
        await asyncio.gather(*tasks)
        assert log == [f"s{i}" for i in range(5)]

    async def hold_shared(gate: CallGate, release: asyncio.Event, log: list[str], name: str) -> None:
        async with gate.admit("shared", waiting=4):
            log.append(name)
            await release.wait()

    asyncio.run(scenario())
