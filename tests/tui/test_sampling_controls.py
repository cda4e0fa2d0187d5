"""The Predict pane's control line: in greedy mode the temperature, top-k and top-p do not
apply (the top character every time), so they are dimmed, where they read as in force."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.widgets.sampling_controls import SamplingControls


class Line(App):
    def compose(self) -> ComposeResult:
        yield SamplingControls(id="controls")


def dimmed(widget: SamplingControls) -> set[str]:
    """The words of the line marked dim."""
    return {
        widget.visual.plain[span.start : span.end].strip()
        for span in widget.visual.spans
        if "dim" in str(span.style)
    }


async def test_greedy_dims_what_it_leaves_unused():
    app = Line()
    async with app.run_test(size=(100, 3)) as pilot:
        controls = app.query_one(SamplingControls)
        controls.temperature, controls.top_k = 2.0, 5
        controls.show(False)
        await pilot.pause()
        plain = str(controls.render())
        assert plain.startswith(" T=2 ↑↓ │ top-k 5 k │ top-p off p │ sampled s")
        assert not {"T=2", "5", "off"} & dimmed(controls)
        controls.toggle_greedy()
        controls.show(False)
        await pilot.pause()
        assert str(controls.render()).startswith(" T=2 ↑↓ │ top-k 5 k │ top-p off p │ greedy s")
        assert {"T=2", "5", "off"} <= dimmed(controls)
