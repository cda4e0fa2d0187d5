"""The typed contract: one rule per setting, used alike by the engine's checks, the settings
objects, the form and the command line; messages round-trip through plain data unchanged."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.contract import (
    EVENTS,
    PRESETS,
    RESULTS,
    ConfigureArgs,
    GenerateArgs,
    PredictArgs,
    PredictResult,
    SamplingSettings,
    SessionInfo,
    TrainProgress,
    TrainSettings,
    parse_text,
)
from core.contract.lab import ExecResult
from core.contract.settings import DEVICE, LR, SEED, STEPS, device_name_ok
from core.errors import ConfigError, RequestError

ROOT = Path(__file__).resolve().parents[2]


def test_the_learning_rate_rule_is_the_same_object_everywhere():
    assert ConfigureArgs.field_rule("lr") is LR
    assert TrainSettings.field_rule("lr") is LR


@pytest.mark.parametrize(
    "value, ok", [(1e-9, True), (10.0, True), (0.0, False), (10.000001, False), (-1.0, False)]
)
def test_lr_range_agrees_across_wire_settings_and_text(value, ok):
    wire_ok = True
    try:
        ConfigureArgs.from_args("configure", {"lr": value})
    except RequestError:
        wire_ok = False
    settings_ok = True
    try:
        TrainSettings(lr=value).validate()
    except ConfigError:
        settings_ok = False
    text_value, message = parse_text(LR, repr(value))
    assert (wire_ok, settings_ok, message == "") == (ok, ok, ok)
    if ok:
        assert text_value == value


def test_from_args_fills_defaults_and_names_the_bad_argument():
    args = PredictArgs.from_args("predict", {"text": "ab", "top_k": 3})
    assert (args.text, args.k, args.top_k, args.temperature, args.greedy) == (
        "ab",
        10,
        3,
        1.0,
        False,
    )
    with pytest.raises(RequestError) as info:
        PredictArgs.from_args("predict", {"text": "ab", "temperature": 500})
    assert info.value.message == "predict: 'temperature' = 500.0 is out of range"
    assert info.value.hint == "'temperature' must be 0 (greedy) or in [0.01, 100]"
    with pytest.raises(RequestError, match="predict: missing argument 'text'"):
        PredictArgs.from_args("predict", {})


def test_predict_and_generate_arguments_are_sampling_settings():
    args = GenerateArgs.from_args("generate", {"temperature": 0})
    assert isinstance(args, SamplingSettings) and args.is_greedy
    assert set(SamplingSettings.spec()) <= set(PredictArgs.spec())


def test_settings_validate_reports_the_first_bad_field():
    with pytest.raises(ConfigError) as info:
        TrainSettings(steps=0, lr=50).validate()
    assert info.value.message == "steps = 0 is out of range"
    assert info.value.hint == "steps must be an integer ≥ 1"
    with pytest.raises(ConfigError, match=r"^top_p = 2\.0 is out of range"):
        SamplingSettings(top_p=2.0).validate()


@pytest.mark.parametrize(
    "rule, text, value, message",
    [
        (LR, " 0.003 ", 0.003, ""),
        (LR, "fast", None, "'fast' is not a number in (0, 10], e.g. 0.001"),
        (LR, "20", None, "20 is out of range: want a number in (0, 10], e.g. 0.001"),
        (LR, "", None, "empty: want a number in (0, 10], e.g. 0.001"),
        (STEPS, "2.5", None, "'2.5' is not an integer ≥ 1"),
        (STEPS, "0", None, "0 is out of range: want an integer ≥ 1"),
        (SEED, "0", 0, ""),
        (DEVICE, "cuda:1", "cuda:1", ""),
        (DEVICE, "tpu", None, "tpu is out of range: want auto, cpu, cuda, cuda:N or mps"),
    ],
)
def test_parse_text(rule, text, value, message):
    assert parse_text(rule, text) == (value, message)


@pytest.mark.parametrize(
    "name, ok",
    [
        ("auto", True),
        ("cpu", True),
        ("mps", True),
        ("cuda", True),
        ("cuda:3", True),
        ("cuda:", False),
        ("gpu", False),
        ("CPU", False),
    ],
)
def test_device_names(name, ok):
    assert device_name_ok(name) is ok


def test_configure_merges_flat_settings_into_the_nested_ones():
    args = ConfigureArgs.from_args(
        "configure",
        {
            "preset": "mini",
            "lr": 0.01,
            "block_size": 4,
            "train": {"lr": 0.5, "steps": 7},
            "model": {"n_embd": 8},
        },
    )
    run = args.run_settings()
    assert run.train == {"lr": 0.01, "steps": 7}
    assert run.model == {"n_embd": 8, "block_size": 4}
    with pytest.raises(ConfigError, match="the parabola preset has no context length"):
        ConfigureArgs(preset="parabola", block_size=3).run_settings()


def test_unset_arguments_are_not_sent_but_nullable_ones_are():
    assert ConfigureArgs(preset="mini", lr=0.1).to_dict(drop_unset=True) == {
        "preset": "mini",
        "corpus": None,
        "device": "auto",
        "lr": 0.1,
        "model": {},
        "train": {},
        "factory": None,  # None: the preset's own model
    }
    sent = PredictArgs(text="x").to_dict(drop_unset=True)
    assert sent["top_k"] is None and sent["layer"] is None  # None means "all" / "none" here


def test_results_round_trip_through_json():
    result = PredictResult.from_dict(
        {
            "top": [{"char": "e", "id": 3, "prob": 0.5}],
            "loss": 1.25,
            "step": 4,
            "from_a_newer_engine": True,
        }
    )
    assert result.top[0].char == "e" and result.top[0].prob == 0.5
    again = PredictResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result
    assert "math" not in result.to_dict()  # optional parts travel only when present
    cell = ExecResult.from_dict(
        {
            "error": {
                "type": "NameError",
                "message": "x",
                "lineno": 1,
                "line": "x",
                "hint": "define it",
            }
        }
    )
    assert cell.error.hint == "define it" and cell.to_dict()["error"]["lineno"] == 1


def test_every_op_result_and_event_is_a_frozen_contract_dataclass():
    for kind in [*RESULTS.values(), *EVENTS.values(), SessionInfo, TrainProgress]:
        assert dataclasses.is_dataclass(kind)
        kind.from_dict({})  # every field has a default: a reply may omit what it lacks


# a preset name as a value: compared, defaulted or listed (not a result's "parabola" key)
_PRESET_VALUE = re.compile(r"""(?<!\[)(?<!get\()["'](gpt|mini|mlp|parabola)["'](?!\s*[:\]])""")


def test_presets_are_declared_once():
    """The preset names are written as values in one module only; everything else imports
    them from the contract."""
    found = []
    for package in ("core", "tui", "cli"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#")[0]
                if _PRESET_VALUE.search(code) and "help=" not in code:
                    found.append(f"{path.relative_to(ROOT)}:{n}")
    assert {f.split(":")[0] for f in found} == {"core/contract/settings.py"}, found
    assert PRESETS == ("gpt", "mini", "mlp", "parabola")


def test_the_contract_loads_no_torch():
    code = (
        "import sys, core.contract, core.contract.lab; "
        "print('torch' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"], out.stderr
