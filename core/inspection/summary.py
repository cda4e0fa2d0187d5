"""The layer table: one row per module with its output shape, parameters and multiply-adds.

Works without a UI and returns plain data. Where this differs from torchinfo on purpose:
- a tied weight (GPT's ``lm_head.weight`` is ``wte.weight``) is counted once, in the first layer
  that owns it; the other layer names it as tied. Totals equal ``sum(p.numel() for p in
  model.parameters())``;
- multiply-adds are those of the matrix products only (every Linear, plus the two attention
  matmuls QKᵀ and A·V that torchinfo cannot see inside ``scaled_dot_product_attention``); an
  Embedding is a lookup and costs none.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
from torch.nn.modules.conv import _ConvNd

from core.i18n import N_
from core.models import eval_mode, with_loss


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


def _trace(model: nn.Module, sample: torch.Tensor | None) -> tuple[dict, dict, dict, dict]:
    """One no-grad forward pass with hooks: output shape, output bytes and matmul multiply-adds
    of every module, by name. The model's train/eval mode is restored afterwards."""
    shapes: dict[str, list[int] | None] = {}
    act_bytes: dict[str, int] = {}
    macs: dict[str, dict[str, int]] = {}
    calls: dict[str, int] = {}  # forward calls of each module (torchinfo lists each call)
    if sample is None:
        return shapes, act_bytes, macs, calls
    handles = []

    def hook(name: str):
        def record(module, inputs, output):
            shapes[name] = _output_shape(output)
            own = {}
            if isinstance(module, nn.Linear):
                own["linear"] = output.numel() * module.in_features
            elif isinstance(module, _ConvNd) and isinstance(output, torch.Tensor):
                per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
                own["linear"] = output.numel() * per_output
            elif isinstance(module, nn.RNNBase) and shapes[name]:  # each weight, each position
                weights = sum(p.numel() for n, p in module.named_parameters() if "weight" in n)
                own["linear"] = math.prod(shapes[name][:2]) * weights
            elif _is_attention(module) and inputs and isinstance(inputs[0], torch.Tensor):
                own["attention"] = _attention_macs(module, inputs[0])
                # the attention weights B · heads · T · T, kept for backward
                B, T, _ = inputs[0].shape
                act_bytes[name + "#scores"] = B * module.n_head * T * T * inputs[0].element_size()
            elif isinstance(module, nn.MultiheadAttention) and shapes[name]:
                # self-attention: q, k, v and out projections, then QKᵀ and A·V, per position
                n_l, e = math.prod(shapes[name][:2]), module.embed_dim
                length = shapes[name][1 if module.batch_first else 0]
                own["linear"], own["attention"] = 4 * n_l * e * e, 2 * n_l * length * e
            calls[name] = calls.get(name, 0) + 1
            total = macs.setdefault(name, {})
            for kind, n in own.items():  # a layer called twice costs twice
                total[kind] = total.get(kind, 0) + n
            if not any(True for _ in module.children()) and isinstance(output, torch.Tensor):
                act_bytes[name] = output.numel() * output.element_size()

        return record

    for name, module in model.named_modules():
        handles.append(module.register_forward_hook(hook(name)))
    try:
        with eval_mode(model), torch.no_grad():
            with_loss(model)(sample)  # one's own model: its errors name its file
    finally:
        for h in handles:
            h.remove()
    return shapes, act_bytes, macs, calls


def torchinfo_macs(module: nn.Module, shape: list[int] | None) -> int:
    """The multiply-adds torchinfo (1.8) shows for a layer with output ``shape``: for each of
    its parameters, the parameter's size times the batch (times the positions as well for a
    convolution, and for the inner weights of an RNN). So a Linear over [B, T, in] counts
    B · (in · out + out), not the B · T · in · out it does; an Embedding counts B · V · C, and
    a tied weight counts in each layer that holds it."""
    if not shape:
        return 0
    macs = 0
    conv = isinstance(module, _ConvNd)
    for name, p in module.named_parameters():
        short = name.rsplit(".", 1)[-1]
        if short in ("weight", "bias") and "." not in name:
            macs += p.numel() * (math.prod(shape[:1] + shape[2:]) if conv else shape[0])
        elif "weight" in name or "bias" in name:
            macs += math.prod(shape[:2]) * p.numel()
    return macs


def _trainable_word(params: list[nn.Parameter]) -> str:
    if not params:
        return "--"
    flags = {p.requires_grad for p in params}
    # words on the wire, kept in English; the view shows them with _()
    return N_("yes") if flags == {True} else N_("no") if flags == {False} else N_("partly")


def summarize(session, batch_size: int | None = None, depth: int | None = None) -> dict:
    """Rows (one per module, depth first) and totals of ``session.model``.

    ``batch_size`` sets the sample input (batch_size × context length; default: the training
    batch size), so that output shapes, activation memory and multiply-adds are those of one
    training batch. ``depth`` keeps rows down to that depth (the root is depth 0).
    """
    model = session.model
    B = batch_size or session.train_config.batch_size
    shapes, act_bytes, macs, calls = _trace(model, _sample_input(session, B))

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
            weights.append(
                {
                    "name": full,
                    "short": short,
                    "shape": list(p.shape),
                    "numel": p.numel(),
                    "dtype": str(p.dtype).replace("torch.", ""),
                    "trainable": p.requires_grad,
                    "tied_to": tied,
                    "counted_here": owner[id(p)] == full,
                }
            )
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
        rows.append(
            {
                "name": path,
                "depth": d,
                "type": type(module).__name__,
                "output_shape": shapes.get(path),
                "params": counted,
                "shared_params": shared,
                "share": counted / total if total else 0.0,
                "trainable": _trainable_word(subtree),
                "macs": sub_macs["linear"] + sub_macs["attention"],
                "torchinfo_macs": torchinfo_macs(module, shapes.get(path)),
                "weights": weights,
                "has_children": any(True for _ in module.children()),
                # torchinfo sums the layers that ran none of their children
                "ran_as_leaf": path in shapes
                and not any(
                    f"{path}.{n}" if path else n in shapes for n, _ in module.named_children()
                ),
            }
        )
    macs_torchinfo = sum(
        r.pop("ran_as_leaf") * calls.get(r["name"], 0) * r["torchinfo_macs"] for r in rows
    )
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
        "model": getattr(session.model_config, "factory", None) or session.preset,
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
            "naive_params": sum(
                p.numel() for _, p in model.named_parameters(remove_duplicate=False)
            ),
            "tied": [names for names in names_of.values() if len(names) > 1],
            "param_bytes": param_bytes,
            "dtype": "/".join(dtypes) or "--",
            "activation_bytes": sum(act_bytes.values()),
            "macs": macs_linear + macs_attention,
            "macs_linear": macs_linear,
            "macs_attention": macs_attention,
            # what torchinfo's "Total mult-adds" says for the same input: its leaf layers' sum
            "macs_torchinfo": macs_torchinfo,
        },
    }
