"""The two lessons the Summary pane teaches, on live layers: LESSONS.md L3 (nn.Embedding vs
nn.Linear, and weight tying) and L1 (a Linear layer is X · Wᵀ + b)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.errors import ConfigError
from core.i18n import _
from core.inspection.init_theory import expected_counts, normal, uniform
from core.inspection.weights import tensor_stats

MAX_LESSON_ELEMENTS = 20_000_000  # V × d cap for the Embedding-vs-Linear lesson (80 MB float32)


# ---------------------------------------------------------------------------------------------
# LESSONS.md L3: nn.Embedding vs nn.Linear, on live layers.


def _public_attributes(module: nn.Module) -> dict[str, Any]:
    attrs = {k: v for k, v in vars(module).items() if not k.startswith("_") and k != "training"}
    for k, p in module.named_parameters(recurse=False):
        attrs[k] = p
    return attrs


def _show(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"Parameter {list(value.shape)}"
    return repr(value)


def _weight_kind(module: nn.Module, name: str) -> dict:
    """What the layer's ``.weight`` is (L3: both layers are thin wrappers over nn.Parameter),
    and the names ``module.parameters()`` yields."""
    w = module.weight
    return {
        "name": f"{name}.weight",
        "type": type(w).__name__,
        "is_parameter": isinstance(w, nn.Parameter),
        "requires_grad": w.requires_grad,
        "registered": [k for k, _p in module.named_parameters()],
    }


def _first(t: torch.Tensor, n: int = 6) -> list[float]:
    return [round(v, 6) for v in t.detach().reshape(-1)[:n].tolist()]


def _error_of(fn) -> dict:
    try:
        fn()
    except Exception as exc:  # the point of the lesson is the error itself
        return {"type": type(exc).__name__, "message": str(exc).strip().splitlines()[0][:200]}
    return {"type": None, "message": _("no error")}


def lesson_embedding_linear(
    V: int = 5000,
    d: int = 70,
    seed: int = 0,
    index: int = 14,
    reinit: bool = False,
    tie: bool = False,
    bins: int = 40,
) -> dict:
    """Build ``nn.Embedding(V, d)`` and ``nn.Linear(d, V)`` and report everything L3 shows: the
    same [V, d] weight behind opposite constructor orders, the attributes only one has, the
    three equal row lookups, both initialisations (measured against theory), the Linear
    re-initialised with ``normal_(0, 1)`` when ``reinit``, what each ``.weight`` is (an
    nn.Parameter: both layers wrap one), and the parameter count before and
    after tying the Linear's weight to the Embedding's (``tie``: whether the view is tied)."""
    if V * d > MAX_LESSON_ELEMENTS:
        raise ConfigError(
            _("V × d = {size:,} is too large for the lesson").format(size=V * d),
            _("keep V × d at most {most:,}").format(most=MAX_LESSON_ELEMENTS),
        )
    if not 0 <= index < V:
        raise ConfigError(
            _("index {index} is outside the vocabulary 0…{last}").format(index=index, last=V - 1),
            _("pick a row between 0 and {last}").format(last=V - 1),
        )
    with torch.random.fork_rng(devices=[]):  # leaves the session's random stream alone
        torch.manual_seed(seed)
        e = nn.Embedding(V, d)
        lin = nn.Linear(d, V)
        fresh_linear = lin.weight.detach().clone()
        if reinit:
            nn.init.normal_(lin.weight, mean=0.0, std=1.0)

    e_attrs, l_attrs = _public_attributes(e), _public_attributes(lin)
    weights = {"embedding": _weight_kind(e, "e"), "linear": _weight_kind(lin, "l")}  # untied
    idx = torch.tensor([index])
    with torch.no_grad():
        by_module = e(idx)[0]
        by_index = e.weight[index]
        one_hot = F.one_hot(idx, V).float()
        by_matmul = (one_hot @ e.weight)[0]
        linear_row = lin.weight[index]
        linear_matmul = (one_hot @ lin.weight)[0]
    bound = 1 / math.sqrt(d)
    emb_stats = tensor_stats(e.weight, bins)
    lin_stats = tensor_stats(lin.weight, bins)
    emb_init = normal(0.0, 1.0, "Normal(0, 1)")
    lin_init = (
        normal(0.0, 1.0, _("re-initialised: normal_(w, 0, 1)"))
        if reinit
        else uniform(bound, _("Kaiming-uniform ±1/√{d} = ±{bound:.4f}").format(d=d, bound=bound))
    )

    pair = nn.ModuleDict({"embedding": e, "unembedding": lin})
    before = sum(p.numel() for p in pair.parameters())
    lin.weight = e.weight  # weight tying, as GPT-2 does
    after = sum(p.numel() for p in pair.parameters())
    naive_after = sum(p.numel() for _name, p in pair.named_parameters(remove_duplicate=False))
    elem = e.weight.element_size()
    return {
        "V": V,
        "d": d,
        "seed": seed,
        "index": index,
        "reinit": reinit,
        "tie": tie,
        "constructors": {"embedding": f"nn.Embedding({V}, {d})", "linear": f"nn.Linear({d}, {V})"},
        "shapes": {
            "embedding": [V, d],
            "linear": list(fresh_linear.shape),
            "same": [V, d] == list(fresh_linear.shape),
        },
        "only_embedding": {k: _show(v) for k, v in e_attrs.items() if k not in l_attrs},
        "only_linear": {k: _show(v) for k, v in l_attrs.items() if k not in e_attrs},
        "weights": weights,
        "lookup": {
            "module": _first(by_module),
            "index": _first(by_index),
            "one_hot": _first(by_matmul),
            "allclose": bool(
                torch.allclose(by_module, by_index) and torch.allclose(by_index, by_matmul)
            ),
            "max_abs_diff": max(
                (by_module - by_index).abs().max().item(), (by_index - by_matmul).abs().max().item()
            ),
            "linear_row": _first(linear_row),
            "linear_one_hot": _first(linear_matmul),
            "linear_allclose": bool(torch.allclose(linear_row, linear_matmul)),
            "linear_call_int": _error_of(lambda: lin(index)),
            "linear_call_one_hot": _error_of(lambda: lin(one_hot)),
            "cost_lookup": d,
            "cost_one_hot": V * d,
        },
        "embedding_init": {
            "theory": emb_init,
            "stats": emb_stats,
            "expected_counts": expected_counts(emb_init, emb_stats["edges"], emb_stats["numel"]),
        },
        "linear_init": {
            "theory": lin_init,
            "stats": lin_stats,
            "expected_counts": expected_counts(lin_init, lin_stats["edges"], lin_stats["numel"]),
        },
        "tying": {
            "before": before,
            "after": after,
            "naive_after": naive_after,
            "saved": before - after,
            "saved_bytes": (before - after) * elem,
            "matrix_bytes": V * d * elem,
            "same_tensor": lin.weight is e.weight,
            "row_equals_lookup": bool(torch.equal(lin.weight[index], by_module)),
            "gpt2_matrix_bytes": 50257 * 768 * 4,
        },
    }


# ---------------------------------------------------------------------------------------------
# LESSONS.md L1: a Linear layer is X · Wᵀ + b.


def linear_layers(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]


def lesson_linear_forward(session, layer: str | None = None, seed: int = 0, rows: int = 3) -> dict:
    """Feed a random X (rows × in_features) to one Linear of the model and compute X · Wᵀ + b by
    hand from the layer's own ``weight`` and ``bias``; report both and how far apart they are."""
    model = session.model
    names = linear_layers(model)
    if not names:
        raise ConfigError(
            _("the {preset} model has no Linear layer").format(preset=session.preset),
            _("configure mini, mlp or gpt"),
        )
    layer = layer or names[0]
    if layer not in names:
        raise ConfigError(
            _("{layer!r} is not a Linear layer of the model").format(layer=layer),
            _("Linear layers are: {names}").format(names=", ".join(names)),
        )
    lin = model.get_submodule(layer)
    W, b = lin.weight, lin.bias
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(rows, lin.in_features, generator=gen).to(W.device, W.dtype)
    with torch.no_grad():
        out = lin(X)
        by_hand = X @ W.T + (b if b is not None else 0)
        neuron = X @ W[0] + (b[0] if b is not None else 0)  # output 0 = row 0 of W
    diff = (out - by_hand).abs().max().item()
    return {
        "layer": layer,
        "layers": names,
        "seed": seed,
        "in_features": lin.in_features,
        "out_features": lin.out_features,
        "has_bias": b is not None,
        "shapes": {
            "X": list(X.shape),
            "W": list(W.shape),
            "W.T": list(W.T.shape),
            "b": list(b.shape) if b is not None else None,
            "out": list(out.shape),
        },
        "x": _first(X[0]),
        "by_hand": _first(by_hand[0]),
        "layer_out": _first(out[0]),
        "neuron0_by_row": _first(neuron),
        "neuron0_from_layer": _first(out[:, 0]),
        "max_abs_diff": diff,
        "allclose": bool(torch.allclose(out, by_hand)),
        "dtype": str(W.dtype).replace("torch.", ""),
    }
