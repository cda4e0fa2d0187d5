"""The training config form: preset, corpus, learning rate, batch size, context length, steps,
device, seed. Each value is checked as it is typed, with the message under its field."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, Static

from core.contract import DEFAULT_PRESET, PRESETS, parse_text
from core.contract.settings import (
    BATCH_SIZE,
    BLOCK_SIZE,
    CORPUS,
    DEVICE,
    LR,
    SEED,
    STEPS,
)
from core.protocol import Arg


@dataclass(frozen=True)
class Field:
    """One text field of the form; its rule is the contract's, so the form, the command line and
    the engine accept the same values and say the same thing about a bad one."""

    key: str
    label: str
    rule: Arg

    def check(self, text: str) -> tuple[object, str]:
        if self.rule is DEVICE:
            text = text.strip().lower() or "auto"
        return parse_text(self.rule, text)


FIELDS = (
    Field("corpus", "corpus", CORPUS),
    Field("lr", "lr", LR),
    Field("batch_size", "batch", BATCH_SIZE),
    Field("block_size", "context", BLOCK_SIZE),
    Field("steps", "steps", STEPS),
    Field("device", "device", DEVICE),
    Field("seed", "seed", SEED),
)


class ConfigForm(Vertical):
    def __init__(self, values: dict, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = values
        self.errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label("preset", classes="form-label")
            yield Select(
                [(p, p) for p in PRESETS],
                value=self.initial.get("preset", DEFAULT_PRESET),
                allow_blank=False,
                compact=True,
                id="field-preset",
            )
        for f in FIELDS:
            with Horizontal(classes="form-row"):
                yield Label(f.label, classes="form-label")
                value = self.initial.get(f.key)
                yield Input(
                    "" if value is None else str(value),
                    compact=True,
                    id=f"field-{f.key.replace('_', '-')}",
                    placeholder="built-in Python docs" if f.key == "corpus" else "",
                )
            yield Static("", classes="field-error", id=f"error-{f.key.replace('_', '-')}")

    def on_input_changed(self, event: Input.Changed) -> None:
        key = (event.input.id or "").removeprefix("field-").replace("-", "_")
        field = next((f for f in FIELDS if f.key == key), None)
        if field is None:
            return
        _, message = field.check(event.value)
        self.set_error(key, message)

    def set_error(self, key: str, message: str) -> None:
        if message:
            self.errors[key] = message
        else:
            self.errors.pop(key, None)
        err = self.query_one(f"#error-{key.replace('_', '-')}", Static)
        err.update(f"✗ {message}" if message else "")
        err.display = bool(message)

    def values(self) -> dict | None:
        """The checked values, or None (with every bad field marked) if any is invalid."""
        out: dict = {"preset": self.query_one("#field-preset", Select).value}
        ok = True
        for f in FIELDS:
            text = self.query_one(f"#field-{f.key.replace('_', '-')}", Input).value
            value, message = f.check(text)
            self.set_error(f.key, message)
            if message:
                ok = False
            else:
                out[f.key] = value
        return out if ok else None

    def set_values(self, values: dict) -> None:
        if "preset" in values:
            self.query_one("#field-preset", Select).value = values["preset"]
        for f in FIELDS:
            if f.key in values:
                v = values[f.key]
                self.query_one(f"#field-{f.key.replace('_', '-')}", Input).value = (
                    "" if v is None else str(v)
                )
