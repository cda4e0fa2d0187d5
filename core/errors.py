"""Errors that carry a hint for the person at the keyboard.

Works without torch and without a UI: the engine turns these into protocol error replies and the
client turns those replies back into :class:`EngineError`.
"""

from __future__ import annotations


def _(message: str) -> str:
    """``message`` in the current language: core.i18n's ``_``, imported when first called
    (core.i18n imports this module)."""
    from core.i18n import _ as translate

    return translate(message)


class TorchdeckError(Exception):
    """An error with a plain message and a hint that names the fix."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(TorchdeckError, ValueError):
    """A hyper-parameter, preset or device that cannot be used."""


class CorpusError(TorchdeckError, ValueError):
    """A corpus file that cannot be read as training text."""


class CheckpointError(TorchdeckError):
    """A checkpoint that cannot be written or read."""


class UnknownCharactersError(TorchdeckError, ValueError):
    """Text holding characters that the tokenizer's vocabulary lacks."""

    def __init__(self, unknown: list[tuple[int, str]]) -> None:
        shown = ", ".join(
            _("{char!r} at {position}").format(char=ch, position=pos) for pos, ch in unknown[:8]
        )
        if len(unknown) > 8:
            message = _(
                "{count} character(s) not in the vocabulary: {shown} and {more} more"
            ).format(count=len(unknown), shown=shown, more=len(unknown) - 8)
        else:
            message = _("{count} character(s) not in the vocabulary: {shown}").format(
                count=len(unknown), shown=shown
            )
        super().__init__(
            message,
            _(
                "the vocabulary comes from the training corpus; use characters that occur in "
                "it, or train on a corpus that contains them"
            ),
        )
        self.unknown = unknown


class RequestError(TorchdeckError, ValueError):
    """A protocol request with an unknown op or bad arguments."""


class EngineError(TorchdeckError):
    """An error reply from the engine, raised on the client side."""

    def __init__(self, type_: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.type = type_


class EngineDied(TorchdeckError):
    """The engine process exited while a request was waiting for its reply."""

    def __init__(self, returncode: int | None, stderr_tail: str) -> None:
        code = _("unknown") if returncode is None else str(returncode)
        super().__init__(
            _("the engine exited (code {code})").format(code=code),
            _("restart the engine; its last stderr lines are attached"),
        )
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class ProtocolMismatch(TorchdeckError):
    """A client and an engine that speak different protocol versions."""

    def __init__(self, engine_version: int, client_version: int, where: str = "") -> None:
        versions = {"engine": engine_version, "client": client_version}
        if engine_version < client_version:
            message = _(
                "the engine speaks protocol {engine} and this torchdeck speaks {client}: the "
                "engine is older"
            ).format(**versions)
            hint = _(
                "upgrade torchdeck on the engine's machine{where} (the same version on both "
                "sides), then try again"
            ).format(where=where)
        else:
            message = _(
                "the engine speaks protocol {engine} and this torchdeck speaks {client}: the "
                "client is older"
            ).format(**versions)
            hint = _(
                "upgrade torchdeck on this machine (the same version on both sides), then try again"
            )
        super().__init__(message, hint)
