"""The language switched live (F5) keeps everything: a run trains on through the switch, the
playground keeps its variables. And a Vietnamese corpus trains and Predict shows its letters."""

from __future__ import annotations

import unicodedata

from core import i18n
from tests.tui.conftest import real_app, wait_configured, wait_for
from tui.panes.playground_pane import PlaygroundPane
from tui.panes.predict_pane import PredictPane
from tui.widgets.playground_transcript import PlaygroundTranscript
from tui.widgets.prob_bars import ProbBars
from tui.widgets.status_bar import StatusBar
from tui.widgets.token_strip import TokenStrip

SIZE = (100, 30)
# Vietnamese with every mark the issue names (ă, â, ê, ô, ơ, ư, đ and the five tones), over
# and over so that a few hundred steps of mini learn it
VIETNAMESE = (
    "người học máy đọc từng chữ một. những con số nhỏ dần khi mô hình học được quy luật. "
    "bạn ơi, hãy thử gõ một câu tiếng việt: ăn quả nhớ kẻ trồng cây. "
) * 40


def transcript(app) -> str:
    return "\n".join(strip.text for strip in app.query_one(PlaygroundTranscript).lines)


async def test_f5_switches_live_and_loses_neither_the_run_nor_the_playground(corpus):
    app = real_app(corpus, settings={"steps": 20000})
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        await pilot.press("f3")
        pane = app.query_one(PlaygroundPane)
        await pilot.press(*"answer = 6 * 7", "enter")
        await wait_for(pilot, lambda: len(pane.transcript.entries) == 2, 20, "the cell")
        await pilot.press("f2", "s")
        await wait_for(pilot, lambda: status.state == "running" and status.step > 0, 30, "run")
        await pilot.press("f5")
        await wait_for(pilot, lambda: i18n.language() == "vi", 5, "the switch")
        before = status.step
        await wait_for(pilot, lambda: status.step > before, 30, "steps after the switch")
        assert status.state == "running"
        await pilot.press("f3", *"answer + 0", "enter")
        await wait_for(pilot, lambda: "42" in transcript(app), 20, "the variable kept")
        await pilot.press("f5")
        await wait_for(pilot, lambda: i18n.language() == "en", 5, "the switch back")
        assert status.state == "running"
        await pilot.press("f2", "x")  # stop the run before the app closes
        await wait_for(pilot, lambda: status.state != "running", 30, "stopped")


async def test_f5_while_a_cell_runs_leaves_ctrl_c_working(corpus):
    """The engine hears of the switch once the cell is done; the keys do not wait for that."""
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        await pilot.press("f3")
        pane = app.query_one(PlaygroundPane)
        await pilot.press(*"import time; time.sleep(60)", "enter")
        await wait_for(pilot, lambda: pane.running, 10, "the cell running")
        await pilot.pause(0.5)
        await pilot.press("f5")
        await wait_for(pilot, lambda: i18n.language() == "vi", 5, "the switch")
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not pane.running, 15, "the cell interrupted")
        assert "KeyboardInterrupt" in transcript(app) or "Interrupted" in transcript(app)
        await pilot.press(*"1 + 1", "enter")  # the engine is free, and answers in Vietnamese
        await wait_for(pilot, lambda: "2" in transcript(app).split("1 + 1")[-1], 15, "next cell")


async def test_a_vietnamese_corpus_trains_and_predict_shows_its_letters(tmp_path):
    path = tmp_path / "tieng_viet.txt"
    # written decomposed (NFD), as some editors save it: the app reads it as typed (NFC)
    path.write_text(unicodedata.normalize("NFD", VIETNAMESE), encoding="utf-8")
    app = real_app(str(path), settings={"steps": 300})
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        await pilot.press("f2", "s")
        await wait_for(pilot, lambda: status.state == "finished", 120, "the run's 300 steps")
        await pilot.press("f4")
        pane = app.query_one(PredictPane)
        typed = "người h"
        await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in typed])
        await wait_for(
            pilot,
            lambda: pane.result is not None and pane.text == typed and not pane.prediction.busy,
            30,
            "a prediction for the Vietnamese text",
        )
        strip = app.query_one(TokenStrip)
        assert [ch for ch, _ in strip.strip] == list(typed)
        assert all(ident is not None for _, ident in strip.strip)  # each letter is known
        bars = app.query_one(ProbBars)
        assert bars.vocab_size == len(set(VIETNAMESE))
        # after "người h" the corpus says "ọ" (học): trained, the model puts it first
        assert bars.top[0].char == "ọ"
        assert "ọ" in bars.text()
        # the letters as the screen shows them: one cell each, precomposed
        await wait_for(pilot, lambda: "người h" in "\n".join(_screen(app)), 5, "the text box")


def _screen(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_f5_on_another_pane_leaves_the_transcript_wrapped_at_its_width(corpus):
    """The transcript drawn again in the new language while its pane was hidden was wrapped at
    20 columns until the window was resized: shown again, it is drawn at its width."""
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        await pilot.press("f3")
        pane = app.query_one(PlaygroundPane)
        code = "x = torch.ones(1, requires_grad=True) * 6 * 7  # a line longer than twenty"
        await pilot.press(*code, "enter")
        await wait_for(pilot, lambda: len(pane.transcript.entries) == 2, 20, "the cell")
        assert f"In [1] {code}" in transcript(app).splitlines()
        try:
            await pilot.press("f4", "f5")
            await wait_for(pilot, lambda: i18n.language() == "vi", 5, "the switch")
            await pilot.press("f3")
            await wait_for(pilot, lambda: f"In [1] {code}" in transcript(app), 5, "a whole line")
            width = pane.transcript.scrollable_content_region.width
            assert max(len(line.rstrip()) for line in transcript(app).splitlines()) > 40
            assert pane.transcript._drawn_width == width
        finally:
            i18n.set_language("en")
