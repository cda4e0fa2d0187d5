"""The tensor playground: a persistent Python namespace in the engine where a cell of code runs,
its printed text is captured and its last expression is described (tensors with a one-line
summary, modules with their parameter count), and errors come back plainly with a hint.

Works without a UI: the engine exposes it as the ops ``exec``, ``complete`` and
``playground_reset``; a script or a test can drive it through :class:`Playground` directly.

Security: a cell is arbitrary Python, run as the user who started the engine, like any REPL.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import keyword
import linecache
import math
import os
import re
import reprlib
import time
import traceback
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the name every PyTorch user types
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from core.errors import TorchdeckError
from core.protocol import Arg

DEFAULT_MEMORY_SHARE = 0.5  # a cell may ask for at most this share of the free memory at once
MAX_TEXT = 20_000  # characters of printed text, and of a value's display, sent per cell
MAX_CODE = 1_000_000
MAX_CANDIDATES = 200
SESSION_NAMES = ("model", "tokenizer", "data")


class MemoryGuardError(TorchdeckError, MemoryError):
    """A cell asked for a tensor larger than its share of the free memory."""


# -- memory guard ------------------------------------------------------------------------------

def available_bytes(device: torch.device | None = None) -> int:
    """Free memory a new tensor on ``device`` can take: the GPU's free memory (plus what torch's
    cache holds unused), or the machine's available RAM."""
    if device is not None and device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + max(cached, 0))
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: no limit rather than a wrong one


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"  # pragma: no cover


_SIZE_FIRST = {"empty", "zeros", "ones", "full", "rand", "randn", "empty_strided"}
_SIZE_AFTER_SELF = {"new_empty", "new_zeros", "new_ones", "new_full", "new_empty_strided"}


_SIZED = _SIZE_FIRST | _SIZE_AFTER_SELF | {"randint", "randperm", "eye", "arange", "linspace",
                                          "logspace", "repeat", "mm", "addmm", "bmm", "baddbmm",
                                          "cat", "stack", "clone", "_to_copy"}
_KINDS: dict = {}  # aten op -> its name if the guard sizes it, "pointwise", or ""


def _kind(func) -> str:
    name = func.overloadpacket.__name__
    if name in _SIZED:
        return name
    return "pointwise" if torch.Tag.pointwise in func.tags else ""


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


class _MemoryGuard(TorchDispatchMode):
    """Refuses, before anything is allocated, an op whose new tensor would exceed ``share`` of
    the free memory: factory ops (their size is an argument), ``repeat``, ``cat``/``stack``,
    copies (of an expanded view too), matrix products and broadcasting element-wise ops (their
    size follows from the inputs' shapes). Other ops run unchecked."""

    def __init__(self, share: float) -> None:
        super().__init__()
        self.share = share

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch would otherwise wrap __torch_dispatch__ in a Dynamo guard: that imports
        # torch._dynamo on the first cell (1.4 s here) and costs a few µs on every op
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        kind = _KINDS.get(func)
        if kind is None:
            kind = _KINDS[func] = _kind(func)
        if kind:
            try:
                numel, dtype, device = self._estimate(func, kind, args, kwargs)
            except Exception:  # an op we cannot size: let it run
                numel = 0
            if numel > 1 << 20:  # under a million elements nothing is worth a system call
                self._check(numel, dtype, device)
        return func(*args, **kwargs)

    def _estimate(self, func, name, args, kwargs):
        dtype = kwargs.get("dtype")
        device = kwargs.get("device")
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if tensors:
            dtype = dtype or tensors[0].dtype
            device = device or tensors[0].device
        if name in _SIZE_FIRST:
            numel = _numel(args[0])
        elif name in _SIZE_AFTER_SELF:
            numel = _numel(args[1])
        elif name == "randint":
            numel = _numel(args[-1] if isinstance(args[-1], (list, tuple)) else kwargs["size"])
            dtype = dtype or torch.int64
        elif name == "randperm":
            numel, dtype = int(args[0]), dtype or torch.int64
        elif name == "eye":
            numel = int(args[0]) * int(args[1] if len(args) > 1 else args[0])
        elif name in ("arange", "linspace", "logspace"):
            if name == "arange":
                nums = [float(a) for a in args if isinstance(a, (int, float))]
                start, end, step = (0.0, nums[0], 1.0) if len(nums) == 1 else (
                    nums + [1.0])[:3] if len(nums) == 2 else nums[:3]
                numel = max(0, math.ceil((end - start) / step))
                if all(isinstance(a, int) for a in args if isinstance(a, (int, float))):
                    dtype = dtype or torch.int64
            else:
                numel = int(args[2])
        elif name == "repeat":
            reps = list(args[1])
            shape = [1] * (len(reps) - tensors[0].dim()) + list(tensors[0].shape)
            numel = _numel(s * r for s, r in zip(shape, reps))
        elif name in ("cat", "stack"):
            parts = [t for t in args[0] if isinstance(t, torch.Tensor)]
            numel = sum(t.numel() for t in parts)
            dtype, device = dtype or parts[0].dtype, device or parts[0].device
        elif name in ("clone", "_to_copy"):  # a copy of an expanded view is as big as the view
            numel = tensors[0].numel()
        elif name in ("mm", "addmm", "bmm", "baddbmm"):
            a, b = tensors[-2], tensors[-1]
            numel = _numel(a.shape[:-1]) * int(b.shape[-1])
        elif name == "pointwise" and len(tensors) > 1:
            sizes = sorted(t.numel() for t in tensors)
            if sizes[-1] * sizes[-2] <= 1 << 20:  # the output cannot be bigger than this
                return 0, dtype, device
            numel = _numel(torch.broadcast_shapes(*(t.shape for t in tensors)))
        else:
            numel = 0
        return numel, dtype or torch.get_default_dtype(), torch.device(device or "cpu")

    def _check(self, numel: int, dtype: torch.dtype, device: torch.device) -> None:
        wanted = numel * dtype.itemsize
        free = available_bytes(device)
        if wanted > self.share * free:
            raise MemoryGuardError(
                f"this cell asked for a {fmt_bytes(wanted)} tensor ({numel:,} × {dtype}) on "
                f"{device}; the limit is {self.share:.0%} of the {fmt_bytes(free)} free",
                "use a smaller size; the guard keeps one cell from taking the machine down "
                "(raise the share with the exec argument memory_share if you really mean it)")


@contextlib.contextmanager
def _address_space_limit(share: float):
    """On a machine without CUDA, cap the engine's address space for the cell at its current
    size plus ``share`` of the available RAM, so that an allocation the guard cannot size (a
    huge Python list, a NumPy array) fails with MemoryError instead of waking the OOM killer.
    Skipped where CUDA exists: its driver reserves vast address ranges and must not be capped."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Linux/macOS
        yield
        return
    if torch.cuda.is_available() or not os.path.exists("/proc/self/statm"):
        yield
        return
    with open("/proc/self/statm", encoding="ascii") as fh:
        current = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = current + int(share * available_bytes()) + (256 << 20)  # slack: thread stacks
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= limit:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# -- displaying values -------------------------------------------------------------------------

def _cut(text: str, limit: int = MAX_TEXT) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return (text[:limit] + f"\n… {len(text) - limit:,} more characters not shown"), True


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


DTYPE_SHORT = {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16",
               torch.bfloat16: "bf16", torch.int64: "i64", torch.int32: "i32",
               torch.int16: "i16", torch.int8: "i8", torch.uint8: "u8", torch.bool: "bool",
               torch.complex64: "c64", torch.complex128: "c128"}
STATS_SAMPLE = 1 << 24  # above this many elements the statistics come from an even sample


def tensor_stats(t: torch.Tensor) -> dict | None:
    """min, max, mean, std and NaN/Inf counts of a real tensor (None for empty, complex, meta
    or sparse tensors). Big tensors are sampled evenly (``sampled`` says so)."""
    if (t.numel() == 0 or t.is_complex() or t.layout != torch.strided
            or t.device.type == "meta"):
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
        stats = {"nan": nan, "inf": inf, "sampled": sampled, "min": None, "max": None,
                 "mean": None, "std": None}
        if good.numel():
            stats.update(min=good.min().item(), max=good.max().item(), mean=good.mean().item(),
                         std=good.std().item() if good.numel() > 1 else None)
        return stats


def tensor_header(t: torch.Tensor) -> str:
    """One line, as lovely-tensors prints it: shape, dtype, device, grad state, statistics."""
    kind = "Parameter" if isinstance(t, nn.Parameter) else "tensor"
    parts = [f"{kind}{list(t.shape)}", f"n={t.numel():,}",
             DTYPE_SHORT.get(t.dtype, str(t.dtype).replace("torch.", "")), str(t.device)]
    if t.requires_grad:
        parts.append("requires_grad")
    if t.grad_fn is not None:
        parts.append(f"grad_fn={type(t.grad_fn).__name__}")
    stats = tensor_stats(t)
    if stats is None:
        parts.append("empty" if t.numel() == 0 else "")
    elif "true" in stats:
        parts.append(f"{stats['true']:,} true of {stats['count']:,}")
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
        out.update(kind="tensor", header=tensor_header(value), shape=list(value.shape),
                   dtype=str(value.dtype), device=str(value.device),
                   requires_grad=value.requires_grad,
                   grad_fn=type(value.grad_fn).__name__ if value.grad_fn is not None else None,
                   stats=tensor_stats(value))
        with torch._tensor_str.printoptions(threshold=400, edgeitems=3, linewidth=76):
            text = repr(value)
    elif isinstance(value, nn.Module):
        total, trainable = count_params(value)
        devices = sorted({str(p.device) for p in value.parameters()}) or ["no parameters"]
        out.update(kind="module", params=total, trainable_params=trainable,
                   header=f"{type(value).__name__} · {total:,} parameters "
                          f"({trainable:,} trainable) · {', '.join(devices)}")
        text = repr(value)
    elif isinstance(value, np.ndarray):
        out.update(kind="ndarray", shape=list(value.shape), dtype=str(value.dtype),
                   header=f"ndarray{list(value.shape)} {value.dtype}")
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
        return {"kind": "object", "type": type(value).__qualname__, "header": None,
                "text": f"<{type(value).__qualname__}: cannot be shown: {exc}>"[:MAX_TEXT],
                "truncated": False}


# -- errors and their hints --------------------------------------------------------------------

_MATMUL_SHAPES = re.compile(r"\((\d+x\d+) and (\d+x\d+)\)")


def hint_for(exc: BaseException) -> str:
    """A short hint for the mistakes learners make most (LESSONS.md L3/L4), or ''."""
    msg = str(exc)
    if isinstance(exc, TorchdeckError):
        return exc.hint
    if "backward through the graph a second time" in msg:
        return ("the first backward() freed the graph's saved values; pass "
                "retain_graph=True to that first backward() if you need a second pass, or "
                "run the forward pass again")
    if isinstance(exc, TypeError) and re.search(r"must be Tensor, not (int|float)", msg):
        return ("a layer takes a tensor, not a Python number: for row i of a Linear's weight "
                "write l.weight[i]; to look a token up, use nn.Embedding with torch.tensor([i])")
    m = _MATMUL_SHAPES.search(msg)
    if m and "cannot be multiplied" in msg:
        a, b = m.group(1).split("x"), m.group(2).split("x")
        return (f"A @ B needs A's columns to equal B's rows: A is {a[0]}×{a[1]}, B is "
                f"{b[0]}×{b[1]}, and {a[1]} ≠ {b[0]}; transpose one side (.T) or check the "
                "layer's in_features")
    if re.search(r"inconsistent tensor size|size mismatch, got input|dimensions of batch2", msg):
        return ("A @ B needs A's last size to equal B's second-to-last (a vector's only size); "
                "compare A.shape and B.shape, and transpose one side (.T) if needed")
    if "size of tensor a" in msg and "must match the size of tensor b" in msg:
        return ("element-wise ops broadcast: sizes must be equal or 1, compared from the last "
                "dimension; print both .shape values")
    if re.search(r"expected (m1 and m2|mat1 and mat2|both|scalar type)|same dtype|"
                 r"expected scalar type", msg, re.I) and re.search(
                     r"Long|Float|Int|Double|Half|float|long|int", msg):
        return ("the two sides have different dtypes: torch.tensor([1, 2]) is Long (int64), "
                "weights are Float (float32); convert with .float() or .long()")
    if isinstance(exc, IndexError) and "index out of range in self" in msg:
        return ("an id is outside the Embedding: nn.Embedding(n, d) accepts ids 0 … n-1; "
                "compare ids.max() with num_embeddings")
    if "indices" in msg and "scalar types" in msg:
        return "an Embedding takes integer ids: convert them with .long()"
    if isinstance(exc, NameError):
        return "names live until the namespace is reset; run the cell that defines it first"
    if isinstance(exc, MemoryError) or "can't allocate memory" in msg or "out of memory" in msg:
        return "that needs more memory than is free: use smaller sizes"
    if isinstance(exc, SystemExit):
        return "exit() would end the engine; the playground keeps running instead"
    return ""


# -- the playground ----------------------------------------------------------------------------

class _BoundedText(io.TextIOBase):
    """A text sink that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int = MAX_TEXT) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        s = str(s)
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(s[:room])
            self.kept += min(len(s), room)
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def text(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n… {self.dropped:,} more characters not shown"
        return text


def fresh_namespace() -> dict[str, Any]:
    return {"__name__": "__playground__", "__builtins__": builtins, "torch": torch, "nn": nn,
            "F": F, "np": np, "model": None, "tokenizer": None, "data": None}


class Playground:
    """A persistent namespace and the cells run in it."""

    def __init__(self) -> None:
        self.namespace = fresh_namespace()
        self.cells = 0
        self._bound: dict[str, Any] = {}
        self._bound_session: Any = None

    def reset(self) -> None:
        self.namespace = fresh_namespace()
        self._bound = {}
        self._bound_session = None

    def bind(self, session: Any) -> None:
        """Point ``model``, ``tokenizer``, ``data`` at the session's. A name the person rebound
        keeps their object until the session changes (a configure, reset or load)."""
        new_session = session is not self._bound_session
        for name in SESSION_NAMES:
            obj = getattr(session, name, None) if session is not None else None
            current = self.namespace.get(name, None)
            if new_session or name not in self.namespace or current is self._bound.get(name):
                self.namespace[name] = obj
                self._bound[name] = obj
        self._bound_session = session

    def run(self, code: str, memory_share: float = DEFAULT_MEMORY_SHARE) -> dict:
        """Run one cell. Returns ``stdout`` (captured text), ``value`` (:func:`describe` of the
        last expression, or None), ``error`` (type, message, line, lineno, hint; or None),
        ``cell`` (its number) and ``seconds``. KeyboardInterrupt passes through (the engine
        answers it as Interrupted)."""
        self.cells += 1
        filename = f"<cell {self.cells}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        out = _BoundedText()
        value = error = None
        started = time.perf_counter()
        try:
            body, last = self._compile(code, filename)
        except SyntaxError as exc:
            error = self._syntax_error(exc, code)
        else:
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), \
                        _address_space_limit(memory_share), _MemoryGuard(memory_share):
                    exec(body, self.namespace)
                    result = eval(last, self.namespace) if last is not None else None
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # SystemExit too: a cell must never end the engine
                error = self._error(exc, code, filename)
            else:
                if result is not None:
                    self.namespace["_"] = result
                    value = safe_describe(result)  # outside the guard: showing is not asking
        return {"cell": self.cells, "stdout": out.text(), "value": value, "error": error,
                "seconds": time.perf_counter() - started}

    @staticmethod
    def _compile(code: str, filename: str):
        tree = ast.parse(code, filename, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            expr = ast.Expression(tree.body.pop().value)
            last = compile(expr, filename, "eval")
        return compile(tree, filename, "exec"), last

    @staticmethod
    def _syntax_error(exc: SyntaxError, code: str) -> dict:
        lines = code.splitlines()
        lineno = exc.lineno or 0
        line = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
        return {"type": type(exc).__name__, "message": exc.msg, "lineno": lineno, "line": line,
                "hint": "check brackets, colons and indentation on that line"}

    def _error(self, exc: BaseException, code: str, filename: str) -> dict:
        lineno, line = 0, ""
        for frame, frame_lineno in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename == filename:
                lineno = frame_lineno
        lines = code.splitlines()
        if 0 < lineno <= len(lines):
            line = lines[lineno - 1].strip()
        text = str(exc).strip()  # the first line carries the point; torch adds advice below
        message = (exc.message if isinstance(exc, TorchdeckError)
                   else text.splitlines()[0] if text else "")
        if isinstance(exc, MemoryError) and not message:
            message = "out of memory: an allocation in this cell failed"
        if isinstance(exc, SystemExit):
            message = f"exit({exc.code if exc.code is not None else ''}) was called"
        hint = hint_for(exc)
        if hint.startswith("A @ B") and line:
            shapes = self._operand_shapes(line)
            if shapes:
                hint += f" (here: {shapes})"
        return {"type": type(exc).__name__, "message": message[:2000], "lineno": lineno,
                "line": line[:500], "hint": hint}

    def _operand_shapes(self, line: str) -> str:
        """'a is [2, 3], b is [4, 2]' for the named operands of @ (or matmul/mm/bmm) in
        ``line``; names and dotted attributes only, nothing is called."""
        try:
            tree = ast.parse(line.split("#")[0].strip())
        except SyntaxError:
            return ""
        operands = []
        for node in ast.walk(tree):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
                operands += [node.left, node.right]
            elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
                  and getattr(node.func, "attr", getattr(node.func, "id", "")) in
                  ("matmul", "mm", "bmm", "mv", "dot")):
                operands += node.args[:2]
        found = []
        for op in operands:
            text = ast.unparse(op)
            if re.fullmatch(r"[A-Za-z_][\w.]*", text):
                obj = self._resolve(text)
                if isinstance(obj, torch.Tensor):
                    found.append(f"{text} is {list(obj.shape)}")
        return ", ".join(dict.fromkeys(found))

    # -- tab completion ------------------------------------------------------------------------

    def complete(self, code: str, cursor: int | None = None) -> dict:
        """Names and attributes that complete the word before ``cursor``: ``start`` (where the
        replaced word begins), ``prefix`` and sorted ``candidates`` (at most MAX_CANDIDATES).
        Attributes are found with getattr on a dotted name only; nothing is called."""
        cursor = len(code) if cursor is None else cursor
        m = re.search(r"[A-Za-z_][\w.]*$|\.?$", code[:cursor])
        word = m.group(0) if m else ""
        head, dot, prefix = word.rpartition(".")
        if dot:
            obj = self._resolve(head)
            names = [] if obj is _MISSING else _attributes(obj)
        else:
            names = list(self.namespace) + dir(builtins) + keyword.kwlist
        hide_private = not prefix.startswith("_")
        found = sorted({n for n in names if n.startswith(prefix)
                        and not (hide_private and n.startswith("_"))})
        return {"start": cursor - len(prefix), "prefix": prefix,
                "candidates": found[:MAX_CANDIDATES], "more": max(0, len(found) - MAX_CANDIDATES)}

    def _resolve(self, dotted: str) -> Any:
        parts = dotted.split(".")
        if not parts[0]:
            return _MISSING
        if parts[0] in self.namespace:
            obj = self.namespace[parts[0]]
        elif hasattr(builtins, parts[0]):
            obj = getattr(builtins, parts[0])
        else:
            return _MISSING
        for part in parts[1:]:
            try:
                obj = getattr(obj, part)
            except Exception:
                return _MISSING
        return obj


_MISSING = object()


def _attributes(obj: Any) -> list[str]:
    try:
        return dir(obj)
    except Exception:
        return []


# -- engine ops ----------------------------------------------------------------------------------

def engine_ops(engine) -> dict:
    playground = Playground()
    engine.playground = playground

    def op_exec(args: dict) -> dict:
        code = args["code"]
        if len(code) > MAX_CODE:
            raise TorchdeckError(f"the cell is {len(code):,} characters long",
                                 f"a cell holds at most {MAX_CODE:,} characters")
        playground.bind(engine.session)
        result = playground.run(code, args.get("memory_share", DEFAULT_MEMORY_SHARE))
        result["state"] = engine.state
        result["step"] = engine.session.trainer.step if engine.session is not None else None
        return result

    def op_complete(args: dict) -> dict:
        playground.bind(engine.session)
        code = args["code"]
        cursor = args.get("cursor", len(code))
        if cursor > len(code):
            raise TorchdeckError(f"cursor {cursor} is past the end of the code ({len(code)})",
                                 "give a cursor between 0 and len(code)")
        return playground.complete(code, cursor)

    def op_reset(args: dict) -> dict:
        playground.reset()
        playground.bind(engine.session)
        return {"names": sorted(k for k in playground.namespace if not k.startswith("__"))}

    share = Arg(float, check=lambda v: 0 < v <= 1, expect="a share in (0, 1], e.g. 0.5")
    return {
        "exec": (op_exec, {"code": Arg(str, required=True), "memory_share": share}),
        "complete": (op_complete, {"code": Arg(str, required=True),
                                   "cursor": Arg(int, check=lambda v: v >= 0,
                                                 expect="an integer ≥ 0")}),
        "playground_reset": (op_reset, {}),
    }


__all__ = ["DEFAULT_MEMORY_SHARE", "MemoryGuardError", "Playground", "describe", "engine_ops",
           "hint_for", "safe_describe"]
