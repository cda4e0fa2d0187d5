"""What a model is made of: the layer table, weight statistics and histograms, the two lessons
the Summary pane teaches (LESSONS.md L1 forward pass, L3 Embedding vs Linear) and the model's own
code (L1: ``__init__`` declares the layers, ``forward`` is the data flow).

Works without a UI. Everything is returned as plain data (lists, dicts, numbers), so the same
figures reach the app through the engine ops ``summary``, ``weight_stats``,
``lesson_embedding_linear``, ``lesson_linear_forward`` and ``model_source``, and a terminal through
``torchdeck inspect`` (``cli/inspect.py``).

- ``summary``: the layer table (``summarize``), tied weights counted once;
- ``init_theory``: the distribution each weight was initialised from, and its expected histogram;
- ``weights``: statistics of one tensor, and of one parameter against where it started;
- ``lessons``: L3 (Embedding vs Linear, tying) and L1 (X · Wᵀ + b) on live layers;
- ``source``: the model class's ``forward``, the methods it calls and ``__init__`` (``inspect``);
- ``ops``: the engine ops above, with their argument specs (``engine_ops``).
"""

from core.inspection.init_theory import cdf, constant, expected_counts, init_of, normal, uniform
from core.inspection.lessons import (
    MAX_LESSON_ELEMENTS,
    lesson_embedding_linear,
    lesson_linear_forward,
    linear_layers,
)
from core.inspection.ops import engine_ops
from core.inspection.source import model_source
from core.inspection.summary import summarize
from core.inspection.weights import NEAR_ZERO, remember_initial, tensor_stats, weight_stats

__all__ = [
    "MAX_LESSON_ELEMENTS",
    "NEAR_ZERO",
    "cdf",
    "constant",
    "engine_ops",
    "expected_counts",
    "init_of",
    "lesson_embedding_linear",
    "lesson_linear_forward",
    "linear_layers",
    "model_source",
    "normal",
    "remember_initial",
    "summarize",
    "tensor_stats",
    "uniform",
    "weight_stats",
]
