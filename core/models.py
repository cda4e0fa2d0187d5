"""Model presets: ``mini``, ``mlp``, ``gpt`` (next-character language models) and ``parabola``.

Works without a UI. Every preset is an ``nn.Module`` with
``forward(idx, targets=None) -> (logits, loss)``; ``idx`` is (B, T) character ids and ``logits``
is (B, T, vocab_size): each position predicts the character that follows it. ``parabola`` is
the backprop lesson f(x) = 3x² − 2x + 3 made into a model with a single parameter, so that the
same training machinery runs it. Each preset's settings and their checks (``MiniConfig``, ...)
are in :mod:`core.model_configs`; this module names them too.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.contract.settings import (  # noqa: F401
    DEFAULT_BLOCK_SIZE,
    LANGUAGE_PRESETS,
    MINI,
    MLP,
    MODEL_SIZE_NAMES,
    PARABOLA,
    PRESET_MODEL_SIZES,
)
from core.contract.settings import GPT as GPT_PRESET
from core.contract.settings import PRESETS as PRESET_NAMES
from core.errors import ConfigError
from core.i18n import _
from core.model_configs import GPTConfig, MiniConfig, MLPConfig, ParabolaConfig
from core.user_model import own_call

# ---------------------------------------------------------------------------------------------
# mini: the seeds' MyFirstModel with out = vocabulary size.


class MiniLM(nn.Module):
    """Embedding → Linear → ReLU → Linear: predicts the next character from the current one."""

    def __init__(self, config: MiniConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.hidden = nn.Linear(config.n_embd, config.n_hidden)
        self.activation = nn.ReLU()
        self.output = nn.Linear(config.n_hidden, config.vocab_size)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        x = self.embedding(idx)  # (B, T, n_embd)
        h = self.activation(self.hidden(x))  # (B, T, n_hidden)
        logits = self.output(h)  # (B, T, vocab_size)
        return logits, _lm_loss(logits, targets)


# ---------------------------------------------------------------------------------------------
# mlp: a window of characters, embeddings concatenated (Bengio et al. 2003).


class MLPLM(nn.Module):
    """Embeddings of the last `context` characters, concatenated → Linear → tanh → Linear."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        # one extra row, index vocab_size, pads the window before the start of the text
        self.pad_id = config.vocab_size
        self.embedding = nn.Embedding(config.vocab_size + 1, config.n_embd, padding_idx=self.pad_id)
        self.hidden = nn.Linear(config.context * config.n_embd, config.n_hidden)
        self.activation = nn.Tanh()
        self.output = nn.Linear(config.n_hidden, config.vocab_size)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        B, T = idx.shape
        C = self.config.context
        padded = F.pad(idx, (C - 1, 0), value=self.pad_id)  # (B, T + C - 1)
        windows = padded.unfold(1, C, 1)  # (B, T, C): position t sees idx[t-C+1 .. t]
        x = self.embedding(windows).reshape(B, T, -1)  # (B, T, C * n_embd)
        h = self.activation(self.hidden(x))  # (B, T, n_hidden)
        logits = self.output(h)  # (B, T, vocab_size)
        return logits, _lm_loss(logits, targets)


# ---------------------------------------------------------------------------------------------
# gpt: a small causal transformer with weight tying (nanoGPT's shape).


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 × (B, T, C)
        q, k, v = (
            t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v)
        )  # (B, nh, T, hs)
        p = self.dropout if self.training else 0.0
        if q.dtype == torch.bfloat16 and q.device.type == "cpu":
            # On a CPU, bf16 attention's backward is slower than float32's (4.7x for the gpt
            # preset on AVX-512 BF16, torch 2.13): the matrix products gain, attention does not.
            with torch.autocast("cpu", enabled=False):
                y = F.scaled_dot_product_attention(
                    q.float(), k.float(), v.float(), is_causal=True, dropout_p=p
                ).to(q.dtype)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C) from (B, nh, T, hs)
        return self.resid_dropout(self.proj(y))


class MLPBlock(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(self.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLPBlock(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


def too_long(length: int, limit: int) -> str:
    """Why an input cannot be read (out of forward, which the Code view shows to learners)."""
    return _("input of {length} characters exceeds the context length {limit}").format(
        length=length, limit=limit
    )


def crop_hint(limit: int) -> str:
    return _("crop the input to the last {limit} characters").format(limit=limit)


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embedding
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # position embedding
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _i in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.wte.weight  # weight tying: one [V, d] matrix, counted once
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):  # GPT-2: scale residual projections by depth
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        B, T = idx.shape
        if T > self.config.block_size:
            raise ConfigError(
                too_long(T, self.config.block_size),
                crop_hint(self.config.block_size),
            )
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, n_embd)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab_size)
        return logits, _lm_loss(logits, targets)


# ---------------------------------------------------------------------------------------------
# parabola: the backprop lesson, f(x) = a·x² + b·x + c with one parameter x.


class Parabola(nn.Module):
    def __init__(self, config: ParabolaConfig) -> None:
        super().__init__()
        self.config = config
        self.x = nn.Parameter(torch.tensor(float(config.x0)))

    def f(self) -> torch.Tensor:
        c = self.config
        self._forward_x = self.x.detach().clone()  # where the next x.grad will be taken
        return c.a * self.x**2 + c.b * self.x + c.c

    def forward(self, idx: torch.Tensor | None = None, targets: torch.Tensor | None = None):
        fx = self.f()
        return fx, fx  # the value to minimise is the loss itself

    def state_report(self) -> dict:
        """x, f(x), the analytic optimum and the distance to it, and x.grad with the x it was
        taken at (the optimizer step moves x after backward, so the two differ by one step)."""
        x = self.x.detach().item()
        c = self.config
        grad = None if self.x.grad is None else self.x.grad.item()
        grad_at = getattr(self, "_forward_x", None)
        return {
            "x": x,
            "f": c.a * x * x + c.b * x + c.c,
            "grad": grad,
            "grad_at": None if grad is None or grad_at is None else grad_at.item(),
            "optimum": c.optimum,
            "distance": abs(x - c.optimum),
        }


# ---------------------------------------------------------------------------------------------


def _lm_loss(logits: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor | None:
    if targets is None:
        return None
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1))


# The preset names (and which of them are language models) are the contract's.
PRESETS: dict[str, tuple[type, type[nn.Module]]] = {
    MINI: (MiniConfig, MiniLM),
    MLP: (MLPConfig, MLPLM),
    GPT_PRESET: (GPTConfig, GPT),
    PARABOLA: (ParabolaConfig, Parabola),
}
assert set(PRESETS) == set(PRESET_NAMES), "every preset of the contract needs a model"
assert all(
    {f.name for f in fields(config)} & MODEL_SIZE_NAMES == set(PRESET_MODEL_SIZES[name])
    for name, (config, _model) in PRESETS.items()
), "the contract's PRESET_MODEL_SIZES must name each preset's settable sizes"


PRESET_MODELS = tuple(model for _config, model in PRESETS.values())


def _preset(preset: str) -> tuple[type, type[nn.Module]]:
    if preset not in PRESETS:
        raise ConfigError(
            _("unknown preset {preset!r}").format(preset=preset),
            _("choose one of: {choices}").format(choices=", ".join(PRESETS)),
        )
    return PRESETS[preset]


def make_config(preset: str, **values) -> object:
    """A validated config for ``preset``; unknown keys are refused with the valid ones listed."""
    config_cls = _preset(preset)[0]
    names = {f.name for f in fields(config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            _("preset {preset!r} has no setting {names}").format(
                preset=preset, names=", ".join(unknown)
            ),
            _("its settings are: {names}").format(names=", ".join(sorted(names))),
        )
    config = config_cls(**values)
    config.validate()
    return config


def build_model(preset: str, config: object) -> nn.Module:
    return _preset(preset)[1](config)


def config_to_dict(config: object) -> dict:
    return asdict(config)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Parameters counted once each, however many modules share them (tied weights)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def tied_parameters(model: nn.Module) -> list[list[str]]:
    """Groups of parameter names that are the same tensor, e.g. [['wte.weight', 'lm_head.weight']]."""
    groups: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        groups.setdefault(id(p), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DistributedDataParallel (``module``) and torch.compile (``_orig_mod``)."""
    while True:
        inner = getattr(model, "module", None)
        if not isinstance(inner, nn.Module):
            inner = getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode within the block, and every module back in the mode it was in
    after, whatever happens. A module that keeps ``nn.Module.train`` has its flag set directly:
    ``model.eval()`` then ``model.train()`` walked the tree through ``nn.Module.__setattr__``,
    0.25 ms of every 3 ms prediction for gpt (55 modules). A module with its own ``train`` is
    asked through it."""
    modules = list(model.modules())
    before = [m.training for m in modules]
    try:
        _set_modes(modules, [False] * len(modules))
        yield
    finally:
        _set_modes(modules, before)


def _set_modes(modules: list[nn.Module], modes: list[bool]) -> None:
    plain = nn.Module.train
    for module, mode in zip(modules, modes):
        if type(module).train is plain:
            module.__dict__["training"] = mode
        else:
            module.train(mode)  # its own: it may set its children, which come after it


def with_loss(model: nn.Module):
    """``(idx, targets=None) -> (logits, loss)`` for ``model``: a preset is that already; a
    person's own model (core.user_model) gives logits, and the loss is the same cross-entropy.
    ``model`` may be wrapped (DistributedDataParallel's ``module``, torch.compile's module)."""
    if isinstance(unwrap(model), PRESET_MODELS):
        return model

    def forward(idx: torch.Tensor, targets: torch.Tensor | None = None):
        # whatever the person's code raises (SystemExit too) is an error naming its file
        logits = own_call(model, idx)
        return logits, own_call(model, idx, targets, logits=logits)

    return forward
