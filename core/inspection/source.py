"""LESSONS.md L1 in the model's own code: ``__init__`` declares the layers, ``forward`` is the
data flow. The source of the current model's class, found with ``inspect``: its ``forward``, the
methods of the class ``forward`` calls (the parabola's ``f``), and its ``__init__``.

A class whose source Python cannot find (defined in a playground cell, in a notebook, or built
at run time) is reported with one line saying why, never an exception."""

from __future__ import annotations

import inspect
import re
import sys
import textwrap

import torch.nn as nn

from core.i18n import _
from core.user_model import FILE_MODULE_PREFIX

MAX_BLOCK_LINES = 200  # longer methods are cut, with a last line saying how many more there are
_SELF_CALL = re.compile(r"\bself\.([A-Za-z_]\w*)\s*\(")


def _block(cls: type, name: str) -> dict:
    """One method of ``cls`` (or of the base class that defines it): its first line in its file
    and its source, dedented. OSError or TypeError when Python cannot find the source."""
    fn = inspect.unwrap(getattr(cls, name))
    lines, first = inspect.getsourcelines(fn)
    more = len(lines) - MAX_BLOCK_LINES
    source = textwrap.dedent("".join(lines[:MAX_BLOCK_LINES])).rstrip("\n")
    if more > 0:
        source += "\n# … " + _("{count} more lines").format(count=more)
    return {"name": name, "qualname": fn.__qualname__, "line": first, "source": source}


def _owner(cls: type, name: str) -> type | None:
    """The class of ``cls``'s MRO that defines ``name``."""
    return next((k for k in cls.__mro__ if name in vars(k)), None)


def _own(cls: type, name: str) -> bool:
    """Whether ``name`` is a plain method that the model's classes define, not torch's."""
    owner = _owner(cls, name)
    if owner is None or owner.__module__.split(".")[0] == "torch":
        return False
    return inspect.isfunction(vars(owner)[name])


def _helpers(model: nn.Module, cls: type, forward_source: str) -> list[str]:
    """The methods of the model's own classes that ``forward`` calls on ``self``, in the order
    it first calls them; submodules (``self.hidden(x)``) are layers, not methods."""
    names: list[str] = []
    for name in _SELF_CALL.findall(forward_source):
        if name in names or name in ("forward", "__init__") or name in model._modules:
            continue
        if _own(cls, name):
            names.append(name)
    return names


def model_source(model: nn.Module) -> dict:
    """The model class's ``forward``, the methods it calls and ``__init__`` as source blocks;
    ``missing`` says in one line why there are none when ``forward``'s source cannot be found."""
    model = getattr(model, "_orig_mod", model)  # a torch.compile'd model: the model inside
    cls = type(model)
    module = cls.__module__
    if module.startswith(FILE_MODULE_PREFIX):  # one's own model file: its path says more
        module = getattr(sys.modules.get(module), "__file__", None) or module
    out = {"class_name": cls.__qualname__, "module": module, "blocks": [], "missing": ""}
    if getattr(cls, "forward", None) is nn.Module.forward:
        out["missing"] = _("{name} defines no forward method").format(name=cls.__qualname__)
        return out
    try:
        forward = _block(cls, "forward")
    except (OSError, TypeError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        out["missing"] = _("the source of {name}.forward cannot be found ({reason})").format(
            name=cls.__qualname__, reason=why
        )
        return out
    blocks = [forward]
    # the class's own __init__ (or a base's), not nn.Module's, which would teach nothing
    init = ["__init__"] if _owner(cls, "__init__") not in (None, nn.Module) else []
    for name in [*_helpers(model, cls, forward["source"]), *init]:
        try:
            blocks.append(_block(cls, name))
        except (OSError, TypeError):  # forward is the point; the others show when found
            continue
    out["blocks"] = blocks
    return out
