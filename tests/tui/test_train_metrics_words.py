"""The parabola's x.grad in the Train pane's metrics column with what its sign and size mean, in
the 20 columns the column has at 80x24, fed fixed progress (no engine)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.tui.test_snapshots import fake_app, feed, progress
from tests.tui.test_train_ranks import lines, send
from tui.widgets.train_metrics import TrainMetrics


def parabola(x: float, x_before: float) -> dict:
    grad = 6 * x_before - 2  # f(x) = 3x² − 2x + 3
    return {
        "x": x,
        "f": 3 * x * x - 2 * x + 3,
        "grad": grad,
        "grad_at": x_before,
        "optimum": 1 / 3,
        "distance": abs(x - 1 / 3),
    }


@pytest.mark.parametrize(
    ("x", "x_before", "grad_row", "words"),
    [
        (-0.92, -1.0, " x.grad   -8.0000", " ↳ <0: pushes x up"),
        # lr too large: x jumps past the optimum, the gradient turns positive
        (-0.4, 1.0, " x.grad   4.0000", " ↳ >0: pushes x down"),
        (0.3239, 0.3233, " x.grad   -0.0602", " ↳ ≈0: near optimum"),
    ],
)
async def test_the_gradient_in_words_under_its_number(x, x_before, grad_row, words):
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(pilot)
        send(app, replace(progress(80), parabola=parabola(x, x_before)))
        await pilot.pause()
        await pilot.pause()
        shown = lines(app.query_one(TrainMetrics))
        at = shown.index(grad_row)
        assert shown[at + 1] == words
        assert [line.split()[0] for line in shown[at + 2 : at + 4]] == ["optimum", "distance"]
        assert shown[-1].startswith(" ETA")  # the column grew by the words' row
        assert all(len(line) <= 20 for line in shown)


async def test_a_language_model_has_no_gradient_words():
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(pilot)
        shown = lines(app.query_one(TrainMetrics))
        assert not any("↳" in line for line in shown)
