"""The Summary pane's messages: the layer table, one weight's statistics and the two lessons
(L3: embedding and linear; L1: a Linear layer's forward pass by hand).

Their results are large nested reports (rows, histograms, lesson steps) described where they
are built, in core/inspection; the arguments and their ranges are declared here. Imports no
torch and no UI library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.contract.base import Contract, arg
from core.contract.settings import int_in

BINS = int_in(2, 400)
LESSON_SEED = arg(0, int, check=lambda v: 0 <= v <= 2**63 - 1, expect="an integer ≥ 0")


@dataclass(frozen=True)
class SummaryArgs(Contract):
    OP: ClassVar[str] = "summary"
    depth: int | None = arg(
        None, int, check=lambda v: 0 <= v <= 64, expect="an integer in [0, 64]", nullable=True
    )
    batch_size: int | None = arg(
        None, int, check=lambda v: 1 <= v <= 4096, expect="an integer in [1, 4096]", nullable=True
    )


@dataclass(frozen=True)
class WeightStatsArgs(Contract):
    OP: ClassVar[str] = "weight_stats"
    name: str = arg("", str, required=True)
    bins: int = arg(40, rule=BINS)


@dataclass(frozen=True)
class EmbeddingLessonArgs(Contract):
    """L3: ``nn.Embedding(V, d)`` beside ``nn.Linear(d, V)``."""

    OP: ClassVar[str] = "lesson_embedding_linear"
    V: int = arg(5000, rule=int_in(1, 1_000_000))
    d: int = arg(70, rule=int_in(1, 65_536))
    seed: int = LESSON_SEED
    index: int = arg(14, int, check=lambda v: 0 <= v <= 1_000_000, expect="an integer ≥ 0")
    reinit: bool = arg(False, bool)
    tie: bool = arg(False, bool)
    bins: int = arg(40, rule=BINS)


@dataclass(frozen=True)
class ForwardLessonArgs(Contract):
    """L1: one Linear layer's ``X · Wᵀ + b`` computed by hand beside the layer's own call."""

    OP: ClassVar[str] = "lesson_linear_forward"
    layer: str | None = arg(None, str, nullable=True)
    seed: int = LESSON_SEED
    rows: int = arg(3, rule=int_in(1, 64))
