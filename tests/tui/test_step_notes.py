"""The five-step strip's words (tui.widgets.step_notes): exact wordings for each step's figures
and for the gradient's sign and size, and each one fitting its box at every width."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from core.contract import StepDetail
from tui.widgets.loop_strip import cell_widths
from tui.widgets.step_notes import fit, grad_words, phase_label, step_notes

# the parabola's first step as the engine reports it (x = −1, lr 0.01)
PARABOLA = StepDetail(
    step=1,
    lr=0.01,
    grads_cleared=0,
    loss=8.0,
    grad_norm=8.0,
    update_norm=0.08,
    history_len=1,
    kept=1,
    parabola={
        "x": -1.0,
        "f": 8.0,
        "grad": -8.0,
        "grad_at": -1.0,
        "optimum": 1 / 3,
        "distance": 4 / 3,
        "x_after": -0.92,
    },
)
# a language model's step in a run's report: the update's size not measured
RUN = StepDetail(
    step=222,
    lr=0.0096,
    grads_cleared=5,
    loss=2.56314,
    grad_norm=0.20214,
    clipped=False,
    update_norm=None,
    history_len=222,
    kept=57,
)


@pytest.mark.parametrize(
    ("grad", "width", "words"),
    [
        (-8.0, 17, "<0: pushes x up"),  # the metrics column's room
        (-8.0, 40, "negative: pushes x up"),
        (-8.0, 13, "<0: x goes up"),
        (-8.0, 12, "x up"),
        (4.2, 17, ">0: pushes x down"),
        (4.2, 40, "positive: pushes x down"),
        (4.2, 16, ">0: x goes down"),
        (-0.0566, 17, "≈0: near optimum"),  # x 0.3239 after the seed's 80 steps
        (0.0999, 40, "≈0: x is near the optimum"),
        (0.1, 17, ">0: pushes x down"),  # near zero is below 0.1
        (0.0, 17, "0: at the optimum"),
        (None, 40, ""),  # no gradient yet
        (float("nan"), 40, ""),
        ("nan", 40, ""),  # as the wire writes a diverged value
    ],
)
def test_the_gradients_sign_and_size_in_words(grad, width, words):
    assert grad_words(grad, width) == words


def test_the_parabolas_first_step_at_80_columns():
    # five boxes of 16 cells at 80 columns: 15 for the words, one blank between
    assert cell_widths(80) == [16] * 5
    assert step_notes(PARABOLA, 15) == [
        "none to clear",
        "f(-1.00)=8.000",
        "x.grad -8.0000",
        "x -1.00→-0.92",
        "kept 1 loss",
    ]
    assert [phase_label(i, 15) for i in range(5)] == [
        "1·zero_grad",
        "2·forward+loss",
        "3·backward",
        "4·step",
        "5·monitor",
    ]


def test_the_parabolas_first_step_with_room_says_it_all():
    assert step_notes(PARABOLA, 39) == [
        "no .grad yet: nothing to clear",
        "loss = f(-1.0000) = 8.0000",
        "x.grad -8.0000 negative: pushes x up",
        "lr 0.01: x -1.0000 → -0.9200",
        "kept 1 loss · history 1",
    ]
    assert [phase_label(i, 39) for i in range(5)] == [
        "1·optimizer.zero_grad()",
        "2·forward + loss",
        "3·loss.backward()",
        "4·optimizer.step()",
        "5·monitor",
    ]


def test_a_runs_step_shows_its_lr_not_an_unmeasured_update():
    assert step_notes(RUN, 15) == [
        "5 .grad → None",
        "loss 2.5631",
        "‖grad‖ 0.2021",
        "lr 0.0096",
        "kept 57 losses",
    ]
    assert step_notes(RUN, 39) == [
        "5 .grad set to None",
        "loss 2.5631 (cross-entropy)",
        "‖grad‖ 0.2021",
        "θ -= lr·∇ at lr 0.0096",
        "kept 57 losses · history 222",
    ]
    by_hand = StepDetail(**{**RUN.to_dict(), "update_norm": 0.2403, "kept": 1, "clipped": True})
    assert step_notes(by_hand, 15)[2:] == ["‖g‖ 0.202 clip", "‖Δθ‖ 0.24", "kept 1 loss"]
    assert step_notes(by_hand, 39)[2:4] == ["‖grad‖ 0.2021, then clipped", "lr 0.0096, ‖Δθ‖ 0.24"]


def test_before_any_step_the_notes_say_what_each_step_does():
    assert step_notes(None, 15) == [
        "clear .grad",
        "loss = f(x)",
        "fill .grad",
        "θ -= lr·∇",
        "keep loss",
    ]


def test_every_note_fits_its_box_at_every_width():
    near = StepDetail(
        **{
            **PARABOLA.to_dict(),
            "grads_cleared": 1,
            "parabola": {**PARABOLA.parabola, "x": -123.456, "f": 45973.1, "grad": -742.7},
        }
    )
    wide = StepDetail(**{**RUN.to_dict(), "kept": 12345, "history_len": 99999, "loss": "nan"})
    for width in range(60, 220):
        room = min(cell_widths(width)) - 1
        for detail in (None, PARABOLA, RUN, near, wide):
            for note in step_notes(detail, room):
                assert cell_len(note) <= room, (width, note)
        for i in range(5):
            assert cell_len(phase_label(i, room)) <= room


def test_fit_cuts_only_when_nothing_fits():
    assert fit(["a long wording", "short"], 10) == "short"
    assert fit(["a long wording", "shorter one"], 8) == "shorter…"
