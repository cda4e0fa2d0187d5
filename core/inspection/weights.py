"""Statistics of one tensor (mean, std, share near zero, histogram), and of one parameter of
the session's model: its initialisation theory, its gradient and how far it has moved since the
session's weights were first seen."""

from __future__ import annotations

import weakref

import torch
import torch.nn as nn

from core.errors import ConfigError
from core.i18n import _
from core.inspection.init_theory import expected_counts, init_of

NEAR_ZERO = 1e-3  # |w| below this counts as "near zero" in the statistics


def tensor_stats(t: torch.Tensor, bins: int = 40, near_zero: float = NEAR_ZERO) -> dict:
    """Mean, std, min, max, the fraction with |x| < near_zero, the L2 norm, and a histogram
    (``torch.histc``: ``bins`` counts between ``edges``)."""
    x = t.detach().float().reshape(-1)
    n = x.numel()
    lo, hi = (x.min().item(), x.max().item()) if n else (0.0, 0.0)
    a, b = (lo - 0.5, hi + 0.5) if hi - lo < 1e-12 else (lo, hi)
    counts = torch.histc(x.cpu(), bins=bins, min=a, max=b) if n else torch.zeros(bins)
    return {
        "numel": n,
        "mean": x.mean().item() if n else 0.0,
        "std": x.std().item() if n > 1 else 0.0,
        "min": lo,
        "max": hi,
        "near_zero": (x.abs() < near_zero).float().mean().item() if n else 0.0,
        "near_zero_below": near_zero,
        "norm": x.norm().item(),
        "counts": [int(c) for c in counts.tolist()],
        "edges": [a + (b - a) * i / bins for i in range(bins + 1)],
    }


# initial weights per session (a CPU copy), taken the first time a session is seen: right
# after configure, reset or load, since the Summary pane asks for a summary then. A parameter
# that appears later (a Playground cell added or replaced a layer of the live model) is
# remembered the first time its figures are asked for, at that step.
_INITIAL: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def remember_initial(session) -> dict:
    """The session's entry: ``model``, and ``weights``, each parameter's name mapped to
    (a weak reference to the parameter, a CPU copy of its values, the step it was taken at)."""
    entry = _INITIAL.get(session)
    if entry is None or entry["model"] is not session.model:
        entry = {"model": session.model, "weights": {}}
        for name, p in session.model.named_parameters():
            _remember(entry, name, p, session.trainer.step)
        _INITIAL[session] = entry
    return entry


def _remember(entry: dict, name: str, p: torch.Tensor, step: int) -> None:
    entry["weights"][name] = (weakref.ref(p), p.detach().to("cpu", copy=True), step)


def _initial(session, name: str, p: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The values ``p`` started from and the step they were taken at: those of this very
    parameter, so a layer a cell replaced under the same name starts again from its own."""
    entry = remember_initial(session)
    kept = entry["weights"].get(name)
    if kept is None or kept[0]() is not p:
        _remember(entry, name, p, session.trainer.step)
        kept = entry["weights"][name]
    return kept[1], kept[2]


def weight_stats(session, name: str, bins: int = 40) -> dict:
    model = session.model
    params = dict(model.named_parameters(remove_duplicate=False))
    if name not in params:
        known = list(dict(model.named_parameters()))
        raise ConfigError(
            _("the model has no parameter {name!r}").format(name=name),
            _("parameters are: {names}").format(
                names=", ".join(known[:12]) + (" …" if len(known) > 12 else "")
            ),
        )
    p = params[name]
    tied = [n for n, q in params.items() if q is p and n != name]
    init = init_of(model, _owner_name(model, p) or name)
    stats = tensor_stats(p, bins)
    expected = expected_counts(init, stats["edges"], stats["numel"])
    result = {
        "name": name,
        "shape": list(p.shape),
        "dtype": str(p.dtype).replace("torch.", ""),
        "trainable": p.requires_grad,
        "tied_to": tied,
        "step": session.trainer.step,
        "stats": stats,
        "init": {**init, "expected_counts": expected},
        "grad": None,
    }
    if p.grad is not None:
        g = tensor_stats(p.grad, bins)
        result["grad"] = {k: g[k] for k in ("mean", "std", "min", "max", "norm", "near_zero")}
    w0, since = _initial(session, _owner_name(model, p) or name, p)
    delta = p.detach().float().cpu() - w0.float()
    norm0 = w0.float().norm().item()
    result["moved"] = {
        "since_step": since,
        "norm": delta.norm().item(),
        "relative": delta.norm().item() / norm0 if norm0 else None,
        "max_abs": delta.abs().max().item() if delta.numel() else 0.0,
    }
    return result


def _owner_name(model: nn.Module, p: torch.Tensor) -> str | None:
    for n, q in model.named_parameters():  # duplicates removed: the first name is the owner
        if q is p:
            return n
    return None
