"""The presets' model settings and their checks: ``MiniConfig``, ``MLPConfig``, ``GPTConfig``
and ``ParabolaConfig`` (the modules they build are in :mod:`core.models`, which also names them).

``validate()`` refuses what a model cannot be built from, with a :class:`ConfigError` in the
language of the moment. Imports no torch and no UI library.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.contract.settings import DEFAULT_BLOCK_SIZE
from core.errors import ConfigError
from core.i18n import _


def _positive(cfg: object, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(
                _("{name} must be a positive integer, got {value!r}").format(
                    name=name, value=value
                ),
                _("set {name} to 1 or more").format(name=name),
            )


@dataclass
class MiniConfig:
    vocab_size: int = 100
    n_embd: int = 32  # embedding width (the seed's example uses 16)
    n_hidden: int = 64  # hidden layer width (the seed's example uses 8)
    block_size: int = (
        DEFAULT_BLOCK_SIZE  # only sets the training window; each position sees one character
    )

    def validate(self) -> None:
        _positive(self, "vocab_size", "n_embd", "n_hidden", "block_size")


@dataclass
class MLPConfig:
    vocab_size: int = 100
    context: int = 8  # characters seen per prediction
    n_embd: int = 24  # embedding width per character
    n_hidden: int = 256  # hidden layer width
    block_size: int = (
        DEFAULT_BLOCK_SIZE  # training window; each position sees the last `context` characters
    )

    def validate(self) -> None:
        _positive(self, "vocab_size", "context", "n_embd", "n_hidden", "block_size")


@dataclass
class GPTConfig:
    vocab_size: int = 100
    block_size: int = DEFAULT_BLOCK_SIZE  # context length
    n_layer: int = 4  # transformer blocks
    n_head: int = 4  # attention heads per block
    n_embd: int = 128  # model width
    dropout: float = 0.0  # off by default: small models on small corpora train faster without
    bias: bool = True  # biases in the Linear layers and LayerNorms
    tie_weights: bool = True  # lm_head.weight is wte.weight (one [V, d] matrix)

    def validate(self) -> None:
        _positive(self, "vocab_size", "block_size", "n_layer", "n_head", "n_embd")
        if self.n_embd % self.n_head:
            raise ConfigError(
                _("n_embd ({n_embd}) must be divisible by n_head ({n_head})").format(
                    n_embd=self.n_embd, n_head=self.n_head
                ),
                _("pick a width that is a multiple of the heads"),
            )
        for name in ("bias", "tie_weights"):
            if not isinstance(value := getattr(self, name), bool):
                raise ConfigError(
                    _("{name} must be true or false, got {value!r}").format(name=name, value=value),
                    _("set {name} to true or false").format(name=name),
                )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(
                _("dropout must be in [0, 1), got {value}").format(value=self.dropout),
                _("use e.g. 0.0 or 0.1"),
            )


@dataclass
class ParabolaConfig:
    a: float = 3.0
    b: float = -2.0
    c: float = 3.0
    x0: float = -1.0  # where x starts

    def validate(self) -> None:
        if not self.a > 0:
            raise ConfigError(
                _("a must be > 0 for the parabola to have a minimum, got {a}").format(a=self.a),
                _("use a positive a, e.g. 3"),
            )

    @property
    def optimum(self) -> float:
        return -self.b / (2 * self.a)  # f'(x) = 2a·x + b = 0
