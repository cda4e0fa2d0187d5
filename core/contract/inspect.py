"""The Summary pane's messages: the layer table, one weight's statistics, the two lessons
(L3: embedding and linear; L1: a Linear layer's forward pass by hand) and the model's own code
(L1: ``__init__`` declares the layers, ``forward`` is the data flow).

The arguments and their ranges, and the results: the keys are those core/inspection builds
(``summarize``, ``weight_stats``, ``tensor_stats``, the lessons), field for field and in the same
order, so that ``Result.from_dict(reply).to_dict() == reply``. Parts whose keys vary with what
they describe stay plain dicts (an initialisation law, a module's own attributes, shapes keyed
``"W.T"``). Imports no torch and no UI library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.contract.base import Contract, arg, nested
from core.contract.settings import int_in
from core.i18n import N_, Words

BINS = int_in(2, 400)


def _in(low: int, high: int) -> Words:
    return Words(N_("an integer in [{low}, {high}]"), low=low, high=high)


_AT_LEAST_0 = Words(N_("an integer ≥ {low}"), low=0)
LESSON_SEED = arg(0, int, check=lambda v: 0 <= v <= 2**63 - 1, expect=_AT_LEAST_0)


@dataclass(frozen=True)
class SummaryArgs(Contract):
    OP: ClassVar[str] = "summary"
    depth: int | None = arg(
        None, int, check=lambda v: 0 <= v <= 64, expect=_in(0, 64), nullable=True
    )
    batch_size: int | None = arg(
        None, int, check=lambda v: 1 <= v <= 4096, expect=_in(1, 4096), nullable=True
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
    index: int = arg(14, int, check=lambda v: 0 <= v <= 1_000_000, expect=_AT_LEAST_0)
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


@dataclass(frozen=True)
class ModelSourceArgs(Contract):
    """L1: the current model class's code: ``forward``, the methods it calls, ``__init__``."""

    OP: ClassVar[str] = "model_source"


# -- results: the layer table --------------------------------------------------------------------


@dataclass(frozen=True)
class WeightRow(Contract):
    """One weight tensor of a layer, as the layer table lists it under its layer."""

    name: str = ""  # full name, e.g. "hidden.weight"
    short: str = ""  # the name within its layer, e.g. "weight"
    shape: list = arg(kind=list, factory=list)
    numel: int = 0
    dtype: str = ""
    trainable: bool = True
    tied_to: list = arg(kind=list, factory=list)  # the other names of the same tensor
    counted_here: bool = True  # False: a tied tensor counted in the layer that owns it


@dataclass(frozen=True)
class LayerRow(Contract):
    """One module of the model (depth first; the root has depth 0 and the name "")."""

    name: str = ""
    depth: int = 0
    type: str = ""  # the module's class name
    output_shape: list | None = None  # None: no sample input (parabola) or not a tensor
    params: int = 0  # counted here (tied tensors once, in their owner)
    shared_params: int = 0  # tied to a layer outside this one, counted there
    share: float = 0.0  # params / total
    trainable: str = "--"  # "yes", "no", "partly" or "--" (no parameters)
    macs: int = 0  # matrix-product multiply-adds of the subtree, per forward pass
    torchinfo_macs: int = 0  # what torchinfo's Mult-Adds column shows for this layer
    weights: list[WeightRow] = nested(WeightRow, many=True)  # its own tensors
    has_children: bool = False


@dataclass(frozen=True)
class SummaryTotals(Contract):
    params: int = 0  # unique tensors: sum(p.numel() for p in model.parameters())
    trainable: int = 0
    frozen: int = 0
    naive_params: int = 0  # counting every name of a tied tensor
    tied: list = arg(kind=list, factory=list)  # groups of names of one tensor
    param_bytes: int = 0
    dtype: str = "--"  # "float32", or "bfloat16/float32" when mixed
    activation_bytes: int = 0  # per batch, kept for backward (estimate)
    macs: int = 0
    macs_linear: int = 0
    macs_attention: int = 0
    macs_torchinfo: int = 0  # torchinfo's "Total mult-adds" for the same input


@dataclass(frozen=True)
class SummaryResult(Contract):
    """Reply of ``summary``: the layer table for one training batch, and its totals."""

    preset: str = ""
    model: str = ""  # the preset, or the factory of one's own model ("my_model.py:build")
    step: int = 0
    batch_size: int | None = None  # None for a model without a token input (parabola)
    context: int | None = None
    input_shape: list | None = None  # [batch_size, context]
    output_shape: list | None = None
    device: str = ""
    rows: list[LayerRow] = nested(LayerRow, many=True)
    totals: SummaryTotals | None = nested(SummaryTotals)

    @property
    def model_name(self) -> str:
        """The preset, or one's own model as ``my_model.py:build``."""
        from core.contract.settings import factory_name

        return factory_name(self.model) if ":" in self.model else (self.model or self.preset)

    def weight_names(self) -> list[str]:
        """Every weight tensor's name, in table order."""
        return [w.name for r in self.rows for w in r.weights]


# -- results: one weight's statistics ------------------------------------------------------------


@dataclass(frozen=True)
class TensorStats(Contract):
    """Statistics of a tensor's values, with a histogram of ``len(edges) - 1`` bins."""

    numel: int = 0
    mean: float = 0.0
    std: float = 0.0
    min: float = 0.0
    max: float = 0.0
    near_zero: float = 0.0  # the fraction with |x| < near_zero_below
    near_zero_below: float = 0.0
    norm: float = 0.0
    counts: list = arg(kind=list, factory=list)
    edges: list = arg(kind=list, factory=list)


@dataclass(frozen=True)
class GradStats(Contract):
    """A gradient's statistics (those of TensorStats, without the histogram)."""

    mean: float = 0.0
    std: float = 0.0
    min: float = 0.0
    max: float = 0.0
    norm: float = 0.0
    near_zero: float = 0.0


@dataclass(frozen=True)
class Moved(Contract):
    """How far a weight has moved since the session's weights were first seen."""

    since_step: int = 0
    norm: float = 0.0  # ‖w − w₀‖
    relative: float | None = None  # ‖w − w₀‖ / ‖w₀‖; None when ‖w₀‖ = 0
    max_abs: float = 0.0


@dataclass(frozen=True)
class WeightStatsResult(Contract):
    """Reply of ``weight_stats``: one parameter against the theory of its initialisation."""

    name: str = ""
    shape: list = arg(kind=list, factory=list)
    dtype: str = ""
    trainable: bool = True
    tied_to: list = arg(kind=list, factory=list)
    step: int = 0
    stats: TensorStats | None = nested(TensorStats)
    # the initialisation law, a plain dict: its keys depend on its "kind" (normal: mean, std;
    # uniform: low, high, mean, std, bound; constant; unknown), with "label" and the theory's
    # "expected_counts" per histogram bin (core.inspection.init_theory)
    init: dict = arg(kind=dict, factory=dict)
    grad: GradStats | None = nested(GradStats)  # None until a backward pass
    moved: Moved | None = nested(Moved)


# -- results: the lessons ------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerPair(Contract):
    """Something said of each of the lesson's two layers (their constructor calls)."""

    embedding: str = ""
    linear: str = ""


@dataclass(frozen=True)
class PairShapes(Contract):
    embedding: list = arg(kind=list, factory=list)
    linear: list = arg(kind=list, factory=list)
    same: bool = False


@dataclass(frozen=True)
class WeightKind(Contract):
    """What a layer's ``.weight`` is: an nn.Parameter (L3: both layers are thin wrappers)."""

    name: str = ""  # "e.weight" or "l.weight"
    type: str = ""  # its class name, "Parameter"
    is_parameter: bool = False  # isinstance(weight, nn.Parameter)
    requires_grad: bool = False
    registered: list = arg(kind=list, factory=list)  # what module.parameters() names


@dataclass(frozen=True)
class WeightKinds(Contract):
    embedding: WeightKind | None = nested(WeightKind)
    linear: WeightKind | None = nested(WeightKind)


@dataclass(frozen=True)
class CallError(Contract):
    """The error a call raised (the lesson's point); type None: it raised none."""

    type: str | None = None
    message: str = ""


@dataclass(frozen=True)
class Lookup(Contract):
    """Row ``index`` looked up three ways (first values), and the Linear tried the same ways."""

    module: list = arg(kind=list, factory=list)  # e(tensor([index]))
    index: list = arg(kind=list, factory=list)  # e.weight[index]
    one_hot: list = arg(kind=list, factory=list)  # one_hot(index) @ e.weight
    allclose: bool = False
    max_abs_diff: float = 0.0
    linear_row: list = arg(kind=list, factory=list)
    linear_one_hot: list = arg(kind=list, factory=list)
    linear_allclose: bool = False
    linear_call_int: CallError | None = nested(CallError)
    linear_call_one_hot: CallError | None = nested(CallError)
    cost_lookup: int = 0  # values read
    cost_one_hot: int = 0  # multiply-adds


@dataclass(frozen=True)
class InitCheck(Contract):
    """A layer's initialisation measured against its theory."""

    theory: dict = arg(kind=dict, factory=dict)  # a law, as WeightStatsResult.init
    stats: TensorStats | None = nested(TensorStats)
    expected_counts: list = arg(kind=list, factory=list)


@dataclass(frozen=True)
class Tying(Contract):
    """Parameter counts before and after ``l.weight = e.weight``."""

    before: int = 0
    after: int = 0
    naive_after: int = 0  # counting by name, as if tied tensors were two
    saved: int = 0
    saved_bytes: int = 0
    matrix_bytes: int = 0
    same_tensor: bool = False
    row_equals_lookup: bool = False
    gpt2_matrix_bytes: int = 0


@dataclass(frozen=True)
class EmbeddingLessonResult(Contract):
    """Reply of ``lesson_embedding_linear`` (LESSONS.md L3)."""

    V: int = 0
    d: int = 0
    seed: int = 0
    index: int = 0
    reinit: bool = False
    tie: bool = False
    constructors: LayerPair | None = nested(LayerPair)
    shapes: PairShapes | None = nested(PairShapes)
    # attribute name → its repr, for the attributes only one of the two modules has
    only_embedding: dict = arg(kind=dict, factory=dict)
    only_linear: dict = arg(kind=dict, factory=dict)
    weights: WeightKinds | None = nested(WeightKinds)  # each layer's .weight, before tying
    lookup: Lookup | None = nested(Lookup)
    embedding_init: InitCheck | None = nested(InitCheck)
    linear_init: InitCheck | None = nested(InitCheck)
    tying: Tying | None = nested(Tying)


@dataclass(frozen=True)
class ForwardLessonResult(Contract):
    """Reply of ``lesson_linear_forward`` (LESSONS.md L1): first values of each product."""

    layer: str = ""
    layers: list = arg(kind=list, factory=list)  # every Linear of the model
    seed: int = 0
    in_features: int = 0
    out_features: int = 0
    has_bias: bool = False
    # the shapes of X, W, W.T, b (None without a bias) and out: a plain dict ("W.T" is no name)
    shapes: dict = arg(kind=dict, factory=dict)
    x: list = arg(kind=list, factory=list)
    by_hand: list = arg(kind=list, factory=list)
    layer_out: list = arg(kind=list, factory=list)
    neuron0_by_row: list = arg(kind=list, factory=list)
    neuron0_from_layer: list = arg(kind=list, factory=list)
    max_abs_diff: float = 0.0
    allclose: bool = False
    dtype: str = ""


# -- results: the model's code -------------------------------------------------------------------


@dataclass(frozen=True)
class SourceBlock(Contract):
    """One method of the model's class, as written (dedented)."""

    name: str = ""  # "forward", "__init__", or a method forward calls (the parabola's "f")
    qualname: str = ""  # e.g. "MiniLM.forward"
    line: int = 0  # its first line in its file
    source: str = ""


@dataclass(frozen=True)
class ModelSourceResult(Contract):
    """Reply of ``model_source``: ``forward`` first, then the methods it calls, then
    ``__init__``; no blocks and ``missing`` (one line) when forward's source cannot be found."""

    class_name: str = ""
    module: str = ""  # e.g. "core.models"
    blocks: list[SourceBlock] = nested(SourceBlock, many=True)
    missing: str = ""
