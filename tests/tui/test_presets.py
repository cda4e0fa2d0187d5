"""Presets that work (issue 22): choosing one in the form, the palette or on the command line
loads all of its settings; the fields it does not read are hidden and never checked; a reset
keeps the form valid."""

from __future__ import annotations

from textual.widgets import Input, Select

from core.contract.settings import preset_defaults
from tests.tui.conftest import real_app, screen_lines, wait_configured, wait_for
from tui.commands import system_commands
from tui.panes.train_pane import TrainPane
from tui.widgets.config_form import TRAIN_KEYS, ConfigForm
from tui.widgets.status_bar import StatusBar

SIZE = (80, 24)


def test_each_preset_brings_its_own_settings():
    assert preset_defaults("gpt") == {
        "lr": 0.002,
        "batch_size": 32,
        "steps": 2000,
        "block_size": 64,
    }
    assert preset_defaults("mini") == {
        "lr": 0.01,
        "batch_size": 32,
        "steps": 1000,
        "block_size": 64,
    }
    assert preset_defaults("mlp") == {
        "lr": 0.003,
        "batch_size": 32,
        "steps": 2000,
        "block_size": 64,
    }
    # the parabola reads no corpus, batch or context: the seed's lr 0.01 for 80 steps
    assert preset_defaults("parabola") == {"lr": 0.01, "steps": 80}


def shown_fields(app) -> list[str]:
    """The rows shown, but the training settings beyond lr and steps (every preset has them)."""
    always = {k.replace("_", "-") for k in TRAIN_KEYS}
    return [
        row.id.removeprefix("row-")
        for row in app.query_one(ConfigForm).query(".form-row")
        if row.id and row.display and row.id.removeprefix("row-") not in always
    ]


async def test_picking_parabola_in_the_form_loads_its_settings_and_hides_what_it_does_not_read(
    corpus,
):
    app = real_app(corpus, preset="gpt")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        assert app.query_one("#field-lr", Input).value == "0.002"
        # by keyboard, as a person does: the preset box, open it, down to parabola, choose
        app.query_one("#field-preset", Select).focus()
        await pilot.press("enter", "down", "down", "down", "enter")
        await pilot.pause()
        assert app.query_one("#field-preset", Select).value == "parabola"
        assert app.query_one("#field-lr", Input).value == "0.01"
        assert app.query_one("#field-steps", Input).value == "80"
        assert shown_fields(app) == ["lr", "steps", "device", "seed"]
        await pilot.press("a")
        await wait_for(pilot, lambda: status.preset == "parabola", 30, "parabola built")
        assert app.last_info.train_config["lr"] == 0.01
        assert app.last_info.train_config["optimizer"] == "sgd"
        assert not app.query_one(ConfigForm).errors  # no blanked context marked
        await pilot.press("n")
        await wait_for(pilot, lambda: status.step == 1, 10, "one step")
        # R (reset) keeps the form valid: nothing hidden is checked
        await pilot.press("R")
        await wait_for(pilot, lambda: status.step == 0, 10, "reset")
        await pilot.pause(0.2)
        assert app.query_one(ConfigForm).values() is not None
        assert shown_fields(app) == ["lr", "steps", "device", "seed"]
        # back to a language model: its fields come back with its own settings
        app.query_one(ConfigForm).choose("mini")
        await pilot.pause()
        assert shown_fields(app) == [
            "factory",
            "corpus",
            "lr",
            "batch-size",
            "block-size",
            "steps",
            "device",
            "seed",
            "n-embd",
            "n-hidden",
        ]
        assert app.query_one("#field-block-size", Input).value == "64"
        assert app.query_one("#field-lr", Input).value == "0.01"
        assert app.query_one("#field-batch-size", Input).value == "32"


async def test_preset_parabola_on_the_command_line_starts_and_reaches_the_seeds_x(corpus):
    app = real_app(corpus, preset="parabola")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        assert shown_fields(app) == ["lr", "steps", "device", "seed"]
        assert isinstance(app.focused, TrainPane)
        await pilot.press("s")
        await wait_for(pilot, lambda: status.state == "finished", 30, "80 steps run")
        await pilot.pause(0.3)
        assert status.step == 80
        # x after 80 steps of SGD at lr 0.01 (LESSONS.md L2), beside the analytic optimum
        rows = screen_lines(app)
        assert any("x" in row and "0.3239" in row for row in rows), rows
        assert any("optimum" in row and "0.3333" in row for row in rows), rows


async def test_the_palette_offers_each_preset_by_name_and_builds_it(corpus):
    app = real_app(corpus, preset="mini")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        commands = {c.title: c for c in system_commands(app, [])}
        for preset in ("gpt", "mini", "mlp", "parabola"):
            assert f"Preset: {preset}" in commands
        # every key of the footer and the help has a plain-named command too
        for title in ("Help", "Quit", "Machine", "Restart engine", "Restart engine and load"):
            assert title in commands
        assert "Train: Apply config" in commands and "Show Predict" in commands
        status = app.query_one(StatusBar)
        await commands["Preset: parabola"].callback()
        await wait_for(pilot, lambda: status.preset == "parabola", 30, "parabola built")
        assert app.last_info.train_config["lr"] == 0.01
        assert app.last_info.steps == 80
        await commands["Preset: gpt"].callback()
        await wait_for(pilot, lambda: status.preset == "gpt", 30, "gpt built")
        assert app.last_info.train_config["lr"] == 0.002
        assert app.query_one("#field-block-size", Input).value == "64"


async def test_enter_in_a_form_field_applies_the_form(corpus):
    app = real_app(corpus, preset="mini")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        box = app.query_one("#field-steps", Input)
        box.focus()
        box.value = ""
        await pilot.press("1", "2", "3", "enter")
        await wait_for(pilot, lambda: status.steps == 123, 30, "applied by enter")


async def test_the_field_being_edited_shows_by_its_label_in_reverse():
    """Focus that a 16-colour terminal shows: reverse video needs no colour at all."""
    from tests.tui.test_snapshots import INFO, fake_app

    app = fake_app()
    async with app.run_test(size=SIZE) as pilot:
        app.model_configured(INFO)
        await pilot.pause()
        lr, seed = app.query_one("#row-lr .form-label"), app.query_one("#row-seed .form-label")
        assert not lr.styles.text_style.reverse
        app.query_one("#field-lr").focus()
        await pilot.pause()
        assert lr.styles.text_style.reverse and lr.styles.text_style.bold
        assert not seed.styles.text_style.reverse
        app.query_one("#field-preset").focus()
        await pilot.pause()
        assert not lr.styles.text_style.reverse
        assert (
            app.query_one("#field-preset").parent.query_one(".form-label").styles.text_style.reverse
        )


async def test_the_form_sets_the_models_sizes_the_preset_has(corpus):
    app = real_app(corpus, preset="gpt")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_configured(pilot)
        status = app.query_one(StatusBar)
        form = app.query_one(ConfigForm)
        assert shown_fields(app)[-6:] == [
            "n-layer", "n-head", "n-embd", "dropout", "bias", "tie-weights"
        ]  # fmt: skip
        assert app.query_one("#field-tie-weights", Input).value == "true"
        assert app.query_one("#field-n-layer", Input).value == "4"  # the engine's, shown
        app.query_one("#field-n-embd", Input).value = "30"  # not divisible by 4 heads
        app.query_one(TrainPane).focus()
        await pilot.press("a")
        await wait_for(
            pilot,
            lambda: any("must be divisible by n_head" in n.message for n in app._notifications),
            30,
            "the engine's refusal",
        )
        assert app.last_info.model_config["n_embd"] == 128  # nothing was built
        app.query_one("#field-n-embd", Input).value = "32"
        app.query_one("#field-n-layer", Input).value = "1"
        await pilot.press("a")
        await wait_for(pilot, lambda: app.last_info.model_config["n_layer"] == 1, 30, "built")
        assert app.last_info.model_config["n_embd"] == 32
        # another preset: its own sizes (empty means the preset's, filled in by the reply)
        form.choose("mini")
        await pilot.pause()
        assert shown_fields(app)[-2:] == ["n-embd", "n-hidden"]
        assert app.query_one("#field-n-hidden", Input).value == ""
        await pilot.press("a")
        await wait_for(pilot, lambda: status.preset == "mini", 30, "mini built")
        await pilot.pause(0.2)
        assert app.query_one("#field-n-hidden", Input).value == "64"
        assert app.query_one("#field-n-embd", Input).value == "32"
        app.query_one("#field-n-hidden", Input).value = "0"
        await pilot.pause(0.1)
        assert "0 is out of range: want an integer ≥ 1" in str(
            app.query_one("#error-n-hidden").render()
        )


async def test_a_preset_chosen_while_a_run_trains_leaves_the_form_as_the_model_is(corpus):
    """The engine refuses a new model while a run is in progress: the form must not show the
    refused preset's settings (a later a would build it), and the person is told what to do;
    a refusal for another reason puts the model's own settings back in the form."""
    app = real_app(corpus, preset="mini")
    async with app.run_test(size=SIZE) as pilot:
        await wait_configured(pilot)
        pane = app.query_one(TrainPane)
        form = app.query_one(ConfigForm)
        before = form.values()
        commands = {c.title: c for c in system_commands(app, [])}
        await pilot.press("s")
        await wait_for(pilot, lambda: pane.state == "running", 30, "the run")
        await commands["Preset: parabola"].callback()
        assert form.values() == before and form.preset == "mini"
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert "a run is in progress: press x to stop it, then choose the parabola preset" in said
        await pilot.press("x")
        await wait_for(pilot, lambda: pane.state == "stopped", 30, "the stop")

        async def refused() -> bool:  # as the engine answers a configure it cannot do
            return False

        pane.configure_from_form = refused
        await pane.choose_preset("parabola")
        assert form.values()["preset"] == "mini" and form.values()["lr"] == before["lr"]
        assert app.query_one(StatusBar).preset == "mini"
