"""Issue 15, item 10 (the UI's part): what the app shows stays readable whatever happened while
it was not looking."""

from __future__ import annotations

from tests.tui.conftest import FakeClient
from tui.app import TorchdeckApp
from tui.widgets.playground_transcript import PlaygroundTranscript

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
