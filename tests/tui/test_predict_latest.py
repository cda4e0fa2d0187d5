"""Latest wins in the Predict pane (issue: every interaction answers within a frame): the first
keystroke after idle is sent at once, with no timer; keys typed while a request is in flight
coalesce into one request for the newest text; the bars always end at the text in the box."""

from __future__ import annotations

import asyncio

from core.contract import PredictArgs
from tests.tui.conftest import real_app, wait_configured, wait_for
from tui.panes.base import ANSWER_HOLD_S
from tui.panes.predict_pane import PredictPane
from tui.widgets.token_strip import TokenStrip

SIZE = (100, 30)


def slow_engine(app, sent: list[str], delay: float) -> None:
    """Every predict request is noted as it is written, then its reply is held ``delay``
    seconds (an engine busier than the keys are fast)."""
    link = app.engine
    real_send = link.send

    def send(request, *args, **kwargs):
        answer = real_send(request, *args, **kwargs)  # written now
        if not isinstance(request, PredictArgs):
            return answer
        sent.append(request.text)

        async def late():
            await asyncio.sleep(delay)
            return await answer

        return late()

    link.send = send


async def predict_idle(app, pilot) -> PredictPane:
    """The Predict pane, shown, its first prediction drawn and nothing in flight."""
    await wait_configured(pilot)
    await pilot.press("f4")
    pane = app.query_one(PredictPane)
    await wait_for(pilot, lambda: pane.result is not None, 20, "the first prediction")
    await wait_for(pilot, lambda: not pane.prediction.busy, 20, "idle")
    return pane


async def test_a_burst_coalesces_and_the_bars_end_at_the_full_text(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        pane = await predict_idle(app, pilot)
        sent: list[str] = []
        slow_engine(app, sent, 3.0)
        await pilot.press("t")  # the first key after idle: its request goes out at once
        assert sent == ["t"] and pane._timer is None
        burst = "he quick brown fox "  # 19 more keys while "t" is in flight
        await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in burst])
        text = "t" + burst
        await wait_for(
            pilot,
            lambda: not pane.prediction.busy and pane.result is not None,
            20,
            "the burst answered",
        )
        assert sent == ["t", text]  # the tail of the burst: one request, the newest text
        strip = app.query_one(TokenStrip)
        assert "".join(ch for ch, _ in strip.strip) == text  # the bars end at the box's text
        assert pane.text == text


async def test_coming_back_to_predict_keeps_the_text_and_a_key_adds_to_it(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        await pilot.press("f4", "t", "h")
        pane = app.query_one(PredictPane)
        await pilot.press("f2", "f4", "e")  # away and back: the box is not selected whole
        await wait_for(pilot, lambda: pane.text == "the", 10, "the text kept")
        assert pane.input_box.value == "the"


async def test_a_keys_request_is_on_the_wire_before_the_key_handler_returns(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        pane = await predict_idle(app, pilot)
        client = app.engine.client
        first_id = client.next_id
        pane.schedule(0, urgent=True)  # what a keystroke does, then no await
        # written synchronously: its id is taken and it waits for a reply, before any task ran
        assert client.next_id == first_id + 1 and first_id in client._pending
        await wait_for(pilot, lambda: not pane.prediction.busy, 20, "answered")
        assert first_id not in client._pending


async def test_a_key_holds_its_echo_for_the_bars_and_typing_needs_no_layout_pass(corpus):
    """The echo waits (at most ANSWER_HOLD_S) for the bars, to paint as one; the box's text
    width changes with each key, but that repaints the box without a layout of the screen."""
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        pane = await predict_idle(app, pilot)
        await wait_for(pilot, lambda: len(app.panes) == 4, 20, "the other panes built ahead")
        await pilot.pause()
        screen = app.screen
        layouts = []
        real_layout = screen._refresh_layout

        def refresh_layout(*args, **kwargs):
            layouts.append(pane.text)
            return real_layout(*args, **kwargs)

        screen._refresh_layout = refresh_layout
        calls: list[str] = []
        hold, release = screen.hold_paint, screen.release_paint
        screen.hold_paint = lambda seconds: calls.append(f"hold {seconds}") or hold(seconds)
        screen.release_paint = lambda: calls.append("release") or release()
        sent: list[str] = []
        slow_engine(app, sent, 0.3)
        await pilot.press("a")
        assert sent == ["a"] and calls == [f"hold {ANSWER_HOLD_S}"]  # the echo waits for bars
        await wait_for(pilot, lambda: not pane.prediction.busy, 10, "the bars")
        assert calls[-1] == "release" and screen._hold_until == 0.0  # drawn: paint now
        assert "".join(ch for ch, _ in app.query_one(TokenStrip).strip) == "a"
        await pilot.press("b", "c", "d")
        await wait_for(pilot, lambda: not pane.prediction.busy, 10, "the burst answered")
        await pilot.pause()
        assert pane.text == "abcd" and layouts == []
