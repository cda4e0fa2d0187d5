"""Keys work while the first model loads (issue: every interaction answers within a frame):
the app configures its model in a worker, so a pane key pressed during the 1–2 s a gpt model
takes to load switches panes at once instead of waiting for the model."""

from __future__ import annotations

import asyncio

from core.contract.link import ReadyInfo
from core.errors import EngineError
from tests.tui.conftest import FakeClient
from tui.app import TorchdeckApp
from tui.messages import EngineReady


class SlowConfigure(FakeClient):
    """An engine whose configure takes as long as the test wants."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []
        self.release = asyncio.Event()

    async def send(self, op, args=None, timeout=None, **kwargs):
        self.asked.append(op)
        if op == "configure":
            await self.release.wait()  # then refused: no model
            raise EngineError("ConfigError", "the test is over", "")
        return {}


async def test_a_pane_key_switches_while_the_model_loads():
    client = SlowConfigure()
    app = TorchdeckApp(client=client)
    async with app.run_test(size=(80, 24)) as pilot:
        try:
            await switch_while_loading(app, pilot, client)
        finally:
            client.release.set()  # the app can close


async def switch_while_loading(app, pilot, client) -> None:
    app.post_message(EngineReady(ReadyInfo(protocol=3), 1.0))
    for _ in range(100):  # plain sleeps: a pilot pause would wait for a blocked app
        await asyncio.sleep(0.02)
        if "configure" in client.asked:
            break
    assert client.asked == ["configure"]  # in flight, not answered
    try:
        await asyncio.wait_for(pilot.press("1"), 5)
    except TimeoutError:
        raise AssertionError("the pane key waited for the model to load") from None
    for _ in range(100):
        if app.active_pane == "summary":
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the pane key waited for the model to load")
    assert "summary" in app.panes
