"""The Summary pane: Pilot tests against a real engine (tiny `mini`), and snapshots with replies
computed by core.inspection on fixed models (no engine process)."""

from __future__ import annotations

import json

import pytest

from core import inspection
from core.contract import SessionInfo
from core.contract.inspect import SummaryResult
from core.session import RunSpec, Session
from tests.tui.conftest import CORPUS_TEXT, FakeClient, real_app, wait_configured, wait_for
from tui.app import TorchdeckApp
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


# -- snapshots ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def canned(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
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
                }
            )
        )
    return out


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
