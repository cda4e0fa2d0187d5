"""Snapshot tests of the shell and the Train pane with fixed data (no live engine): the pane fed
progress events, and the pane drawing a fixed history (loss and grad-norm views)."""

from __future__ import annotations

import math

import pytest

from core.contract import SessionInfo, TrainProgress
from core.history import LossHistory
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
            # the five steps of the report's latest step, as a run's report carries them
            "detail": {
                "step": step,
                "lr": 0.0011,
                "grads_cleared": 50,
                "loss": losses[-1],
                "grad_norm": 0.41,
                "history_len": step,
                "kept": n,
            },
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
    app.query_one("#run-chart").replot()
    await pilot.pause()


def fixed_history(steps: int = 1200, log_every: int = 10) -> dict:
    """A run's history as an engine's SessionInfo carries it: per-step train loss (a spike at
    step 700), validation every 200 steps and the signals of a train row every ``log_every``
    steps (warmup then cosine learning rate, a gradient norm that crosses the clip once)."""
    train, val = LossHistory(8192), LossHistory(2048)
    names = ("lr", "grad_norm", "tokens_per_s")
    signals = {name: LossHistory(4096) for name in names}
    for step in range(1, steps + 1):
        loss = 1.3 + 3.3 * math.exp(-step / 300) + 0.05 * math.sin(step)
        train.append(step, 4.8 if step == 700 else loss)
        if step % 200 == 0:
            val.append(step, 1.6 + 3.0 * math.exp(-step / 300))
        if step % log_every == 0:
            warm = min(1.0, step / 100)
            signals["lr"].append(step, 2e-3 * warm * (0.5 + 0.5 * math.cos(math.pi * step / 2000)))
            norm = 0.3 + 2.0 * math.exp(-step / 150) + 0.05 * math.sin(step / 7)
            signals["grad_norm"].append(step, 1.6 if step == 700 else norm)
            signals["tokens_per_s"].append(step, 19850.0 + 400 * math.sin(step / 90))
    return {
        "train": train.to_dict(),
        "val": val.to_dict(),
        "signals": {name: h.to_dict() for name, h in signals.items()},
    }


def history_info(steps: int = 1200) -> SessionInfo:
    data = INFO.to_dict()
    data["train_config"] = {**data["train_config"], "grad_clip": 1.0}
    data.update(step=steps, history=fixed_history(steps))
    return SessionInfo.from_dict(data)


def show_history(*keys: str):
    """A run_before that loads the fixed history into the Train pane, then presses ``keys``."""

    async def run_before(pilot) -> None:
        app = pilot.app
        app.query_one(StatusBar).state = "ready"
        app.model_configured(history_info())
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_train_pane_snapshot(snap_compare, size):
    assert snap_compare(fake_app(), terminal_size=size, run_before=feed)


@pytest.mark.parametrize("view", ["loss", "grad_norm"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_train_chart_snapshot(snap_compare, size, view):
    keys = ("c", "c") if view == "grad_norm" else ()
    assert snap_compare(fake_app(), terminal_size=size, run_before=show_history(*keys))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_shell_summary_snapshot(snap_compare, size):
    async def run_before(pilot):
        await feed(pilot)
        await pilot.press("1")

    assert snap_compare(fake_app(), terminal_size=size, run_before=run_before)
