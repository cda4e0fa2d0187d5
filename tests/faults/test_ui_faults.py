"""Issue 15, item 10 (the UI's part): what the app shows stays readable whatever happened while
it was not looking."""

from __future__ import annotations

from textual import events

from tests.tui.conftest import FakeClient
from tui.app import TorchdeckApp
from tui.widgets.playground_input import PlaygroundInput
from tui.widgets.playground_transcript import PlaygroundTranscript
from tui.widgets.predict_input import PredictInput

CRASH = (
    "The engine stopped: every name defined here is lost. Press ctrl+r to restart it with a "
    "fresh namespace."
)


async def test_a_note_written_while_hidden_is_rewrapped_when_shown_wider():
    app = TorchdeckApp(client=FakeClient())
    async with app.run_test(size=(60, 24)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        log = app.query_one(PlaygroundTranscript)
        await pilot.press("f2")  # the crash note arrives while another pane is shown
        await pilot.pause()
        log.note(CRASH, "bold red")
        await pilot.press("f3")
        await pilot.resize_terminal(140, 30)
        await pilot.pause(0.2)
        text = [strip.text.rstrip() for strip in log.lines]
        assert CRASH in text  # one line at the new width, not cut at 20 columns
        await pilot.resize_terminal(60, 24)
        await pilot.pause(0.2)
        narrow = [strip.text.rstrip() for strip in log.lines if strip.text.strip()]
        assert max(len(line) for line in narrow) <= 60
        assert " ".join(narrow).split()[-len(CRASH.split()) :] == CRASH.split()


async def test_keys_typed_while_a_pane_is_built_reach_its_text_box():
    """F4 then 'the' at once, as a fast typist (or a loaded machine) sends them: the Predict pane
    is built on first show, and its box must have the focus before the next key is read."""
    app = TorchdeckApp(client=FakeClient())
    async with app.run_test(size=(80, 24)) as pilot:
        for key, char in (("f4", None), ("t", "t"), ("h", "h"), ("e", "e")):
            app.post_message(events.Key(key, char))  # queued together, no pause between
        await pilot.pause(0.5)
        assert app.query_one(PredictInput).value == "the"
        for key, char in (("f3", None), ("x", "x")):  # the same for the Playground
            app.post_message(events.Key(key, char))
        await pilot.pause(0.5)
        assert app.query_one(PlaygroundInput).text == "x"
