"""Next-character distributions, sampling and generation. Works without a UI.

Only the last ``block_size`` characters of a text are fed to the model (a GPT has no positions
beyond them); the result says when the text was cropped.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Iterator
from functools import partial

import torch
import torch.nn.functional as F

from core import device as devices
from core.contract import SamplingSettings
from core.errors import ConfigError, TorchdeckError
from core.i18n import _
from core.models import eval_mode, with_loss
from core.tokenizer import CharTokenizer

# How the next character is chosen: temperature, top-k, top-p, greedy, with their ranges.
Sampling = SamplingSettings
MODEL_DISTRIBUTION = Sampling()  # temperature 1, nothing cut: the model's own


def context_ids(tokenizer: CharTokenizer, text: str, block_size: int) -> dict:
    """Encode ``text``, report unknown characters, and keep the last ``block_size`` ids."""
    enc = tokenizer.encode_report(text)
    ids = enc.ids
    cropped = max(0, len(ids) - block_size)
    return {
        "all_ids": ids,
        "ids": ids[cropped:],
        "unknown": enc.unknown,
        "cropped": cropped,
        "text": enc.text,
    }


def _fallback_start(tokenizer: CharTokenizer) -> int:
    """The id fed when there is no text: a newline if the vocabulary has one, else id 0."""
    return tokenizer.stoi.get("\n", 0)


def filter_probs(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """Probabilities (V,) after temperature, top-k and top-p; they sum to 1."""
    logits = logits.float()
    if sampling.is_greedy:
        probs = torch.zeros_like(logits)
        probs[int(torch.argmax(logits))] = 1.0
        return probs
    logits = logits / sampling.temperature
    if sampling.top_k is not None and sampling.top_k < logits.numel():
        kth = torch.topk(logits, sampling.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
        # ties at the k-th value could keep more than k; keep exactly the top k
        if int((logits > float("-inf")).sum()) > sampling.top_k:
            keep = torch.topk(logits, sampling.top_k).indices
            mask = torch.full_like(logits, float("-inf"))
            mask[keep] = 0.0
            logits = logits + mask
    probs = F.softmax(logits, dim=-1)
    if sampling.top_p is not None and sampling.top_p < 1:
        sorted_probs, order = torch.sort(probs, descending=True)
        before = torch.cumsum(sorted_probs, 0) - sorted_probs  # mass ranked above each one
        drop = before >= sampling.top_p
        sorted_probs[drop] = 0.0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
        probs = probs / probs.sum()
    return probs


@torch.no_grad()
def next_logits(model: torch.nn.Module, ids: list[int], device: torch.device) -> torch.Tensor:
    """Logits (V,) for the character after ``ids``, in eval mode."""
    with eval_mode(model):
        x = torch.tensor([ids], dtype=torch.long, device=device)
        with devices.autocast(device):
            logits, _loss = with_loss(model)(x)
        return logits[0, -1].float()


STRIP_CHARS = 96  # characters of the token strip sent back (the pane shows what fits)
MATH_DIMS = 8  # leading dimensions of the embedding and hidden vectors in "show the math"
_LAYERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (its modules, layers)


def _visible_strip(text: str, tokenizer: CharTokenizer, n: int = STRIP_CHARS) -> list:
    """The last ``n`` characters of ``text`` (already normalised) with their ids, None when a
    character is outside the vocabulary."""
    return [[ch, tokenizer.stoi.get(ch)] for ch in text[-n:]]


def _keep(store: dict, name: str, module, inputs, output) -> None:
    store[name] = (
        inputs[0].detach() if inputs and torch.is_tensor(inputs[0]) else None,
        output.detach() if torch.is_tensor(output) else None,
    )


@torch.no_grad()
def forward_with_hooks(
    model: torch.nn.Module,
    ids: list[int],
    device: torch.device,
    capture: dict[str, torch.nn.Module] | None = None,
    exact: bool = False,
) -> tuple[torch.Tensor, dict]:
    """One eval-mode forward pass over ``ids``: logits (T, V) in float32, and for each module in
    ``capture`` its (input, output) seen through a forward hook. Every hook is removed before
    returning, whatever happens. ``exact`` turns autocast off (float32 all the way), so numbers
    computed by hand from the weights match the layer's own."""
    captured: dict[str, tuple] = {}
    handles = [
        module.register_forward_hook(partial(_keep, captured, name))
        for name, module in (capture or {}).items()
    ]
    try:
        with eval_mode(model):
            x = torch.tensor([ids], dtype=torch.long, device=device)
            with contextlib.nullcontext() if exact else devices.autocast(device):
                logits, _loss = with_loss(model)(x)
            return logits[0].float(), captured
    finally:
        for handle in handles:
            handle.remove()


def output_layer(model: torch.nn.Module) -> tuple[str, torch.nn.Linear, str]:
    """The Linear that turns the last hidden vector into one score per character, its name, and
    the name of the module that feeds it (the hidden activation)."""
    leaves = [
        (name, m)
        for name, m in model.named_modules()
        if name and not any(True for _child in m.children())
    ]
    for i in range(len(leaves) - 1, -1, -1):
        name, module = leaves[i]
        if isinstance(module, torch.nn.Linear):
            return name, module, leaves[i - 1][0] if i else ""
    raise TorchdeckError(
        _("this model has no output Linear layer"),
        _("show the math needs a model that ends in nn.Linear"),
    )


def token_embedding(model: torch.nn.Module) -> tuple[str, torch.nn.Embedding]:
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Embedding):
            return name, module
    raise TorchdeckError(
        _("this model has no embedding layer"),
        _("show the math needs a model that starts with nn.Embedding"),
    )


def activation_layers(model: torch.nn.Module, device: torch.device) -> list[dict]:
    """Every module whose output has one vector per character (shape [1, T, D]), in the order
    the model declares them: the layers whose activations the pane can show. Kept per model
    while its modules stay the same: a cell in the Playground may add, remove or replace layers
    of the live model, and the list is found again then."""
    now = tuple(model.named_modules())
    cached = _LAYERS.get(model)
    if cached is not None and _same_modules(cached[0], now):
        return cached[1]
    modules = {
        name: m for name, m in now if name and not isinstance(m, torch.nn.Dropout)
    }  # dropout is identity in eval
    _out, captured = forward_with_hooks(model, [0, 0], device, modules)
    layers = []
    for name, module in modules.items():
        out = captured.get(name, (None, None))[1]
        if out is not None and out.dim() == 3 and tuple(out.shape[:2]) == (1, 2):
            layers.append({"name": name, "type": type(module).__name__, "dim": int(out.shape[-1])})
    _LAYERS[model] = (tuple((name, weakref.ref(m)) for name, m in now), layers)
    return layers


def _same_modules(kept: tuple, now: tuple) -> bool:
    """Whether ``now`` (name, module) pairs are the modules ``kept`` (name, weak reference)
    pairs were taken from. Weak references keep the cache from holding a module alive (a
    user's module that refers back to its model would keep the model too) and are dead for a
    module since freed, whose address a new one may take."""
    return len(kept) == len(now) and all(
        name == new_name and ref() is module for (name, ref), (new_name, module) in zip(kept, now)
    )


def _module(model: torch.nn.Module, name: str, device: torch.device) -> torch.nn.Module:
    names = [layer["name"] for layer in activation_layers(model, device)]
    if name not in names:
        raise ConfigError(
            _("no layer named {name!r} with one vector per character").format(name=name),
            _("choose one of: {names}").format(names=", ".join(names)),
        )
    return model.get_submodule(name)


def _activations(
    name: str,
    module: torch.nn.Module,
    out: torch.Tensor,
    tokens: list[str],
    units: int,
    positions: int,
) -> dict:
    """The ``units`` strongest units (largest |activation| over the last ``positions``
    characters) of a layer's output [1, T, D], as a positions × units table."""
    acts = out[0, -positions:].float().cpu()  # (P, D)
    strength = acts.abs().max(dim=0).values  # (D,)
    k = min(units, acts.shape[1])
    order = torch.topk(strength, k).indices.tolist()
    return {
        "layer": name,
        "type": type(module).__name__,
        "dim": int(acts.shape[1]),
        "units": order,
        "chars": tokens[-acts.shape[0] :],
        "values": acts[:, order].tolist(),
        "scale": float(strength.max()) if k else 0.0,
    }


def _math(
    model: torch.nn.Module,
    tokenizer: CharTokenizer,
    ids: list[int],
    captured: dict,
    out_name: str,
    out_layer: torch.nn.Linear,
    hidden_name: str,
    top_ids: list[int],
) -> dict:
    """LESSONS L1 for the last character: its embedding, the hidden activation that reaches the
    output layer (seen by a hook), and the output scores computed by hand as x·Wᵀ + b beside
    the layer's own output."""
    emb_name, emb = token_embedding(model)
    last = ids[-1]
    vector = emb.weight[last].detach().float()
    x_in, y_out = captured[out_name]
    x = x_in[0, -1].float()  # (d,) the hidden activation for the last character
    y = y_out[0, -1].float()  # (V,) the layer's own scores
    weight = out_layer.weight.detach().float()
    by_hand = x @ weight.T  # (V,) = x·Wᵀ
    if out_layer.bias is not None:
        by_hand = by_hand + out_layer.bias.detach().float()
    diff = float((by_hand - y).abs().max())
    tied = [n for n, p in model.named_parameters() if p is out_layer.weight]
    return {
        "char": tokenizer.chars[last],
        "id": last,
        "embedding": {
            "layer": emb_name,
            "dim": int(vector.numel()),
            "values": vector[:MATH_DIMS].tolist(),
            "norm": float(vector.norm()),
        },
        "hidden": {
            "layer": hidden_name,
            "dim": int(x.numel()),
            "values": x[:MATH_DIMS].cpu().tolist(),
            "norm": float(x.norm()),
            "zero_share": float((x == 0).float().mean()),
        },
        "output": {
            "layer": out_name,
            "weight_shape": list(weight.shape),
            "has_bias": out_layer.bias is not None,
            "weight_name": tied[0] if tied else f"{out_name}.weight",
            "tied": bool(tied) and tied[0] != f"{out_name}.weight",
            "rows": [
                {
                    "char": tokenizer.chars[i],
                    "id": i,
                    "by_hand": float(by_hand[i]),
                    "layer": float(y[i]),
                }
                for i in top_ids
            ],
            "max_abs_diff": diff,
            "allclose": bool(torch.allclose(by_hand, y, rtol=1e-5, atol=1e-5)),
        },
    }


def predict(
    model: torch.nn.Module,
    tokenizer: CharTokenizer,
    text: str,
    block_size: int,
    device: torch.device,
    sampling: Sampling = MODEL_DISTRIBUTION,
    k: int = 10,
    math_view: bool = False,
    layer: str | None = None,
    units: int = 8,
    positions: int = 32,
    logits: torch.Tensor | None = None,
) -> dict:
    """The next-character distribution after ``text`` as plain data: the ids fed, unknown
    characters, the top ``k`` characters with probabilities, and the text's own loss, all from
    one forward pass. ``math_view`` adds the output layer worked by hand; ``layer`` adds that
    layer's strongest units for the last ``positions`` characters. ``logits`` (T, V): that
    pass already made over the same text (core.explain's), so none is run here."""
    sampling.validate()
    ctx = context_ids(tokenizer, text, block_size)
    ids = ctx["ids"] or [_fallback_start(tokenizer)]
    capture: dict[str, torch.nn.Module] = {}
    if math_view:
        out_name, out_layer, hidden_name = output_layer(model)
        capture[out_name] = out_layer
    if layer:
        capture[layer] = _module(model, layer, device)
    if logits is None or capture:
        logits, captured = forward_with_hooks(model, ids, device, capture, exact=math_view)
    else:
        captured = {}
    probs = filter_probs(logits[-1], sampling)
    k = max(1, min(k, probs.numel()))
    top = torch.topk(probs, k)
    loss = None
    if len(ctx["ids"]) >= 2:
        target = torch.tensor(ctx["ids"][1:], dtype=torch.long, device=logits.device)
        loss = float(F.cross_entropy(logits[:-1], target))
    top_ids = top.indices.tolist()
    tokens = [tokenizer.chars[i] for i in ctx["ids"]]
    result = {
        "ids": ctx["ids"],
        "tokens": tokens,
        "strip": _visible_strip(ctx["text"], tokenizer),
        "chars": len(ctx["text"]),
        "unknown": [[pos, ch] for pos, ch in ctx["unknown"]],
        "cropped": ctx["cropped"],
        "empty_context": not ctx["ids"],
        "top": [
            {"char": tokenizer.chars[i], "id": i, "prob": p}
            for p, i in zip(top.values.tolist(), top_ids)
        ],
        "loss": loss,
        "bits_per_char": None if loss is None else loss / math.log(2),
        "vocab_size": tokenizer.vocab_size,
        "block_size": block_size,
    }
    if math_view:
        result["math"] = _math(
            model, tokenizer, ids, captured, out_name, out_layer, hidden_name, top_ids[:5]
        )
    if layer:
        shown = tokens or [tokenizer.chars[ids[0]]]
        result["activations"] = _activations(
            layer, capture[layer], captured[layer][1], shown, units, positions
        )
    return result


def generate(
    model: torch.nn.Module,
    tokenizer: CharTokenizer,
    prompt: str,
    max_new: int,
    block_size: int,
    device: torch.device,
    sampling: Sampling = MODEL_DISTRIBUTION,
    seed: int | None = None,
) -> Iterator[str]:
    """Yield ``max_new`` characters one at a time, each sampled after the ones before."""
    sampling.validate()
    if max_new < 0:
        raise TorchdeckError(
            _("max_new {max_new} is negative").format(max_new=max_new),
            _("ask for 0 or more characters"),
        )
    ids = context_ids(tokenizer, prompt, block_size)["ids"] or [_fallback_start(tokenizer)]
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    for _i in range(max_new):
        probs = filter_probs(next_logits(model, ids[-block_size:], device), sampling).cpu()
        if sampling.is_greedy:
            nxt = int(torch.argmax(probs))
        else:
            nxt = int(torch.multinomial(probs, 1, generator=gen))
        ids.append(nxt)
        yield tokenizer.chars[nxt]
