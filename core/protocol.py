"""The engine's wire format: one JSON object per line, in both directions.

Works without torch and without a UI, so that the UI and any script can speak it.

Request  ``{"id": 7, "op": "predict", "args": {...}}``
Reply    ``{"id": 7, "ok": true, "result": {...}}`` or
         ``{"id": 7, "ok": false, "error": {"type": ..., "message": ..., "hint": ...}}``
Event    ``{"event": "train_progress", "data": {...}}`` (unsolicited)
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from core.errors import RequestError, TorchdeckError
from core.i18n import _

PROTOCOL_VERSION = 3
MAX_LINE_BYTES = 1 << 24  # 16 MiB: longer lines are refused unread (both sides)
MAX_DEPTH = 64  # nesting of [...] and {...}; the wire's real messages need fewer than 10
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


@dataclass(frozen=True)
class Request:
    id: int
    op: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorInfo:
    type: str
    message: str
    hint: str = ""


@dataclass(frozen=True)
class Reply:
    id: int
    ok: bool
    result: dict[str, Any] | None = None
    error: ErrorInfo | None = None


@dataclass(frozen=True)
class Event:
    event: str
    data: dict[str, Any] = field(default_factory=dict)


Message = Request | Reply | Event


def _clean(value: Any) -> Any:
    """Make floats JSON-safe: NaN and infinities become strings a reader can show."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def encode(message: Message) -> str:
    """One protocol line, newline included."""
    if isinstance(message, Request):
        obj: dict[str, Any] = {"id": message.id, "op": message.op, "args": message.args}
    elif isinstance(message, Reply):
        obj = {"id": message.id, "ok": message.ok}
        if message.ok:
            obj["result"] = message.result or {}
        else:
            err = message.error or ErrorInfo("Error", _("unknown error"))
            obj["error"] = {"type": err.type, "message": err.message, "hint": err.hint}
    elif isinstance(message, Event):
        obj = {"event": message.event, "data": message.data}
    else:  # pragma: no cover - typing guards this
        raise TypeError(f"not a protocol message: {message!r}")
    try:  # almost every message holds only finite floats: no walk over its values
        return json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError:  # a NaN or an infinity somewhere (a diverged loss)
        return json.dumps(_clean(obj), ensure_ascii=False, allow_nan=False) + "\n"


def too_long(size: int) -> RequestError:
    return RequestError(
        _("protocol line is longer than {limit} bytes ({size}); it was skipped").format(
            limit=MAX_LINE_BYTES, size=size
        ),
        _("send smaller messages, one per line"),
    )


def nesting_depth(text: str) -> int:
    """How deeply ``[`` and ``{`` nest outside strings (a lower bound for broken JSON)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0  # cannot be deeper than the limit: skip the scan
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


def parse_json(line: str | bytes) -> Any:
    """One line's JSON value, within the size and depth limits; RequestError otherwise."""
    if len(line) > MAX_LINE_BYTES:
        raise too_long(len(line))
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RequestError(
                _("protocol line is not UTF-8 (byte {position})").format(position=exc.start),
                _("send UTF-8 JSON"),
            ) from None
    if nesting_depth(line) > MAX_DEPTH:
        raise RequestError(
            _("protocol line nests deeper than {limit} levels; it was skipped").format(
                limit=MAX_DEPTH
            ),
            _("send flatter messages"),
        )
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise RequestError(
            _("protocol line is not JSON: {error} at column {column}").format(
                error=exc.msg, column=exc.colno
            ),
            _("send one JSON object per line, e.g. {example}").format(
                example='{"id": 1, "op": "status", "args": {}}'
            ),
        ) from None
    except RecursionError:  # the depth scan missed it (it cannot, but never die of it)
        raise RequestError(
            _("protocol line nests too deeply"), _("send flatter messages")
        ) from None


def decode(line: str | bytes) -> Message:
    """Parse one line into a Request, Reply or Event; RequestError on anything else."""
    obj = parse_json(line)
    if not isinstance(obj, dict):
        raise RequestError(
            _("protocol line is not a JSON object"),
            _("wrap the message in {braces}").format(braces="{...}"),
        )
    if "event" in obj:
        data = obj.get("data") or {}
        if not isinstance(obj["event"], str) or not isinstance(data, dict):
            raise RequestError(_("event needs a string 'event' and an object 'data'"), "")
        return Event(obj["event"], data)
    if "op" in obj:
        req_id = obj.get("id")
        if not isinstance(req_id, int) or isinstance(req_id, bool):
            raise RequestError(
                _("request has no integer 'id'"), _('add "id": <int> to the request')
            )
        if not isinstance(obj["op"], str):
            raise RequestError(_("request 'op' is not a string"), _('e.g. "op": "status"'))
        args = obj.get("args", {})
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise RequestError(
                _("request 'args' is not an object"),
                _("e.g. {example}").format(example='"args": {}'),
            )
        return Request(req_id, obj["op"], args)
    if "ok" in obj and "id" in obj:
        if not isinstance(obj["id"], int) or isinstance(obj["id"], bool):
            raise RequestError(_("reply has no integer 'id'"), "")
        if obj["ok"]:
            result = obj.get("result") or {}
            if not isinstance(result, dict):
                raise RequestError(_("reply 'result' is not an object"), "")
            return Reply(obj["id"], True, result=result)
        err = obj.get("error") or {}
        if not isinstance(err, dict):
            err = {"message": str(err)}
        info = ErrorInfo(
            str(err.get("type", "Error")), str(err.get("message", "")), str(err.get("hint", ""))
        )
        return Reply(obj["id"], False, error=info)
    raise RequestError(
        _("protocol object is neither a request, a reply nor an event"),
        _("a request needs 'id' and 'op'"),
    )


def error_info(exc: BaseException) -> ErrorInfo:
    """An exception as a protocol error: a TorchdeckError keeps its message and hint; anything
    else is named by its type and first line, its traceback left to the engine's stderr."""
    if isinstance(exc, TorchdeckError):
        return ErrorInfo(type(exc).__name__, exc.message, exc.hint)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = _("an unexpected engine error; its traceback is on the engine's stderr")
    if "out of memory" in message.lower():
        hint = _("lower the batch size or the model size, or use another device")
    return ErrorInfo(type(exc).__name__, message[:500], hint)


# ---------------------------------------------------------------------------------------------
# Argument checking, shared by the engine (which enforces it) and any client (which may pre-check).


@dataclass(frozen=True)
class Arg:
    """One argument of an op: its JSON type, whether it may be left out, and its range."""

    kind: type | tuple[type, ...]
    required: bool = False
    check: Callable[[Any], bool] | None = None
    expect: str = ""  # what `check` wants, in words, for the error message
    nullable: bool = False


def type_words(kind: type | tuple[type, ...]) -> str:
    """A JSON type in words: ``int`` → "an integer", ``(int, str)`` → "an integer or a string"."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        int: _("an integer"),
        float: _("a number"),
        str: _("a string"),
        bool: _("true or false"),
        dict: _("an object"),
        list: _("a list"),
    }
    words = [names.get(k, k.__name__) for k in kinds]
    text = words[0] if words else ""
    for word in words[1:]:
        text = _("{choices} or {choice}").format(choices=text, choice=word)
    return text


def check_args(op: str, args: dict[str, Any], spec: dict[str, Arg]) -> dict[str, Any]:
    """Return ``args`` with numbers coerced (int → float where a number is wanted).

    Raises RequestError naming the op, the argument, what was given and what is expected.
    """
    unknown = sorted(set(args) - set(spec))
    if unknown:
        raise RequestError(
            _("{op}: unknown argument(s) {names}").format(op=op, names=", ".join(unknown)),
            _("{op} takes: {names}").format(
                op=op, names=", ".join(sorted(spec)) or _("no arguments")
            ),
        )
    out: dict[str, Any] = {}
    for name, arg in spec.items():
        if name not in args:
            if arg.required:
                raise RequestError(
                    _("{op}: missing argument '{name}'").format(op=op, name=name),
                    _("give '{name}' as {expected}").format(
                        name=name, expected=type_words(arg.kind)
                    ),
                )
            continue
        value = args[name]
        if value is None and arg.nullable:
            out[name] = None
            continue
        kinds = arg.kind if isinstance(arg.kind, tuple) else (arg.kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok_type = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok_type:
            raise RequestError(
                _("{op}: '{name}' must be {expected}, got {value}").format(
                    op=op, name=name, expected=type_words(arg.kind), value=shown(value)
                ),
                _("give '{name}' as {expected}").format(name=name, expected=type_words(arg.kind)),
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise RequestError(
                _("{op}: '{name}' must be finite, got {value!r}").format(
                    op=op, name=name, value=value
                ),
                _("give '{name}' a finite number").format(name=name),
            )
        if arg.check is not None and not arg.check(value):
            raise RequestError(
                _("{op}: '{name}' = {value} is out of range").format(
                    op=op, name=name, value=shown(value)
                ),
                _("'{name}' must be {expected}").format(name=name, expected=arg.expect),
            )
        out[name] = value
    return out


def shown(value: Any, width: int = 60) -> str:
    """``value`` as an error message quotes it: its repr, cut to ``width`` characters, and
    never built whole for a huge string or list a client sent (reprlib stops early)."""
    brief = reprlib.Repr()
    brief.maxstring = brief.maxother = width
    brief.maxlist = brief.maxdict = brief.maxtuple = brief.maxset = 8
    try:
        text = brief.repr(value)
    except ValueError:  # an int past Python's 4,300-digit limit for printing
        digits = int(abs(value).bit_length() * 0.30103) + 1 if isinstance(value, int) else 0
        text = _("an integer of about {count} digits").format(count=f"{digits:,}")
    return text if len(text) <= width else text[: width - 3] + "..."


def request_id_of(raw: bytes) -> int | None:
    """The integer id of a request line that failed to decode, if it has one."""
    try:
        obj = parse_json(raw)
    except RequestError:
        return None
    if isinstance(obj, dict) and "op" in obj:
        req_id = obj.get("id")
        if isinstance(req_id, int) and not isinstance(req_id, bool):
            return req_id
    return None
