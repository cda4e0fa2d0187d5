"""The typed contract between the engine and its clients: settings with their ranges and
defaults, each op's arguments and result, and the events. Torch-free, UI-free: both sides import
it. ``base`` says how a field carries its rule; ``settings`` holds the rules a person meets;
``ops`` (with ``lab`` for the playground, ``inspect`` for the Summary pane and ``progress``
for a run's reports) the messages.

The names below load their module on first use (PEP 562): building some sixty dataclasses takes
~50 ms, which the app's first frame does not wait for. ``from core.contract import X`` works as
usual.
"""

from __future__ import annotations

import importlib

_HOME = {
    "base": ("Contract", "parse_text", "arg_type"),
    "settings": (
        "DEFAULT_PRESET",
        "LANGUAGE_PRESETS",
        "PRESET_TRAIN_DEFAULTS",
        "PRESETS",
        "SamplingSettings",
        "TrainSettings",
    ),
    "link": ("EngineInfo", "HelloArgs", "InterruptArgs", "ReadyInfo", "ROLES"),
    "system": ("SystemSample",),
    "progress": ("CompileState", "StepDetail", "TrainProgress"),
    "explain": ("ExplainArgs", "ExplainResult", "LensRow", "Neighbour", "TopChar"),
    "ops": (
        "AttachArgs",
        "AttachResult",
        "EVENTS",
        "RESULTS",
        "CancelArgs",
        "ConfigureArgs",
        "EvaluateResult",
        "GenerateArgs",
        "GenerateResult",
        "LayersResult",
        "LoadArgs",
        "PredictArgs",
        "PredictResult",
        "RunSettings",
        "RunState",
        "SaveArgs",
        "SaveResult",
        "SessionInfo",
        "StatusResult",
        "TrainStartArgs",
        "TrainState",
        "read_result",
        "result_dict",
    ),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'core.contract' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"core.contract.{module}"), name)
    globals()[name] = value  # the next look-up is a plain one
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
