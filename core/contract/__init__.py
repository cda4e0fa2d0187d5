"""The typed contract between the engine and its clients: settings with their ranges and
defaults, each op's arguments and result, and the events. Torch-free, UI-free: both sides import
it. ``base`` says how a field carries its rule; ``settings`` holds the rules a person meets;
``ops`` the messages."""

from core.contract.base import Contract, parse_text
from core.contract.ops import (
    EVENTS,
    RESULTS,
    CancelArgs,
    ConfigureArgs,
    EvaluateResult,
    GenerateArgs,
    GenerateResult,
    LayersResult,
    LoadArgs,
    PredictArgs,
    PredictResult,
    ReadyInfo,
    RunSettings,
    RunState,
    SaveArgs,
    SaveResult,
    SessionInfo,
    StatusResult,
    StepDetail,
    TopChar,
    TrainProgress,
    TrainStartArgs,
    TrainState,
    result_dict,
)
from core.contract.settings import (
    DEFAULT_PRESET,
    LANGUAGE_PRESETS,
    PRESET_TRAIN_DEFAULTS,
    PRESETS,
    SamplingSettings,
    TrainSettings,
)

__all__ = [
    "EVENTS", "RESULTS",
    "DEFAULT_PRESET", "LANGUAGE_PRESETS", "PRESETS", "PRESET_TRAIN_DEFAULTS", "CancelArgs",
    "ConfigureArgs", "Contract", "EvaluateResult", "GenerateArgs", "GenerateResult",
    "LayersResult", "LoadArgs", "PredictArgs", "PredictResult", "ReadyInfo", "RunSettings",
    "RunState", "SamplingSettings", "SaveArgs", "SaveResult", "SessionInfo", "StatusResult",
    "StepDetail", "TopChar", "TrainProgress", "TrainSettings", "TrainStartArgs", "TrainState",
    "parse_text", "result_dict",
]
