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
import inspect
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.contract.settings import FACTORY_SHAPE, split_factory
from core.errors import ConfigError, TorchdeckError
from core.i18n import _

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
                raise ConfigError(
                    _("{name} must be a positive integer, got {value!r}").format(
                        name=name, value=value
                    ),
                    "",
                )
        split_factory(self.factory)


def file_sha256(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def _where(exc: BaseException, source: str) -> str:
    """' (file.py line N)' for the deepest frame of ``exc`` in ``source`` (the person's file);
    "" when none is there (torch's or torchdeck's own lines would say nothing useful)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if source and Path(f.filename) == Path(source)]
    if not mine:
        return ""
    where = _("({file} line {line})").format(
        file=Path(mine[-1].filename).name, line=mine[-1].lineno
    )
    return " " + where


def _an(word: str) -> str:
    """``word`` (a type's name) with its article: "an int", "a list"."""
    if word[:1].lower() in "aeiou":
        return _("an {type}").format(type=word)
    return _("a {type}").format(type=word)


def _source_of(model: nn.Module) -> str:
    try:
        return inspect.getsourcefile(type(model)) or ""
    except (TypeError, OSError):
        return ""


def _named(model: nn.Module) -> tuple[str, str]:
    """ "Tiny.forward in my_model.py" for a model (DDP's ``.module`` looked through), and its
    file."""
    inner = getattr(model, "module", model)
    source = _source_of(inner)
    return _forward_name(inner, source), source


def _forward_name(model: nn.Module, source: str) -> str:
    """ "Tiny.forward in my_model.py" ("Tiny.forward" when Python knows no file)."""
    name = f"{type(model).__name__}.forward"
    return _("{name} in {file}").format(name=name, file=Path(source).name) if source else name


def own_call(model: nn.Module, idx: torch.Tensor, targets=None, logits=None):
    """For a person's own model: ``model(idx)``'s logits; or, given ``logits``, the
    cross-entropy of them against ``targets`` (None without targets). Whatever goes wrong, an
    exception or a SystemExit in their code, or logits that do not fit the ids, is a
    ModelFileError naming the class, its file and the line, so that training, a prediction
    or a sample stops with one sentence and the engine goes on."""
    # this runs at every training step: the model's file is looked up only to name it
    if logits is None:
        try:
            out = logits_of(model(idx))
        except TorchdeckError:
            raise
        except (Exception, SystemExit) as exc:
            what, source = _named(model)
            raise ModelFileError(
                _("{what} raised {error}{where}").format(
                    what=what, error=_said(exc), where=_where(exc, source)
                ),
                str(FACTORY_SHAPE),
            ) from None
        shape = list(getattr(out, "shape", []))
        if not isinstance(out, torch.Tensor) or out.dim() != 3 or shape[:2] != list(idx.shape):
            what = _named(model)[0]
            got = (
                _("logits of shape {shape}").format(shape=shape)
                if isinstance(out, torch.Tensor)
                else _an(type(out).__name__)
            )
            raise ModelFileError(
                _("{what} gave {got} for ids of shape {shape}; expected {expected}").format(
                    what=what,
                    got=got,
                    shape=list(idx.shape),
                    expected=list(idx.shape) + ["vocab_size"],
                ),
                str(FACTORY_SHAPE),
            )
        return out
    if targets is None:
        return None
    try:
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1))
    except (IndexError, RuntimeError, ValueError) as exc:  # e.g. fewer scores than characters
        raise ModelFileError(
            _("the logits of {what} do not fit the next characters: {error}").format(
                what=_named(model)[0], error=_said(exc)
            ),
            _("its last layer needs vocab_size outputs, one per character of the corpus"),
        ) from None


def _said(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def _import_file(path: Path, ref: str):
    if not path.exists():
        raise ModelFileError(
            _("--model {ref}: there is no file {path}").format(ref=ref, path=path),
            _("check the path (a relative one is read from {cwd})").format(cwd=Path.cwd()),
        )
    if path.is_dir():
        raise ModelFileError(
            _("--model {ref}: {path} is a folder").format(ref=ref, path=path),
            _("name a .py file in it"),
        )
    name = f"{FILE_MODULE_PREFIX}{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelFileError(
            _("--model {ref}: Python cannot import {path}").format(ref=ref, path=path),
            _("name a .py file"),
        )
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
            _("{path} line {line}: syntax error: {error}").format(
                path=path, line=exc.lineno, error=exc.msg
            ),
            _("fix the line and build again"),
        ) from None
    except (Exception, SystemExit) as exc:
        del sys.modules[name]
        raise ModelFileError(
            _("importing {module} raised {error}{where}").format(
                module=path, error=_said(exc), where=_where(exc, str(path))
            ),
            _("fix the file and build again"),
        ) from None
    return module


def _import_module(module_name: str, ref: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ModelFileError(
                _("--model {ref}: there is no module {module}").format(ref=ref, module=exc.name),
                _("install it, or name a file: --model path/to/file.py:factory"),
            ) from None
        raise ModelFileError(
            _("importing {module} raised {error}{where}").format(
                module=module_name, error=_said(exc), where=""
            ),
            "",
        ) from None
    except SyntaxError as exc:
        raise ModelFileError(
            _("{path} line {line}: syntax error: {error}").format(
                path=exc.filename, line=exc.lineno, error=exc.msg
            ),
            _("fix the line"),
        ) from None
    except (Exception, SystemExit) as exc:
        raise ModelFileError(
            _("importing {module} raised {error}{where}").format(
                module=module_name, error=_said(exc), where=_where(exc, "")
            ),
            _("fix the module"),
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
        listed = ", ".join(defined[:12])
        raise ModelFileError(
            _("{module} has no {name}").format(module=source or target, name=attr),
            _("it defines: {names}; name one of those").format(names=listed)
            if listed
            else _("it defines no function"),
        )
    if not callable(factory):
        raise ModelFileError(
            _("{name} in {module} is {kind}, not a function").format(
                name=attr, module=source or target, kind=_an(type(factory).__name__)
            ),
            _("name a function: {shape}").format(shape=FACTORY_SHAPE),
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
            _("{what} raised {error}{where}").format(
                what=call, error=_said(exc), where=_where(exc, source)
            ),
            _("fix the factory and build again"),
        ) from None
    if not isinstance(model, nn.Module):
        raise ModelFileError(
            _("{call} returned {kind}, not an nn.Module").format(
                call=call, kind=_an(type(model).__name__)
            ),
            str(FACTORY_SHAPE),
        )
    if not any(True for _p in model.parameters()):
        raise ModelFileError(
            _("{call} returned {kind} with no parameters: nothing to train").format(
                call=call, kind=_an(type(model).__name__)
            ),
            _("give it at least one layer with weights (nn.Embedding, nn.Linear…)"),
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
    """Two no-grad forward passes: [PROBE_BATCH, block_size] ids in eval mode, then one id in
    train mode (as a prediction of a one-character text, and training, call it). Each must give
    float logits of shape [batch, length, vocab_size]."""
    V = config.vocab_size
    what = _forward_name(model, source)
    was_training = model.training
    # train mode moves a BatchNorm's running statistics: the probes leave no trace
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    for training, (B, T) in ((False, (PROBE_BATCH, config.block_size)), (True, (1, 1))):
        ids = torch.zeros(B, T, dtype=torch.long, device=device)
        mode = " " + _("(train mode)") if training else ""
        try:
            model.train(training)
            with torch.no_grad():
                out = logits_of(model(ids))
        except (Exception, SystemExit) as exc:
            raise ModelFileError(
                _("{what} on ids of shape [{B}, {T}]{mode} raised {error}{where}").format(
                    what=what, B=B, T=T, mode=mode, error=_said(exc), where=_where(exc, source)
                ),
                str(FACTORY_SHAPE),
            ) from None
        finally:
            model.train(was_training)
            with torch.no_grad():
                for name, b in model.named_buffers():
                    if name in buffers and b.shape == buffers[name].shape:
                        b.copy_(buffers[name])
        if not isinstance(out, torch.Tensor):
            raise ModelFileError(
                _("{what}{mode} returned {kind}, not a tensor of logits").format(
                    what=what, mode=mode, kind=_an(type(out).__name__)
                ),
                str(FACTORY_SHAPE),
            )
        if list(out.shape) != [B, T, V]:
            raise ModelFileError(
                _(
                    "{what}{mode} gave logits of shape {shape} for ids of shape [{B}, {T}]; "
                    "expected [{B}, {T}, {V}] (vocab_size {V})"
                ).format(what=what, mode=mode, shape=list(out.shape), B=B, T=T, V=V),
                str(FACTORY_SHAPE),
            )
        if not out.is_floating_point():
            raise ModelFileError(
                _("{what} gave {dtype} logits").format(
                    what=what, dtype=str(out.dtype).replace("torch.", "")
                ),
                _("return floats"),
            )
