"""How a typed message is declared: a dataclass whose fields carry their wire rule.

Each field made with :func:`arg` holds a :class:`core.protocol.Arg` (its JSON type, range and
the words for that range) in its metadata. From that one declaration come:

- ``Cls.spec()``: the engine's argument check for the op (``check_args``);
- ``Cls.from_args(op, args)``: checked wire arguments → the typed object;
- ``obj.validate()``: the same ranges checked on an object built in Python (settings);
- ``Cls.field_rule(name)`` and :func:`parse_text`: the same ranges for text typed into a form
  or given on the command line;
- ``obj.to_dict()`` / ``Cls.from_dict(d)``: plain data for JSON, and back (results, events);
  ``Cls.parse(d)`` is ``from_dict`` that first checks each value against its field's type
  (:class:`MalformedMessage` otherwise): what a client does with what the engine sends.

Imports no torch and no UI library.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, ClassVar, TypeVar

from core.errors import ConfigError
from core.i18n import _
from core.protocol import Arg, check_args, shown, type_words

T = TypeVar("T", bound="Contract")
_RULE = "torchdeck.arg"
_NESTED = "torchdeck.nested"
_OMIT = "torchdeck.omit_none"


class MalformedMessage(ValueError):
    """A reply or event whose data does not fit its contract type (``Contract.parse``)."""


def arg(
    default: Any = None,
    kind: type | tuple[type, ...] = object,
    *,
    check=None,
    expect: str = "",  # Words (translated when shown) or a plain text
    nullable: bool = False,
    required: bool = False,
    rule: Arg | None = None,
    factory=None,
) -> Any:
    """A dataclass field with its wire rule (or ``rule``, a rule declared elsewhere)."""
    rule = rule or Arg(kind, required=required, check=check, expect=expect, nullable=nullable)
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={_RULE: rule})
    return dataclasses.field(default=default, metadata={_RULE: rule})


def optional(default: Any = None) -> Any:
    """A result field sent only when it has a value (``math`` only when asked for, ...)."""
    return dataclasses.field(default=default, metadata={_OMIT: True})


def nested(kind: type[Contract], many: bool = False, default: Any = None) -> Any:
    """A result field holding another contract type (or a list of them)."""
    meta = {_NESTED: (kind, many)}
    if many:
        return dataclasses.field(default_factory=list, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class Contract:
    """Mixin for the dataclasses that cross the wire."""

    #: the op whose arguments this class holds (argument classes only)
    OP: ClassVar[str] = ""

    @classmethod
    def spec(cls) -> dict[str, Arg]:
        """The rule of each ruled field (built once per class: every request reads it)."""
        spec = _SPECS.get(cls)
        if spec is None:
            fields = dataclasses.fields(cls)
            spec = _SPECS[cls] = {f.name: f.metadata[_RULE] for f in fields if _RULE in f.metadata}
        return spec

    @classmethod
    def field_rule(cls, name: str) -> Arg:
        return cls.spec()[name]

    @classmethod
    def from_args(cls: type[T], op: str, args: dict[str, Any]) -> T:
        """Check ``args`` as the engine does (RequestError naming op and argument) and build."""
        return cls(**check_args(op, args, cls.spec()))

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any] | None) -> T:
        """Plain data → object, without checks (for replies and events the engine made).
        Keys this side does not know are ignored, so an older UI reads a newer engine."""
        return cls._build(data, check=False)

    @classmethod
    def parse(cls: type[T], data: Any) -> T:
        """``from_dict`` with checks: each value must fit its field's annotation (int, float,
        str, bool, list, dict, None, a nested contract; a float may be "nan", "inf" or "-inf",
        as the wire writes them). MalformedMessage names the field, what it wants and got."""
        return cls._build(data, check=True)

    @classmethod
    def _build(cls: type[T], data: Any, check: bool) -> T:
        if data is None:
            data = {}
        if check and not isinstance(data, dict):
            raise MalformedMessage(
                _("{where}: want an object, got {value}").format(
                    where=cls.__name__, value=_shown(data)
                )
            )
        hints = _hints(cls) if check else {}
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            where = f"{cls.__name__}.{f.name}"
            if _NESTED in f.metadata and value is not None:
                kind, many = f.metadata[_NESTED]
                if check and many and not isinstance(value, list):
                    raise MalformedMessage(
                        _("{where}: want a list, got {value}").format(
                            where=where, value=_shown(value)
                        )
                    )
                build = kind.parse if check else kind.from_dict
                value = [build(v) for v in value] if many else build(value)
            elif check and not _fits(value, hints.get(f.name, Any)):
                raise MalformedMessage(
                    _("{where}: want {expected}, got {value}").format(
                        where=where, expected=_type_words(hints.get(f.name)), value=_shown(value)
                    )
                )
            values[f.name] = value
        if not check:
            return cls(**values)
        try:
            return cls(**values)
        except Exception as exc:  # a __post_init__ that refuses the values
            raise MalformedMessage(f"{cls.__name__}: {exc}") from None

    def to_dict(self, *, drop_unset: bool = False) -> dict[str, Any]:
        """Plain data for JSON. ``drop_unset`` leaves out None values of fields that may not be
        null on the wire (an argument not given: the engine applies its default)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get(_OMIT):
                continue
            if drop_unset and value is None:
                rule = f.metadata.get(_RULE)
                if rule is None or not rule.nullable:
                    continue
            if isinstance(value, Contract):
                value = value.to_dict()
            elif isinstance(value, list) and value and isinstance(value[0], Contract):
                value = [v.to_dict() for v in value]
            out[f.name] = value
        return out

    def validate(self) -> None:
        """Check every ruled field of an object built in Python; ConfigError on the first bad
        one: ``lr = 20 is out of range`` with the hint ``lr must be a number in (0, 10]...``."""
        for name, rule in self.spec().items():
            if rule_problem(rule, getattr(self, name)) is not None:
                raise ConfigError(
                    _("{name} = {value!r} is out of range").format(
                        name=name, value=getattr(self, name)
                    ),
                    _("{name} must be {expected}").format(
                        name=name, expected=rule.expect or type_words(rule.kind)
                    ),
                )


_HINTS: dict[type, dict[str, Any]] = {}
_SPECS: dict[type, dict[str, Arg]] = {}
_NON_FINITE = ("nan", "inf", "-inf")  # how core.protocol writes floats JSON cannot hold


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        try:
            _HINTS[cls] = typing.get_type_hints(cls)
        except Exception:  # an annotation this module cannot resolve: leave it unchecked
            _HINTS[cls] = {}
    return _HINTS[cls]


def _arms(tp: Any) -> tuple:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def _fits(value: Any, tp: Any) -> bool:
    """Whether a JSON value fits an annotation's basic type; unknown annotations fit all."""
    for arm in _arms(tp):
        base = typing.get_origin(arm) or arm
        if arm is Any or arm is object:
            return True
        if arm is type(None) or arm is None:
            if value is None:
                return True
        elif base is bool:
            if isinstance(value, bool):
                return True
        elif base is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return True
        elif base is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return True
            if value in _NON_FINITE:
                return True
        elif base in (str, list, dict):
            if isinstance(value, base):
                return True
        elif isinstance(base, type) and issubclass(base, Contract):
            if isinstance(value, dict):
                try:
                    base.parse(value)
                except MalformedMessage:
                    continue
                return True
        else:
            return True  # not a JSON type (a class of the Python side): not checked here
    return False


def _type_words(tp: Any) -> str:
    words = []
    for arm in _arms(tp):
        base = typing.get_origin(arm) or arm
        if arm is type(None) or arm is None:
            words.append("null")
        elif base in (int, float, str, bool, dict, list):
            words.append(type_words(base))
        else:
            words.append(getattr(base, "__name__", str(base)))
    return " or ".join(words)


def _shown(value: Any) -> str:
    return shown(value)


def rule_problem(rule: Arg, value: Any) -> str | None:
    """Why ``value`` breaks ``rule`` (``is out of range``, ``is not a number``), or None."""
    if value is None:
        return None if rule.nullable or not rule.required else "is missing"
    kinds = rule.kind if isinstance(rule.kind, tuple) else (rule.kind,)
    if object not in kinds:
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            return f"is not {type_words(rule.kind)}"
    if isinstance(value, float) and not math.isfinite(value):
        return "is out of range"
    if rule.check is not None and not rule.check(value):
        return "is out of range"
    return None


def arg_type(rule: Arg):
    """An argparse ``type=`` for ``rule``: the command line refuses what the engine refuses,
    in the same words (``argument --lr: 20 is out of range: want a number in (0, 10], ...``)."""
    import argparse

    def parse(text: str) -> Any:
        value, message = parse_text(rule, text)
        if message:
            raise argparse.ArgumentTypeError(message)
        return value

    return parse


def parse_text(rule: Arg, text: str) -> tuple[Any, str]:
    """Text typed in a form or on the command line → (value, "") or (None, what is wrong).

    The message names what is wanted in the rule's own words, so the form, the command line and
    the engine say the same thing about the same setting."""
    raw = text.strip()
    kinds = rule.kind if isinstance(rule.kind, tuple) else (rule.kind,)
    want = rule.expect or type_words(rule.kind)
    if not raw:
        if rule.nullable:
            return None, ""
        return None, _("empty: want {expected}").format(expected=want)
    value: Any = raw
    if bool in kinds:
        words = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
        if raw.lower() not in words:
            return None, _("{text!r} is not {expected}").format(text=raw, expected=want)
        value = words[raw.lower()]
    elif int in kinds and float not in kinds:
        try:
            value = int(raw)
        except ValueError:
            return None, _("{text!r} is not {expected}").format(text=raw, expected=want)
    elif float in kinds:
        try:
            value = float(raw)
        except ValueError:
            return None, _("{text!r} is not {expected}").format(text=raw, expected=want)
    if rule_problem(rule, value) is not None:
        return None, _("{text} is out of range: want {expected}").format(text=raw, expected=want)
    return value, ""
