"""The link between an engine and its clients: the greeting each connection gets, the ``hello``
a client answers with, and what an engine says about itself (``torchdeck ls``, ``attach``).

An engine may serve several clients at once (a Unix socket beside its own stdin/stdout): each
connection first receives ``ready`` (its protocol version), then the client sends ``hello``
with its own version, its role and, over a slow link, a budget of bytes per second. Imports no
torch and no UI library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.contract.base import Contract, arg
from core.contract.settings import int_in
from core.i18n import LANGUAGES, N_, Words

# who a connection is: the app or an attached app ("ui"), a process that started the engine and
# reads its output to the end ("owner", the headless train), or a look that leaves at once
# ("probe": torchdeck ls and stop, which are not counted as attached)
ROLES = ("ui", "owner", "probe")


@dataclass(frozen=True)
class ReadyInfo(Contract):
    """The ``ready`` event: the engine has imported torch and takes requests. Every connection
    gets one first, so a client knows the engine's protocol before it sends anything."""

    protocol: int = 0
    torch: str = ""
    python: str = ""
    pid: int = 0
    cuda: bool = False
    threads: int = 0
    presets: list = arg(kind=list, factory=list)


@dataclass(frozen=True)
class HelloArgs(Contract):
    """A client's first request: its protocol version (the engine refuses another one, saying
    which side to upgrade), its role, and the most bytes per second it wants while training
    (0: no limit; progress reports over the budget are merged, never dropped)."""

    OP: ClassVar[str] = "hello"
    protocol: int = arg(0, int, required=True)
    role: str = arg(
        "ui",
        str,
        check=lambda v: v in ROLES,
        expect=Words(N_("one of {choices}"), choices=", ".join(ROLES)),
    )
    budget: int = arg(0, rule=int_in(0, 1 << 30))
    # the language of the engine's messages to come (errors, hints, notes); "" leaves it be
    lang: str = arg("", str, check=lambda v: v in ("", *LANGUAGES), expect="en, vi or empty")


@dataclass(frozen=True)
class LanguageArgs(Contract):
    """Speak ``lang`` in the messages from now on: the app's live switch. The engine has one
    language: with several clients attached, the last to ask sets it for all."""

    OP: ClassVar[str] = "language"
    lang: str = arg("en", str, required=True, check=lambda v: v in LANGUAGES, expect="en or vi")


@dataclass(frozen=True)
class EngineInfo(Contract):
    """What an engine says about itself: ``hello``'s reply, and a part of ``status`` and
    ``attach``. ``socket`` is empty for an engine that serves no socket (a pipe child)."""

    id: str = ""
    pid: int = 0
    host: str = ""
    protocol: int = 0
    started: float = 0.0  # Unix time
    socket: str = ""
    run_dir: str = ""
    log: str = ""
    cwd: str = ""
    detached: bool = False  # started on its own (not a pipe child): ``stop`` shuts it down
    clients: int = 0  # connections attached as "ui" or "owner"
    state: str = "idle"
    preset: str = ""
    device: str = ""
    world_size: int = 1  # ranks training together (torchrun); an older engine sends none
    step: int = 0
    steps: int = 0
    loss: float | str | None = None
    val_loss: float | str | None = None
    tokens_per_s: float | None = None
    client: int = 0  # the id the engine gave the connection that asked
    # CUDA memory the engine holds (torch's reserved) and its GPU's total, MiB; None on a CPU
    gpu_mem_mb: float | None = None
    gpu_mem_total_mb: float | None = None


@dataclass(frozen=True)
class InterruptArgs(Contract):
    """Interrupt the request being handled, as SIGINT does (training, if running, pauses).
    Answered at once by the connection's reader; works over a socket or ssh, where no signal
    can be sent."""

    OP: ClassVar[str] = "interrupt"
