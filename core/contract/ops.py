"""Each op's arguments and result, and the engine's events, as typed messages.

An argument class names its op (``OP``) and its result class (``RESULT``); the engine checks a
request with ``Args.from_args`` (rules from :mod:`core.contract.settings` where a setting is
meant) and answers with ``Result(...).to_dict()``; a client sends ``args.to_dict()`` and reads
``RESULT.from_dict(reply)``. The keys are the wire's: these classes describe the protocol of
``shared/DESIGN.md``, they do not change it. Imports no torch and no UI library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from core.contract.base import Contract, MalformedMessage, arg, nested, optional
from core.contract.explain import ExplainResult, TopChar
from core.contract.inspect import (
    EmbeddingLessonResult,
    ForwardLessonResult,
    ModelSourceResult,
    SummaryResult,
    WeightStatsResult,
)
from core.contract.lab import Completion, ExecResult, NamesResult
from core.contract.link import EngineInfo, ReadyInfo
from core.contract.progress import CompileState, StepDetail, TrainProgress
from core.contract.settings import (
    AUTOSAVE_MINUTES,
    BATCH_SIZE,
    BLOCK_SIZE,
    CORPUS,
    DEFAULT_PRESET,
    FACTORY,
    GENERATE_SEED,
    LOG_EVERY,
    LR,
    MAX_NEW,
    PARABOLA,
    REPORT_INTERVAL,
    SEED,
    STEPS,
    SamplingSettings,
    at_least,
    factory_name,
    int_in,
)
from core.contract.system import SystemSample
from core.errors import ConfigError, EngineError
from core.i18n import N_, _

# -- configure, reset, status --------------------------------------------------------------------


@dataclass
class RunSettings:
    """What a model is built from: the preset, its corpus and device, and the overrides of the
    preset's model settings and training settings (checked by the model and TrainSettings)."""

    preset: str = DEFAULT_PRESET
    corpus: str | None = None  # None: the built-in Python docs
    device: str = "auto"
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    factory: str | None = None  # a person's own model, "FILE.py:FACTORY" (core.user_model)


@dataclass(frozen=True)
class ConfigureArgs(Contract):
    """Build a fresh model. The common settings may be given flat (``lr``) or nested
    (``train: {lr: ...}``); ``run_settings()`` merges them, the flat ones winning."""

    OP: ClassVar[str] = "configure"
    preset: str = arg(DEFAULT_PRESET, str)
    corpus: str | None = arg(None, rule=CORPUS)
    device: str = arg("auto", str)  # its name is checked where it is resolved (core.device)
    seed: int | None = arg(None, rule=SEED)
    lr: float | None = arg(None, rule=LR)
    batch_size: int | None = arg(None, rule=BATCH_SIZE)
    block_size: int | None = arg(None, rule=BLOCK_SIZE)
    steps: int | None = arg(None, rule=STEPS)
    model: dict = arg(kind=dict, factory=dict)
    train: dict = arg(kind=dict, factory=dict)
    factory: str | None = arg(None, rule=FACTORY)  # your own model instead of the preset's

    def run_settings(self) -> RunSettings:
        model, train = dict(self.model), dict(self.train)
        for key in ("seed", "lr", "batch_size", "steps"):
            if getattr(self, key) is not None:
                train[key] = getattr(self, key)
        if self.block_size is not None:
            if self.preset == PARABOLA:
                raise ConfigError(
                    _("the parabola preset has no context length"),
                    _("leave block_size out for parabola"),
                )
            model["block_size"] = self.block_size
        return RunSettings(self.preset, self.corpus, self.device, model, train, self.factory)


@dataclass(frozen=True)
class SessionInfo(Contract):
    """The model the engine holds (reply of configure, reset, load; inside status)."""

    preset: str = ""
    device: str = ""
    device_type: str = ""
    params: int = 0
    trainable_params: int = 0
    tied: list = arg(kind=list, factory=list)
    model_config: dict = arg(kind=dict, factory=dict)
    train_config: dict = arg(kind=dict, factory=dict)
    vocab_size: int | None = None
    corpus: dict | None = None
    step: int = 0
    steps: int = 0
    block_size: int = 1
    world_size: int = 1  # ranks training it together (torchrun); 1: one process
    tokens_per_step: int = 0  # the global batch, in tokens (0: not a language model)
    # load only: the checkpoint's global batch (sequences) and world size, when it says
    saved_batch: int | None = optional()
    saved_world: int | None = optional()
    history: dict | None = optional()  # load only: {"train": ..., "val": ...} loss histories
    factory: str | None = optional()  # a person's own model: the factory it was built by
    notes: list | None = optional()  # what the person should know (a model file that changed)
    precision: str = "fp32"  # what a training step computes in: the run's precision resolved
    compile: bool = False  # whether training compiles its forward pass (the setting resolved)

    @property
    def model_name(self) -> str:
        """The factory's name (``my_model.py:build``) for one's own model, else the preset."""
        return factory_name(self.factory) if self.factory else self.preset

    @property
    def is_language_model(self) -> bool:
        from core.contract.settings import LANGUAGE_PRESETS

        return self.preset in LANGUAGE_PRESETS


@dataclass(frozen=True)
class StatusResult(Contract):
    state: str = "idle"
    protocol: int = 0
    session: SessionInfo | None = nested(SessionInfo)
    engine: EngineInfo | None = nested(EngineInfo)


# -- training ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainStartArgs(Contract):
    OP: ClassVar[str] = "train_start"
    steps: int | None = arg(None, rule=at_least(1, N_("an integer ≥ {low} (the new total)")))
    report_interval: float | None = arg(None, rule=REPORT_INTERVAL)
    sample_chars: int | None = arg(None, rule=int_in(0, 1000))
    autosave_path: str | None = arg(None, str, nullable=True)  # None: no autosave
    autosave_minutes: float | None = arg(None, rule=AUTOSAVE_MINUTES)
    log_every: int | None = arg(None, rule=LOG_EVERY)  # steps between metrics rows
    metrics_path: str | None = arg(None, str, nullable=True)  # metrics.jsonl; None: no file


@dataclass(frozen=True)
class RunState(Contract):
    """Reply of train_start, train_pause, train_resume and train_stop."""

    state: str = "idle"
    step: int = 0
    steps: int | None = optional()


@dataclass(frozen=True)
class TrainState(Contract):
    """The ``train_state`` event: running, paused, finished, stopped, diverged or idle."""

    state: str = "idle"
    reason: str = ""
    step: int = 0
    client: int = 0  # the client whose request changed it (0: the engine itself)


@dataclass(frozen=True)
class AttachArgs(Contract):
    """What a client that attaches to a running engine needs to draw the whole picture."""

    OP: ClassVar[str] = "attach"
    points: int = arg(0, rule=int_in(0, 1 << 20))  # history points at most; 0: all kept


@dataclass(frozen=True)
class AttachResult(Contract):
    engine: EngineInfo = nested(EngineInfo, default=EngineInfo())
    state: str = "idle"
    session: SessionInfo | None = nested(SessionInfo)  # with ``history``
    progress: TrainProgress | None = nested(TrainProgress)  # the latest report
    sample: str | None = None  # the latest generated sample of a validation report
    variables: list = arg(kind=list, factory=list)  # the playground's names
    system: list = arg(kind=list, factory=list)  # the machine's recent samples (core.monitor)


@dataclass(frozen=True)
class EvaluateResult(Contract):
    val_loss: float | str | None = None
    step: int = 0


# -- predict and generate ------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictArgs(SamplingSettings):
    OP: ClassVar[str] = "predict"
    text: str = arg("", str, required=True)
    k: int = arg(10, rule=int_in(1, 1000))
    math: bool = arg(False, bool)
    layer: str | None = arg(None, str, nullable=True)
    units: int = arg(8, rule=int_in(1, 64))
    positions: int = arg(32, rule=int_in(1, 256))
    explain: dict | None = arg(None, kind=dict, nullable=True)  # ExplainArgs without text


@dataclass(frozen=True)
class PredictResult(Contract):
    """The next-character distribution after a text, from one forward pass."""

    ids: list = arg(kind=list, factory=list)  # the ids fed (the last block_size)
    tokens: list = arg(kind=list, factory=list)
    strip: list = arg(kind=list, factory=list)  # the text as shown, unknowns marked
    chars: int = 0
    unknown: list = arg(kind=list, factory=list)  # [position, character] pairs
    cropped: int = 0  # characters left of the context window
    empty_context: bool = False
    top: list[TopChar] = nested(TopChar, many=True)
    loss: float | None = None  # the typed text's own loss, when it has two characters
    bits_per_char: float | None = None
    vocab_size: int = 0
    block_size: int = 0
    math: dict | None = optional()  # the output layer worked by hand (math=True)
    activations: dict | None = optional()  # a layer's strongest units (layer=...)
    explain: dict | None = optional()  # an ExplainResult (explain={...})
    step: int = 0


@dataclass(frozen=True)
class LayersResult(Contract):
    layers: list = arg(kind=list, factory=list)
    output_layer: str = ""


@dataclass(frozen=True)
class GenerateArgs(SamplingSettings):
    OP: ClassVar[str] = "generate"
    prompt: str = arg("", str)
    max_new: int = arg(200, rule=MAX_NEW)
    seed: int | None = arg(None, rule=GENERATE_SEED)
    stream: bool = arg(True, bool)


@dataclass(frozen=True)
class GenerateResult(Contract):
    text: str = ""
    step: int = 0
    stopped: bool = False


@dataclass(frozen=True)
class CancelArgs(Contract):
    OP: ClassVar[str] = "cancel"
    id: int = arg(0, int, required=True)


# -- checkpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveArgs(Contract):
    OP: ClassVar[str] = "save"
    path: str = arg("", str, required=True)


@dataclass(frozen=True)
class SaveResult(Contract):
    path: str = ""
    step: int = 0


@dataclass(frozen=True)
class LoadArgs(Contract):
    OP: ClassVar[str] = "load"
    path: str = arg("", str, required=True)
    device: str = arg("auto", str)
    corpus: str | None = arg(None, rule=CORPUS)
    train: dict = arg(kind=dict, factory=dict)  # training settings to change: lr, batch_size
    # the checkpoint of one's own model is rebuilt by this factory, named by the person
    factory: str | None = arg(None, rule=FACTORY)


# -- events --------------------------------------------------------------------------------------


def result_dict(value: Any) -> dict:
    """An op handler's return value as the reply's ``result``."""
    if value is None:
        return {}
    return value.to_dict() if isinstance(value, Contract) else value


# What each op answers, for a client that reads the reply (``RESULTS[op].from_dict(reply)``).
RESULTS: dict[str, type[Contract]] = {
    "configure": SessionInfo,
    "reset": SessionInfo,
    "load": SessionInfo,
    "status": StatusResult,
    "hello": EngineInfo,
    "attach": AttachResult,
    "train_start": RunState,
    "train_pause": RunState,
    "train_resume": RunState,
    "train_stop": RunState,
    "train_step": StepDetail,
    "evaluate": EvaluateResult,
    "save": SaveResult,
    "predict": PredictResult,
    "predict_layers": LayersResult,
    "explain": ExplainResult,
    "generate": GenerateResult,
    "exec": ExecResult,
    "complete": Completion,
    "playground_reset": NamesResult,
    "summary": SummaryResult,
    "weight_stats": WeightStatsResult,
    "lesson_embedding_linear": EmbeddingLessonResult,
    "lesson_linear_forward": ForwardLessonResult,
    "model_source": ModelSourceResult,
}


# What each event carries (``EVENTS[name].from_dict(data)``); others are plain dicts.
@dataclass(frozen=True)
class LoadProgress(Contract):
    """The ``load_progress`` event: a corpus being read (stage "reading") then turned into ids
    ("encoding"); ``done`` of ``total`` bytes of the file."""

    stage: str = ""
    done: int = 0
    total: int = 0


EVENTS: dict[str, type[Contract]] = {
    "load_progress": LoadProgress,
    "ready": ReadyInfo,
    "train_progress": TrainProgress,
    "train_state": TrainState,
    "system": SystemSample,
    "compile": CompileState,
}


def read_result(op: str, reply: dict) -> Any:
    """A reply's ``result`` as the typed result of ``op`` (a plain dict for an op without one,
    such as ``cancel`` or ``shutdown``, whose replies only echo what was asked), checked
    (``Contract.parse``): a result that does not fit raises EngineError ``MalformedReply``."""
    kind = RESULTS.get(op)
    if kind is None:
        return reply
    try:
        return kind.parse(reply)
    except MalformedMessage as exc:  # shown as an error reply is: a notification, no crash
        raise EngineError(
            "MalformedReply",
            _("the engine's {op} reply does not fit its contract: {problem}").format(
                op=op, problem=exc
            ),
            _("the engine or something writing to its output is broken; ctrl+r restarts it"),
        ) from None
