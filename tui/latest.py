"""Latest request wins: one engine request at a time for what a view shows now.

A view that re-asks the engine on every keystroke or key press (the Predict pane's text, the
Summary pane's views) sends one request and, while it is in flight, only notes that its input
changed. When the reply comes it is drawn, and if the input changed meanwhile one more request
goes out, built from the newest input, however many changes came in between. A reply that
arrives after ``reset()`` (a new model, an engine restart) is stale and dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

R = TypeVar("R")


class LatestRequest(Generic[R]):
    """``send()`` builds the request from its owner's state when it is called and returns an
    awaitable of the reply (None: nothing to draw); ``show(reply)`` draws a reply that is not
    None or stale."""

    def __init__(self, send: Callable[[], Awaitable[R | None]], show: Callable[[R], None]) -> None:
        self._send = send
        self._show = show
        self._generation = 0  # bumped by reset(): replies to older requests are stale
        self._busy = False
        self._again = False
        self._task: asyncio.Task | None = None  # the request kick() started
        self._urgent = False  # whether the request in flight is for a person's input
        self._again_urgent = False  # whether the one owed after it is

    @property
    def busy(self) -> bool:
        """Whether a request is in flight."""
        return self._busy

    async def run(self) -> None:
        """Send a request for the newest input, or, while one is in flight, have one more sent
        when it returns. Returns once the last request is answered, or at once if it coalesced."""
        if self._busy:
            self._again = True
            return
        self._busy = True
        await self._answer(self._send_newest(), self._generation)

    async def _answer(self, sent: Awaitable[R | None], generation: int) -> None:
        """Await ``sent``'s reply, draw it, and send again while the input changed meanwhile."""
        try:
            while True:
                reply = await sent
                if generation != self._generation:
                    return  # reset while in flight: stale, and so is anything it owed
                if reply is not None:
                    self._show(reply)
                if not self._again:
                    return
                self._urgent, self._again_urgent = self._again_urgent, False
                sent = self._send_newest()
        finally:
            if generation == self._generation:
                self._busy = False

    def _send_newest(self) -> Awaitable[R | None]:
        self._again = False  # this request is for the newest input
        return self._send()

    def kick(self, urgent: bool = False) -> None:
        """``run()`` without waiting for it, from a message handler: no request in flight, one
        goes out now (no timer, no message hop); one in flight, the newest input follows it.
        The handler returns at once, so the next keystroke is read while the engine works.
        ``urgent`` (a person's key) does not queue behind a refresh that is not (the view
        re-asked during training): that one's reply is dropped and the key's goes out now, so
        both are answered between the same two training steps."""
        if self._busy and (self._urgent or not urgent):
            self._again = True
            self._again_urgent = self._again_urgent or urgent
            return
        if self._busy:
            self.reset()
        self._busy, self._urgent = True, urgent
        # send() is called here, not in the task: a sender that writes its request when called
        # (EngineLink.send) has it on the wire before the key's echo is painted
        sent = self._send_newest()
        self._task = asyncio.get_running_loop().create_task(self._answer(sent, self._generation))

    def reset(self) -> None:
        """Forget the request in flight and any pending one: its reply will be dropped, and the
        next ``run()`` sends at once."""
        self._generation += 1
        self._busy = self._again = self._urgent = self._again_urgent = False
