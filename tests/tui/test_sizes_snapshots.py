"""80×24 is the design size and 200×50 a wide terminal (issue 22): every pane and the help screen
at both sizes as snapshots with fixed data (the fake engines of the panes' own snapshot tests);
at 80×24 no row of any of them runs a word into the right edge; PageUp/PageDown scroll what is
taller than the screen."""

from __future__ import annotations

import re

import pytest

from core.contract import TrainState
from core.contract.inspect import SummaryResult
from tests.tui.conftest import screen_lines, wait_for
from tests.tui.test_playground_pane import CannedClient as PlaygroundClient
from tests.tui.test_playground_pane import _run_cells
from tests.tui.test_predict_pane import predict_client, show_math
from tests.tui.test_snapshots import fake_app, feed
from tests.tui.test_summary_pane import CannedClient as SummaryClient
from tests.tui.test_summary_pane import _run_before, canned_replies
from tui.app import TorchdeckApp
from tui.panes.playground_pane import PlaygroundPane
from tui.panes.predict_pane import PredictPane
from tui.panes.summary_pane import SummaryPane
from tui.screens.help_screen import HelpScreen, help_text
from tui.widgets.activation_map import ActivationMap
from tui.widgets.playground_input import PlaygroundInput
from tui.widgets.playground_transcript import PlaygroundTranscript
from tui.widgets.summary_layers import SummaryLayers
from tui.widgets.summary_table import SummaryTable

SIZES = [(80, 24), (200, 50)]
NARROW = (80, 24)


def cut_rows(app) -> list[str]:
    """The rows of the screen's widgets that run a word into the widget's right edge: the last
    two cells a letter or digit, then a letter, digit or '.' (cut there, "1." of "1.75 G", or
    fitting so exactly that nothing says it was not), as "Widget#id: text". Each widget is read
    where it shows (its content, less scrollbars, within what clips it); a widget as wide as its
    words (width auto, not clipped) cannot cut them."""
    lines = screen_lines(app)
    out = []
    for widget, (region, clip) in app.screen._compositor.visible_widgets.items():
        if any(child.display for child in widget.children):
            continue  # a container: its widgets are read
        content = region.shrink(widget.styles.gutter).shrink(widget.scrollbar_gutter)
        shown = content.intersection(clip)
        width = widget.styles.width
        if width is not None and width.is_auto and content.right <= clip.right:
            continue
        for y in range(shown.y, shown.bottom):
            text = lines[y][shown.x : shown.right]
            if re.search(r"\w[\w.]$", text):
                out.append(f"{type(widget).__name__}#{widget.id}: {text}")
    return out


async def test_cut_rows_finds_a_layer_table_cut_at_80_columns(canned, monkeypatch):
    """The check at work: the gpt table at depth 4 laid out two blanks apart, as it was before
    it learnt to close its gaps, has its mult-adds cut at 80 columns."""
    monkeypatch.setattr(SummaryTable, "_choose", lambda self: (6, 1))
    app, run_before = summary(canned["gpt"], "plus", "plus", "o")
    async with app.run_test(size=NARROW) as pilot:
        await run_before(pilot)
        cut = cut_rows(app)
        assert "SummaryTable#sum-table:    GPT" in cut[0] and cut[0].endswith("100.0%     1.")
        assert len(cut) == 5  # GPT, blocks, 0: Block, attn, qkv: their figures


# -- the panes' set-ups ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def canned(tmp_path_factory):
    return canned_replies(tmp_path_factory.mktemp("corpus"))


def summary(data: dict, *keys: str):
    """The app on the Summary pane with ``data``'s replies, then ``keys`` pressed; its
    run_before (the views ask for their data when shown: waited for)."""

    async def run_before(pilot) -> None:
        await _run_before(data, keys)(pilot)
        pane = pilot.app.query_one(SummaryPane)
        views = {
            "weight": lambda: pane.weight_view.weight,
            "embed": lambda: pane.lesson_view.lesson,
            "forward": lambda: pane.forward_view.forward,
            "source": lambda: pane.source_view.source,
        }
        ready = views.get(pane.current_view, lambda: True)
        await wait_for(pilot, lambda: ready() is not None, 10, f"the {pane.current_view} view")
        await pilot.pause()

    return TorchdeckApp(client=SummaryClient(data)), run_before


SUMMARY_VIEWS = {
    "table": ("gpt", ("o",)),  # every layer's tensors listed: the widest table at depth 2
    "weights": ("mini", ("w",)),
    "embedding": ("mini", ("e",)),
}


async def on_help(pilot) -> None:
    await feed(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


def pane_setup(name: str, canned: dict, tmp_path):
    """(app, run_before) for one pane (or the help) with its fixed data."""
    if name.startswith("summary-"):
        preset, keys = SUMMARY_VIEWS[name.removeprefix("summary-")]
        return summary(canned[preset], *keys)
    if name == "train":
        return fake_app(), feed
    if name == "playground":
        return TorchdeckApp(client=PlaygroundClient()), _run_cells
    if name == "predict":
        client, info = predict_client(tmp_path)
        return TorchdeckApp(client=client), show_math(info)
    assert name == "help"
    return fake_app(), on_help


PANES = [*(f"summary-{view}" for view in SUMMARY_VIEWS), "train", "playground", "predict", "help"]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", PANES)
def test_snapshot_at_80x24_and_200x50(snap_compare, canned, tmp_path, name, size):
    app, run_before = pane_setup(name, canned, tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


# -- nothing cut at 80 columns ----------------------------------------------------------------------


@pytest.mark.parametrize("name", PANES)
async def test_no_row_runs_into_the_right_edge_at_80x24(canned, tmp_path, name):
    app, run_before = pane_setup(name, canned, tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await run_before(pilot)
        lines = screen_lines(app)
        assert len(lines) == 24 and all(len(line) == 80 for line in lines)
        assert cut_rows(app) == []


@pytest.mark.parametrize("view", ["f", "c", "plus,plus,o"])
async def test_no_summary_view_runs_into_the_right_edge_at_80x24(canned, view):
    app, run_before = summary(canned["gpt"], *view.split(","))
    async with app.run_test(size=NARROW) as pilot:
        await run_before(pilot)
        assert cut_rows(app) == []


async def test_a_deep_table_closes_its_gaps_to_fit_80_columns_and_widens_at_200(canned):
    """At depth 4 with every tensor listed the names are long: at 80 columns the columns stand
    one blank apart (no horizontal scrolling, no number cut); at 200 the Tensors column shows
    each layer's own tensors."""
    app, run_before = summary(canned["gpt"], "plus", "plus", "o")
    async with app.run_test(size=NARROW) as pilot:
        await run_before(pilot)
        table = app.query_one(SummaryTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width
        header = next(line for line in screen_lines(app) if line.startswith(" Layer"))
        assert header.split() == ["Layer", "Output", "Params", "Train", "Share", "Mult-adds"]
        assert "Train Share" in header  # one blank apart
        qkv = next(line for line in screen_lines(app) if "qkv: Linear" in line)
        assert qkv.split()[-2:] == ["100.66", "M"]  # the whole figure
        await pilot.resize_terminal(200, 50)
        await wait_for(pilot, lambda: "Tensors" in "\n".join(screen_lines(app)), 5, "Tensors")
        lines = screen_lines(app)
        qkv = next(line for line in lines if "qkv: Linear" in line)
        assert qkv.rstrip().endswith("100.66 M  weight [384, 128], bias [384]")
        wte = next(line for line in lines if "· weight" in line and "[29, 128]" in line)
        assert "tied  float32 · same tensor as lm_head.weight" in wte


# -- the wide terminal ----------------------------------------------------------------------------


async def test_at_200_columns_predict_bars_stop_and_the_side_view_gets_the_rest(tmp_path):
    client, info = predict_client(tmp_path)
    app = TorchdeckApp(client=client)
    async with app.run_test(size=(200, 50)) as pilot:
        await show_math(info)(pilot)
        bars, side = app.query_one("#predict-bars"), app.query_one("#predict-side")
        assert bars.outer_size.width == 60 and side.outer_size.width == 140
        rows = [line for line in screen_lines(app) if "▏ " in line and "█" in line]
        assert rows and all(line.index("▏") == 60 for line in rows)


async def test_at_200_columns_summary_text_and_plots_share_the_width(canned):
    app, run_before = summary(canned["mini"], "e")
    async with app.run_test(size=(200, 50)) as pilot:
        await run_before(pilot)
        text, plots = app.query_one("#sum-embed-scroll"), app.query_one("#sum-embed-plots")
        assert text.size.width == 88 and plots.size.width == 112
        await pilot.press("w")
        await wait_for(pilot, lambda: app.query_one(SummaryPane).weight_view.weight, 10, "weight")
        await pilot.pause()
        assert app.query_one("#sum-weight-text").size.width == 62
        assert app.query_one("#sum-weight-plot").size.width == 138
        lines = screen_lines(app)
        assert any("init: nn.Linear weight: Kaiming-uniform ±1/√32 = ±0.1768" in x for x in lines)


# -- PageUp/PageDown --------------------------------------------------------------------------------


def test_help_text_wraps_each_description_under_itself():
    sections = [("Keys", [("a", "one two three four five six"), ("", "seven eight")])]
    assert help_text(sections, 17 + 16).plain.splitlines()[3:] == [
        "  a              one two three",
        "                 four five six",
        "                 seven eight",
    ]


async def test_help_pages_down_and_up_at_80x24():
    app = fake_app()
    async with app.run_test(size=NARROW) as pilot:
        await on_help(pilot)
        assert isinstance(app.screen, HelpScreen)
        body = app.screen.query_one("#help-body")
        assert body.max_scroll_y > 0  # taller than its box
        text = lambda: "\n".join(screen_lines(app))  # noqa: E731
        assert "torchdeck keys" in text() and "Summary pane" not in text()
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: "torchdeck keys" not in text(), 5, "the next page")
        assert "Summary pane" in text()
        while body.scroll_y < body.max_scroll_y:
            assert cut_rows(app) == []
            await pilot.press("pagedown")
            await pilot.pause()
        assert cut_rows(app) == []
        assert "Scroll side view down" in text()  # the last pane's last key
        await pilot.press("pageup")
        await pilot.pause()
        assert body.scroll_y < body.max_scroll_y


async def test_playground_transcript_pages_with_the_box_focused_at_80x24():
    app = TorchdeckApp(client=PlaygroundClient())
    async with app.run_test(size=NARROW) as pilot:
        await _run_cells(pilot)
        box, log = app.query_one(PlaygroundInput), app.query_one(PlaygroundTranscript)
        assert app.focused is box and log.scroll_y == log.max_scroll_y > 0
        text = lambda: "\n".join(screen_lines(app))  # noqa: E731
        assert "Python prompt in the engine" not in text() and "In [3]" in text()
        await pilot.press("pageup")
        await pilot.pause()
        assert log.scroll_y == max(0, log.max_scroll_y - log.scrollable_content_region.height)
        await pilot.press("pageup", "pageup", "pageup")
        await pilot.pause()
        assert log.scroll_y == 0 and "Python prompt in the engine" in text()
        await pilot.press("pagedown", "pagedown", "pagedown", "pagedown")
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y and "In [3]" in text()
        assert app.focused is box and box.text == "x.grad"  # the box kept its text and focus
        pane = app.query_one(PlaygroundPane)
        assert pane.count == 3


async def test_playground_says_in_one_row_that_cells_wait_while_training_at_80x24():
    app = TorchdeckApp(client=PlaygroundClient())
    async with app.run_test(size=NARROW) as pilot:
        await _run_cells(pilot)
        app.query_one(PlaygroundPane).engine_event("train_state", TrainState("running"))
        await pilot.pause()
        status = screen_lines(app)[-2]  # above the key line
        assert status.rstrip() == (
            "training runs: a cell waits for the current step, then runs (training waits)"
        )


async def test_predict_long_generation_follows_its_end_and_pages_at_80x24(tmp_path):
    client, info = predict_client(tmp_path)
    app = TorchdeckApp(client=client)
    async with app.run_test(size=NARROW) as pilot:
        await show_math(info)(pilot)
        pane = app.query_one(PredictPane)
        await pilot.press("m")  # back to the generated text
        view, side = pane.generated_view, app.query_one("#predict-side")
        view.start("to be")
        words = [f"w{n:03d}" for n in range(1, 201)]
        for word in words:  # streamed, as the engine's generate_token events add them
            view.add(word + " ")
            pane._show_generated()
            if word.endswith("0"):
                await pilot.pause()
        await pilot.pause()
        text = lambda: "\n".join(screen_lines(app))  # noqa: E731
        assert side.max_scroll_y > 0 and side.scroll_y == side.max_scroll_y
        assert "w200" in text() and "w001" not in text()  # the newest in view
        view.finish(view.text)
        pane._show_generated()
        await pilot.press("escape")  # out of the box: the pane's keys
        for _ in range(12):
            await pilot.press("pageup")
        await pilot.pause()
        assert side.scroll_y == 0 and "w001" in text() and "w200" not in text()
        assert cut_rows(app) == []
        await pilot.press("pagedown")
        await pilot.pause()
        assert side.scroll_y == side.scrollable_content_region.height
        await pilot.press("i", "pagedown", "pagedown", "pagedown", "pagedown", "pagedown")
        await pilot.pause()  # in the box too: the box has no use for them
        assert side.scroll_y == side.max_scroll_y and "w200" in text()


async def test_predict_activation_heading_keeps_to_one_row_at_80x24(tmp_path):
    """A long layer name's heading used to wrap, and the map's scale went off the bottom."""
    client, info = predict_client(tmp_path)
    app = TorchdeckApp(client=client)
    async with app.run_test(size=NARROW) as pilot:
        await show_math(info)(pilot)
        await pilot.press("l")
        await pilot.pause()
        chars = list("to be or not to b")
        app.query_one(ActivationMap).data = {
            "layer": "blocks.3.mlp.gelu",
            "type": "GELU",
            "units": [340, 243, 489, 506, 78, 453, 61, 407, 403, 371, 12, 7],
            "dim": 512,
            "chars": chars,
            "values": [[0.1 * (i - j) for j in range(12)] for i in range(len(chars))],
            "scale": 1.5,
        }
        await pilot.pause()
        side = [line[42:].rstrip() for line in screen_lines(app)]  # right of "▏ "
        at = side.index("blocks.3.mlp.gelu (GELU): top 12/512")
        assert side[at + 1].split() == list("o␣be␣or␣not␣to␣b")  # the last 16 that fit
        assert "scale ±1.5" in side[at + 2 + 10]  # the heading, the characters, 10 units, scale
        assert cut_rows(app) == []


def test_the_tied_names_have_a_line_of_their_own_in_the_totals(canned):
    layers = SummaryLayers()
    layers.summary = SummaryResult.from_dict(canned["gpt"]["summary"])
    totals = layers.totals().splitlines()
    assert totals[0] == "[b]params 805,248[/b]  trainable 805,248  frozen 0"
    assert totals[1] == "[yellow]tied: wte.weight = lm_head.weight (counted once)[/yellow]"
