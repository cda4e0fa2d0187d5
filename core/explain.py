"""Inside the model for a typed text (issue 17): attention per layer and head, the logit lens,
gradient × input attribution of the top prediction, and a character's embedding neighbours.

The text is fed as :func:`core.predict.predict` feeds it (unknown characters skipped, the last
``block_size`` kept, a newline when nothing is left) in ONE eval-mode forward pass. Forward
hooks see what each part needs and are removed before returning; the attribution's gradient is
taken with ``torch.autograd.grad`` on the token embeddings' output, so no parameter's ``.grad``
changes. Works without a UI.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

from core import device as devices
from core.contract.explain import ExplainArgs
from core.contract.settings import GPT
from core.errors import ConfigError, TorchdeckError
from core.i18n import N_, Words, _
from core.models import PRESETS, eval_mode, with_loss
from core.predict import _fallback_start, context_ids, token_embedding
from core.tokenizer import CharTokenizer, normalize

LENS_NOTE = Words(
    N_("the logit lens needs transformer blocks, a final norm and an unembedding ({preset})"),
    preset=GPT,
)


def attention_modules(model: nn.Module) -> list[nn.Module]:
    """The self-attention modules, in the model's order: those shaped as
    core.models.CausalSelfAttention (a ``qkv`` Linear and an integer ``n_head``)."""
    return [
        m
        for m in model.modules()
        if isinstance(getattr(m, "qkv", None), nn.Linear)
        and isinstance(getattr(m, "n_head", None), int)
        and not isinstance(m.n_head, bool)
    ]


def lens_parts(model: nn.Module) -> tuple | None:
    """(blocks, final norm, unembedding) of a model shaped as core.models.GPT, else None."""
    inner = getattr(model, "module", model)  # DistributedDataParallel holds it as .module
    blocks = getattr(inner, "blocks", None)
    ln_f = getattr(inner, "ln_f", None)
    lm_head = getattr(inner, "lm_head", None)
    if (
        isinstance(blocks, (nn.ModuleList, nn.Sequential))
        and len(blocks) > 0
        and isinstance(ln_f, nn.Module)
        and isinstance(lm_head, nn.Module)
    ):
        return blocks, ln_f, lm_head
    return None


def _model_name(model: nn.Module) -> str:
    inner = getattr(model, "module", model)
    for name, (_factory, cls) in PRESETS.items():
        if type(inner) is cls:
            return _("the {preset} preset").format(preset=name)
    return _("this model")


def _check_index(what: str, value: int | None, count: int, count_name: str) -> None:
    if value is not None and value >= count:
        raise ConfigError(
            _("{what} {value} is out of range: this model has {count_name} = {count}").format(
                what=what, value=value, count_name=count_name, count=count
            ),
            _("choose a {what} from 0 to {last}").format(what=what, last=count - 1),
        )


class _Capture:
    """What the hooks saw during the forward pass."""

    def __init__(self) -> None:
        self.att_in: dict[int, torch.Tensor] = {}  # layer -> the attention module's input
        self.block_in: torch.Tensor | None = None  # the input of block 0 (the embeddings)
        self.block_out: dict[int, torch.Tensor] = {}  # block -> its output
        self.emb_in: torch.Tensor | None = None  # the token embedding's input (ids)
        self.emb_out: torch.Tensor | None = None  # its output, made a leaf that needs grad


def _on_attention(cap: _Capture, layer: int, module, inputs, output) -> None:
    cap.att_in[layer] = inputs[0].detach()


def _on_block(cap: _Capture, index: int, module, inputs, output) -> None:
    if index == 0 and inputs and torch.is_tensor(inputs[0]):
        cap.block_in = inputs[0].detach()
    if torch.is_tensor(output):
        cap.block_out[index] = output.detach()


def _on_embedding(cap: _Capture, module, inputs, output):
    """The first call only: its output is replaced by a detached copy that needs grad, the
    tensor the attribution differentiates against (the parameters are left out of it)."""
    if cap.emb_out is not None or not torch.is_tensor(output) or not output.is_floating_point():
        return None
    cap.emb_in = inputs[0].detach()
    cap.emb_out = output.detach().requires_grad_(True)
    return cap.emb_out


def _attention(module: nn.Module, x: torch.Tensor, heads: list[int]) -> torch.Tensor:
    """Attention weights (len(heads), T, T) in float32 from the module's input x (1, T, C): the
    softmax of q·kᵀ/√hs under the causal mask, as F.scaled_dot_product_attention(is_causal=True)
    computes them; exact zeros above the diagonal."""
    x = x.float()
    _batch, T, C = x.shape
    nh = module.n_head
    hs = C // nh
    weight = module.qkv.weight.float()[: 2 * C]  # q and k only
    bias = module.qkv.bias
    qk = F.linear(x, weight, None if bias is None else bias.float()[: 2 * C])
    q, k = (t.view(T, nh, hs).transpose(0, 1)[heads] for t in qk[0].split(C, dim=1))
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (H, T, T)
    above = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
    return torch.softmax(scores.masked_fill(above, float("-inf")), dim=-1)


def _top(tokenizer: CharTokenizer, probs: torch.Tensor, k: int) -> list[list[dict]]:
    """The top ``k`` (char, id, prob) of each row of probs (R, V)."""
    top = torch.topk(probs, min(k, probs.shape[-1]), dim=-1)
    return [
        [{"char": tokenizer.chars[i], "id": i, "prob": p} for p, i in zip(ps, ids)]
        for ps, ids in zip(top.values.tolist(), top.indices.tolist())
    ]


def _lens(parts: tuple, cap: _Capture, tokenizer, k: int, device) -> list[dict]:
    """Each block's residual stream at the last position through ln_f and lm_head."""
    blocks, ln_f, lm_head = parts
    if cap.block_in is None or len(cap.block_out) != len(blocks):
        return []
    names = ["embed"] + [_("block {index}").format(index=i) for i in range(len(blocks))]
    rows = [cap.block_in] + [cap.block_out[i] for i in range(len(blocks))]
    h = torch.stack([r[0, -1] for r in rows])  # (L + 1, C)
    with devices.autocast(device):
        logits = lm_head(ln_f(h))
    probs = F.softmax(logits.float(), dim=-1)
    return [{"name": n, "top": t} for n, t in zip(names, _top(tokenizer, probs, k))]


def _per_character(emb_in: torch.Tensor, scores: torch.Tensor, ids: list[int]):
    """Scores shaped as the embedding's input, summed onto the fed characters (T,): the ids
    themselves (1, T), or windows of the last C characters (1, T, C) as core.models.MLPLM
    unfolds them; None when the input does not line up with the characters."""
    T = len(ids)
    want = torch.tensor(ids, dtype=emb_in.dtype, device=emb_in.device)
    if tuple(emb_in.shape) == (1, T) and torch.equal(emb_in[0], want):
        return scores[0]
    if emb_in.dim() == 3 and tuple(emb_in.shape[:2]) == (1, T):
        C = emb_in.shape[2]
        ar = torch.arange(T, device=emb_in.device)
        src = ar[:, None] - (C - 1) + torch.arange(C, device=emb_in.device)[None, :]
        real = src >= 0  # the rest is padding before the text
        if torch.equal(emb_in[0][real], want[src[real]]):
            out = torch.zeros(T, dtype=scores.dtype, device=scores.device)
            return out.index_add_(0, src[real], scores[0][real])
    return None


def _neighbours(emb: nn.Embedding, tokenizer: CharTokenizer, cid: int, n: int) -> list[dict]:
    """The ``n`` rows of the embedding nearest to row ``cid`` by cosine, itself left out."""
    weight = emb.weight.detach()[: tokenizer.vocab_size].float()
    cos = F.cosine_similarity(weight, weight[cid][None], dim=1).clamp(-1.0, 1.0)
    ranked = cos.clone()
    ranked[cid] = float("-inf")
    top = torch.topk(ranked, min(n, ranked.numel() - 1))
    return [
        {"char": tokenizer.chars[i], "id": i, "cosine": c}
        for c, i in zip(top.values.tolist(), top.indices.tolist())
    ]


def explain(
    model: nn.Module,
    tokenizer: CharTokenizer,
    text: str,
    block_size: int,
    device: torch.device,
    args: ExplainArgs,
    logits_out: list | None = None,
) -> dict:
    """Attention, logit lens, attribution and neighbours for ``text`` as plain data, shaped as
    core.contract.ExplainResult without ``step``. ConfigError for a layer, head or position
    out of range. ``logits_out`` receives the pass's logits (T, V), float32, detached."""
    name = _model_name(model)
    ctx = context_ids(tokenizer, text, block_size)
    typed = ctx["ids"]  # the characters of the text that are fed
    ids = typed or [_fallback_start(tokenizer)]
    atts = attention_modules(model)
    n_layer = len(atts)
    n_head = atts[0].n_head if atts else 0
    if atts:
        _check_index("layer", args.layer, n_layer, "n_layer")
        _check_index("head", args.head, n_head, "n_head")
    asked = _character_at(tokenizer, text, ctx, args.position)
    layers = list(range(n_layer)) if args.layer is None else [args.layer] * bool(atts)
    heads = list(range(n_head)) if args.head is None else [args.head] * bool(atts)
    parts = lens_parts(model)
    try:
        emb = token_embedding(model)[1]
    except TorchdeckError:
        emb = None
    attribute = emb is not None and bool(typed)

    cap = _Capture()
    handles = [atts[i].register_forward_hook(partial(_on_attention, cap, i)) for i in layers]
    if parts is not None:
        handles += [
            b.register_forward_hook(partial(_on_block, cap, i)) for i, b in enumerate(parts[0])
        ]
    if attribute:
        handles.append(emb.register_forward_hook(partial(_on_embedding, cap)))
    grad = None
    try:
        x = torch.tensor([ids], dtype=torch.long, device=device)
        with eval_mode(model), torch.enable_grad() if attribute else torch.no_grad():
            with devices.autocast(device):
                logits, _loss = with_loss(model)(x)
            if logits_out is not None:
                logits_out.append(logits[0].detach().float())
            logp = F.log_softmax(logits[0, -1].float(), dim=-1)
            best = int(torch.argmax(logp))
            if attribute and cap.emb_out is not None and logp.requires_grad:
                (grad,) = torch.autograd.grad(logp[best], cap.emb_out, allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()

    result: dict = {
        "chars": [tokenizer.chars[i] for i in ids],
        "ids": list(ids),
        "n_layer": n_layer,
        "n_head": n_head,
        "layers": [],
        "heads": [],
        "attention": [],
        "offset": 0,
        "attention_note": "",
        "lens": [],
        "lens_note": "",
        "attribution": [],
        "target": None,
        "attribution_note": "",
        "neighbours_of": None,
        "neighbours": [],
        "neighbours_note": "",
    }
    with torch.no_grad():
        if atts and len(cap.att_in) == len(layers):
            maps = torch.stack([_attention(atts[i], cap.att_in[i], heads) for i in layers])
            offset = max(0, len(ids) - (args.window or len(ids)))
            maps = maps[..., offset:, offset:]  # the window: a quarter of 64 × 64 at 80 × 24
            # 6 decimals: a third of the JSON (each row still sums to 1 within 1e-5)
            att = maps.double().mul_(1e6).round_().div_(1e6).cpu().tolist()
            result.update(layers=layers, heads=heads, attention=att, offset=offset)
        elif atts:
            result["attention_note"] = _("{model}'s attention layers were not called").format(
                model=name
            )
        else:
            result["attention_note"] = _("{model} has no attention: only {preset} does").format(
                model=name, preset=GPT
            )
        lens = _lens(parts, cap, tokenizer, args.lens_k, device) if parts is not None else []
        result["lens"] = lens
        result["lens_note"] = "" if lens else str(LENS_NOTE)
        result.update(_attribution(name, emb, cap, grad, typed, best, logp, tokenizer))
        result.update(_neighbour_part(name, emb, tokenizer, asked, args))
    result["position"] = None if asked is None else asked[2]
    return result


def _attribution(name, emb, cap, grad, typed, best, logp, tokenizer) -> dict:
    if not typed:
        return {"attribution_note": _("no text is fed: nothing to attribute the prediction to")}
    if emb is None:
        return {
            "attribution_note": _("{model} has no nn.Embedding to attribute through").format(
                model=name
            )
        }
    per_char = None
    if grad is not None and cap.emb_in is not None:
        scores = (grad.float() * cap.emb_out.float()).sum(dim=-1)
        per_char = _per_character(cap.emb_in, scores, typed)
    if per_char is None:
        return {
            "attribution_note": _(
                "{model}'s embedding input does not line up with the text"
            ).format(model=name)
        }
    return {
        "attribution": per_char.cpu().tolist(),
        "target": {"char": tokenizer.chars[best], "id": best, "prob": float(logp[best].exp())},
    }


def _character_at(tokenizer: CharTokenizer, text: str, ctx: dict, position: int | None):
    """(character, id, place among the fed characters) of ``text``'s character at
    ``position``, or of the last one fed when None; the id is None for a character outside
    the vocabulary, the place None for one not fed (unknown, or before the last block_size).
    None when nothing is fed and no position is asked. ConfigError past the text's end."""
    typed = ctx["ids"]
    if position is None:
        return (tokenizer.chars[typed[-1]], typed[-1], len(typed) - 1) if typed else None
    if position >= len(text):
        raise ConfigError(
            _("position {position} is out of range: the text has {count} character(s)").format(
                position=position, count=len(text)
            ),
            _("choose a position from 0 to {last}").format(last=len(text) - 1)
            if text
            else _("type some text first"),
        )
    fed_text = ctx["text"]  # normalised (NFC): a character and its accent may have joined
    at = min(len(normalize(text[: position + 1])), len(fed_text)) - 1
    cid = tokenizer.stoi.get(fed_text[at])
    if cid is None:
        return fed_text[at], None, None
    place = sum(ch in tokenizer.stoi for ch in fed_text[:at]) - ctx["cropped"]
    return fed_text[at], cid, place if place >= 0 else None


def _neighbour_part(name, emb, tokenizer, asked, args: ExplainArgs) -> dict:
    if asked is None:
        return {"neighbours_note": _("no text is fed: type a character to see its neighbours")}
    if emb is None:
        return {
            "neighbours_note": _(
                "{model} has no nn.Embedding: no character vectors to compare"
            ).format(model=name)
        }
    char, cid, _place = asked
    if cid is None:
        return {
            "neighbours_note": _(
                "{char!r} is not in the vocabulary: it has no vector to compare"
            ).format(char=char)
        }
    if cid >= emb.weight.shape[0]:
        return {
            "neighbours_note": _("{model}'s embedding has no row for every character").format(
                model=name
            )
        }
    return {
        "neighbours_of": {"char": char, "id": cid, "prob": 0.0},
        "neighbours": _neighbours(emb, tokenizer, cid, args.neighbours),
    }
