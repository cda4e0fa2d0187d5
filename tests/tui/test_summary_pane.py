"""The Summary pane: Pilot tests against a real engine (tiny `mini`), and snapshots with replies
computed by core.inspection on fixed models (no engine process)."""

from __future__ import annotations

import inspect
import json

import pytest

from core import inspection
from core.contract import SessionInfo
from core.contract.inspect import ModelSourceResult, SummaryResult
from core.models import GPT, MiniLM
from core.session import RunSpec, Session
from tests.tui.conftest import (
    CORPUS_TEXT,
    FakeClient,
    real_app,
    screen_lines,
    wait_configured,
    wait_for,
)
from tui.app import TorchdeckApp
from tui.commands import help_sections
from tui.panes.summary_pane import SummaryPane
from tui.widgets.status_bar import StatusBar
from tui.widgets.summary_histogram import SummaryHistogram
from tui.widgets.summary_table import SummaryTable

SIZE = (100, 30)


async def _summary_ready(pilot) -> SummaryPane:
    await wait_configured(pilot)
    await pilot.press("1")
    pane = pilot.app.query_one(SummaryPane)
    await wait_for(pilot, lambda: pane.layers_view.summary is not None, 30, "summary reply")
    return pane


async def _select(pilot, table: SummaryTable, key: str) -> None:
    table.focus()
    table.move_cursor(row=table.get_row_index(key))
    await pilot.press("enter")


async def test_pane_lists_layers_shows_a_histogram_and_the_lessons(corpus):
    app = real_app(corpus, "mini")
    async with app.run_test(size=SIZE) as pilot:
        pane = await _summary_ready(pilot)
        layers, weight, forward = pane.layers_view, pane.weight_view, pane.forward_view
        lesson = pane.lesson_view
        table = app.query_one(SummaryTable)
        assert table.row_keys == [
            "layer:",
            "layer:embedding",
            "layer:hidden",
            "layer:activation",
            "layer:output",
        ]
        assert str(table.get_row("layer:hidden")[0]).strip() == "▸ hidden: Linear"
        assert isinstance(layers.summary, SummaryResult)
        total = layers.summary.totals.params
        assert str(table.get_row("layer:")[2]) == f"{total:,}"
        footer = str(app.query_one("#sum-totals").render())
        assert f"params {total:,}" in footer and "mult-adds/forward" in footer

        await _select(pilot, table, "layer:hidden")  # expand: its tensors appear
        assert table.get_row_index("weight:hidden.weight") == 3
        assert table.get_row_index("weight:hidden.bias") == 4
        await _select(pilot, table, "weight:hidden.weight")
        assert pane.current_view == "weight"
        await wait_for(pilot, lambda: weight.weight is not None, 30, "weight_stats reply")
        plot = app.query_one("#sum-weight-plot", SummaryHistogram)
        assert sum(plot.counts) == 64 * 32 and len(plot.counts) == 40  # n_hidden × n_embd
        assert plot.expected and weight.weight.init["kind"] == "uniform"
        body = str(app.query_one("#sum-weight-body").render())
        assert "hidden.weight" in body and "Kaiming-uniform ±1/√32 = ±0.1768" in body

        await pilot.press("right_square_bracket")  # the next tensor: hidden.bias
        await wait_for(pilot, lambda: weight.weight.name == "hidden.bias", 30, "next weight")

        await pilot.press("f")
        await wait_for(pilot, lambda: forward.forward is not None, 30, "forward lesson")
        assert forward.forward.layer == "hidden" and forward.forward.allclose
        assert "allclose ✓" in str(app.query_one("#sum-forward-text").render())

        await pilot.press("minus", "minus", "minus", "t")
        assert layers.depth == 0 and app.query_one(SummaryTable).row_count == 1

        # the Embedding-vs-Linear lesson, resized and re-initialised by keyboard
        await pilot.press("e")
        await wait_for(pilot, lambda: lesson.lesson is not None, 30, "lesson reply")
        assert lesson.lesson.V == 5000 and lesson.lesson.d == 70
        assert lesson.lesson.linear_init.theory["kind"] == "uniform"
        await pilot.press("v")  # the V box
        box = app.query_one("#sum-V")
        box.value = ""
        await pilot.press("3", "0", "0", "enter")
        await wait_for(pilot, lambda: lesson.lesson.V == 300, 30, "resized lesson")
        await pilot.press("i")
        await wait_for(pilot, lambda: lesson.lesson.reinit, 30, "re-initialised lesson")
        assert lesson.lesson.linear_init.theory["kind"] == "normal"
        text = str(app.query_one("#sum-embed-text").render())
        assert "nn.Embedding(300, 70)" in text and "allclose ✓" in text


def _screen(app) -> str:
    return "\n".join(screen_lines(app))


async def _on_screen(pilot, text: str, what: str) -> None:
    await wait_for(pilot, lambda: text in _screen(pilot.app), 30, what)


async def test_lesson_scrolls_at_80x24_without_tab_and_the_head_follows_the_step(corpus):
    app = real_app(corpus, "mini")
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await _summary_ready(pilot)
        await pilot.press("e")
        await wait_for(pilot, lambda: pane.lesson_view.lesson is not None, 30, "lesson reply")
        await pilot.pause()
        top = _screen(app)
        assert "e = nn.Embedding(5000, 70)" in top
        # L3: both layers wrap an nn.Parameter, as the engine's layers say
        assert "thin wrappers over nn.Parameter" in top
        assert " e.weight: Parameter, requires_grad=True" in top
        assert " l.weight: Parameter, requires_grad=True" in top
        assert " e.parameters(): weight; l: weight, bias" in top
        assert "±0.1195" not in top  # below the fold

        await pilot.press("pagedown")  # no Tab first
        await _on_screen(pilot, " Linear: Kaiming-uniform ±1/√70 = ±0.1195", "the init section")
        lines = screen_lines(app)
        std = next(line for line in lines if line.startswith("   std 0.06"))
        assert "(theory 0.0690) mean " in std  # the whole line, not cut at 80 columns
        assert "e = nn.Embedding(5000, 70)" not in _screen(app)
        await pilot.press("pageup")
        await _on_screen(pilot, "e = nn.Embedding(5000, 70)", "the top again")
        await pilot.press("down")
        await wait_for(pilot, lambda: "e = nn.Embedding" not in _screen(app), 10, "one line down")

        # three steps taken on the Train pane: back on Summary, the head says step 3
        head = app.query_one("#sum-head")
        assert "mini · step 0 ·" in str(head.render())
        await pilot.press("2", "n", "n", "n")
        status = app.query_one(StatusBar)
        await wait_for(pilot, lambda: status.step == 3, 30, "three steps")
        await pilot.press("1")
        await _on_screen(pilot, "mini · step 3 · input", "the head's step")
        assert pane.current_view == "embed" and pane.layers_view.summary.step == 0


async def test_model_code_view_shows_forward_and_init(corpus):
    app = real_app(corpus, "mini")
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await _summary_ready(pilot)
        await pilot.press("c")
        await wait_for(pilot, lambda: pane.source_view.source is not None, 30, "source reply")
        assert isinstance(pane.source_view.source, ModelSourceResult)
        await pilot.pause()
        text = _screen(app)
        forward_line = inspect.getsourcelines(MiniLM.forward)[1]
        init_line = inspect.getsourcelines(MiniLM.__init__)[1]
        assert "MiniLM  (core.models)" in text
        assert "__init__ declares the layers; forward is the data flow through them" in text
        assert "MiniLM.forward: the data flow" in text
        assert f"{forward_line} def forward(self, idx" in text
        assert f"{forward_line + 1}     x = self.embedding(idx)  # (B, T, n_embd)" in text
        assert "MiniLM.__init__: declares the layers" in text
        assert f"{init_line} def __init__(self, config: MiniConfig) -> None:" in text
        assert app.focused is pane.source_view  # PageUp/PageDown scroll it at once


def test_help_names_the_code_view():
    summary = dict(help_sections())["Summary pane"]
    assert ("c", "Model code: forward()") in summary


async def test_gpt_code_scrolls_to_init_and_the_palette_has_it(canned):
    data = canned["gpt"]
    app = TorchdeckApp(client=CannedClient(data))
    async with app.run_test(size=(80, 24)) as pilot:
        await _run_before(data, ("c",))(pilot)
        pane = app.query_one(SummaryPane)
        await wait_for(pilot, lambda: pane.source_view.source is not None, 10, "canned source")
        await pilot.pause()
        forward_line = inspect.getsourcelines(GPT.forward)[1]
        assert f"{forward_line} def forward(self, idx: torch.Tensor, targets:" in _screen(app)
        assert "GPT.__init__: declares the layers" not in _screen(app)  # below the fold
        await pilot.press("pagedown")
        await _on_screen(pilot, "GPT.__init__: declares the layers", "__init__ after PageDown")
        assert "self.lm_head.weight = self.wte.weight" in _screen(app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Summary: Model code: forward()" in titles


async def test_code_that_cannot_be_found_is_one_line(canned):
    missing = "the source of Net.forward cannot be found (could not get source code)"
    data = {
        **canned["mini"],
        "model_source": {
            "class_name": "Net",
            "module": "__main__",
            "blocks": [],
            "missing": missing,
        },
    }
    app = TorchdeckApp(client=CannedClient(data))
    async with app.run_test(size=(80, 24)) as pilot:
        await _run_before(data, ("c",))(pilot)
        pane = app.query_one(SummaryPane)
        await wait_for(pilot, lambda: pane.source_view.source is not None, 10, "canned source")
        await pilot.pause()
        lines = screen_lines(app)
        at = lines.index(next(line for line in lines if line.startswith("Net  (__main__)")))
        assert lines[at + 1].rstrip() == missing
        assert "def " not in _screen(app) and "data flow" not in _screen(app)


# -- snapshots ----------------------------------------------------------------------------------


def canned_replies(folder) -> dict:
    """The engine's replies for the mini and gpt models (a corpus written in ``folder``), as a
    CannedClient gives them: each view's op, computed by core.inspection, the lessons too."""
    path = folder / "corpus.txt"
    path.write_text(CORPUS_TEXT, encoding="utf-8")
    out = {}
    for preset in ("mini", "gpt"):
        s = Session.create(RunSpec(preset=preset, corpus=str(path), device="cpu"))
        out[preset] = json.loads(
            json.dumps(
                {
                    "info": s.describe().to_dict(),
                    "summary": inspection.summarize(s),
                    "weight_stats": inspection.weight_stats(
                        s, "lm_head.weight" if preset == "gpt" else "hidden.weight"
                    ),
                    "model_source": inspection.model_source(s.model),
                    "lesson_embedding_linear": inspection.lesson_embedding_linear(),
                    "lesson_linear_forward": inspection.lesson_linear_forward(s),
                }
            )
        )
    return out


@pytest.fixture(scope="module")
def canned(tmp_path_factory):
    return canned_replies(tmp_path_factory.mktemp("corpus"))


class CannedClient(FakeClient):
    def __init__(self, replies: dict) -> None:
        super().__init__()
        self.replies = replies

    async def send(self, op, args=None, timeout=None, **kwargs):
        return self.replies.get(op, {})


def _run_before(data: dict, keys: tuple[str, ...] = ()):
    async def run(pilot):
        app = pilot.app
        app.query_one(StatusBar).state = "ready"
        app.model_configured(SessionInfo.from_dict(data["info"]))
        await pilot.press("1", *keys)
        pane = app.query_one(SummaryPane)
        await wait_for(pilot, lambda: pane.layers_view.summary is not None, 10, "canned summary")
        await pilot.pause()

    return run


def test_summary_mini_snapshot(snap_compare, canned):
    app = TorchdeckApp(client=CannedClient(canned["mini"]))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_run_before(canned["mini"]))


def test_summary_gpt_weight_snapshot(snap_compare, canned):
    data = canned["gpt"]
    app = TorchdeckApp(client=CannedClient(data))

    async def run(pilot):
        await _run_before(data)(pilot)
        pane = pilot.app.query_one(SummaryPane)
        pane.weight_view.weight_name = "lm_head.weight"
        await pilot.press("w")
        await wait_for(pilot, lambda: pane.weight_view.weight is not None, 10, "canned weight")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run)


def test_summary_gpt_table_snapshot(snap_compare, canned):
    data = canned["gpt"]
    app = TorchdeckApp(client=CannedClient(data))
    assert snap_compare(app, terminal_size=(120, 40), run_before=_run_before(data, ("o",)))


async def test_forward_lesson_on_the_parabola_says_there_is_no_linear():
    s = Session.create(RunSpec(preset="parabola", device="cpu"))
    data = json.loads(
        json.dumps({"info": s.describe().to_dict(), "summary": inspection.summarize(s)})
    )
    client = CannedClient(data)
    app = TorchdeckApp(client=client)
    async with app.run_test(size=(80, 24)) as pilot:
        await _run_before(data, ("f",))(pilot)
        await _on_screen(pilot, "The parabola model has no Linear layer", "the line")
        assert "no X · Wᵀ + b to work by hand." in _screen(app)
        assert "loading…" not in _screen(app)
