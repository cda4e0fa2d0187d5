"""The Playground pane: Pilot tests against a real engine (type a cell, run it, see the result;
history; a recipe; interrupt; save) and a snapshot with canned engine replies."""

from __future__ import annotations

import pytest

from core.contract import TrainState
from core.contract.lab import ExecResult
from core.playground_recipes import recipe
from tests.tui.conftest import FakeClient, real_app, wait_configured, wait_for
from tui.app import TorchdeckApp
from tui.panes.playground_pane import PlaygroundPane
from tui.widgets.playground_input import PlaygroundInput
from tui.widgets.playground_transcript import PlaygroundTranscript
from tui.widgets.status_bar import StatusBar

SIZE = (100, 30)


def screen_text(app) -> str:
    log = app.query_one(PlaygroundTranscript)
    return "\n".join(strip.text for strip in log.lines)


async def test_type_run_history_recipe_interrupt_and_save(corpus, tmp_path):
    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        await pilot.press("f3")
        box = app.query_one(PlaygroundInput)
        pane = app.query_one(PlaygroundPane)
        assert app.focused is box
        await pilot.press(*"x = torch.ones(3) * 2", "enter")
        await wait_for(pilot, lambda: len(pane.transcript.entries) == 2, 20, "first cell")
        await pilot.press(*"x.sum()", "enter")
        await wait_for(pilot, lambda: "tensor(6.)" in screen_text(app), 20, "x.sum() shown")
        assert "Out[2] tensor[] n=1 f32 cpu all=6.0" in screen_text(app)
        # an incomplete line: enter starts a new, indented line instead of running
        await pilot.press(*"for i in range(2):", "enter")
        assert box.text == "for i in range(2):\n    " and not pane.running
        await pilot.press(*"print(i * 10)", "enter", "enter")
        await wait_for(pilot, lambda: "\n10" in screen_text(app), 20, "loop output")
        # history: up on the first line recalls the last cell, then the one before
        await pilot.press("up")
        assert box.text == "for i in range(2):\n    print(i * 10)"
        box.move_cursor((0, 0))
        await pilot.press("up")
        assert box.text == "x.sum()"
        await pilot.press("down", "down")
        assert box.text == ""
        # tab completes from the engine's namespace
        await pilot.press(*"torch.arang", "tab")
        await wait_for(pilot, lambda: box.text == "torch.arange", 10, "completion")
        box.set_code("")
        # a recipe loads with ctrl+t, enter; one more enter runs it
        await pilot.press("ctrl+t")
        await wait_for(
            pilot, lambda: app.screen.__class__.__name__ == "RecipeScreen", 5, "recipe list"
        )
        await pilot.press("down", "down", "down", "down", "enter")
        assert box.text == recipe("autograd").code
        await pilot.press("enter")
        await wait_for(pilot, lambda: "tensor([18.])" in screen_text(app), 20, "x.grad")
        # ctrl+c interrupts an endless cell; the engine and the namespace live on
        await pilot.press(*"while True: pass", "enter")
        await wait_for(pilot, lambda: pane.running, 5, "running")
        await pilot.pause(0.3)
        line = str(app.query_one("#playground-status").render())  # the box is empty: what runs
        assert line == f"In [{pane.count}] running, ctrl+c interrupts: while True: pass"
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not pane.running, 10, "interrupted")
        assert "Interrupted: the cell was stopped" in screen_text(app)
        await pilot.press(*"x.grad.item()", "enter")
        await wait_for(pilot, lambda: "\n18.0" in screen_text(app), 20, "namespace kept")
        # ctrl+s saves the transcript as Markdown
        saves = tmp_path / "saves"
        pane.save_dir = str(saves)
        await pilot.press("ctrl+s")
        saved = (saves / pane.last_saved.split("/")[-1]).read_text(encoding="utf-8")
        assert "```python\nx.sum()\n```" in saved and "tensor([18.])" in saved
        assert "**Interrupted**" in saved
        assert [p.name for p in saves.iterdir()] == [pane.last_saved.split("/")[-1]]  # no temp
        # while training runs the pane says that cells wait for the current step
        pane.engine_event("train_state", TrainState("running"))
        assert "waits for the current step" in str(app.query_one("#playground-status").render())
        pane.engine_event("train_state", TrainState("paused"))
        # a cell that kills the engine is reported; ctrl+r from the input box restarts it
        await pilot.press(*"import os; os._exit(1)", "enter")
        await wait_for(pilot, lambda: status.state == "crashed", 20, "crash")
        await wait_for(
            pilot,
            lambda: "every name defined here is lost" in screen_text(app),
            5,
            "namespace-lost note",
        )
        assert "EngineDied: the engine exited (code 1) during this cell" in screen_text(app)
        assert app.focused is box
        await pilot.press("ctrl+r")
        await wait_configured(pilot)  # the engine is back
        await pilot.press(*"x", "enter")
        await wait_for(
            pilot,
            lambda: "NameError: name 'x' is not defined" in screen_text(app),
            20,
            "fresh namespace",
        )


# -- snapshot --------------------------------------------------------------------------------------

REPLIES = {
    "x = torch.ones(1, requires_grad=True)\ny = x + 2\nz = y * y * 3\nz.backward()\nx.grad": {
        "cell": 1,
        "stdout": "",
        "error": None,
        "seconds": 0.01,
        "value": {
            "kind": "tensor",
            "header": "tensor[1] n=1 f32 cpu all=18.0",
            "text": "tensor([18.])",
        },
    },
    "z.backward()": {
        "cell": 2,
        "stdout": "",
        "value": None,
        "seconds": 0.01,
        "error": {
            "type": "RuntimeError",
            "message": "Trying to backward through the graph a "
            "second time (or directly access saved tensors after they have already been "
            "freed).",
            "lineno": 1,
            "line": "z.backward()",
            "hint": "the first backward() freed the graph's saved values; pass "
            "retain_graph=True to that first backward() if you need a second pass",
        },
    },
    "nn.Linear(5, 2)(torch.randn(3, 5))": {
        "cell": 3,
        "stdout": "",
        "error": None,
        "seconds": 0.01,
        "value": {
            "kind": "tensor",
            "header": "tensor[3, 2] n=6 f32 cpu requires_grad "
            "grad_fn=AddmmBackward0 x∈[-0.852, 0.5037] μ=-0.08737 σ=0.5629",
            "text": "tensor([[ 0.3291,  0.2945],\n        [-0.1392,  0.5037],\n"
            "        [-0.8520, -0.6603]], grad_fn=<AddmmBackward0>)",
        },
    },
}


class CannedClient(FakeClient):
    async def send(self, op, args=None, timeout=None, **kwargs):
        if op == "exec":
            return REPLIES[args["code"]]
        return {}


async def _run_cells(pilot) -> None:
    app = pilot.app
    app.query_one(StatusBar).state = "ready"
    await pilot.press("f3")
    pane = app.query_one(PlaygroundPane)
    for code in REPLIES:
        pane.run_cell(code)
        await wait_for(pilot, lambda: not pane.running, 5, "canned cell")
    pane.input.cursor_blink = False  # a blinking cursor makes the snapshot flaky
    pane.input.set_code("x.grad")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_playground_pane_snapshot(snap_compare, size):
    app = TorchdeckApp(client=CannedClient())
    assert snap_compare(app, terminal_size=size, run_before=_run_cells)


def test_markdown_fences_survive_backticks_in_output():
    log = PlaygroundTranscript()
    log.cell(
        1, "print('```')", ExecResult.from_dict({"stdout": "```\n", "value": None, "error": None})
    )
    log.cell(
        2,
        "z.backward()",
        ExecResult.from_dict(
            {
                "stdout": "",
                "value": None,
                "error": {
                    "type": "RuntimeError",
                    "message": "boom",
                    "lineno": 1,
                    "line": "z.backward()",
                    "hint": "use retain_graph=True",
                },
            }
        ),
    )
    log.cell(3, "model.hidden = nn.Linear(8, 8)", ExecResult(trains="training now updates 5"))
    md = log.markdown()
    assert (
        "## In [3]\n\n```python\nmodel.hidden = nn.Linear(8, 8)\n```\n\n> training now updates 5\n"
        in md
    )
    assert "````text\n```\n````" in md  # a longer fence around output holding ```
    assert "**RuntimeError**: boom (line 1: `z.backward()`)" in md
    assert "> hint: use retain_graph=True" in md


class GoneClient(FakeClient):
    """A detached engine whose connection has closed: no exit code is known here."""

    async def send(self, op, args=None, timeout=None, **kwargs):
        from core.errors import EngineDied

        raise EngineDied(None, "")


async def test_a_cell_for_a_gone_engine_says_so_without_an_unknown_exit_code():
    app = TorchdeckApp(client=GoneClient())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        pane = app.query_one(PlaygroundPane)
        pane.run_cell("6*7")
        await wait_for(pilot, lambda: not pane.running, 5, "the cell answered")
        text = screen_text(app)
        assert "EngineDied: the engine is gone (its connection closed)" in text
        assert "code None" not in text and "press ctrl+r to restart it" in text


async def test_a_long_transcript_scrolls_with_its_scrollbar_and_no_layout_pass_per_cell():
    """Cells are added without a layout pass of the screen each (the log's length is no
    layout matter), and still the scrollbar follows the log's length and the last cell is in
    view."""
    app = TorchdeckApp(client=GoneClient())
    async with app.run_test(size=(80, 40)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        log = app.query_one(PlaygroundTranscript)
        value = ExecResult.from_dict({"stdout": "", "value": None, "error": None})
        screen, layouts = app.screen, []
        real = screen._refresh_layout
        screen._refresh_layout = lambda *a, **k: layouts.append(1) or real(*a, **k)
        for n in range(1, 60):
            log.cell(n, f"x = {n}", value)
            if n % 10 == 0:
                await pilot.pause()
        await pilot.pause()
        assert layouts == []
        assert log.virtual_size.height > log.size.height  # outgrown its box
        assert log.vertical_scrollbar.window_virtual_size == log.virtual_size.height
        assert log.scroll_y == log.max_scroll_y > 0  # the last cell in view
        assert "x = 59" in screen_text(app)


async def test_i_brings_the_focus_back_to_the_box_from_the_transcript(corpus):
    """Out of the box (tab from another widget lands on the transcript); the key line then
    shows i, which goes back (the typed text went to the pane's keys: 1 switched panes, space
    paused)."""
    from tui.widgets.key_footer import KeyFooter

    app = real_app(corpus)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        await pilot.press("f3")
        box = app.query_one(PlaygroundInput)
        assert app.focused is box
        footer = app.query_one(KeyFooter)
        assert "i Type" not in footer.text()  # in the box, i types
        app.query_one(PlaygroundTranscript).focus()
        await pilot.pause()
        assert "i Type" in footer.text()
        await pilot.press("i", "x")
        assert app.focused is box and box.text == "x"
