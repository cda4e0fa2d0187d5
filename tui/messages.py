"""Messages the engine link posts to the app. Past-tense names: each says what happened."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from core.contract import Contract, ReadyInfo


class EngineReady(Message):
    def __init__(self, info: ReadyInfo, seconds: float) -> None:
        super().__init__()
        self.info = info
        self.seconds = seconds  # from app start to the ready event


class EngineEventReceived(Message):
    """Any unsolicited engine event (train_progress, train_state, error, generate_token, ...).
    ``data`` is the event's contract type where it has one (``core.contract.EVENTS``:
    TrainProgress, TrainState), checked with ``Contract.parse`` (malformed events never get
    here), else a plain dict."""

    def __init__(self, name: str, data: Contract | dict) -> None:
        super().__init__()
        self.name = name
        self.data = data


class EngineExited(Message):
    """The engine went away: a pipe child exited (``returncode``), or the connection to an
    engine on a socket closed (``returncode`` None). ``mismatch``: a sentence when the engine
    speaks another protocol version ("" otherwise)."""

    def __init__(
        self, returncode: int | None, stderr_tail: str, expected: bool, mismatch: str = ""
    ) -> None:
        super().__init__()
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.expected = expected
        self.mismatch = mismatch


class EngineStartFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message
