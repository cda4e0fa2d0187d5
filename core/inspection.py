"""What a model is made of: the layer table, weight statistics and histograms, and the two
lessons the Summary pane teaches (LESSONS.md L1 forward pass, L3 Embedding vs Linear).

Works without a UI. Everything is returned as plain data (lists, dicts, numbers), so the same
figures reach the app through the engine ops ``summary``, ``weight_stats``,
``lesson_embedding_linear`` and ``lesson_linear_forward``, and a terminal through
``torchdeck inspect``.

Where this differs from torchinfo on purpose:
- a tied weight (GPT's ``lm_head.weight`` is ``wte.weight``) is counted once, in the first layer
  that owns it; the other layer names it as tied. Totals equal ``sum(p.numel() for p in
  model.parameters())``;
- multiply-adds are those of the matrix products only (every Linear, plus the two attention
  matmuls QKᵀ and A·V that torchinfo cannot see inside ``scaled_dot_product_attention``); an
  Embedding is a lookup and costs none.
"""

from __future__ import annotations

import argparse
import math
import sys
import weakref
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.errors import ConfigError, TorchdeckError
from core.protocol import Arg

NEAR_ZERO = 1e-3  # |w| below this counts as "near zero" in the statistics
MAX_LESSON_ELEMENTS = 20_000_000  # V × d cap for the Embedding-vs-Linear lesson (80 MB float32)


# ---------------------------------------------------------------------------------------------
# The layer table.


def _output_shape(output: Any) -> list[int] | None:
    if isinstance(output, torch.Tensor):
        return list(output.shape)
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return list(output[0].shape)  # (logits, loss): the logits
    return None


def _attention_macs(module: nn.Module, x: torch.Tensor) -> int:
    """QKᵀ and A·V of causal self-attention, from the config: each is B · heads · T · T · hs
    = B · T² · C multiply-adds (the full T × T product, as the kernel computes it)."""
    B, T, C = x.shape
    return 2 * B * T * T * C


def _is_attention(module: nn.Module) -> bool:
    return hasattr(module, "n_head") and hasattr(module, "qkv")


def _sample_input(session, batch_size: int) -> torch.Tensor | None:
    if not session.is_language_model:
        return None
    return torch.zeros(batch_size, session.block_size, dtype=torch.long, device=session.device)


def _trace(model: nn.Module, sample: torch.Tensor | None) -> tuple[dict, dict, dict]:
    """One no-grad forward pass with hooks: output shape, output bytes and matmul multiply-adds
    of every module, by name. The model's train/eval mode is restored afterwards."""
    shapes: dict[str, list[int] | None] = {}
    act_bytes: dict[str, int] = {}
    macs: dict[str, dict[str, int]] = {}
    if sample is None:
        return shapes, act_bytes, macs
    handles = []

    def hook(name: str):
        def record(module, inputs, output):
            shapes[name] = _output_shape(output)
            own = {}
            if isinstance(module, nn.Linear):
                own["linear"] = output.numel() * module.in_features
            elif _is_attention(module) and inputs and isinstance(inputs[0], torch.Tensor):
                own["attention"] = _attention_macs(module, inputs[0])
                # the attention weights B · heads · T · T, kept for backward
                B, T, _ = inputs[0].shape
                act_bytes[name + "#scores"] = B * module.n_head * T * T * inputs[0].element_size()
            macs[name] = own
            if not any(True for _ in module.children()) and isinstance(output, torch.Tensor):
                act_bytes[name] = output.numel() * output.element_size()
        return record

    for name, module in model.named_modules():
        handles.append(module.register_forward_hook(hook(name)))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(sample)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return shapes, act_bytes, macs


def _trainable_word(params: list[nn.Parameter]) -> str:
    if not params:
        return "--"
    flags = {p.requires_grad for p in params}
    return "yes" if flags == {True} else "no" if flags == {False} else "partly"


def summarize(session, batch_size: int | None = None, depth: int | None = None) -> dict:
    """Rows (one per module, depth first) and totals of ``session.model``.

    ``batch_size`` sets the sample input (batch_size × context length; default: the training
    batch size), so that output shapes, activation memory and multiply-adds are those of one
    training batch. ``depth`` keeps rows down to that depth (the root is depth 0).
    """
    model = session.model
    B = batch_size or session.train_config.batch_size
    shapes, act_bytes, macs = _trace(model, _sample_input(session, B))

    # each parameter belongs to the first (name-order) module that holds it
    owner: dict[int, str] = {}
    names_of: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        owner.setdefault(id(p), name)
        names_of.setdefault(id(p), []).append(name)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    rows = []
    for path, module in model.named_modules(remove_duplicate=False):
        d = 0 if path == "" else path.count(".") + 1
        weights = []
        for short, p in module.named_parameters(recurse=False):
            full = f"{path}.{short}" if path else short
            tied = [n for n in names_of[id(p)] if n != full]
            weights.append({"name": full, "short": short, "shape": list(p.shape),
                            "numel": p.numel(), "dtype": str(p.dtype).replace("torch.", ""),
                            "trainable": p.requires_grad, "tied_to": tied,
                            "counted_here": owner[id(p)] == full})
        counted = shared = 0
        subtree: list[nn.Parameter] = []
        for p in module.parameters():  # each tensor once
            subtree.append(p)
            if path == "" or owner[id(p)].startswith(path + "."):
                counted += p.numel()
            else:
                shared += p.numel()  # tied to a layer outside this one, counted there
        sub_macs = {"linear": 0, "attention": 0}
        for sub_path, _ in module.named_modules():
            key = f"{path}.{sub_path}" if path and sub_path else (sub_path or path)
            for kind, n in macs.get(key, {}).items():
                sub_macs[kind] += n
        rows.append({
            "name": path, "depth": d, "type": type(module).__name__,
            "output_shape": shapes.get(path),
            "params": counted, "shared_params": shared,
            "share": counted / total if total else 0.0,
            "trainable": _trainable_word(subtree),
            "macs": sub_macs["linear"] + sub_macs["attention"],
            "weights": weights, "has_children": any(True for _ in module.children()),
        })
    if depth is not None:
        rows = [r for r in rows if r["depth"] <= depth]

    unique = list(model.parameters())
    param_bytes = sum(p.numel() * p.element_size() for p in unique)
    dtypes = sorted({str(p.dtype).replace("torch.", "") for p in unique})
    macs_linear = sum(m.get("linear", 0) for m in macs.values())
    macs_attention = sum(m.get("attention", 0) for m in macs.values())
    root_shape = shapes.get("")
    return {
        "preset": session.preset,
        "step": session.trainer.step,
        "batch_size": B if session.is_language_model else None,
        "context": session.block_size if session.is_language_model else None,
        "input_shape": [B, session.block_size] if session.is_language_model else None,
        "output_shape": root_shape,
        "device": str(session.device),
        "rows": rows,
        "totals": {
            "params": total,
            "trainable": trainable,
            "frozen": total - trainable,
            "naive_params": sum(p.numel() for _, p in
                                model.named_parameters(remove_duplicate=False)),
            "tied": [names for names in names_of.values() if len(names) > 1],
            "param_bytes": param_bytes,
            "dtype": "/".join(dtypes) or "--",
            "activation_bytes": sum(act_bytes.values()),
            "macs": macs_linear + macs_attention,
            "macs_linear": macs_linear,
            "macs_attention": macs_attention,
        },
    }


# ---------------------------------------------------------------------------------------------
# Initialisations: what distribution a fresh weight was drawn from.


def init_of(model: nn.Module, name: str) -> dict:
    """The distribution parameter ``name`` was initialised from, by the rules of its model:
    PyTorch's defaults (Embedding ~ Normal(0, 1); Linear weight and bias ~ Uniform(±1/√in),
    Kaiming-uniform with a = √5; LayerNorm weight 1, bias 0), or GPT's own (Normal(0, 0.02),
    residual projections Normal(0, 0.02/√(2·layers)), biases 0)."""
    from core.models import GPT, Parabola

    module_name, _, short = name.rpartition(".")
    module = model.get_submodule(module_name) if module_name else model
    if isinstance(model, Parabola):
        return _constant(float(model.config.x0), f"x starts at x0 = {model.config.x0:g}")
    if isinstance(module, nn.LayerNorm):
        return _constant(1.0 if short == "weight" else 0.0,
                         f"LayerNorm {short} starts at {1 if short == 'weight' else 0}")
    if isinstance(model, GPT):
        if short == "bias":
            return _constant(0.0, "GPT init: biases start at 0")
        if name.endswith("proj.weight"):
            std = 0.02 / math.sqrt(2 * model.config.n_layer)
            return _normal(0.0, std, f"GPT init: Normal(0, 0.02/√(2·{model.config.n_layer}))")
        return _normal(0.0, 0.02, "GPT init: Normal(0, 0.02)")
    if isinstance(module, nn.Embedding):
        spec = _normal(0.0, 1.0, "nn.Embedding default: Normal(0, 1)")
        if module.padding_idx is not None:
            spec["label"] += f"; padding row {module.padding_idx} is 0"
        return spec
    if isinstance(module, nn.Linear):
        bound = 1 / math.sqrt(module.in_features)
        what = "weight: Kaiming-uniform" if short == "weight" else "bias: uniform"
        return _uniform(bound, f"nn.Linear {what} ±1/√{module.in_features} = ±{bound:.4f}")
    return {"kind": "unknown", "label": "initialisation not known for this layer"}


def _normal(mean: float, std: float, label: str) -> dict:
    return {"kind": "normal", "mean": mean, "std": std, "label": label}


def _uniform(bound: float, label: str) -> dict:
    return {"kind": "uniform", "low": -bound, "high": bound, "mean": 0.0,
            "std": bound / math.sqrt(3), "bound": bound, "label": label}


def _constant(value: float, label: str) -> dict:
    return {"kind": "constant", "value": value, "mean": value, "std": 0.0, "label": label}


def _cdf(init: dict, x: float) -> float:
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
    return [n * (_cdf(init, edges[i + 1]) - _cdf(init, edges[i])) for i in range(len(edges) - 1)]


# ---------------------------------------------------------------------------------------------
# Statistics of one tensor, and where the weights started.


def tensor_stats(t: torch.Tensor, bins: int = 40, near_zero: float = NEAR_ZERO) -> dict:
    """Mean, std, min, max, the fraction with |x| < near_zero, the L2 norm, and a histogram
    (``torch.histc``: ``bins`` counts between ``edges``)."""
    x = t.detach().float().reshape(-1)
    n = x.numel()
    lo, hi = (x.min().item(), x.max().item()) if n else (0.0, 0.0)
    a, b = (lo - 0.5, hi + 0.5) if hi - lo < 1e-12 else (lo, hi)
    counts = torch.histc(x.cpu(), bins=bins, min=a, max=b) if n else torch.zeros(bins)
    return {
        "numel": n, "mean": x.mean().item() if n else 0.0,
        "std": x.std().item() if n > 1 else 0.0, "min": lo, "max": hi,
        "near_zero": (x.abs() < near_zero).float().mean().item() if n else 0.0,
        "near_zero_below": near_zero, "norm": x.norm().item(),
        "counts": [int(c) for c in counts.tolist()],
        "edges": [a + (b - a) * i / bins for i in range(bins + 1)],
    }


# initial weights per session (a CPU copy), taken the first time a session is seen: right
# after configure, reset or load, since the Summary pane asks for a summary then
_INITIAL: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def remember_initial(session) -> dict:
    entry = _INITIAL.get(session)
    if entry is None or entry["model"] is not session.model:
        entry = {"model": session.model, "step": session.trainer.step,
                 "weights": {n: p.detach().to("cpu", copy=True)
                             for n, p in session.model.named_parameters()}}
        _INITIAL[session] = entry
    return entry


def weight_stats(session, name: str, bins: int = 40) -> dict:
    model = session.model
    params = dict(model.named_parameters(remove_duplicate=False))
    if name not in params:
        known = list(dict(model.named_parameters()))
        raise ConfigError(f"the model has no parameter {name!r}",
                          f"parameters are: {', '.join(known[:12])}"
                          f"{' …' if len(known) > 12 else ''}")
    p = params[name]
    tied = [n for n, q in params.items() if q is p and n != name]
    init = init_of(model, _owner_name(model, p) or name)
    stats = tensor_stats(p, bins)
    expected = expected_counts(init, stats["edges"], stats["numel"])
    result = {"name": name, "shape": list(p.shape), "dtype": str(p.dtype).replace("torch.", ""),
              "trainable": p.requires_grad, "tied_to": tied, "step": session.trainer.step,
              "stats": stats, "init": {**init, "expected_counts": expected},
              "grad": None, "moved": None}
    if p.grad is not None:
        g = tensor_stats(p.grad, bins)
        result["grad"] = {k: g[k] for k in ("mean", "std", "min", "max", "norm", "near_zero")}
    start = remember_initial(session)
    w0 = start["weights"].get(_owner_name(model, p) or name)
    if w0 is not None:
        delta = p.detach().float().cpu() - w0.float()
        norm0 = w0.float().norm().item()
        result["moved"] = {"since_step": start["step"], "norm": delta.norm().item(),
                           "relative": delta.norm().item() / norm0 if norm0 else None,
                           "max_abs": delta.abs().max().item() if delta.numel() else 0.0}
    return result


def _owner_name(model: nn.Module, p: torch.Tensor) -> str | None:
    for n, q in model.named_parameters():  # duplicates removed: the first name is the owner
        if q is p:
            return n
    return None


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


def _first(t: torch.Tensor, n: int = 6) -> list[float]:
    return [round(v, 6) for v in t.detach().reshape(-1)[:n].tolist()]


def _error_of(fn) -> dict:
    try:
        fn()
    except Exception as exc:  # the point of the lesson is the error itself
        return {"type": type(exc).__name__, "message": str(exc).strip().splitlines()[0][:200]}
    return {"type": None, "message": "no error"}


def lesson_embedding_linear(V: int = 5000, d: int = 70, seed: int = 0, index: int = 14,
                            reinit: bool = False, tie: bool = False, bins: int = 40) -> dict:
    """Build ``nn.Embedding(V, d)`` and ``nn.Linear(d, V)`` and report everything L3 shows: the
    same [V, d] weight behind opposite constructor orders, the attributes only one has, the
    three equal row lookups, both initialisations (measured against theory), the Linear
    re-initialised with ``normal_(0, 1)`` when ``reinit``, and the parameter count before and
    after tying the Linear's weight to the Embedding's (``tie``: whether the view is tied)."""
    if V * d > MAX_LESSON_ELEMENTS:
        raise ConfigError(f"V × d = {V * d:,} is too large for the lesson",
                          f"keep V × d at most {MAX_LESSON_ELEMENTS:,}")
    if not 0 <= index < V:
        raise ConfigError(f"index {index} is outside the vocabulary 0…{V - 1}",
                          f"pick a row between 0 and {V - 1}")
    with torch.random.fork_rng(devices=[]):  # leaves the session's random stream alone
        torch.manual_seed(seed)
        e = nn.Embedding(V, d)
        lin = nn.Linear(d, V)
        fresh_linear = lin.weight.detach().clone()
        if reinit:
            nn.init.normal_(lin.weight, mean=0.0, std=1.0)

    e_attrs, l_attrs = _public_attributes(e), _public_attributes(lin)
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
    emb_init = _normal(0.0, 1.0, "Normal(0, 1)")
    lin_init = (_normal(0.0, 1.0, "re-initialised: normal_(w, 0, 1)") if reinit else
                _uniform(bound, f"Kaiming-uniform ±1/√{d} = ±{bound:.4f}"))

    pair = nn.ModuleDict({"embedding": e, "unembedding": lin})
    before = sum(p.numel() for p in pair.parameters())
    lin.weight = e.weight  # weight tying, as GPT-2 does
    after = sum(p.numel() for p in pair.parameters())
    naive_after = sum(p.numel() for _, p in pair.named_parameters(remove_duplicate=False))
    elem = e.weight.element_size()
    return {
        "V": V, "d": d, "seed": seed, "index": index, "reinit": reinit, "tie": tie,
        "constructors": {"embedding": f"nn.Embedding({V}, {d})",
                         "linear": f"nn.Linear({d}, {V})"},
        "shapes": {"embedding": [V, d], "linear": list(fresh_linear.shape),
                   "same": [V, d] == list(fresh_linear.shape)},
        "only_embedding": {k: _show(v) for k, v in e_attrs.items() if k not in l_attrs},
        "only_linear": {k: _show(v) for k, v in l_attrs.items() if k not in e_attrs},
        "lookup": {
            "module": _first(by_module), "index": _first(by_index), "one_hot": _first(by_matmul),
            "allclose": bool(torch.allclose(by_module, by_index) and
                             torch.allclose(by_index, by_matmul)),
            "max_abs_diff": max((by_module - by_index).abs().max().item(),
                                (by_index - by_matmul).abs().max().item()),
            "linear_row": _first(linear_row), "linear_one_hot": _first(linear_matmul),
            "linear_allclose": bool(torch.allclose(linear_row, linear_matmul)),
            "linear_call_int": _error_of(lambda: lin(index)),
            "linear_call_one_hot": _error_of(lambda: lin(one_hot)),
            "cost_lookup": d, "cost_one_hot": V * d,
        },
        "embedding_init": {"theory": emb_init, "stats": emb_stats,
                           "expected_counts": expected_counts(emb_init, emb_stats["edges"],
                                                              emb_stats["numel"])},
        "linear_init": {"theory": lin_init, "stats": lin_stats,
                        "expected_counts": expected_counts(lin_init, lin_stats["edges"],
                                                           lin_stats["numel"])},
        "tying": {"before": before, "after": after, "naive_after": naive_after,
                  "saved": before - after, "saved_bytes": (before - after) * elem,
                  "matrix_bytes": V * d * elem, "same_tensor": lin.weight is e.weight,
                  "row_equals_lookup": bool(torch.equal(lin.weight[index], by_module)),
                  "gpt2_matrix_bytes": 50257 * 768 * 4},
    }


# ---------------------------------------------------------------------------------------------
# LESSONS.md L1: a Linear layer is X · Wᵀ + b.


def linear_layers(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]


def lesson_linear_forward(session, layer: str | None = None, seed: int = 0,
                          rows: int = 3) -> dict:
    """Feed a random X (rows × in_features) to one Linear of the model and compute X · Wᵀ + b by
    hand from the layer's own ``weight`` and ``bias``; report both and how far apart they are."""
    model = session.model
    names = linear_layers(model)
    if not names:
        raise ConfigError(f"the {session.preset} model has no Linear layer",
                          "configure mini, mlp or gpt")
    layer = layer or names[0]
    if layer not in names:
        raise ConfigError(f"{layer!r} is not a Linear layer of the model",
                          f"Linear layers are: {', '.join(names)}")
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
        "layer": layer, "layers": names, "seed": seed,
        "in_features": lin.in_features, "out_features": lin.out_features,
        "has_bias": b is not None,
        "shapes": {"X": list(X.shape), "W": list(W.shape), "W.T": list(W.T.shape),
                   "b": list(b.shape) if b is not None else None, "out": list(out.shape)},
        "x": _first(X[0]), "by_hand": _first(by_hand[0]), "layer_out": _first(out[0]),
        "neuron0_by_row": _first(neuron), "neuron0_from_layer": _first(out[:, 0]),
        "max_abs_diff": diff, "allclose": bool(torch.allclose(out, by_hand)),
        "dtype": str(W.dtype).replace("torch.", ""),
    }


# ---------------------------------------------------------------------------------------------
# Engine ops.


def _at_least(low: int, high: int):
    return lambda v: low <= v <= high


def engine_ops(engine) -> dict:
    def summary(args: dict) -> dict:
        session = engine._require_session()
        remember_initial(session)
        return summarize(session, args.get("batch_size"), args.get("depth"))

    def stats(args: dict) -> dict:
        return weight_stats(engine._require_session(), args["name"], args.get("bins", 40))

    def embedding_linear(args: dict) -> dict:
        return lesson_embedding_linear(**args)

    def linear_forward(args: dict) -> dict:
        return lesson_linear_forward(engine._require_session(), args.get("layer"),
                                     args.get("seed", 0), args.get("rows", 3))

    return {
        "summary": (summary, {
            "depth": Arg(int, check=_at_least(0, 64), expect="an integer in [0, 64]",
                         nullable=True),
            "batch_size": Arg(int, check=_at_least(1, 4096), expect="an integer in [1, 4096]",
                              nullable=True)}),
        "weight_stats": (stats, {
            "name": Arg(str, required=True),
            "bins": Arg(int, check=_at_least(2, 400), expect="an integer in [2, 400]")}),
        "lesson_embedding_linear": (embedding_linear, {
            "V": Arg(int, check=_at_least(1, 1_000_000), expect="an integer in [1, 1000000]"),
            "d": Arg(int, check=_at_least(1, 65_536), expect="an integer in [1, 65536]"),
            "seed": Arg(int, check=_at_least(0, 2**63 - 1), expect="an integer ≥ 0"),
            "index": Arg(int, check=_at_least(0, 1_000_000), expect="an integer ≥ 0"),
            "reinit": Arg(bool), "tie": Arg(bool),
            "bins": Arg(int, check=_at_least(2, 400), expect="an integer in [2, 400]")}),
        "lesson_linear_forward": (linear_forward, {
            "layer": Arg(str, nullable=True),
            "seed": Arg(int, check=_at_least(0, 2**63 - 1), expect="an integer ≥ 0"),
            "rows": Arg(int, check=_at_least(1, 64), expect="an integer in [1, 64]")}),
    }


# ---------------------------------------------------------------------------------------------
# torchdeck inspect: the table on a terminal.


def fmt_count(n: int | None) -> str:
    return "--" if n is None else f"{n:,}"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    return f"{n:.2f} GB"  # pragma: no cover


def fmt_macs(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)


def format_table(summary: dict, depth: int | None = None) -> str:
    """A torchinfo-like plain-text table (no colours, no escape codes)."""
    rows = [r for r in summary["rows"] if depth is None or r["depth"] <= depth]
    tied_names = {n for group in summary["totals"]["tied"] for n in group}
    head = ("Layer (type)", "Output shape", "Params", "Train", "Share", "Mult-adds")
    lines = []
    for r in rows:
        label = ("  " * (r["depth"] - 1) + ("└─" if r["depth"] else "")
                 + (f"{r['name'].rsplit('.', 1)[-1]}: " if r["name"] else "") + r["type"])
        params = fmt_count(r["params"]) if r["params"] or not r["shared_params"] else "0"
        notes = [f"{w['short']} tied to {', '.join(w['tied_to'])}" for w in r["weights"]
                 if w["tied_to"] and w["name"] in tied_names and not w["counted_here"]]
        shape = "--" if r["output_shape"] is None else str(r["output_shape"])
        lines.append((label, shape, params + (" (tied)" if notes else ""), r["trainable"],
                      f"{100 * r['share']:.1f}%", fmt_count(r["macs"]) if r["macs"] else "--"))
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    rule = "=" * (sum(widths) + 2 * (len(widths) - 1))

    def fmt(cols):
        first = cols[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cols[1:], widths[1:]))]).rstrip()

    t = summary["totals"]
    out = [rule, fmt(head), rule, *(fmt(x) for x in lines), rule]
    out.append(f"Total params: {t['params']:,}    Trainable: {t['trainable']:,}    "
               f"Frozen: {t['frozen']:,}")
    for group in t["tied"]:
        out.append(f"Tied (one tensor, counted once): {' = '.join(group)}")
    if t["naive_params"] != t["params"]:
        out.append(f"  (counting each name separately, as torchinfo does, would give "
                   f"{t['naive_params']:,})")
    if summary["input_shape"]:
        out.append(f"Input: {summary['input_shape']} (batch × context)")
        out.append(f"Mult-adds per forward: {fmt_macs(t['macs'])} = Linear "
                   f"{fmt_macs(t['macs_linear'])} + attention matmuls "
                   f"{fmt_macs(t['macs_attention'])}")
        out.append(f"Activations kept for backward (est.): {fmt_bytes(t['activation_bytes'])}")
    out.append(f"Parameter memory: {fmt_bytes(t['param_bytes'])} ({t['dtype']})")
    out.append(rule)
    return "\n".join(out)


def main(argv: list[str]) -> int:
    from core.models import PRESETS
    from core.session import RunSpec, Session

    parser = argparse.ArgumentParser(
        prog="torchdeck inspect",
        description="Print a model's layers, output shapes, parameters (tied weights counted "
                    "once) and multiply-adds, like torchinfo.")
    parser.add_argument("--preset", choices=list(PRESETS), default="gpt",
                        help="model preset (default gpt)")
    parser.add_argument("--depth", type=int, default=3, help="rows down to this depth (default 3)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="batch of the sample input (default: the preset's training batch)")
    parser.add_argument("--block-size", type=int, default=None,
                        help="context length of the sample input (default: the preset's)")
    parser.add_argument("--corpus", metavar="PATH", default=None,
                        help="text whose characters set the vocabulary (default: the Python "
                             "docs shipped with Python)")
    args = parser.parse_args(argv)
    for flag, value in (("--depth", args.depth), ("--batch-size", args.batch_size),
                        ("--block-size", args.block_size)):
        if value is not None and value < (0 if flag == "--depth" else 1):
            parser.error(f"{flag} must be ≥ {0 if flag == '--depth' else 1}, got {value}")
    model = {} if args.block_size is None else {"block_size": args.block_size}
    if model and args.preset == "parabola":
        parser.error("the parabola preset has no context length: leave --block-size out")
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    try:
        session = Session.create(RunSpec(preset=args.preset, corpus=args.corpus, device="cpu",
                                         model=model))
        summary = summarize(session, args.batch_size)
    except TorchdeckError as exc:
        print(f"torchdeck inspect: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return 2
    print(format_table(summary, args.depth))
    return 0
