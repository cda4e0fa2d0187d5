"""tui.latest.LatestRequest driven by fake requests whose replies the test releases by hand: one
request in flight, newer inputs coalesced into one more request for the newest, stale replies
dropped after reset()."""

from __future__ import annotations

import asyncio

import pytest

from tui.latest import LatestRequest


class FakeView:
    """A view whose input is ``self.input``; each request sent is a future the test resolves."""

    def __init__(self) -> None:
        self.input = 0
        self.sent: list[tuple[int, asyncio.Future]] = []  # (input it was built from, reply)
        self.shown: list[str] = []
        self.latest = LatestRequest(self.send, self.shown.append)

    async def send(self) -> str | None:
        reply: asyncio.Future = asyncio.get_running_loop().create_future()
        self.sent.append((self.input, reply))
        return await reply

    def reply(self, n: int, value: str | None = "") -> None:
        """Answer the ``n``-th request sent; the default reply names the input it was for."""
        for_input, future = self.sent[n]
        future.set_result(f"reply to {for_input}" if value == "" else value)

    def change(self) -> asyncio.Task:
        """The input changes and the view asks for it, as a pane does from a worker."""
        self.input += 1
        return asyncio.create_task(self.latest.run())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_one_request_then_its_reply_is_shown():
    view = FakeView()
    task = view.change()
    await settle()
    assert [i for i, _ in view.sent] == [1] and view.latest.busy
    view.reply(0)
    await task
    assert view.shown == ["reply to 1"] and not view.latest.busy


async def test_inputs_during_a_request_coalesce_into_one_more_for_the_newest():
    view = FakeView()
    first = view.change()
    await settle()
    later = [view.change() for _ in range(3)]  # inputs 2, 3, 4 while 1 is in flight
    await settle()
    assert all(t.done() for t in later)  # they only noted the change and returned
    assert [i for i, _ in view.sent] == [1]  # nothing more sent while one is in flight
    view.reply(0)
    await settle()
    assert view.shown == ["reply to 1"]  # the older reply is drawn (nothing newer yet)
    assert [i for i, _ in view.sent] == [1, 4]  # one more request, for the newest input
    assert view.latest.busy and not first.done()
    view.reply(1)
    await first
    assert view.shown == ["reply to 1", "reply to 4"]
    assert len(view.sent) == 2 and not view.latest.busy


async def test_a_run_after_the_reply_sends_again():
    view = FakeView()
    task = view.change()
    await settle()
    view.reply(0)
    await task
    task = view.change()
    await settle()
    assert [i for i, _ in view.sent] == [1, 2]
    view.reply(1)
    await task
    assert view.shown == ["reply to 1", "reply to 2"]


async def test_a_none_reply_is_not_shown():
    view = FakeView()
    task = view.change()
    await settle()
    view.reply(0, None)
    await task
    assert view.shown == [] and not view.latest.busy


async def test_reset_drops_the_reply_in_flight_and_the_pending_request():
    view = FakeView()
    old = view.change()
    await settle()
    view.change()  # pending behind the request in flight
    await settle()
    view.latest.reset()  # e.g. a new model: whatever is in flight is about the old one
    assert not view.latest.busy
    new = view.change()  # sent at once, beside the stale one still in flight
    await settle()
    assert [i for i, _ in view.sent] == [1, 3] and view.latest.busy
    view.reply(0)  # the stale reply arrives first
    await old
    assert view.shown == []  # dropped
    assert len(view.sent) == 2  # and the stale loop sent nothing for the pending input
    assert view.latest.busy  # nor freed the new request's slot
    view.change()  # coalesces behind the new request, not beside it
    await settle()
    assert len(view.sent) == 2
    view.reply(1)
    await settle()
    assert view.shown == ["reply to 3"] and [i for i, _ in view.sent] == [1, 3, 4]
    view.reply(2)
    await new
    assert view.shown == ["reply to 3", "reply to 4"] and not view.latest.busy


async def test_reset_when_idle_changes_nothing():
    view = FakeView()
    view.latest.reset()
    task = view.change()
    await settle()
    view.reply(0)
    await task
    assert view.shown == ["reply to 1"]


async def test_a_failed_request_frees_the_slot():
    view = FakeView()
    task = view.change()
    await settle()
    view.change()  # pending
    await settle()
    view.sent[0][1].set_exception(RuntimeError("engine died"))
    with pytest.raises(RuntimeError):
        await task
    assert not view.latest.busy and len(view.sent) == 1
    task = view.change()
    await settle()
    assert len(view.sent) == 2
    view.reply(1)
    await task
    assert view.shown == ["reply to 3"]


async def test_a_key_goes_ahead_of_a_refresh_in_flight_and_keys_coalesce_behind_a_key():
    view = FakeView()
    view.latest.kick()  # a refresh (training moved on): not urgent
    await settle()
    assert [i for i, _ in view.sent] == [0]
    view.input = 1
    view.latest.kick(urgent=True)  # a key: sent now, not after the refresh
    await settle()
    assert [i for i, _ in view.sent] == [0, 1]
    for n in (2, 3, 4):  # more keys while the key's request is in flight: they wait
        view.input = n
        view.latest.kick(urgent=True)
    view.latest.kick()  # and so does a refresh
    await settle()
    assert [i for i, _ in view.sent] == [0, 1]
    view.reply(0)  # the superseded refresh's reply: dropped
    view.reply(1)
    await settle()
    assert view.shown == ["reply to 1"]
    assert [i for i, _ in view.sent] == [0, 1, 4]  # one request for the newest input
    view.input = 5
    view.latest.kick(urgent=True)  # a key while the owed one (a key's) is in flight: waits
    await settle()
    assert [i for i, _ in view.sent] == [0, 1, 4]
    view.reply(2)
    await settle()
    view.reply(3)
    await settle()
    assert view.shown == ["reply to 1", "reply to 4", "reply to 5"]
    assert not view.latest.busy


async def test_kick_calls_the_sender_before_it_returns():
    """A sender that writes its request when called (EngineLink.send) has it written by the
    time kick() returns, not once the task it starts first runs."""
    calls: list[str] = []

    def send():
        calls.append("written")

        async def reply() -> str:
            return "r"

        return reply()

    shown: list[str] = []
    latest = LatestRequest(send, shown.append)
    latest.kick(urgent=True)
    assert calls == ["written"] and latest.busy and shown == []  # no task has run yet
    await settle()
    assert shown == ["r"] and not latest.busy
