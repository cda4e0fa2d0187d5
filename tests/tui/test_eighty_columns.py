"""80×24 is the design size (issue 22): lines that used to be cut at 80 columns now leave out
whole parts, most telling first."""

from __future__ import annotations

from tests.tui.conftest import real_app, screen_lines, wait_configured, wait_for
from tui.format import fit_parts
from tui.panes.predict_pane import PredictPane


def test_fit_parts_leaves_out_whole_parts_from_the_end():
    parts = ["empty text: predicting from a newline", "untrained: random weights", "in 4 ms"]
    assert fit_parts(parts, 80) == (
        "empty text: predicting from a newline · untrained: random weights · in 4 ms"
    )
    assert (
        fit_parts(parts, 70) == "empty text: predicting from a newline · untrained: random weights"
    )
    assert fit_parts(parts, 40) == "empty text: predicting from a newline"
    assert fit_parts(parts, 10) == "empty text: predicting from a newline"  # the first stays


async def test_predict_says_in_full_that_empty_text_predicts_from_a_newline(corpus):
    app = real_app(corpus)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_configured(pilot)
        await pilot.press("f4")
        pane = app.query_one(PredictPane)
        await wait_for(pilot, lambda: pane.result is not None, 20, "the first prediction")
        await pilot.pause(0.2)
        rows = screen_lines(app)
        info = next(row for row in rows if "predicting from a newline" in row)
        assert info.rstrip() == (
            "empty text: predicting from a newline · untrained: random weights"
        ), info


def test_a_note_in_place_of_the_bars_wraps_at_words_instead_of_being_cut():
    from tui.widgets.prob_bars import ProbBars

    bars = ProbBars()
    bars.note = (
        "the parabola preset is not a language model: apply mini, mlp or gpt in the Train "
        "pane (F2) to predict text"
    )
    rows = [row[0][0] for row in bars.rows(40, 10)]
    assert rows == [
        "the parabola preset is not a language",
        "model: apply mini, mlp or gpt in the",
        "Train pane (F2) to predict text",
    ]
