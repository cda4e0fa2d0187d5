"""torch.compile for the training step's forward pass, with its cost shown and its failure
survived. Works without a UI.

The first step that runs compiled pays the compile (tens of seconds on a cold cache; inductor's
own caches, kept in the user's cache folder, make a second run's compile a few seconds). It is
announced before it begins and after it ends through ``notify`` (the engine's ``compile``
event), so a client can show it while the engine answers nothing. When compiling fails (no C
compiler, an op the compiler does not take, a model it cannot trace), the same step runs again
eager from the same batch and random state, and the run goes on eager: one line says why.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from core.contract import CompileState
from core.i18n import _


def cache_dir() -> Path:
    """Where inductor keeps what it compiled: under the user's cache folder, so it outlives a
    cleaned /tmp (``$TORCHINDUCTOR_CACHE_DIR`` wins where set)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "torchdeck" / "inductor"


def use_cache_dir() -> None:
    """Point inductor at :func:`cache_dir` unless the person chose a folder."""
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir()))


def one_line(exc: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message, and those
    of the error it wraps (the compiler's messages run to pages; the cause is what matters)."""
    words = [_first_line(exc)]
    seen = {id(exc)}
    inner = getattr(exc, "inner_exception", None) or exc.__cause__
    while isinstance(inner, BaseException) and id(inner) not in seen:
        seen.add(id(inner))
        words.append(_first_line(inner))
        inner = getattr(inner, "inner_exception", None) or inner.__cause__
    root = words[-1].split(": ", 1)[-1]
    if len(words) == 1 or root in words[0]:  # the wrapper already says it
        return words[0]
    return f"{words[0]} ← {words[-1]}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0].strip() if text else ""
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


class StepCompiler:
    """Compiles the module a training step calls, once, at the first step (lazily: building a
    session stays quick, and a run that never trains never compiles)."""

    def __init__(self, wanted: bool, backend: str | object | None = None) -> None:
        self.wanted = wanted
        # $TORCHDECK_COMPILE_BACKEND: "eager" or "aot_eager" tell a failure of the tracing from
        # one of the code generation (torch.compile's own backends); inductor by default
        self.backend = backend or os.environ.get("TORCHDECK_COMPILE_BACKEND") or "inductor"
        self.notify = None  # callable(CompileState): the engine sends it as an event
        self.compiled = None  # the compiled module, once it compiled
        self.source = None  # the module it was made from
        self.seconds: float | None = None  # how long the compile took
        self.failed: str | None = None  # why compiling failed (the run goes on eager)

    @property
    def pending(self) -> bool:
        return self.wanted and self.compiled is None and self.failed is None

    def module(self, net):
        """What the step calls: the compiled module once there is one for ``net``."""
        return self.compiled if self.compiled is not None and self.source is net else net

    def first_step(self, trainer, step) -> None:
        """Run ``step()`` (one training step of ``trainer``) compiled; on a failure, again
        eager from the same batch and random state."""
        import torch

        state = _random_state(trainer)
        self._tell("started", trainer.step)
        started = time.perf_counter()
        try:
            use_cache_dir()
            self.source = trainer.net
            self.compiled = torch.compile(self.source, backend=self.backend)
            step()
        except Exception as exc:
            self.compiled = None
            self.failed = one_line(exc)
            seconds = time.perf_counter() - started
            _restore(trainer, state)
            trainer.optimizer.zero_grad(set_to_none=True)
            trainer.restart_clock()
            step()  # eager: an error here is the model's own, raised as ever
            self._tell(
                "failed",
                trainer.step - 1,
                seconds,
                _(
                    "torch.compile failed ({problem}); training goes on eager (--no-compile "
                    "skips trying)"
                ).format(problem=self.failed),
            )
            return
        self.seconds = time.perf_counter() - started
        self._tell("done", trainer.step - 1, self.seconds)

    def _tell(self, state: str, step: int, seconds: float = 0.0, message: str = "") -> None:
        if self.notify is not None:
            self.notify(CompileState(state, step, round(seconds, 2), message))


def _random_state(trainer) -> tuple:
    import torch

    cuda = trainer.device.type == "cuda"
    return (
        trainer.generator.get_state(),
        torch.get_rng_state(),
        torch.cuda.get_rng_state(trainer.device) if cuda else None,
    )


def _restore(trainer, state: tuple) -> None:
    import torch

    generator, rng, cuda_rng = state
    trainer.generator.set_state(generator)
    torch.set_rng_state(rng)
    if cuda_rng is not None:
        torch.cuda.set_rng_state(cuda_rng, trainer.device)
