"""The engine ops of inspection: ``summary``, ``weight_stats``, ``lesson_embedding_linear``,
``lesson_linear_forward`` and ``model_source``, with their argument specs. Each answers with its typed result
(core.contract.inspect), made from the plain data the functions of core.inspection build."""

from __future__ import annotations

from dataclasses import asdict

from core.contract.inspect import (
    EmbeddingLessonArgs,
    EmbeddingLessonResult,
    ForwardLessonArgs,
    ForwardLessonResult,
    ModelSourceArgs,
    ModelSourceResult,
    SummaryArgs,
    SummaryResult,
    WeightStatsArgs,
    WeightStatsResult,
)
from core.inspection.lessons import lesson_embedding_linear, lesson_linear_forward
from core.inspection.source import model_source
from core.inspection.summary import summarize
from core.inspection.weights import remember_initial, weight_stats


def engine_ops(engine) -> dict:
    def summary(args: SummaryArgs) -> SummaryResult:
        session = engine.require_session()
        remember_initial(session)
        return SummaryResult.from_dict(summarize(session, args.batch_size, args.depth))

    def stats(args: WeightStatsArgs) -> WeightStatsResult:
        return WeightStatsResult.from_dict(
            weight_stats(engine.require_session(), args.name, args.bins)
        )

    def embedding_linear(args: EmbeddingLessonArgs) -> EmbeddingLessonResult:
        return EmbeddingLessonResult.from_dict(lesson_embedding_linear(**asdict(args)))

    def linear_forward(args: ForwardLessonArgs) -> ForwardLessonResult:
        session = engine.require_session()
        return ForwardLessonResult.from_dict(
            lesson_linear_forward(session, args.layer, args.seed, args.rows)
        )

    def source(args: ModelSourceArgs) -> ModelSourceResult:
        return ModelSourceResult.from_dict(model_source(engine.require_session().model))

    return {
        "summary": (summary, SummaryArgs),
        "weight_stats": (stats, WeightStatsArgs),
        "lesson_embedding_linear": (embedding_linear, EmbeddingLessonArgs),
        "lesson_linear_forward": (linear_forward, ForwardLessonArgs),
        "model_source": (source, ModelSourceArgs),
    }
