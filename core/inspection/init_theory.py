"""Initialisations: what distribution a fresh weight was drawn from, and how many of its
values theory puts in each histogram bin (the curve drawn over a weight's histogram)."""

from __future__ import annotations

import math

import torch.nn as nn


def init_of(model: nn.Module, name: str) -> dict:
    """The distribution parameter ``name`` was initialised from, by the rules of its model:
    PyTorch's defaults (Embedding ~ Normal(0, 1); Linear weight and bias ~ Uniform(±1/√in),
    Kaiming-uniform with a = √5; LayerNorm weight 1, bias 0), or GPT's own (Normal(0, 0.02),
    residual projections Normal(0, 0.02/√(2·layers)), biases 0)."""
    from core.models import GPT, Parabola

    module_name, _, short = name.rpartition(".")
    module = model.get_submodule(module_name) if module_name else model
    if isinstance(model, Parabola):
        return constant(float(model.config.x0), f"x starts at x0 = {model.config.x0:g}")
    if isinstance(module, nn.LayerNorm):
        return constant(
            1.0 if short == "weight" else 0.0,
            f"LayerNorm {short} starts at {1 if short == 'weight' else 0}",
        )
    if isinstance(model, GPT):
        if short == "bias":
            return constant(0.0, "GPT init: biases start at 0")
        if name.endswith("proj.weight"):
            std = 0.02 / math.sqrt(2 * model.config.n_layer)
            return normal(0.0, std, f"GPT init: Normal(0, 0.02/√(2·{model.config.n_layer}))")
        return normal(0.0, 0.02, "GPT init: Normal(0, 0.02)")
    if isinstance(module, nn.Embedding):
        spec = normal(0.0, 1.0, "nn.Embedding default: Normal(0, 1)")
        if module.padding_idx is not None:
            spec["label"] += f"; padding row {module.padding_idx} is 0"
        return spec
    if isinstance(module, nn.Linear):
        bound = 1 / math.sqrt(module.in_features)
        what = "weight: Kaiming-uniform" if short == "weight" else "bias: uniform"
        return uniform(bound, f"nn.Linear {what} ±1/√{module.in_features} = ±{bound:.4f}")
    return {"kind": "unknown", "label": "initialisation not known for this layer"}


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
