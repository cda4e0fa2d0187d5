"""Every setting in the Train pane's form (issue 18, item 1): the training settings beyond lr,
batch and steps, gpt's bias and weight tying, each checked as typed and sent on apply; and
``torchdeck --config FILE.toml`` fills the app's first model."""

from __future__ import annotations

from textual.widgets import Input

from cli.main import build_parser
from cli.settings_args import app_settings
from tests.tui.conftest import real_app, wait_configured, wait_for
from tui.app import TorchdeckApp
from tui.panes.train_pane import TrainPane
from tui.widgets.config_form import TRAIN_KEYS, ConfigForm
from tui.widgets.status_bar import StatusBar

SIZE = (80, 24)


def field(app, key: str) -> Input:
    return app.query_one(f"#field-{key.replace('_', '-')}", Input)


async def test_training_settings_bias_and_tying_go_from_the_form_to_the_engine(corpus):
    app = real_app(corpus, preset="gpt")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        before = app.last_info
        assert set(TRAIN_KEYS) == {
            "optimizer", "schedule", "warmup_steps", "min_lr_ratio", "min_lr", "weight_decay", "beta1",
            "beta2", "grad_clip", "eval_interval", "eval_batches", "precision", "compile",
        }  # fmt: skip
        # the engine's values are shown: the gpt preset's
        shown = {k: field(app, k).value for k in ("optimizer", "warmup_steps", "weight_decay")}
        assert shown == {"optimizer": "adamw", "warmup_steps": "100", "weight_decay": "0.1"}
        assert field(app, "tie_weights").value == "true" and field(app, "bias").value == "true"
        # a bad value is marked under its field, in the contract's words, and nothing is sent
        field(app, "beta2").value = "1.5"
        await pilot.pause()
        error = app.query_one("#error-beta2").render()
        assert str(error) == "✗ 1.5 is out of range: want in [0, 1)"
        assert app.query_one(ConfigForm).values() is None
        field(app, "beta2").value = "0.95"
        field(app, "tie_weights").value = "no"
        await pilot.pause()
        assert str(app.query_one("#error-tie-weights").render()) == ""
        for key, value in (("warmup_steps", "0"), ("weight_decay", "0.05"), ("optimizer", "sgd")):
            field(app, key).value = value
        app.query_one(TrainPane).focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: app.last_info is not before, 60, "the new model")
        info = app.last_info
        assert info.train_config["warmup_steps"] == 0
        assert info.train_config["weight_decay"] == 0.05
        assert info.train_config["beta2"] == 0.95 and info.train_config["optimizer"] == "sgd"
        assert info.model_config["tie_weights"] is False and info.tied == []
        # untied: the output layer has its own [V, C] matrix
        V, C = info.vocab_size, info.model_config["n_embd"]
        assert info.params == before.params + V * C
        assert field(app, "tie_weights").value == "false"  # the engine's reply, shown


async def test_choosing_a_preset_empties_the_training_settings_for_its_own(corpus):
    app = real_app(corpus, preset="gpt")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        app.query_one(ConfigForm).choose("parabola")
        await pilot.pause()
        assert [field(app, k).value for k in ("optimizer", "schedule", "warmup_steps")] == [""] * 3
        assert field(app, "optimizer").placeholder == "preset's"
        app.query_one(TrainPane).focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: status.preset == "parabola", 60, "the parabola")
        await pilot.pause(0.2)
        # the seed's experiment: plain SGD, constant lr, no warm-up
        shown = [field(app, k).value for k in ("optimizer", "schedule", "warmup_steps")]
        assert shown == ["sgd", "constant", "0"]


def test_a_config_file_sets_the_apps_first_model(tmp_path):
    (tmp_path / "m.py").write_text("def build(vocab_size, block_size):\n    pass\n")
    path = tmp_path / "run.toml"
    path.write_text(
        'preset = "mini"\nlr = 0.005\nwarmup_steps = 7\nn_embd = 24\nsteps = 50\n'
        f'model = "{tmp_path / "m.py"}:build"\n'
    )
    parser = build_parser()
    argv = ["--config", str(path), "--preset", "gpt"]  # a flag given wins over the file
    settings = app_settings(parser, parser.parse_args(argv), argv)
    assert settings == {
        "factory": f"{tmp_path / 'm.py'}:build",
        "lr": 0.005,
        "steps": 50,
        "model": {"n_embd": 24},
        "train": {"warmup_steps": 7},
    }
    app = TorchdeckApp(preset="gpt", settings=settings)
    assert app.initial["preset"] == "gpt" and app.initial["train"] == {"warmup_steps": 7}


async def test_the_app_opens_on_a_config_files_settings(corpus, tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("lr = 0.005\nwarmup_steps = 7\nn_embd = 24\n")
    parser = build_parser()
    argv = ["--config", str(path)]
    settings = app_settings(parser, parser.parse_args(argv), argv)
    app = real_app(corpus, preset="mini")
    app.initial.update(settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        # the form shows them before the engine answers and after
        assert field(app, "warmup_steps").value == "7" and field(app, "n_embd").value == "24"
        info = app.last_info
        assert info.train_config["lr"] == 0.005 and info.train_config["warmup_steps"] == 7
        assert info.model_config["n_embd"] == 24
