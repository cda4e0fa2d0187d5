"""The playground's persistent namespace and the cells run in it: printed text is captured and
bounded, the last expression is described, errors come back with their line and a hint, and
tab completion looks names and attributes up without calling anything."""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import keyword
import linecache
import re
import time
import traceback
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the name every PyTorch user types
from torch import nn

from core.errors import TorchdeckError
from core.i18n import _
from core.playground.describe import MAX_TEXT, safe_describe
from core.playground.guard import DEFAULT_MEMORY_SHARE, MemoryGuard, address_space_limit
from core.playground.hints import hint_for

MAX_CANDIDATES = 200
SESSION_NAMES = ("model", "tokenizer", "data")


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
            text += "\n… " + _("{count} more characters not shown").format(
                count=f"{self.dropped:,}"
            )
        return text


def fresh_namespace() -> dict[str, Any]:
    return {
        "__name__": "__playground__",
        "__builtins__": builtins,
        "torch": torch,
        "nn": nn,
        "F": F,
        "np": np,
        "model": None,
        "tokenizer": None,
        "data": None,
    }


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
                with (
                    contextlib.redirect_stdout(out),
                    contextlib.redirect_stderr(out),
                    address_space_limit(memory_share),
                    MemoryGuard(memory_share),
                ):
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
        return {
            "cell": self.cells,
            "stdout": out.text(),
            "value": value,
            "error": error,
            "seconds": time.perf_counter() - started,
        }

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
        return {
            "type": type(exc).__name__,
            "message": exc.msg,
            "lineno": lineno,
            "line": line,
            "hint": _("check brackets, colons and indentation on that line"),
        }

    def _error(self, exc: BaseException, code: str, filename: str) -> dict:
        lineno, line = 0, ""
        for frame, frame_lineno in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename == filename:
                lineno = frame_lineno
        lines = code.splitlines()
        if 0 < lineno <= len(lines):
            line = lines[lineno - 1].strip()
        text = str(exc).strip()  # the first line carries the point; torch adds advice below
        message = (
            exc.message if isinstance(exc, TorchdeckError) else text.splitlines()[0] if text else ""
        )
        if isinstance(exc, MemoryError) and not message:
            message = _("out of memory: an allocation in this cell failed")
        if isinstance(exc, SystemExit):
            code_text = exc.code if exc.code is not None else ""
            message = _("exit({code}) was called").format(code=code_text)
        hint = hint_for(exc)
        if hint.startswith("A @ B") and line:
            shapes = self._operand_shapes(line)
            if shapes:
                hint += " " + _("(here: {shapes})").format(shapes=shapes)
        return {
            "type": type(exc).__name__,
            "message": message[:2000],
            "lineno": lineno,
            "line": line[:500],
            "hint": hint,
        }

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
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, (ast.Attribute, ast.Name))
                and getattr(node.func, "attr", getattr(node.func, "id", ""))
                in ("matmul", "mm", "bmm", "mv", "dot")
            ):
                operands += node.args[:2]
        found = []
        for op in operands:
            text = ast.unparse(op)
            if re.fullmatch(r"[A-Za-z_][\w.]*", text):
                obj = self._resolve(text)
                if isinstance(obj, torch.Tensor):
                    found.append(_("{name} is {shape}").format(name=text, shape=list(obj.shape)))
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
        found = sorted(
            {n for n in names if n.startswith(prefix) and not (hide_private and n.startswith("_"))}
        )
        return {
            "start": cursor - len(prefix),
            "prefix": prefix,
            "candidates": found[:MAX_CANDIDATES],
            "more": max(0, len(found) - MAX_CANDIDATES),
        }

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
