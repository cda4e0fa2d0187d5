"""The settings a person can choose, each with its range and default, defined once.

The engine's argument checks, ``TrainConfig`` (it *is* :class:`TrainSettings`), the sampling of
the Predict pane, the command line's argparse types and the Train pane's form all read these
rules; nowhere else says what the learning rate may be. Imports no torch and no UI library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.contract.base import Contract, arg
from core.errors import ConfigError
from core.i18n import N_, Words, _
from core.protocol import Arg

# -- presets -------------------------------------------------------------------------------------

GPT, MINI, MLP, PARABOLA = "gpt", "mini", "mlp", "parabola"
PRESETS = (GPT, MINI, MLP, PARABOLA)  # in the order a menu shows them
LANGUAGE_PRESETS = (MINI, MLP, GPT)  # the presets that read text and predict characters
DEFAULT_PRESET = GPT

# Per-preset training defaults: what a person gets without setting anything.
PRESET_TRAIN_DEFAULTS: dict[str, dict] = {
    MINI: {"lr": 1e-2, "steps": 1000, "batch_size": 32},
    MLP: {"lr": 3e-3, "steps": 2000},
    GPT: {"lr": 2e-3, "steps": 2000},
    # the seed's experiment: plain SGD, lr 0.01, 80 epochs, nothing else in the way
    PARABOLA: {
        "lr": 0.01,
        "steps": 80,
        "optimizer": "sgd",
        "schedule": "constant",
        "warmup_steps": 0,
        "grad_clip": 0.0,
        "weight_decay": 0.0,
        "eval_interval": 0,
        "batch_size": 1,
    },
}

DEFAULT_BLOCK_SIZE = 64  # the language models' context length unless one is chosen

# What each preset does not read, among the settings a form or the command line offers: the
# parabola has one parameter and no data, so no corpus, batch or context. A form hides these
# fields and never checks them.
PRESET_UNUSED: dict[str, tuple[str, ...]] = {
    PARABOLA: ("corpus", "batch_size", "block_size", "factory")
}


# The model sizes each preset has (core.models checks its configs have exactly these).
PRESET_MODEL_SIZES: dict[str, tuple[str, ...]] = {
    GPT: ("n_layer", "n_head", "n_embd", "dropout", "bias", "tie_weights"),
    MINI: ("n_embd", "n_hidden"),
    MLP: ("context", "n_embd", "n_hidden"),
    PARABOLA: (),
}


def preset_uses(preset: str, setting: str) -> bool:
    """Whether ``preset`` reads ``setting`` (a training setting, the corpus, a model size)."""
    if setting in MODEL_SIZE_NAMES:
        return setting in PRESET_MODEL_SIZES.get(preset, ())
    return setting not in PRESET_UNUSED.get(preset, ())


OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "constant")
# The arithmetic of a training step (core.device.train_dtype): auto is bf16 autocast where the
# device computes bf16 natively (a CUDA GPU that supports it; a CPU with AVX-512 BF16 or AMX),
# float32 elsewhere.
PRECISIONS = ("auto", "fp32", "bf16")

# -- rules used in more than one message -----------------------------------------------------------


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def at_least(low: int, words: str = N_("an integer ≥ {low}")) -> Arg:
    """An integer ≥ ``low``; ``words`` (marked with N_, ``{low}`` in it) say so."""
    return Arg(int, check=lambda v: _is_int(v) and v >= low, expect=Words(words, low=low))


def int_in(low: int, high: int) -> Arg:
    return Arg(
        int,
        check=lambda v: _is_int(v) and low <= v <= high,
        expect=Words(N_("an integer in [{low}, {high}]"), low=low, high=high),
    )


def _one_of(choices: tuple[str, ...]) -> Words:
    return Words(N_("one of {choices}"), choices=", ".join(choices))


LR = Arg(float, check=lambda v: 0 < v <= 10, expect=Words(N_("a number in (0, 10], e.g. 0.001")))
SEED_MAX = 2**63 - 1  # torch.manual_seed takes less than 2**64; a signed 64-bit integer is safe
SEED = int_in(0, SEED_MAX)
STEPS = at_least(1)
BATCH_SIZE = at_least(1)
BLOCK_SIZE = at_least(1, N_("an integer ≥ {low} (the context length)"))

# The models' sizes a person may set (``--n-layer``…): each preset reads some of them, and
# core.models checks how they fit together (n_embd divisible by n_head).
MODEL_RULES: dict[str, Arg] = {
    "n_layer": at_least(1),
    "n_head": at_least(1),
    "n_embd": at_least(1),
    "n_hidden": at_least(1),
    "context": at_least(1),
    "dropout": Arg(float, check=lambda v: 0 <= v < 1, expect=Words(N_("a number in [0, 1)"))),
    "bias": Arg(bool, expect=Words(N_("true or false"))),
    "tie_weights": Arg(bool, expect=Words(N_("true or false"))),
}

MODEL_SIZE_NAMES = frozenset(MODEL_RULES)

# A person's own model (core.user_model): ``--model FILE.py:FACTORY`` or ``package.module:FACTORY``.
# Words: shown in the language of the moment (str(), an f-string, ``.format``)
FACTORY_SHAPE = Words(
    N_(
        "factory(vocab_size, block_size) must return an nn.Module mapping ids [B, T] to logits "
        "[B, T, vocab_size]"
    )
)
FACTORY_FORM = Words(N_("FILE.py:FACTORY or package.module:FACTORY"))


def split_factory(ref: str) -> tuple[str, str, bool]:
    """``ref``'s module part, its factory's name, and whether the module part is a file."""
    target, _sep, attr = ref.rpartition(":") if isinstance(ref, str) else ("", "", "")
    target = target.strip()
    is_file = target.endswith(".py") or "/" in target or "\\" in target
    module_ok = is_file or all(part.isidentifier() for part in target.split("."))
    if not target or not attr.isidentifier() or not module_ok:
        raise ConfigError(
            _("{ref!r} does not name a factory").format(ref=ref),
            _("write {form}, e.g. my_model.py:build").format(form=FACTORY_FORM),
        )
    return target, attr, is_file


def factory_name(ref: str) -> str:
    """``ref`` as a person reads it: the file's name and the factory (``my_model.py:build``)."""
    target, _sep, attr = ref.rpartition(":")
    return f"{target.replace(chr(92), '/').rsplit('/', 1)[-1]}:{attr}"


def _factory_ok(ref) -> bool:
    try:
        split_factory(ref)
    except ConfigError:
        return False
    return True


FACTORY = Arg(str, check=_factory_ok, nullable=True, expect=FACTORY_FORM)

DEVICE_CHOICES = Words(N_("auto, cpu, cuda, cuda:N or mps"))


def device_name_ok(name: str) -> bool:
    """Whether ``name`` is a device torchdeck knows how to ask for (available or not)."""
    return isinstance(name, str) and bool(re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", name))


DEVICE = Arg(str, check=device_name_ok, expect=DEVICE_CHOICES)
CORPUS = Arg(
    str, nullable=True, expect=Words(N_("a UTF-8 text file (empty: the built-in Python docs)"))
)


@dataclass
class TrainSettings(Contract):
    """Every training setting of a run, with its range; ``validate()`` checks them all."""

    steps: int = arg(2000, rule=STEPS)  # total optimizer steps of the run
    batch_size: int = arg(32, rule=BATCH_SIZE)  # sequences per micro-batch (per rank)
    # micro-batches per optimizer step over all ranks (a multiple of the number of ranks), so
    # the global batch, batch_size x grad_accum, is the same whatever the world size;
    # 0: one micro-batch per rank
    grad_accum: int = arg(0, rule=int_in(0, 4096))
    lr: float = arg(2e-3, rule=LR)  # peak learning rate
    min_lr_ratio: float = arg(
        0.1, float, check=lambda v: 0 <= v <= 1, expect=Words(N_("in [0, 1]"))
    )
    # the cosine schedule's floor as a learning rate; None: lr × min_lr_ratio (which follows a
    # new lr on resume). At most lr (core.optim checks the two together).
    min_lr: float | None = arg(
        None,
        float,
        check=lambda v: 0 <= v <= 10,
        expect=Words(N_("a number in [0, 10]")),
        nullable=True,
    )
    warmup_steps: int = arg(100, rule=at_least(0))  # linear warm-up from 0 to lr
    schedule: str = arg("cosine", str, check=lambda v: v in SCHEDULES, expect=_one_of(SCHEDULES))
    optimizer: str = arg("adamw", str, check=lambda v: v in OPTIMIZERS, expect=_one_of(OPTIMIZERS))
    weight_decay: float = arg(
        0.1, float, check=lambda v: 0 <= v < 1, expect=Words(N_("in [0, 1)"))
    )  # AdamW decay, matrices only
    beta1: float = arg(0.9, float, check=lambda v: 0 <= v < 1, expect=Words(N_("in [0, 1)")))
    beta2: float = arg(0.99, float, check=lambda v: 0 <= v < 1, expect=Words(N_("in [0, 1)")))
    grad_clip: float = arg(
        1.0, float, check=lambda v: v >= 0, expect=Words(N_("≥ 0 (0 turns clipping off)"))
    )  # global gradient norm
    eval_interval: int = arg(200, rule=at_least(0))  # validation every N steps; 0: never
    eval_batches: int = arg(20, rule=at_least(1))  # batches averaged for one validation loss
    seed: int = arg(1337, rule=SEED)  # seeds the weights and the batch order
    precision: str = arg("auto", str, check=lambda v: v in PRECISIONS, expect=_one_of(PRECISIONS))
    # torch.compile the training step's forward pass (inductor); None: on a CUDA GPU only (on 2
    # CPU cores a bf16 step gained 1.1–1.2x from a warm cache, after 20–50 s compiling cold)
    compile: bool | None = arg(
        None, bool, nullable=True, expect=Words(N_("true or false (empty: auto)"))
    )


TEMPERATURE = Arg(
    float,
    check=lambda v: v == 0 or 0.01 <= v <= 100,
    expect=Words(N_("0 (greedy) or in [0.01, 100]")),
)
TOP_K = Arg(
    int, check=lambda v: v >= 1, expect=Words(N_("an integer ≥ {low}"), low=1), nullable=True
)
TOP_P = Arg(float, check=lambda v: 0 < v <= 1, expect=Words(N_("in (0, 1]")), nullable=True)
GENERATE_SEED = Arg(
    int,
    check=lambda v: _is_int(v) and 0 <= v <= SEED_MAX,
    expect=Words(N_("an integer in [{low}, {high}]"), low=0, high=SEED_MAX),
    nullable=True,
)
MAX_NEW = int_in(0, 1_000_000)  # characters one generate request may ask for
# Autosave: while a run trains, its checkpoint is written every this many minutes of training
# (and when it finishes or stops), so a crash or a hang-up loses at most that much work.
DEFAULT_AUTOSAVE_MINUTES = 5.0
AUTOSAVE_MINUTES = Arg(
    float,
    check=lambda v: 0 <= v <= 1440,
    expect=Words(N_("minutes in [0, 1440] (0 turns autosave off)")),
)
REPORT_INTERVAL = Arg(
    float, check=lambda v: 0.01 <= v <= 3600, expect=Words(N_("seconds in [0.01, 3600]"))
)
DEFAULT_LOG_EVERY = 10  # steps between the rows of a run's metrics (core.metric_log)
LOG_EVERY = int_in(1, 1_000_000)


@dataclass(frozen=True)
class SamplingSettings(Contract):
    """How the next character is chosen from the model's distribution."""

    temperature: float = arg(1.0, rule=TEMPERATURE)  # 1: the model's own distribution
    top_k: int | None = arg(None, rule=TOP_K)  # keep only the k most likely characters
    top_p: float | None = arg(None, rule=TOP_P)  # smallest set whose probability reaches p
    greedy: bool = arg(False, bool)

    @property
    def is_greedy(self) -> bool:
        return self.greedy or self.temperature == 0


SAMPLING_SPEC = SamplingSettings.spec()


def preset_defaults(preset: str) -> dict:
    """The settings a person gets by choosing ``preset``: its learning rate, batch, context and
    steps (the preset's own where it has them, else the common defaults). What the preset does
    not read is left out."""
    train = TrainSettings()
    merged = {
        "lr": train.lr,
        "batch_size": train.batch_size,
        "steps": train.steps,
        "block_size": DEFAULT_BLOCK_SIZE,
    }
    for key, value in PRESET_TRAIN_DEFAULTS.get(preset, {}).items():
        if key in merged:
            merged[key] = value
    return {k: v for k, v in merged.items() if preset_uses(preset, k)}
