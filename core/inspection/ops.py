"""The engine ops of inspection: ``summary``, ``weight_stats``, ``lesson_embedding_linear`` and
``lesson_linear_forward``, with their argument specs."""

from __future__ import annotations

from core.inspection.lessons import lesson_embedding_linear, lesson_linear_forward
from core.inspection.summary import summarize
from core.inspection.weights import remember_initial, weight_stats
from core.protocol import Arg


def _at_least(low: int, high: int):
    return lambda v: low <= v <= high


def engine_ops(engine) -> dict:
    def summary(args: dict) -> dict:
        session = engine.require_session()
        remember_initial(session)
        return summarize(session, args.get("batch_size"), args.get("depth"))

    def stats(args: dict) -> dict:
        return weight_stats(engine.require_session(), args["name"], args.get("bins", 40))

    def embedding_linear(args: dict) -> dict:
        return lesson_embedding_linear(**args)

    def linear_forward(args: dict) -> dict:
        return lesson_linear_forward(
            engine.require_session(), args.get("layer"), args.get("seed", 0), args.get("rows", 3)
        )

    return {
        "summary": (
            summary,
            {
                "depth": Arg(
                    int, check=_at_least(0, 64), expect="an integer in [0, 64]", nullable=True
                ),
                "batch_size": Arg(
                    int, check=_at_least(1, 4096), expect="an integer in [1, 4096]", nullable=True
                ),
            },
        ),
        "weight_stats": (
            stats,
            {
                "name": Arg(str, required=True),
                "bins": Arg(int, check=_at_least(2, 400), expect="an integer in [2, 400]"),
            },
        ),
        "lesson_embedding_linear": (
            embedding_linear,
            {
                "V": Arg(int, check=_at_least(1, 1_000_000), expect="an integer in [1, 1000000]"),
                "d": Arg(int, check=_at_least(1, 65_536), expect="an integer in [1, 65536]"),
                "seed": Arg(int, check=_at_least(0, 2**63 - 1), expect="an integer ≥ 0"),
                "index": Arg(int, check=_at_least(0, 1_000_000), expect="an integer ≥ 0"),
                "reinit": Arg(bool),
                "tie": Arg(bool),
                "bins": Arg(int, check=_at_least(2, 400), expect="an integer in [2, 400]"),
            },
        ),
        "lesson_linear_forward": (
            linear_forward,
            {
                "layer": Arg(str, nullable=True),
                "seed": Arg(int, check=_at_least(0, 2**63 - 1), expect="an integer ≥ 0"),
                "rows": Arg(int, check=_at_least(1, 64), expect="an integer in [1, 64]"),
            },
        ),
    }
