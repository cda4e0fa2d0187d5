"""The status bar's items (tui.widgets.status_bar): the loss labelled as the mean it is, and
every item whole at 80 columns, the least useful ones shortened or left out first."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult

from tui.widgets.status_bar import StatusBar, fit_parts, loss_label


def test_the_status_bars_loss_says_what_it_is_the_mean_of():
    assert loss_label(57) == "loss(avg 57)"
    assert loss_label(1) == "loss(last step)"
    assert loss_label(0) == "loss"


def test_the_status_bar_drops_the_least_useful_items_whole():
    parts = {
        "device": ["cuda:0"],
        "step": ["step 222/1000", "222/1000"],
        "rate": ["411.6k tok/s"],
    }
    cuts = [("device", None), ("step", 1), ("rate", None)]
    assert fit_parts(parts, cuts, 100) == ["cuda:0", "step 222/1000", "411.6k tok/s"]
    # each item takes its cells and " │ " before it
    assert fit_parts(parts, cuts, 9 + 16 + 15) == ["cuda:0", "step 222/1000", "411.6k tok/s"]
    assert fit_parts(parts, cuts, 9 + 16 + 15 - 1) == ["step 222/1000", "411.6k tok/s"]
    assert fit_parts(parts, cuts, 11 + 15) == ["222/1000", "411.6k tok/s"]
    assert fit_parts(parts, cuts, 11 + 14) == ["222/1000"]
    assert fit_parts(parts, cuts, 5) == []


class BarApp(App):
    def compose(self) -> ComposeResult:
        yield StatusBar()


BUSY = {
    "state": "running",
    "device": "cuda:0",
    "preset": "gpt",
    "step": 12345,
    "steps": 20000,
    "loss": 1.3655,
    "loss_window": 37,
    "val_loss": 1.6549,
    "tokens_per_s": 1234567.0,
    "world_size": 8,
}


@pytest.mark.parametrize(
    ("width", "changes", "shown"),
    [
        (
            200,
            {},
            " ● running  │ cuda:0 │ gpt │ step 12345/20000 │ loss(avg 37) 1.3655 │ val 1.6549"
            " │ 1.23M tok/s · 8 ranks",
        ),
        (
            80,
            {},
            " ● running  │ 12345/20000 │ loss(avg 37) 1.3655 │ val 1.6549 │ 1.23M tok/s ×8",
        ),
        (
            80,
            {"world_size": 1},
            " ● running  │ 12345/20000 │ loss(avg 37) 1.3655 │ val 1.6549 │ 1.23M tok/s",
        ),
        (  # a figure not known yet goes first
            80,
            {"val_loss": None, "world_size": 1},
            " ● running  │ gpt │ step 12345/20000 │ loss(avg 37) 1.3655 │ 1.23M tok/s",
        ),
        (  # one step by hand of the parabola: no tokens
            80,
            {"preset": "parabola", "loss_window": 1, "tokens_per_s": None, "val_loss": None},
            " ● running  │ cuda:0 │ parabola │ step 12345/20000 │ loss(last step) 1.3655",
        ),
        (  # the engine's health takes the room it needs; the rest goes whole
            80,
            {"health": "not responding (stopped, 12 s) · ctrl+r restarts"},
            " ● not responding (stopped, 12 s) · ctrl+r restarts  │ loss 1.3655",
        ),
    ],
)
async def test_the_status_bar_at_its_width(width, changes, shown):
    app = BarApp()
    async with app.run_test(size=(width, 3)) as pilot:
        bar = app.query_one(StatusBar)
        for name, value in {**BUSY, **changes}.items():
            setattr(bar, name, value)
        await pilot.pause()
        assert str(bar.render()) == shown
        assert cell_len(shown) < width
