"""The tensor playground: a persistent Python namespace in the engine where a cell of code runs,
its printed text is captured and its last expression is described (tensors with a one-line
summary, modules with their parameter count), and errors come back plainly with a hint.

Works without a UI: the engine exposes it as the ops ``exec``, ``complete`` and
``playground_reset``; a script or a test can drive it through :class:`Playground` directly.

Security: a cell is arbitrary Python, run as the user who started the engine, like any REPL.

Modules: ``guard`` (the memory guard and the address-space cap), ``describe`` (how a value is
shown), ``hints`` (hints for common errors), ``namespace`` (:class:`Playground`: the namespace,
cells, completion), ``ops`` (the engine ops). The recipes live in the torch-free
``core.playground_recipes``, outside this package: importing anything here loads torch.
"""

from core.playground.describe import (
    DTYPE_SHORT,
    MAX_TEXT,
    STATS_SAMPLE,
    count_params,
    describe,
    safe_describe,
    tensor_header,
    tensor_stats,
)
from core.playground.guard import DEFAULT_MEMORY_SHARE, MemoryGuardError, available_bytes
from core.playground.hints import hint_for
from core.playground.namespace import MAX_CANDIDATES, SESSION_NAMES, Playground, fresh_namespace
from core.playground.ops import MAX_CODE, engine_ops

__all__ = [
    "DEFAULT_MEMORY_SHARE",
    "DTYPE_SHORT",
    "MAX_CANDIDATES",
    "MAX_CODE",
    "MAX_TEXT",
    "SESSION_NAMES",
    "STATS_SAMPLE",
    "MemoryGuardError",
    "Playground",
    "available_bytes",
    "count_params",
    "describe",
    "engine_ops",
    "fresh_namespace",
    "hint_for",
    "safe_describe",
    "tensor_header",
    "tensor_stats",
]
