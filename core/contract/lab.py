"""The tensor playground's messages: a cell to run, its outcome, and tab completion.

Imports no torch and no UI library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.contract.base import Contract, arg, nested
from core.i18n import N_, Words

MAX_CODE = 1_000_000  # characters in one cell
DEFAULT_MEMORY_SHARE = 0.5  # of the free memory that one cell may ask for


@dataclass(frozen=True)
class ExecArgs(Contract):
    OP: ClassVar[str] = "exec"
    code: str = arg("", str, required=True)
    memory_share: float = arg(
        DEFAULT_MEMORY_SHARE,
        float,
        check=lambda v: 0 < v <= 1,
        expect=Words(N_("a share in (0, 1], e.g. 0.5")),
    )


@dataclass(frozen=True)
class CellError(Contract):
    """Why a cell failed: the exception's type and first line, where, and what to try."""

    type: str = ""
    message: str = ""
    lineno: int = 0
    line: str = ""
    hint: str = ""


@dataclass(frozen=True)
class ExecResult(Contract):
    """A cell's outcome. ``value`` describes the last expression (kind, header, text, shape,
    dtype, device, grad_fn, stats: see core.playground.describe)."""

    cell: int = 0
    stdout: str = ""
    value: dict | None = None
    error: CellError | None = nested(CellError)
    seconds: float = 0.0
    state: str = "idle"  # the training run's state while the cell ran
    step: int | None = None
    trains: str | None = None  # what training updates now, when the cell changed the parameters


@dataclass(frozen=True)
class CompleteArgs(Contract):
    OP: ClassVar[str] = "complete"
    code: str = arg("", str, required=True)
    cursor: int | None = arg(
        None, int, check=lambda v: v >= 0, expect=Words(N_("an integer ≥ {low}"), low=0)
    )


@dataclass(frozen=True)
class Completion(Contract):
    start: int = 0  # where the completed word starts in the code
    prefix: str = ""
    candidates: list = arg(kind=list, factory=list)
    more: int = 0  # candidates left out


@dataclass(frozen=True)
class NamesResult(Contract):
    names: list = arg(kind=list, factory=list)
