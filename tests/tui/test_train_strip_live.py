"""The Train pane at 80×24 with a real engine, read off the screen as a person sees it: the
five-step strip live during a run (each report's latest step), the parabola's gradient in words,
and a status bar whose loss says what it is the mean of, with nothing cut."""

from __future__ import annotations

import re

from tests.tui.conftest import real_app, screen_lines, wait_configured, wait_for
from tui.widgets.loop_strip import LoopStrip
from tui.widgets.status_bar import StatusBar

SIZE = (80, 24)
LABELS = "1·zero_grad     2·forward+loss  3·backward      4·step          5·monitor"


def strip_rows(rows: list[str]) -> tuple[str, str]:
    """The strip's two rows: its headings and the notes under them."""
    at = next(i for i, row in enumerate(rows) if row.rstrip() == LABELS)
    return rows[at], rows[at + 1].rstrip()


def metrics_rows(rows: list[str]) -> list[str]:
    """The metrics column: its last 19 cells (20, less its padding), under the pane tabs."""
    return [row[61:].rstrip() for row in rows[3:]]


async def test_a_runs_steps_fill_the_strip_live_and_the_status_bar_fits(corpus):
    # mini's own 1000 steps can all be done (~1.5 s) before a slow frame catches a report
    app = real_app(corpus, preset="mini", settings={"steps": 20000})
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        status, strip = app.query_one(StatusBar), app.query_one(LoopStrip)
        await pilot.press("f2", "s")
        notes = re.compile(
            r"5 \.grad → None +loss (\d\.\d{4}) +‖grad‖ [\d.]+ +lr [\d.]+ +kept (\d+) losses"
        )
        bar = re.compile(
            r" ● running  │ (cpu │ )?mini │ (step )?\d+/20000 │ loss\(avg (\d+)\) (\d\.\d{4})"
            r"( │ val \d\.\d{4})? │ [\d.]+[kM]? tok/s"
        )
        seen = None
        for _ in range(1200):  # one screen a frame or so, until a report of several steps
            rows = screen_lines(app)
            row = strip_rows(rows)[1]
            found, top = notes.fullmatch(row), bar.fullmatch(rows[0].rstrip())
            if status.state == "running" and found and top and int(found[2]) > 1:
                seen = rows, found, top
                break
            await pilot.pause(0.05)
        assert seen is not None, (status.state, strip.detail, screen_lines(app)[:1])
        rows, found, top = seen
        # during the run the boxes hold the latest step's figures, not their labels' hints
        assert strip.running and "clear .grad" not in rows[-4]
        # the status bar's loss is the mean of the report's steps: as many as monitor kept
        assert top[3] == found[2]
        assert len(rows[0]) == 80 and rows[0].rstrip().endswith("tok/s")  # its unit is there
        await pilot.press("x")
        await wait_for(pilot, lambda: status.state == "stopped", 30, "the run stopped")


async def test_the_parabolas_gradient_in_words_by_hand_and_after_a_run(corpus):
    app = real_app(corpus, preset="parabola")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        status, strip = app.query_one(StatusBar), app.query_one(LoopStrip)
        await pilot.press("f2", "n")
        await wait_for(pilot, lambda: strip.detail is not None, 30, "one step")
        await pilot.pause(0.2)
        rows = screen_lines(app)
        # f(−1) = 8 is the step's loss; x.grad −8 pushes x up: to −1 + 0.01·8 = −0.92
        assert strip_rows(rows)[1] == (
            "none to clear   f(-1.00)=8.000  x.grad -8.0000  x -1.00→-0.92   kept 1 loss"
        )
        right = metrics_rows(rows)
        at = right.index("x.grad   -8.0000")
        assert right[at - 2 : at + 2] == [
            "x        -0.9200",
            "f(x)     7.3792",
            "x.grad   -8.0000",
            "↳ <0: pushes x up",
        ]
        # the status bar's loss is that step's f(−1), labelled as one step's, beside f(x) after it
        assert rows[0].rstrip() == (
            " ● ready  │ cpu │ parabola │ step 1/80 │ loss(last step) 8.0000 │ val --"
        )
        await pilot.press("s")
        await wait_for(pilot, lambda: status.state == "finished", 30, "80 steps run")
        await pilot.pause(0.3)
        app.clear_notifications()  # the autosave's note covers the strip's right end
        await pilot.pause(0.2)
        rows = screen_lines(app)
        # after the seed's 80 steps: x.grad is near zero, x near the optimum (LESSONS.md L2)
        right = metrics_rows(rows)
        at = right.index("x.grad   -0.0603")
        assert right[at - 2 : at + 2] == [
            "x        0.3239",
            "f(x)     2.6669",
            "x.grad   -0.0603",
            "↳ ≈0: near optimum",
        ]
        row = strip_rows(rows)[1]
        found = re.fullmatch(
            r"1 \.grad → None  f\(0\.32\)=2\.667   x\.grad -0\.0603  x 0\.3233→0\.3239 "
            r"kept (\d+) loss(es)?",
            row,
        )
        assert found, row
        kept = int(found[1])
        label = "loss(last step)" if kept == 1 else f"loss(avg {kept})"
        assert re.fullmatch(
            rf" ● finished  │ cpu │ parabola │ step 80/80 │ {re.escape(label)} \d\.\d{{4}} │ val --",
            rows[0].rstrip(),
        ), rows[0]
