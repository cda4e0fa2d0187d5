"""The training config form: preset, corpus, learning rate, batch size, context length, steps,
device, seed. Each value is checked as it is typed, with the message under its field.

Choosing a preset in the form loads its settings (learning rate, batch, context, steps) into the
fields; the fields it does not read (the parabola has no corpus, batch or context) are hidden and
never checked."""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, Static

from core.contract import DEFAULT_PRESET, PRESETS, parse_text
from core.contract.settings import (
    BATCH_SIZE,
    BLOCK_SIZE,
    CORPUS,
    DEVICE,
    FACTORY,
    LR,
    MODEL_RULES,
    MODEL_SIZE_NAMES,
    SEED,
    STEPS,
    TrainSettings,
    preset_defaults,
    preset_uses,
    split_factory,
)
from core.errors import ConfigError
from core.i18n import N_, _
from core.protocol import Arg


@dataclass(frozen=True)
class Field:
    """One text field of the form; its rule is the contract's, so the form, the command line and
    the engine accept the same values and say the same thing about a bad one."""

    key: str
    label: str  # marked N_: translated where it is shown
    rule: Arg

    def check(self, text: str) -> tuple[object, str]:
        if self.rule is DEVICE:
            text = text.strip().lower() or "auto"
        if self.rule is FACTORY and text.strip():  # what is wrong with it, not "out of range"
            try:
                split_factory(text.strip())
            except ConfigError as exc:
                return None, f"{exc.message}: {exc.hint}"
        return parse_text(self.rule, text)


FIELDS = (
    # one's own model, FILE.py:FACTORY (core.user_model); empty: the preset's built-in one
    Field("factory", N_("model"), FACTORY),
    Field("corpus", N_("corpus"), CORPUS),
    Field("lr", N_("lr"), LR),
    Field("batch_size", N_("batch"), BATCH_SIZE),
    Field("block_size", N_("context"), BLOCK_SIZE),
    Field("steps", N_("steps"), STEPS),
    Field("device", N_("device"), DEVICE),
    Field("seed", N_("seed"), SEED),
    # the model's sizes, those the preset has; empty: the preset's own (the engine fills it in)
    Field("n_layer", N_("layers"), replace(MODEL_RULES["n_layer"], nullable=True)),
    Field("n_head", N_("heads"), replace(MODEL_RULES["n_head"], nullable=True)),
    Field("n_embd", N_("width"), replace(MODEL_RULES["n_embd"], nullable=True)),
    Field("n_hidden", N_("hidden"), replace(MODEL_RULES["n_hidden"], nullable=True)),
    Field("context", N_("window"), replace(MODEL_RULES["context"], nullable=True)),
    Field("dropout", N_("dropout"), replace(MODEL_RULES["dropout"], nullable=True)),
    Field("bias", N_("bias"), replace(MODEL_RULES["bias"], nullable=True)),
    Field("tie_weights", N_("tied"), replace(MODEL_RULES["tie_weights"], nullable=True)),
    # the other training settings; empty: the preset's (the engine's reply fills them in)
    *(
        Field(key, label, replace(TrainSettings.field_rule(key), nullable=True))
        for key, label in (
            ("optimizer", N_("optim")),
            ("schedule", N_("sched")),
            ("warmup_steps", N_("warmup")),
            ("min_lr_ratio", N_("min lr×")),
            ("min_lr", N_("min lr")),
            ("weight_decay", N_("decay")),
            ("beta1", N_("beta1")),
            ("beta2", N_("beta2")),
            ("grad_clip", N_("clip")),
            ("eval_interval", N_("eval")),
            ("eval_batches", N_("eval n")),
            ("precision", N_("dtype")),
            ("compile", N_("compile")),
        )
    ),
)
# the training settings the form holds beyond lr, batch, steps and seed (sent under "train")
TRAIN_KEYS = tuple(
    f.key
    for f in FIELDS
    if f.key in TrainSettings.spec() and f.key not in ("lr", "batch_size", "steps", "seed")
)


SIZES = MODEL_SIZE_NAMES
PLACEHOLDERS = {
    "corpus": N_("the Python docs"),
    "factory": N_("preset's built-in"),
    "compile": N_("auto: on a GPU"),
}
DEFAULTED_PLACEHOLDER = N_("preset's")  # an empty field of these: the preset's value
DEFAULTED = SIZES | frozenset(TRAIN_KEYS)  # empty: the preset's value


def _dom(key: str) -> str:
    return key.replace("_", "-")


def placeholder(key: str) -> str:
    """What an empty field shows, in the current language."""
    text = PLACEHOLDERS.get(key, DEFAULTED_PLACEHOLDER if key in DEFAULTED else "")
    return _(text) if text else ""


class ConfigForm(Vertical):
    def __init__(self, values: dict, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = values
        self.errors: dict[str, str] = {}
        # the preset the fields hold the settings of: a Select change to another one is the
        # person choosing it (a change to this one is the engine's reply being shown)
        self.preset: str = values.get("preset", DEFAULT_PRESET)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label(_("preset"), classes="form-label", id="label-preset")
            yield Select(
                [(p, p) for p in PRESETS],
                value=self.preset,
                allow_blank=False,
                compact=True,
                id="field-preset",
            )
        for f in FIELDS:
            own = f.key in SIZES and bool(self.initial.get("factory"))
            shown = preset_uses(self.preset, f.key) and not own
            with Horizontal(classes="form-row", id=f"row-{_dom(f.key)}") as row:
                row.display = shown
                yield Label(_(f.label), classes="form-label", id=f"label-{_dom(f.key)}")
                nested = self.initial.get("model" if f.key in SIZES else "train") or {}
                value = self.initial.get(f.key, nested.get(f.key))
                yield Input(
                    "" if value is None else str(value),
                    compact=True,
                    id=f"field-{_dom(f.key)}",
                    placeholder=placeholder(f.key),
                )
            yield Static("", classes="field-error", id=f"error-{_dom(f.key)}")

    def relabel(self) -> None:
        """The labels and hints in the current language, and each error shown checked again
        (the contract says what is wrong in the language of the moment)."""
        self.query_one("#label-preset", Label).update(_("preset"))
        for f in FIELDS:
            self.query_one(f"#label-{_dom(f.key)}", Label).update(_(f.label))
            box = self.query_one(f"#field-{_dom(f.key)}", Input)
            box.placeholder = placeholder(f.key)
            if f.key in self.errors:
                self.set_error(f.key, f.check(box.value)[1])

    def used(self) -> list[Field]:
        """The fields the chosen preset reads (one's own model has no preset sizes)."""
        return [f for f in FIELDS if self._reads(f.key)]

    def _reads(self, key: str) -> bool:
        if key in SIZES and self.is_mounted and self._own_model():
            return False
        return preset_uses(self.preset, key)

    def _own_model(self) -> bool:
        return bool(self.own_model())

    def own_model(self) -> str:
        """What the model field names (FILE.py:FACTORY), or ""."""
        return self.query_one("#field-factory", Input).value.strip()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "field-preset" or event.value == self.preset:
            return
        event.stop()
        self.choose(str(event.value))
        self.app.notify(
            _("{preset}'s settings are in the form: press a to build it").format(
                preset=self.preset
            ),
            timeout=4,
        )

    def choose(self, preset: str, keep_model: bool = True) -> None:
        """``preset`` with its own settings in the fields, as if a person picked it (its model
        sizes left empty: the preset's own, which the engine's reply then shows); one's own
        model stays in its field unless ``keep_model`` is False (the preset's model instead)."""
        if not keep_model:
            self.query_one("#field-factory", Input).value = ""
        self.show_preset(preset)
        self.fill({**preset_defaults(preset), **dict.fromkeys(DEFAULTED)})
        select = self.query_one("#field-preset", Select)
        if select.value != preset:
            select.value = preset  # its Changed message finds this preset already shown

    def show_preset(self, preset: str) -> None:
        """Show the fields ``preset`` reads; hide the others and forget their errors."""
        self.preset = preset
        for f in FIELDS:
            shown = self._reads(f.key)
            self.query_one(f"#row-{_dom(f.key)}").display = shown
            if not shown:
                self.set_error(f.key, "")

    def on_input_changed(self, event: Input.Changed) -> None:
        key = (event.input.id or "").removeprefix("field-").replace("-", "_")
        if key == "factory":  # the sizes are the preset's model's: shown only for it
            self.show_preset(self.preset)
        field = next((f for f in self.used() if f.key == key), None)
        if field is None:
            return
        _value, message = field.check(event.value)
        self.set_error(key, message)

    def set_error(self, key: str, message: str) -> None:
        if message:
            self.errors[key] = message
        else:
            self.errors.pop(key, None)
        err = self.query_one(f"#error-{_dom(key)}", Static)
        err.update(f"✗ {message}" if message else "")
        err.display = bool(message)

    def values(self) -> dict | None:
        """The checked values of the fields the preset reads (None for the others), the model
        sizes given gathered under ``model``; or None, with every bad field marked, if any is
        invalid."""
        out: dict = {"preset": self.preset}
        ok = True
        for f in FIELDS:
            if not self._reads(f.key):
                out[f.key] = None
                continue
            text = self.query_one(f"#field-{_dom(f.key)}", Input).value
            value, message = f.check(text)
            self.set_error(f.key, message)
            if message:
                ok = False
            else:
                out[f.key] = value
        if not ok:
            return None
        sizes = {k: out.pop(k) for k in MODEL_SIZE_NAMES if k in out}
        out["model"] = {k: v for k, v in sizes.items() if v is not None}
        train = {k: out.pop(k) for k in TRAIN_KEYS}
        out["train"] = {k: v for k, v in train.items() if v is not None}
        return out

    def set_values(self, values: dict) -> None:
        """Show the engine's settings (a configure, reset or load reply)."""
        if "preset" in values:
            self.show_preset(values["preset"])
            self.query_one("#field-preset", Select).value = values["preset"]
        self.fill(values)

    def fill(self, values: dict) -> None:
        """Put ``values`` in their fields; a field the preset does not read keeps its text."""
        for f in self.used():
            if f.key in values:
                v = values[f.key]
                shown = "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                self.query_one(f"#field-{_dom(f.key)}", Input).value = shown
