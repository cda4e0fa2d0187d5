"""How the playground shows a value: tensors with a one-line summary (shape, dtype, device, grad
state, statistics, as lovely-tensors prints it), modules with their parameter count, arrays and
containers without building a huge text; every text cut to MAX_TEXT characters."""

from __future__ import annotations

import math
import reprlib
from typing import Any

import numpy as np
import torch
from torch import nn

from core.i18n import _

MAX_TEXT = 20_000  # characters of printed text, and of a value's display, sent per cell


def _cut(text: str, limit: int = MAX_TEXT) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    dropped = len(text) - limit
    note = _("{count} more characters not shown").format(count=f"{dropped:,}")
    return (text[:limit] + "\n… " + note), True


def _num(v: float) -> str:
    if v != v:
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e6:
        return f"{v:.1f}" if abs(v) < 1e5 else f"{int(v)}"
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.3e}"
    return f"{v:.4g}"


DTYPE_SHORT = {
    torch.float32: "f32",
    torch.float64: "f64",
    torch.float16: "f16",
    torch.bfloat16: "bf16",
    torch.int64: "i64",
    torch.int32: "i32",
    torch.int16: "i16",
    torch.int8: "i8",
    torch.uint8: "u8",
    torch.bool: "bool",
    torch.complex64: "c64",
    torch.complex128: "c128",
}
STATS_SAMPLE = 1 << 24  # above this many elements the statistics come from an even sample


def tensor_stats(t: torch.Tensor) -> dict | None:
    """min, max, mean, std and NaN/Inf counts of a real tensor (None for empty, complex, meta
    or sparse tensors). Big tensors are sampled evenly (``sampled`` says so)."""
    if t.numel() == 0 or t.is_complex() or t.layout != torch.strided or t.device.type == "meta":
        return None
    try:
        return _stats(t)
    except Exception:  # a device or dtype the statistics do not support: show none
        return None


def _stats(t: torch.Tensor) -> dict:
    with torch.no_grad():
        flat = t.detach().reshape(-1)
        sampled = flat.numel() > STATS_SAMPLE
        if sampled:
            flat = flat[:: math.ceil(flat.numel() / STATS_SAMPLE)]
        if flat.dtype == torch.bool:
            return {"true": int(flat.sum().item()), "count": flat.numel(), "sampled": sampled}
        values = flat.float() if flat.device.type == "mps" else flat.double()  # no f64 on MPS
        finite = torch.isfinite(values)
        nan = int(torch.isnan(values).sum().item())
        inf = int((~finite).sum().item()) - nan
        good = values[finite] if (nan or inf) else values
        stats = {
            "nan": nan,
            "inf": inf,
            "sampled": sampled,
            "min": None,
            "max": None,
            "mean": None,
            "std": None,
        }
        if good.numel():
            stats.update(
                min=good.min().item(),
                max=good.max().item(),
                mean=good.mean().item(),
                std=good.std().item() if good.numel() > 1 else None,
            )
        return stats


def tensor_header(t: torch.Tensor) -> str:
    """One line, as lovely-tensors prints it: shape, dtype, device, grad state, statistics."""
    kind = "Parameter" if isinstance(t, nn.Parameter) else "tensor"
    parts = [
        f"{kind}{list(t.shape)}",
        f"n={t.numel():,}",
        DTYPE_SHORT.get(t.dtype, str(t.dtype).replace("torch.", "")),
        str(t.device),
    ]
    if t.requires_grad:
        parts.append("requires_grad")
    if t.grad_fn is not None:
        parts.append(f"grad_fn={type(t.grad_fn).__name__}")
    stats = tensor_stats(t)
    if stats is None:
        parts.append(_("empty") if t.numel() == 0 else "")
    elif "true" in stats:
        parts.append(
            _("{true} true of {count}").format(
                true=f"{stats['true']:,}", count=f"{stats['count']:,}"
            )
        )
    elif stats["min"] is not None:
        approx = "~" if stats["sampled"] else ""
        if stats["min"] == stats["max"]:
            parts.append(f"all={_num(stats['min'])}")
        else:
            parts.append(f"{approx}x∈[{_num(stats['min'])}, {_num(stats['max'])}]")
            parts.append(f"μ={_num(stats['mean'])}")
            if stats["std"] is not None:
                parts.append(f"σ={_num(stats['std'])}")
    if stats and stats.get("nan"):
        parts.append(f"NaN!×{stats['nan']}")
    if stats and stats.get("inf"):
        parts.append(f"Inf!×{stats['inf']}")
    return " ".join(p for p in parts if p)


def count_params(module: nn.Module) -> tuple[int, int]:
    """Parameters counted once each (a tied matrix once): total and trainable."""
    params = list(module.parameters())  # parameters() skips a shared tensor's second name
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def describe(value: Any) -> dict:
    """The display of a cell's value: ``kind``, a one-line ``header`` (or None), the ``text``
    (cut to MAX_TEXT characters, ``truncated`` says so) and, for a tensor, its numbers."""
    out: dict[str, Any] = {"kind": "object", "type": type(value).__qualname__, "header": None}
    if isinstance(value, torch.Tensor):
        out.update(
            kind="tensor",
            header=tensor_header(value),
            shape=list(value.shape),
            dtype=str(value.dtype),
            device=str(value.device),
            requires_grad=value.requires_grad,
            grad_fn=type(value.grad_fn).__name__ if value.grad_fn is not None else None,
            stats=tensor_stats(value),
        )
        with torch._tensor_str.printoptions(threshold=400, edgeitems=3, linewidth=76):
            text = repr(value)
    elif isinstance(value, nn.Module):
        total, trainable = count_params(value)
        devices = sorted({str(p.device) for p in value.parameters()}) or [_("no parameters")]
        out.update(
            kind="module",
            params=total,
            trainable_params=trainable,
            header=f"{type(value).__name__} · "
            + _("{total} parameters ({trainable} trainable)").format(
                total=f"{total:,}", trainable=f"{trainable:,}"
            )
            + f" · {', '.join(devices)}",
        )
        text = repr(value)
    elif isinstance(value, np.ndarray):
        out.update(
            kind="ndarray",
            shape=list(value.shape),
            dtype=str(value.dtype),
            header=f"ndarray{list(value.shape)} {value.dtype}",
        )
        with np.printoptions(threshold=400, edgeitems=3, linewidth=76):
            text = repr(value)
    elif isinstance(value, (list, tuple, dict, set, frozenset, str)):
        text = _SHORT_REPR.repr(value)  # a list of ten million numbers is not built in full
    else:
        text = repr(value)
    out["text"], out["truncated"] = _cut(text)
    return out


def _container_repr() -> reprlib.Repr:
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict = 6, 200, 200, 100
    r.maxset = r.maxfrozenset = r.maxdeque = r.maxarray = 200
    r.maxstring = r.maxother = r.maxlong = MAX_TEXT
    return r


_SHORT_REPR = _container_repr()


def safe_describe(value: Any) -> dict:
    """:func:`describe`, or a plain line saying why the value could not be shown."""
    try:
        return describe(value)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        return {
            "kind": "object",
            "type": type(value).__qualname__,
            "header": None,
            "text": (
                "<"
                + _("{type}: cannot be shown: {error}").format(
                    type=type(value).__qualname__, error=exc
                )
                + ">"
            )[:MAX_TEXT],
            "truncated": False,
        }
