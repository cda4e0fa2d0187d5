"""Initialisations: what distribution a fresh weight was drawn from, and how many of its
values theory puts in each histogram bin (the curve drawn over a weight's histogram)."""

from __future__ import annotations

import math

import torch.nn as nn

from core.i18n import _


def init_of(model: nn.Module, name: str) -> dict:
    """The distribution parameter ``name`` was initialised from, by the rules of its model:
    PyTorch's defaults (Embedding ~ Normal(0, 1); Linear weight and bias ~ Uniform(±1/√in),
    Kaiming-uniform with a = √5; LayerNorm weight 1, bias 0), or GPT's own (Normal(0, 0.02),
    residual projections Normal(0, 0.02/√(2·layers)), biases 0)."""
    from core.models import GPT, Parabola

    module_name, _dot, short = name.rpartition(".")
    module = model.get_submodule(module_name) if module_name else model
    if isinstance(model, Parabola):
        x0 = model.config.x0
        return constant(float(x0), _("x starts at x0 = {x0:g}").format(x0=x0))
    if isinstance(module, nn.LayerNorm):
        if short == "weight":
            return constant(1.0, _("LayerNorm weight starts at 1"))
        return constant(0.0, _("LayerNorm {name} starts at 0").format(name=short))
    if isinstance(model, GPT):
        if short == "bias":
            return constant(0.0, _("GPT init: biases start at 0"))
        if name.endswith("proj.weight"):
            n = model.config.n_layer
            std = 0.02 / math.sqrt(2 * n)
            return normal(0.0, std, _("GPT init: Normal(0, 0.02/√(2·{layers}))").format(layers=n))
        return normal(0.0, 0.02, _("GPT init: Normal(0, 0.02)"))
    if isinstance(module, nn.Embedding):
        if module.padding_idx is not None:
            label = _("nn.Embedding default: Normal(0, 1); padding row {row} is 0")
            return normal(0.0, 1.0, label.format(row=module.padding_idx))
        return normal(0.0, 1.0, _("nn.Embedding default: Normal(0, 1)"))
    if isinstance(module, nn.Linear):
        n = module.in_features
        bound = 1 / math.sqrt(n)
        if short == "weight":
            label = _("nn.Linear weight: Kaiming-uniform ±1/√{n} = ±{bound:.4f}")
        else:
            label = _("nn.Linear bias: uniform ±1/√{n} = ±{bound:.4f}")
        return uniform(bound, label.format(n=n, bound=bound))
    return {"kind": "unknown", "label": _("initialisation not known for this layer")}


def normal(mean: float, std: float, label: str) -> dict:
    return {"kind": "normal", "mean": mean, "std": std, "label": label}


def uniform(bound: float, label: str) -> dict:
    return {
        "kind": "uniform",
        "low": -bound,
        "high": bound,
        "mean": 0.0,
        "std": bound / math.sqrt(3),
        "bound": bound,
        "label": label,
    }


def constant(value: float, label: str) -> dict:
    return {"kind": "constant", "value": value, "mean": value, "std": 0.0, "label": label}


def cdf(init: dict, x: float) -> float:
    if init["kind"] == "normal":
        return 0.5 * (1 + math.erf((x - init["mean"]) / (init["std"] * math.sqrt(2))))
    if init["kind"] == "uniform":
        return min(1.0, max(0.0, (x - init["low"]) / (init["high"] - init["low"])))
    if init["kind"] == "constant":
        return 1.0 if x >= init["value"] else 0.0
    return float("nan")


def expected_counts(init: dict, edges: list[float], n: int) -> list[float] | None:
    """How many of ``n`` values drawn from ``init`` fall in each bin: the theory curve."""
    if init["kind"] not in ("normal", "uniform", "constant"):
        return None
    if init["kind"] == "constant":  # every value in the bin holding it
        counts = [0.0] * (len(edges) - 1)
        v = init["value"]
        for i in range(len(edges) - 1):
            if edges[i] <= v < edges[i + 1] or (i == len(edges) - 2 and v == edges[-1]):
                counts[i] = float(n)
                break
        return counts
    return [n * (cdf(init, edges[i + 1]) - cdf(init, edges[i])) for i in range(len(edges) - 1)]
