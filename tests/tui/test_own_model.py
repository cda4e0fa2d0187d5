"""One's own model in the app (``--model FILE.py:FACTORY``): Pilot tests against a real engine
with a tiny Embedding → Linear factory written by the test. The status bar, the form, the
Summary, the Playground, Predict and a short run all show the person's model; a checkpoint of
it loads only through the factory the form names; a bad factory is refused and the model stays."""

from __future__ import annotations

import re

from textual.widgets import Input

from core.client import EngineClient
from tests.tui.conftest import CORPUS_TEXT, screen_lines, wait_configured, wait_for
from tui.app import TorchdeckApp
from tui.panes.predict_pane import PredictPane
from tui.panes.summary_pane import SummaryPane
from tui.panes.train_pane import TrainPane
from tui.widgets.playground_input import PlaygroundInput
from tui.widgets.playground_transcript import PlaygroundTranscript
from tui.widgets.prob_bars import ProbBars
from tui.widgets.status_bar import StatusBar
from tui.widgets.summary_table import SummaryTable

SIZE = (100, 30)
EMBED = 8  # the tiny model's embedding width
VOCAB = len(set(CORPUS_TEXT))  # the corpus's distinct characters

TINY = f"""
import torch.nn as nn


class Tiny(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, {EMBED})
        self.head = nn.Linear({EMBED}, vocab_size)

    def forward(self, idx):
        return self.head(self.embedding(idx))


def build(vocab_size, block_size):
    return Tiny(vocab_size)
"""

# forward drops the time axis: logits [B, vocab] where [B, T, vocab] is due
WRONG_SHAPE = TINY.replace(
    "return self.head(self.embedding(idx))", "return self.head(self.embedding(idx))[:, -1]"
)


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return f"{path}:build"


def own_app(corpus: str, factory: str) -> TorchdeckApp:
    return TorchdeckApp(
        preset="mini",
        corpus=corpus,
        device="cpu",
        factory=factory,
        client=EngineClient(nice=0, threads=1),
    )


def shown(app) -> str:
    return "\n".join(screen_lines(app))


def notified(app, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


async def status_line_shows(pilot, text: str) -> None:
    """The status bar (the screen's top row) shows ``text``. Waited for: while the engine reads
    the corpus the row is a loading indicator for a moment (StatusBar.loading, a str, is also
    Textual's Widget.loading)."""
    await wait_for(pilot, lambda: text in screen_lines(pilot.app)[0], 5, f"status bar: {text}")


async def small_run_settings(pilot, steps: int = 20, batch: int = 4) -> None:
    """Few steps of a small batch, applied with ``a`` (the model is built afresh)."""
    app = pilot.app
    status = app.query_one(StatusBar)
    app.query_one("#field-steps", Input).value = str(steps)
    app.query_one("#field-batch-size", Input).value = str(batch)
    app.query_one(TrainPane).focus()
    await pilot.press("a")
    await wait_for(pilot, lambda: status.steps == steps, 30, "small settings applied")


async def test_own_model_shows_in_the_status_bar_form_summary_playground_predict_and_trains(
    corpus, tmp_path
):
    factory = write(tmp_path, "tiny_model.py", TINY)
    app = own_app(corpus, factory)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        info = app.last_info
        assert info.factory == factory and info.model_name == "tiny_model.py:build"
        assert info.vocab_size == VOCAB
        assert status.preset == "tiny_model.py:build"
        await status_line_shows(pilot, "│ tiny_model.py:build │ step 0/1000 │")
        # the form names the factory; the built-in model's sizes are hidden
        assert app.query_one("#field-factory", Input).value == factory
        assert app.query_one("#row-factory").display
        for size in ("n-embd", "n-hidden", "n-layer", "n-head"):
            assert not app.query_one(f"#row-{size}").display, size

        # Summary: the person's layers, with their parameter counts
        await pilot.press("1")
        pane = app.query_one(SummaryPane)
        await wait_for(pilot, lambda: pane.layers_view.summary is not None, 30, "summary")
        table = app.query_one(SummaryTable)
        assert table.row_keys == ["layer:", "layer:embedding", "layer:head"]
        embedding, head = VOCAB * EMBED, EMBED * VOCAB + VOCAB
        assert "embedding: Embedding" in str(table.get_row("layer:embedding")[0])
        assert "head: Linear" in str(table.get_row("layer:head")[0])
        assert str(table.get_row("layer:embedding")[2]) == f"{embedding:,}"
        assert str(table.get_row("layer:head")[2]) == f"{head:,}"
        assert str(table.get_row("layer:")[2]) == f"{embedding + head:,}"
        assert pane.layers_view.summary.totals.params == embedding + head
        await wait_for(pilot, lambda: "tiny_model.py:build · step 0" in shown(app), 10, "head")
        assert any(
            "▸ embedding: Embedding" in row and f"{embedding:,}" in row for row in screen_lines(app)
        )

        # Playground: the model maps ids [1, 2] to logits [1, 2, vocab]
        await pilot.press("f3")
        box = app.query_one(PlaygroundInput)
        assert app.focused is box
        await pilot.press(*"model(torch.tensor([[1, 2]])).shape", "enter")
        log = app.query_one(PlaygroundTranscript)
        await wait_for(
            pilot,
            lambda: f"torch.Size([1, 2, {VOCAB}])" in "\n".join(s.text for s in log.lines),
            20,
            "the cell's output",
        )

        # Predict: typing shows the next character's probabilities
        await pilot.press("f4")
        predict = app.query_one(PredictPane)
        await pilot.press("t", "h", "e")
        await wait_for(
            pilot,
            lambda: (
                predict.result is not None
                and predict.text.endswith("the")
                and not predict.prediction.busy
            ),
            20,
            "prediction",
        )
        bars = app.query_one(ProbBars)
        assert bars.vocab_size == VOCAB and len(bars.top) == 10
        await pilot.pause(0.2)
        # on screen: one row per likely character, its probability as a percentage
        rows = [row for row in screen_lines(app) if re.search(r"█.*\d+\.\d%", row)]
        assert len(rows) == 10, shown(app)
        for row, item in zip(rows, bars.top, strict=True):
            assert f"{100 * item.prob:.1f}%" in row, row

        # Train: a short run of the own model reaches its end
        await pilot.press("escape", "f2")
        await small_run_settings(pilot)
        assert app.last_info.factory == factory  # rebuilt by the same factory
        assert status.preset == "tiny_model.py:build"
        await pilot.press("s")
        await wait_for(pilot, lambda: status.state == "finished", 30, "20 steps run")
        await pilot.pause(0.3)
        assert status.step == 20
        rows = screen_lines(app)
        assert "│ step 20/20 │" in rows[0], rows[0]  # the status bar
        assert any(re.search(r"step\s+20/20", row) for row in rows[1:]), shown(app)  # metrics


async def test_a_checkpoint_of_ones_own_model_loads_only_through_the_forms_factory(
    corpus, tmp_path
):
    factory = write(tmp_path, "tiny_model.py", TINY)
    app = own_app(corpus, factory)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        assert isinstance(app.focused, TrainPane)
        await pilot.press("n")
        await wait_for(pilot, lambda: status.step == 1, 20, "one step")
        await pilot.press("ctrl+s")
        path = "runs/torchdeck/checkpoint.pt"
        await wait_for(pilot, lambda: notified(app, f"saved step 1 to {path}"), 20, "saved")
        assert (tmp_path / path).is_file()
        await pilot.press("R")
        await wait_for(pilot, lambda: status.step == 0, 20, "reset")
        assert app.last_info.factory == factory  # fresh weights, from the same factory
        # the form names the factory: the checkpoint loads into the model it builds
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: notified(app, f"loaded step 1 from {path}"), 30, "loaded")
        assert status.step == 1 and status.preset == "tiny_model.py:build"
        assert app.last_info.factory == factory and not app.last_info.notes
        assert app.query_one("#field-factory", Input).value == factory
        # the file changed since the save: it loads, and a note says so
        (tmp_path / "tiny_model.py").write_text(TINY + "# edited\n", encoding="utf-8")
        await pilot.press("ctrl+o")
        await wait_for(
            pilot, lambda: notified(app, "has changed since this checkpoint"), 30, "note"
        )
        assert status.step == 1 and app.last_info.factory == factory
        # no factory in the form: torchdeck never imports what a checkpoint names
        app.query_one("#field-factory", Input).value = ""
        await pilot.pause()
        assert app.query_one("#row-n-embd").display and app.query_one("#row-n-hidden").display
        app.query_one(TrainPane).focus()
        app.clear_notifications()
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: notified(app, "holds a model built by"), 30, "refusal")
        (note,) = [n for n in app._notifications if "holds a model built by" in n.message]
        assert f"holds a model built by {factory}" in note.message
        assert f"load it with --model {factory}" in note.message
        assert note.severity == "error"
        # the app and the engine go on, with the model loaded before
        assert app.is_running and status.step == 1
        assert status.preset == "tiny_model.py:build" and app.last_info.factory == factory
        await pilot.press("n")
        await wait_for(pilot, lambda: status.step == 2, 20, "a step after the refusal")


async def test_a_bad_factory_in_the_form_is_refused_and_the_model_stays(corpus, tmp_path):
    factory = write(tmp_path, "tiny_model.py", TINY)
    wrong = write(tmp_path, "wrong_shape.py", WRONG_SHAPE)
    app = own_app(corpus, factory)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        before = app.last_info
        field = app.query_one("#field-factory", Input)
        # forward gives [B, vocab], not [B, T, vocab]: applied with a
        field.value = wrong
        app.query_one(TrainPane).focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: notified(app, "gave logits of shape"), 30, "shape refusal")
        (note,) = [n for n in app._notifications if "gave logits of shape" in n.message]
        assert (
            f"forward in wrong_shape.py gave logits of shape [2, {VOCAB}] for ids of shape [2, 64]"
            in note.message
        )
        assert f"expected [2, 64, {VOCAB}] (vocab_size {VOCAB})" in note.message
        assert note.severity == "error"
        assert app.is_running and app.last_info is before
        assert status.preset == "tiny_model.py:build"
        await status_line_shows(pilot, "│ tiny_model.py:build │ step 0/1000 │")
        # no such file: Enter in the field applies it
        missing = str(tmp_path / "no_such_model.py")
        field.value = f"{missing}:build"
        field.focus()
        await pilot.pause()
        assert app.focused is field
        await pilot.press("enter")
        await wait_for(pilot, lambda: notified(app, "there is no file"), 30, "missing refusal")
        assert notified(app, f"there is no file {missing}")
        assert app.is_running and app.last_info is before
        await status_line_shows(pilot, "│ tiny_model.py:build │ step 0/1000 │")
        # the model built before still trains
        app.query_one(TrainPane).focus()
        await pilot.press("n")
        await wait_for(pilot, lambda: status.step == 1, 20, "a step of the model kept")
        assert app.last_info.factory == factory


HANGS = TINY.replace(
    "    def forward(self, idx):\n",
    "    def forward(self, idx):\n        import time\n\n        time.sleep(3600)  # never returns\n",
)


async def test_a_model_that_never_returns_leaves_the_keys_working(corpus, tmp_path):
    """Applying a factory whose forward hangs holds the engine, not the app: panes switch, and
    ctrl+r restarts the engine, which builds the model the app started with."""
    factory = write(tmp_path, "tiny_model.py", TINY)
    app = own_app(corpus, factory)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_configured(pilot)
        before = app.last_info
        app.query_one("#field-factory", Input).value = write(tmp_path, "hangs.py", HANGS)
        app.query_one(TrainPane).focus()
        await pilot.press("a")
        await pilot.pause(1.0)  # the engine is inside the trial pass, for good
        await pilot.press("1")
        await wait_for(pilot, lambda: app.active_pane == "summary", 5, "the Summary pane")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.last_info is not before, 60, "a model again")
        assert app.last_info.factory == factory and app.is_running
