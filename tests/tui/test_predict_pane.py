"""The Predict pane: Pilot tests against a real engine (tiny `mini` preset), and a snapshot
with fixed data."""

from __future__ import annotations

from textual.widgets import Static

from core.contract import SessionInfo
from tests.tui.conftest import FakeClient, real_app, wait_configured, wait_for
from tui.app import TorchdeckApp
from tui.panes.playground_pane import PlaygroundPane
from tui.panes.predict_pane import PredictPane
from tui.widgets.info_line import InfoLine
from tui.widgets.math_view import MathView
from tui.widgets.predict_input import PredictInput
from tui.widgets.prob_bars import ProbBars
from tui.widgets.status_bar import StatusBar
from tui.widgets.token_strip import TokenStrip

SIZE = (100, 30)


async def _open(pilot) -> PredictPane:
    await wait_configured(pilot)
    await pilot.press("f4")
    pane = pilot.app.query_one(PredictPane)
    assert isinstance(pilot.app.focused, PredictInput)
    return pane


async def _type(pilot, pane: PredictPane, text: str) -> dict:
    before = pane.result
    await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in text])
    await wait_for(
        pilot,
        lambda: (
            pane.result is not before
            and pane.result is not None
            and pane.text.endswith(text)
            and not pane.prediction.busy
            and pane._timer is None
        ),
        20,
        f"prediction for {text!r}",
    )
    return pane.result


async def test_typing_updates_strip_bars_and_loss_and_tab_accepts(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        pane = await _open(pilot)
        r = await _type(pilot, pane, "the qu")
        strip = app.query_one(TokenStrip)
        assert [ch for ch, _ in strip.strip] == list("the qu")
        assert all(ident is not None for _, ident in strip.strip)
        assert [ident for _, ident in strip.strip] == r.ids
        bars = app.query_one(ProbBars)
        assert len(bars.top) == 10 and bars.top == r.top
        assert bars.vocab_size == r.vocab_size == len(set(corpus_chars(corpus)))
        rendered = bars.text()
        assert f"uniform 1/{r.vocab_size}" in rendered
        info = app.query_one("#predict-info", InfoLine).text()
        assert "untrained: random weights" in info
        assert f"{r.bits_per_char:.2f} bits/char" in info
        assert pane.latencies and 0 < pane.latencies[-1] < 10
        top = r.top[0].char
        await pilot.press("tab")
        assert pane.text == "the qu" + top
        await wait_for(pilot, lambda: pane.result.strip[-1][0] == top, 20, "re-prediction")


def corpus_chars(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


async def test_unknown_character_is_marked(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        pane = await _open(pilot)
        r = await _type(pilot, pane, "fox é")
        assert r.unknown == [[4, "é"]]
        assert app.query_one(TokenStrip).strip[-1] == ["é", None]
        assert "?" in app.query_one(TokenStrip).text().splitlines()[1]
        info = app.query_one("#predict-info", InfoLine).text()
        assert "1 char(s) not in the vocabulary (é): skipped" in info
        # 10,000 characters pasted: only the last context window goes through the model
        before = pane.result
        pane.query_one(PredictInput).value = "the lazy dog. " * 714 + "ab"  # 9,998 chars
        await wait_for(
            pilot,
            lambda: pane.result is not before and not pane.prediction.busy and pane._timer is None,
            20,
            "prediction for the long text",
        )
        assert pane.result.chars == 9998 and len(pane.result.ids) == 64
        info = app.query_one("#predict-info", InfoLine).text()
        assert "using the last 64 of 9998 chars (context 64)" in info


async def test_temperature_zero_is_greedy_and_controls_redraw(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        pane = await _open(pilot)
        await _type(pilot, pane, "the")
        for _ in range(8):  # 1.0 → 0 in the temperature ladder
            await pilot.press("down")
        assert pane.controls.temperature == 0
        await wait_for(pilot, lambda: pane.result.top[0].prob == 1.0, 20, "greedy bars")
        assert all(t.prob == 0 for t in pane.result.top[1:])
        controls = str(app.query_one("#predict-controls", Static).render())
        assert "T=0" in controls and "greedy" in controls
        await pilot.press("up", "up", "up", "up", "up", "up", "up")  # back to 1.0
        await pilot.press("escape")
        assert isinstance(app.focused, PredictPane)
        await pilot.press("k", "k", "k")  # top-k: all → 1 → 3 → 5
        assert pane.controls.top_k == 5
        await wait_for(
            pilot, lambda: sum(t.prob > 0 for t in pane.result.top) == 5, 20, "top-k 5 bars"
        )
        assert "top-k 5" in str(app.query_one("#predict-controls", Static).render())


async def test_generation_streams_and_stops_on_its_key(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        pane = await _open(pilot)
        await _type(pilot, pane, "the ")
        await pilot.press("escape")
        await pilot.press("n", "n")  # 200 → 1000 → 50
        assert pane.controls.gen_length == 50
        pane.controls.gen_length = 1_000_000  # long enough to be stopped by hand
        await pilot.press("g")
        await wait_for(pilot, lambda: len(pane.generated_view.text) >= 3, 20, "streamed characters")
        assert pane.generating
        seen = len(pane.generated_view.text)
        await pilot.press("x")
        await wait_for(pilot, lambda: not pane.generating, 20, "generation stopped")
        generated = pane.generated_view.text
        assert seen <= len(generated) < 1_000_000
        assert set(generated) <= set(corpus_chars(corpus))
        shown = str(app.query_one("#predict-generated", Static).render())
        assert shown.endswith(generated[-20:])  # drawn after the dimmed prompt
        # enter in the box appends the generated text to the typed text
        await pilot.press("i", "enter")
        assert pane.text == "the " + generated
        assert pane.generated_view.text == ""


async def test_show_the_math_and_predictions_follow_training(corpus):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        pane = await _open(pilot)
        await _type(pilot, pane, "the lazy")
        await pilot.press("escape")
        await pilot.press("m")
        view = app.query_one(MathView)
        await wait_for(pilot, lambda: view.math is not None, 20, "math view")
        assert view.math["output"]["allclose"] is True
        text = str(view.render())
        assert "x·Wᵀ + b" in text and "allclose ✓" in text and "last char 'y'" in text
        # start training from the Train pane, come back: the bars follow the weights
        await pilot.press("f2", "s")
        await pilot.press("f4")
        await wait_for(
            pilot,
            lambda: pane.result and pane.result.step > 20,
            60,
            "prediction from trained weights",
        )
        assert "untrained" not in app.query_one("#predict-info", InfoLine).text()
        await pilot.press("f2", "x")


async def test_layers_follow_a_playground_cell_that_edits_the_model(corpus):
    """The activations view lists the live model's layers: after a Playground cell replaces
    one, coming back to Predict lists the new ones, the chosen layer stays chosen by name, and
    a layer the cell removed is no longer offered."""
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        pane = await _open(pilot)
        await _type(pilot, pane, "the")
        await pilot.press("escape", "l")
        await wait_for(pilot, lambda: pane.layer_list, 20, "the layer list")
        chosen = pane.layer_list[pane.layer_index]["name"]
        assert chosen == "activation"  # the layer that feeds the output
        await wait_for(
            pilot,
            lambda: pane.result.activations and pane.result.activations["layer"] == chosen,
            20,
            "the chosen layer's activations",
        )
        await pilot.press("f3")
        cell = "h = model.hidden; model.hidden = nn.Sequential(nn.Linear(h.in_features, 24), "
        cell += "nn.Tanh(), nn.Linear(24, h.out_features))"
        await pilot.press(*cell, "enter")
        playground = app.query_one(PlaygroundPane)
        await wait_for(pilot, lambda: len(playground.transcript.entries) == 2, 20, "the cell")
        shown = " ".join(strip.text.strip() for strip in playground.transcript.lines)
        assert "the model's parameters changed: training now updates 7 tensors" in shown
        before = pane.result
        await pilot.press("f4")
        names = lambda: [layer["name"] for layer in pane.layer_list]  # noqa: E731
        await wait_for(pilot, lambda: "hidden.1" in names(), 20, "the new layers")
        assert names()[:5] == ["embedding", "hidden", "hidden.0", "hidden.1", "hidden.2"]
        assert pane.layer_list[pane.layer_index]["name"] == chosen
        await wait_for(pilot, lambda: pane.result is not before, 20, "a new prediction")
        assert pane.result.activations["layer"] == chosen
        await pilot.press("escape", "[", "[", "[")  # from activation: hidden.2, .1, then .0
        await wait_for(
            pilot,
            lambda: pane.result.activations["layer"] == "hidden.0",
            20,
            "hidden.0's activations",
        )
        assert pane.result.activations["type"] == "Linear"
        assert pane.result.activations["dim"] == 24


# -- snapshot with fixed data --------------------------------------------------------------------

SNAP_TEXT = "to be or not to be, that is the question. " * 20


class PredictClient(FakeClient):
    """Answers predict with the real core.predict on a fixed, seeded mini model (in-process)."""

    def __init__(self) -> None:
        super().__init__()
        import torch

        from core.session import RunSpec

        torch.manual_seed(0)
        self.torch = torch
        self.session = None
        self.spec = RunSpec(
            preset="mini",
            corpus=None,
            device="cpu",
            model={"n_embd": 16, "n_hidden": 32},
            train={"seed": 0},
        )

    async def send(self, op, args=None, timeout=None, **kwargs):
        from core.predict import Sampling, predict

        args = {**(args or {}), **kwargs}
        if op != "predict":
            return {}
        s = self.session
        result = predict(
            s.model,
            s.tokenizer,
            args["text"],
            s.block_size,
            s.device,
            Sampling(
                temperature=args["temperature"],
                top_k=args["top_k"],
                top_p=args["top_p"],
                greedy=args["greedy"],
            ),
            k=args["k"],
            math_view=args.get("math", False),
        )
        result["step"] = 0
        return result


def predict_client(tmp_path) -> tuple[PredictClient, SessionInfo]:
    """The seeded client on a small corpus under ``tmp_path``, and its session's info."""
    from core.session import Session

    corpus = tmp_path / "hamlet.txt"
    corpus.write_text(SNAP_TEXT, encoding="utf-8")
    client = PredictClient()
    client.spec.corpus = str(corpus)
    client.session = Session.create(client.spec)
    return client, client.session.describe()


def show_math(info: SessionInfo):
    """A run_before: the Predict pane with "to be or not to b" typed and the math view shown."""

    async def run_before(pilot):
        app = pilot.app
        app.query_one(StatusBar).state = "ready"
        app.model_configured(info)
        await pilot.press("f4")
        pane = app.query_one(PredictPane)
        app.query_one(PredictInput).value = "to be or not to b"
        await pilot.press("escape")
        await pilot.press("m")
        await wait_for(
            pilot,
            lambda: (
                pane.result is not None
                and pane.result.math is not None
                and pane._timer is None
                and not pane.prediction.busy
            ),
            10,
            "prediction from the seeded model",
        )
        pane.latencies.clear()
        pane._show_info(pane.result)
        await pilot.pause()

    return run_before


def test_predict_pane_snapshot(snap_compare, tmp_path):
    client, info = predict_client(tmp_path)
    app = TorchdeckApp(client=client)
    assert snap_compare(app, terminal_size=(80, 24), run_before=show_math(info))
