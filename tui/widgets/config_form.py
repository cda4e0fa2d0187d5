"""The training config form: preset, corpus, learning rate, batch size, context length, steps,
device, seed. Each value is checked as it is typed, with the message under its field."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, Static

PRESETS = ("gpt", "mini", "mlp", "parabola")


def _int_in(lo: int, hi: int) -> Callable[[str], tuple[object, str]]:
    def check(text: str):
        try:
            value = int(text.strip())
        except ValueError:
            return None, f"not a whole number: {text!r}"
        if not lo <= value <= hi:
            return None, f"must be {lo}…{hi:,}"
        return value, ""
    return check


def _lr(text: str):
    try:
        value = float(text.strip())
    except ValueError:
        return None, f"not a number: {text!r} (e.g. 0.001)"
    if not (math.isfinite(value) and 0 < value <= 10):
        return None, "must be > 0 and ≤ 10 (e.g. 0.001)"
    return value, ""


def _device(text: str):
    t = text.strip().lower() or "auto"
    if t in ("auto", "cpu", "mps") or re.fullmatch(r"cuda(:\d+)?", t):
        return t, ""
    return None, "auto, cpu, cuda, cuda:N or mps"


def _corpus(text: str):
    t = text.strip()
    return (t or None), ""


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    check: Callable[[str], tuple[object, str]]


FIELDS = (
    Field("corpus", "corpus", _corpus),
    Field("lr", "lr", _lr),
    Field("batch_size", "batch", _int_in(1, 4096)),
    Field("block_size", "context", _int_in(1, 4096)),
    Field("steps", "steps", _int_in(1, 10_000_000)),
    Field("device", "device", _device),
    Field("seed", "seed", _int_in(0, 2**31 - 1)),
)


class ConfigForm(Vertical):
    def __init__(self, values: dict, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = values
        self.errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label("preset", classes="form-label")
            yield Select([(p, p) for p in PRESETS], value=self.initial.get("preset", "gpt"),
                         allow_blank=False, compact=True, id="field-preset")
        for f in FIELDS:
            with Horizontal(classes="form-row"):
                yield Label(f.label, classes="form-label")
                value = self.initial.get(f.key)
                yield Input("" if value is None else str(value), compact=True,
                            id=f"field-{f.key.replace('_', '-')}",
                            placeholder="built-in Python docs" if f.key == "corpus" else "")
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
                    "" if v is None else str(v))
