"""A person's own model: ``--model path/to/file.py:factory`` or ``package.module:factory``.

``factory(vocab_size, block_size)`` returns an ``nn.Module`` that maps token ids [B, T] to logits
[B, T, vocab_size]. The file is imported because the person named it (never because a checkpoint
did), afresh each time a model is built, so an edit shows on the next build. Every way it can go
wrong (no such file, a syntax error, an exception at import, in the factory or in ``forward``,
a result of the wrong kind or shape) is one ``ModelFileError`` naming the file and, where
Python knows it, the line. Works without a UI.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from core.contract.settings import FACTORY_SHAPE, split_factory
from core.errors import ConfigError

FILE_MODULE_PREFIX = "torchdeck_model_"  # the name a model file is imported under, + a hash
PROBE_BATCH = 2  # sequences of the trial forward pass that checks the model's output shape


class ModelFileError(ConfigError):
    """A model file or factory that cannot give a model torchdeck can use."""


@dataclass
class FactoryConfig:
    """The model config of a factory model: what the factory was called with and where it came
    from (saved in the checkpoint, so loading can say when the file has changed)."""

    vocab_size: int
    block_size: int
    factory: str  # as named: "path/to/file.py:make_model" or "package.module:make_model"
    source: str = ""  # the file the factory's module was read from ("" when Python has none)
    source_sha256: str = ""

    def validate(self) -> None:
        for name in ("vocab_size", "block_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}", "")
        split_factory(self.factory)


def file_sha256(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def _where(exc: BaseException, source: str) -> str:
    """' (file.py line N)' for the deepest frame of ``exc`` in ``source``, or in any file."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if source and Path(f.filename) == Path(source)]
    frame = (mine or frames or [None])[-1]
    if frame is None:
        return ""
    return f" ({Path(frame.filename).name} line {frame.lineno})"


def _said(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def _import_file(path: Path, ref: str):
    if not path.exists():
        raise ModelFileError(
            f"--model {ref}: there is no file {path}",
            f"check the path (a relative one is read from {Path.cwd()})",
        )
    if path.is_dir():
        raise ModelFileError(f"--model {ref}: {path} is a folder", "name a .py file in it")
    name = f"{FILE_MODULE_PREFIX}{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelFileError(f"--model {ref}: Python cannot import {path}", "name a .py file")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.append(folder)  # its neighbours import as they do when it runs as a script
    sys.modules[name] = module  # inspect finds the source, dataclasses their module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise ModelFileError(
            f"{path} line {exc.lineno}: syntax error: {exc.msg}", "fix the line and build again"
        ) from None
    except (Exception, SystemExit) as exc:
        del sys.modules[name]
        raise ModelFileError(
            f"importing {path} raised {_said(exc)}{_where(exc, str(path))}",
            "fix the file and build again",
        ) from None
    return module


def _import_module(module_name: str, ref: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ModelFileError(
                f"--model {ref}: there is no module {exc.name}",
                "install it, or name a file: --model path/to/file.py:factory",
            ) from None
        raise ModelFileError(f"importing {module_name} raised {_said(exc)}", "") from None
    except SyntaxError as exc:
        raise ModelFileError(
            f"{exc.filename} line {exc.lineno}: syntax error: {exc.msg}", "fix the line"
        ) from None
    except (Exception, SystemExit) as exc:
        raise ModelFileError(
            f"importing {module_name} raised {_said(exc)}{_where(exc, '')}", "fix the module"
        ) from None


def load_factory(ref: str):
    """The factory ``ref`` names, imported now, and the file it came from."""
    target, attr, is_file = split_factory(ref)
    if is_file:
        module = _import_file(Path(target).expanduser(), ref)
    else:
        module = _import_module(target, ref)
    source = getattr(module, "__file__", None) or ""
    factory = getattr(module, attr, None)
    if factory is None:
        defined = sorted(
            n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
        )
        listed = ", ".join(defined[:12]) or "nothing callable"
        raise ModelFileError(
            f"{source or target} has no {attr}", f"it defines: {listed}; name one of those"
        )
    if not callable(factory):
        raise ModelFileError(
            f"{attr} in {source or target} is a {type(factory).__name__}, not a function",
            f"name a function: {FACTORY_SHAPE}",
        )
    return factory, str(Path(source).resolve()) if source else ""


def build(config: FactoryConfig, device: torch.device) -> nn.Module:
    """The model the factory builds, on ``device``, checked with one forward pass."""
    factory, source = load_factory(config.factory)
    config.source = source
    config.source_sha256 = file_sha256(source) if source else ""
    call = f"{config.factory}(vocab_size={config.vocab_size}, block_size={config.block_size})"
    try:
        model = factory(config.vocab_size, config.block_size)
    except (Exception, SystemExit) as exc:
        raise ModelFileError(
            f"{call} raised {_said(exc)}{_where(exc, source)}", "fix the factory and build again"
        ) from None
    if not isinstance(model, nn.Module):
        raise ModelFileError(
            f"{call} returned a {type(model).__name__}, not an nn.Module", FACTORY_SHAPE
        )
    model.to(device)
    check_output(model, config, device, source)
    return model


def logits_of(output):
    """The logits of a model's output: the tensor itself, or the first of a tuple (a model
    written as ``forward(idx, targets=None) -> (logits, loss)``)."""
    if isinstance(output, (tuple, list)) and output:
        output = output[0]
    return output


def check_output(model: nn.Module, config: FactoryConfig, device, source: str = "") -> None:
    """One no-grad forward pass over [PROBE_BATCH, block_size] ids: it must give float logits
    of shape [PROBE_BATCH, block_size, vocab_size]."""
    B, T, V = PROBE_BATCH, config.block_size, config.vocab_size
    ids = torch.zeros(B, T, dtype=torch.long, device=device)
    what = f"{type(model).__name__}.forward" + (f" in {Path(source).name}" if source else "")
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            out = logits_of(model(ids))
    except (Exception, SystemExit) as exc:
        raise ModelFileError(
            f"{what} on ids of shape [{B}, {T}] raised {_said(exc)}{_where(exc, source)}",
            FACTORY_SHAPE,
        ) from None
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise ModelFileError(
            f"{what} returned a {type(out).__name__}, not a tensor of logits",
            FACTORY_SHAPE,
        )
    if list(out.shape) != [B, T, V]:
        raise ModelFileError(
            f"{what} gave logits of shape {list(out.shape)} for ids of shape [{B}, {T}]; "
            f"expected [{B}, {T}, {V}] (vocab_size {V})",
            FACTORY_SHAPE,
        )
    if not out.is_floating_point():
        raise ModelFileError(
            f"{what} gave {str(out.dtype).replace('torch.', '')} logits", "return floats"
        )
