"""The Predict pane's explain view (issue 17): attention maps in half blocks with the causal mask
and a 256-colour grey scale, the logit lens, attribution and neighbours; drawn to fit, never
wrapped; navigated by keys; updating as the user types and as the model trains."""

from __future__ import annotations

import dataclasses
import math

import pytest
from rich.color import Color
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.app import App

from core.contract import PredictArgs
from core.contract.explain import ExplainResult, LensRow, Neighbour, TopChar
from tests.tui.conftest import real_app, screen_lines, wait_configured, wait_for
from tui.panes.base import EXPLAIN_HOLD_S
from tui.panes.predict_pane import PredictPane
from tui.widgets.attention_map import MASKED, fits, head_map, shade
from tui.widgets.explain_view import ExplainView, explain_lines, text_row
from tui.widgets.prob_bars import ProbBars


def causal(t: int, seed: int = 1) -> list[list[float]]:
    """A deterministic causal attention: row q spreads over keys 0..q, rows sum to 1."""
    rows = []
    for q in range(t):
        w = [math.exp(math.sin(seed * (q + 1) * (k + 2))) for k in range(q + 1)]
        rows.append([x / sum(w) for x in w] + [0.0] * (t - q - 1))
    return rows


def synthetic(t: int = 40, layers: int = 4, heads: int = 4, grid: bool = False) -> ExplainResult:
    text = ("the cat sat on the mat. " * 4)[:t]
    return ExplainResult(
        chars=list(text),
        ids=list(range(t)),
        n_layer=layers,
        n_head=heads,
        layers=[1],
        heads=list(range(heads)) if grid else [2],
        attention=[[causal(t, h + 1) for h in (range(heads) if grid else [2])]],
        lens=[
            LensRow(name, [TopChar("t", 1, 0.3 + i / 10), TopChar("h", 2, 0.1)])
            for i, name in enumerate(["embed", "block 0", "block 1", "block 2", "block 3"])
        ],
        attribution=[math.sin(i) for i in range(t)],
        target=TopChar("t", 1, 0.7),
        neighbours_of=TopChar(".", 5, 0.0),
        neighbours=[Neighbour(c, i, 0.9 - i / 10) for i, c in enumerate("!?,;:")],
        position=t - 1,
        step=120,
    )


def test_the_shades_are_the_palettes_greys_by_square_root():
    assert shade(0.0) == Color.from_ansi(233)
    assert shade(1.0) == Color.from_ansi(255)
    assert shade(0.25) == Color.from_ansi(233 + round(0.5 * 22))  # sqrt: weak attention shows
    assert MASKED == Color.from_ansi(232)
    assert fits(64, 40, 10) == 18  # 9 lines of two rows under the key labels
    assert fits(64, 200, 50) == 64 and fits(10, 80, 24) == 10


def test_a_head_map_puts_two_query_rows_per_line_and_blanks_the_masked_cells():
    att = [[1.0, 0, 0, 0], [0.5, 0.5, 0, 0], [0.2, 0.3, 0.5, 0], [0.1, 0.2, 0.3, 0.4]]
    lines = head_map(att, list("abcd"), 20, 10, focus=1)
    assert [line.plain for line in lines] == ["   abcd", "ab ▀▀▀▀", "cd ▀▀▀▀"]
    first = lines[1]
    # the row labels: query 1, under the cursor, in reverse
    assert first.spans[0].style == "dim" and first.spans[1].style == "reverse"
    cells = [(s.end - s.start, s.style) for s in first.spans[2:]]  # a span per run of equals
    assert cells == [
        (1, Style(color=shade(1.0), bgcolor=shade(0.5))),  # q0 over q1, key 0
        (1, Style(color=MASKED, bgcolor=shade(0.5))),  # q0 cannot see key 1
        (2, Style(color=MASKED, bgcolor=MASKED)),  # keys 2 and 3: masked for both
    ]
    # too little room: the last positions that fit, never wrapped
    small = head_map(att, list("abcd"), 5, 2)
    assert [line.plain for line in small] == ["   cd", "cd ▀▀"]


@pytest.mark.parametrize("width, height", [(80, 12), (78, 13), (40, 12), (118, 29), (30, 6)])
def test_the_view_fits_its_size_and_says_what_it_shows(width, height):
    lines = explain_lines(synthetic(), False, 39, width, height)
    assert len(lines) <= height and all(line.cell_len <= width for line in lines)
    plain = [line.plain for line in lines]
    assert plain[0].startswith("why 't' 70%: ")
    if width >= 40:
        assert plain[1].startswith("near '.':  ! 0.90  ? 0.80")
    if height >= 12:
        left = width - (31 if width >= 54 else 0)  # the lens beside the map when it fits
        n = fits(40, left, height - 5)  # under the two lines, the title, the scale and keys
        title = plain[2][:left].rstrip()  # under the why and near lines
        # the wordiest title that fits: the layer, the head, and the window when it cuts
        assert (
            title
            in (
                f"attention · layer 2/4 · head 3/4 · last {n} of 40",
                f"attention · layer 2/4 · head 3/4 · last {n}/40",
                f"layer 2/4 · head 3/4 · last {n}/40",
                f"L2/4 H3/4 · {n}/40",
            )
            if n < 40
            else title == "attention · layer 2/4 · head 3/4"
        )
        rows = [p for p in plain if p[:3].strip() and "▀" in p]
        assert len(rows) == (n + 1) // 2 and all(p[3:].count("▀") >= n for p in rows)
    grid = [line.plain for line in explain_lines(synthetic(heads=4, grid=True), True, 39, 24, 12)]
    assert grid[2] == "layer 2/4 · all 4 heads"  # "attention · " left out to fit 24 cells
    assert grid[3].split() == ["h1", "h2", "h3", "h4"]  # five-cell maps: each still named


def _cells(pieces) -> list[tuple[str, Style]]:
    """Each character with its style, parsed: two drawings compare cell by cell."""
    out = []
    for text, style in pieces:
        parsed = style if isinstance(style, Style) else Style.parse(style or "none")
        out += [(ch, parsed) for ch in text]
    return out


@pytest.mark.parametrize("grid", [False, True])
def test_the_view_is_drawn_cell_for_cell_as_rich_draws_its_lines(grid):
    console = Console(width=120, color_system="256")
    lines = explain_lines(synthetic(64, grid=grid), grid, 30, 118, 29)
    overlapping = Text("abcdef", style="dim")
    overlapping.stylize("bold", 1, 4)
    overlapping.stylize(Style(color=shade(0.5)), 2, 6)
    for line in [*lines, overlapping]:
        drawn = console.render(line, console.options.update(width=120))  # Rich's own way
        rich = [(seg.text, seg.style or "") for seg in drawn if seg.text != "\n"]
        assert _cells(text_row(line)) == _cells(rich), line.plain
    cut = text_row(lines[0])  # "why 't' 70%: " in bold, then a shade per character
    assert cut[0] == ("why 't' 70%: ", "b") and len(cut) == 1 + len(lines[0].plain) - 13


@pytest.mark.parametrize("width, height", [(80, 16), (118, 29), (40, 12)])
def test_a_window_of_what_fits_draws_as_the_whole_map_does(width, height):
    full = synthetic(64)
    window = min(width, 2 * height)  # ExplainView.window at this size
    offset = 64 - window
    cut = dataclasses.replace(
        full, attention=[[[row[offset:] for row in full.attention[0][0][offset:]]]], offset=offset
    )
    for focus in (63, 40, offset - 1):  # at the end, inside the window, before it (no row)
        drawn = explain_lines(cut, False, focus, width, height)
        assert [line.plain for line in drawn] == [
            line.plain for line in explain_lines(full, False, focus, width, height)
        ]
        assert [line.spans for line in drawn] == [
            line.spans for line in explain_lines(full, False, focus, width, height)
        ]


def test_a_character_before_the_context_is_said_not_fed_and_a_small_view_keeps_its_text():
    cut = dataclasses.replace(synthetic(), position=None)  # asked, known, but not fed
    assert explain_lines(cut, False, None, 80, 12)[1].plain.startswith("near '.' (not fed):  !")
    small = [line.plain for line in explain_lines(synthetic(), False, 39, 40, 4)]
    assert small[0].startswith("why 't'") and small[1].startswith("near '.':")
    assert not any("masked" in line or "layer ·" in line for line in small)  # no scale, no keys


def test_a_model_without_attention_or_lens_gets_their_notes():
    r = ExplainResult(
        chars=list("ab"),
        attention_note="the mini preset has no attention: only gpt does",
        lens_note="the logit lens needs transformer blocks, a final norm and an unembedding (gpt)",
        attribution=[0.1, 0.2],
        target=TopChar("b", 3, 0.5),
    )
    plain = [line.plain for line in explain_lines(r, False, None, 80, 12)]
    assert plain[2:] == [r.attention_note, r.lens_note]  # no empty box, no key hints


class ViewApp(App):
    def __init__(self, data: ExplainResult, grid: bool = False) -> None:
        super().__init__()
        self.data, self.grid = data, grid

    def compose(self):
        view = ExplainView()
        view.data, view.grid, view.focus_position = self.data, self.grid, 30
        yield view


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_attention_view_snapshot(snap_compare, size):
    assert snap_compare(ViewApp(synthetic(64)), terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_all_heads_snapshot(snap_compare, size):
    assert snap_compare(ViewApp(synthetic(64, grid=True), grid=True), terminal_size=size)


# -- in the app -------------------------------------------------------------------------------


async def explained(pilot, text: str) -> tuple[PredictPane, ExplainView]:
    """The Predict pane with ``text`` typed and its explain view drawn."""
    await wait_configured(pilot)
    await pilot.press("4")
    pane = pilot.app.query_one(PredictPane)
    pane.input_box.set_text(text)
    await pilot.press("escape", "e")
    view = pane.query_one(ExplainView)
    await wait_for(pilot, lambda: view.data is not None, 20, "the explanation")
    return pane, view


async def test_keys_move_through_layers_and_heads_and_the_cursor_picks_the_character(corpus):
    app = real_app(corpus, preset="gpt")
    async with app.run_test(size=(80, 24)) as pilot:
        pane, view = await explained(pilot, "the cat sat")
        assert not pane.query_one(ProbBars).display  # the view takes the width
        r = view.data
        assert (r.n_layer, r.n_head, r.layers, r.heads) == (4, 4, [0], [0])
        assert len(r.attention[0][0]) == len(r.chars) == 11
        # the lens's last row is the model's own prediction
        await wait_for(pilot, lambda: pane.result is not None, 10, "the prediction")
        assert r.lens[-1].top[0].char == pane.result.top[0].char
        await pilot.press("right_square_bracket", "full_stop", "full_stop")
        await wait_for(pilot, lambda: view.data.layers == [1] and view.data.heads == [2], 10)
        assert any("attention · layer 2/4 · head 3/4" in line for line in screen_lines(app))
        await pilot.press("v")
        await wait_for(pilot, lambda: view.data.heads == [0, 1, 2, 3], 10, "every head")
        await pilot.press("left_square_bracket", "left_square_bracket")
        await wait_for(pilot, lambda: view.data.layers == [3], 10, "layer 4, wrapped")
        # the cursor after "the c": the neighbours are the c's
        pane.input_box.cursor_position = 5
        await wait_for(pilot, lambda: view.data.neighbours_of.char == "c", 10, "c's neighbours")
        assert view.focus_position == 4
        await pilot.press("e")
        assert pane.query_one(ProbBars).display


async def test_the_view_follows_the_training(corpus):
    app = real_app(corpus, preset="gpt")
    async with app.run_test(size=(80, 24)) as pilot:
        pane, view = await explained(pilot, "the cat")
        before = view.data
        await pilot.press("2", "s", "4")  # train, and watch
        await wait_for(pilot, lambda: view.data.step >= before.step + 2, 60, "two reports")
        after = view.data
        assert after.attribution != before.attribution
        assert after.attention != before.attention
        await pilot.press("2", "space")


async def test_each_key_asks_once_for_the_character_at_the_cursor(corpus):
    """The box changes its text before it moves its cursor, and a key's request goes out in
    between: the character asked is still the one at the cursor, counted in the box's text
    (an unknown character is not fed but is counted), so no key needs a second request."""
    app = real_app(corpus, preset="gpt")
    async with app.run_test(size=(80, 24)) as pilot:
        pane, view = await explained(pilot, "the ñ")  # ñ is not in the corpus
        # the cursor after the ñ: its note, not the neighbours of the last character fed
        await wait_for(pilot, lambda: view.data.neighbours_of is None, 10, "the ñ's note")
        await pilot.press("i")  # back in the box
        asked: list[tuple[str, int | None, bool]] = []
        real_send = app.engine.send

        def send(request, *args, **kwargs):
            answer = real_send(request, *args, **kwargs)
            if not isinstance(request, PredictArgs):
                return answer

            async def noted():
                result = await answer
                asked.append((request.text, request.explain["position"], result is not None))
                return result

            return noted()

        app.engine.send = send

        async def settled(text: str, what: str) -> None:
            await wait_for(
                pilot,
                lambda: not pane.prediction.busy and view.data.chars[-1:] == list(text[-1:]),
                10,
                what,
            )

        holds: list[float] = []
        hold = app.screen.hold_paint
        app.screen.hold_paint = lambda seconds: holds.append(seconds) or hold(seconds)
        for i, key in enumerate(" cat"):
            await pilot.press({" ": "space"}.get(key, key))
            await settled("the ñ" + " cat"[: i + 1], f"{key!r} explained")
        # at the end of the text: its last character, the one before the cursor
        assert asked == [(f"the ñ{' cat'[: i + 1]}", 5 + i, True) for i in range(4)]
        assert view.data.chars == list("the  cat") and view.focus_position == 7
        assert holds == [EXPLAIN_HOLD_S] * 4  # each echo waits for its explanation

        asked.clear()
        await pilot.press(*["left"] * 4)  # after the ñ: it has no vector, and no row
        await wait_for(pilot, lambda: view.data.neighbours_of is None, 10, "ñ asked")
        assert (
            view.data.neighbours_note == "'ñ' is not in the vocabulary: it has no vector to compare"
        )
        assert view.focus_position is None
        await pilot.press("left")  # the space before it: the fed row 3
        await wait_for(pilot, lambda: view.data.neighbours_of is not None, 10, "space asked")
        assert view.data.neighbours_of.char == " " and view.focus_position == 3

        asked.clear()
        await pilot.press("x")  # typed in the middle: the x is asked at once
        await wait_for(pilot, lambda: pane.text == "the xñ cat" and asked, 10, "x asked")
        await pilot.pause(0.3)
        assert asked == [("the xñ cat", 4, True)]
        assert view.data.neighbours_of.char == "x" and view.focus_position == 4

        async def once(keys: list[str], text: str, what: str) -> None:
            """``keys`` leave ``text`` in the box, asked for in one request."""
            asked.clear()
            await pilot.press(*keys)
            await wait_for(pilot, lambda: pane.text == text and asked, 10, what)
            await pilot.pause(0.3)
            assert len(asked) == 1 and asked[0][0] == text and asked[0][2], asked

        await once(["delete"], "the x cat", "the ñ after the cursor deleted")  # the cursor stays
        assert asked[0][1] == 4 and view.data.neighbours_of.char == "x"
        await pilot.press("shift+left")  # the x selected: the cursor moves before it
        await wait_for(pilot, lambda: view.data.neighbours_of.char == " ", 10, "the space")
        await once(["y"], "the y cat", "the selected x typed over")
        assert asked[0][1] == 4 and view.data.neighbours_of.char == "y"
        await pilot.press("end")
        await wait_for(pilot, lambda: view.data.neighbours_of.char == "t", 10, "the end")
        await once(["ctrl+w"], "the y ", "a word deleted before the cursor")
        assert asked[0][1] == 5 and view.data.neighbours_of.char == " "
        await pilot.press("home")  # the first character: the one after the cursor
        await wait_for(pilot, lambda: view.focus_position == 0, 10, "the start")
        await once(["ctrl+k"], "", "all of it deleted from the start")
        assert asked[0][1] is None  # an empty text asks for no position (it has none)
        assert view.data.chars and view.data.neighbours_note.startswith("no text is fed")


async def test_the_pane_asks_for_what_the_view_can_show_and_again_when_it_grows(corpus):
    app = real_app(corpus, preset="gpt")
    async with app.run_test(size=(80, 24)) as pilot:
        text = "the quick brown fox jumps over the lazy dog. to be or not to be, that"
        pane, view = await explained(pilot, text)  # 70 characters: 64 fed
        window = view.window  # asked from the next request on (the view is laid out now)
        assert window == min(view.size.width, 2 * view.size.height) < 64
        await pilot.press("i", "space")
        await wait_for(pilot, lambda: view.data.offset == 64 - window, 10, "the window")
        assert len(view.data.attention[0][0]) == window and len(view.data.chars) == 64
        await pilot.resize_terminal(200, 60)
        await wait_for(pilot, lambda: view.data.offset == 0, 10, "the whole map, grown")
        assert len(view.data.attention[0][0]) == 64 and view.window >= 64


async def test_a_refused_request_says_why_where_the_figures_go(corpus):
    app = real_app(corpus, preset="gpt")
    async with app.run_test(size=(100, 30)) as pilot:
        pane, view = await explained(pilot, "the cat")
        pane.explain_at = [9, 0]  # a layer this model has not (keys wrap: only a bug sends it)
        pane.schedule(0)
        info = pane.query_one("#predict-info")
        await wait_for(pilot, lambda: "layer 9" in info.text(), 10, "the refusal shown")
        assert info.text().startswith(
            "predict: layer 9 is out of range: this model has n_layer = 4 — choose a layer"
        )
        assert not app.query("Toast")  # told in its place, not a notification a key
