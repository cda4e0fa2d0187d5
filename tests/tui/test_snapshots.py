"""Snapshot tests of the shell and the Train pane with fixed data (no live engine)."""

from __future__ import annotations

import math

import pytest

from core.contract import SessionInfo, TrainProgress
from tests.tui.conftest import FakeClient
from tui.app import TorchdeckApp
from tui.widgets.status_bar import StatusBar

INFO = SessionInfo.from_dict(
    {
        "preset": "gpt",
        "device": "cpu",
        "device_type": "cpu",
        "params": 814720,
        "trainable_params": 814720,
        "tied": [["wte.weight", "lm_head.weight"]],
        "model_config": {
            "vocab_size": 103,
            "block_size": 64,
            "n_layer": 4,
            "n_head": 4,
            "n_embd": 128,
            "dropout": 0.0,
        },
        "train_config": {"steps": 2000, "batch_size": 32, "lr": 0.002, "seed": 1337},
        "vocab_size": 103,
        "corpus": {"source": "pydoc", "chars": 465126},
        "step": 0,
        "steps": 2000,
        "block_size": 64,
    }
)


def progress(step: int, n: int = 50) -> TrainProgress:
    first = step - n + 1
    losses = [
        1.3 + 3.3 * math.exp(-(first + i) / 300) + 0.05 * math.sin(first + i) for i in range(n)
    ]
    return TrainProgress.from_dict(
        {
            "step": step,
            "first_step": first,
            "losses": losses,
            "loss": sum(losses) / n,
            "grad_norm": 0.41,
            "lr": 0.0011,
            "val_loss": 1.6 + 3.0 * math.exp(-step / 300) if step % 200 == 0 else None,
            "steps": 2000,
            "steps_per_s": 9.7,
            "tokens_per_s": 19850.0,
            "elapsed_s": step / 9.7,
            "eta_s": (2000 - step) / 9.7,
            "state": "running",
            "sample": "def __init__(self, name):\n    return self" if step == 1200 else None,
        }
    )


def fake_app() -> TorchdeckApp:
    return TorchdeckApp(client=FakeClient())


async def feed(pilot) -> None:
    app = pilot.app
    app.query_one(StatusBar).state = "ready"
    app.model_configured(INFO)
    for step in range(50, 1201, 50):
        app.on_engine_event_received(
            type("E", (), {"name": "train_progress", "data": progress(step)})()
        )
    app.query_one(StatusBar).state = "running"
    app.query_one("#loss-chart").replot()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_train_pane_snapshot(snap_compare, size):
    assert snap_compare(fake_app(), terminal_size=size, run_before=feed)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_shell_summary_snapshot(snap_compare, size):
    async def run_before(pilot):
        await feed(pilot)
        await pilot.press("1")

    assert snap_compare(fake_app(), terminal_size=size, run_before=run_before)
