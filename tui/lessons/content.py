"""The four lessons of LESSONS.md as steps a person takes in the app. Each step says what to do
(with its key), when it counts as done (read off the panes by ``tui.lessons.probes``), the
lesson's own figure and the live one beside it. The words are ours; the numbers are the course's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.contract.settings import MINI, PARABOLA
from core.i18n import N_
from tui.lessons import probes as p
from tui.lessons.figure import Figure

if TYPE_CHECKING:
    from tui.app import TorchdeckApp

Probe = Callable[["TorchdeckApp"], object]


@dataclass(frozen=True)
class Step:
    do: str  # what to do, with the key to press
    done: Probe  # truthy once the person has done it
    expect: str = ""  # the lesson's figure
    live: Probe = lambda app: None  # the app's figure now (a string) or None
    recipe: str | None = None  # a playground recipe to put in the box when this step is next
    setup: bool = False  # done by opening the lesson (its preset): ticks again after a restart


@dataclass(frozen=True)
class Lesson:
    key: str  # "L1"…"L4"
    title: str
    pane: str  # the pane it happens in, first
    preset: str | None  # the preset it needs, or None (any model will do)
    steps: tuple[Step, ...] = field(default_factory=tuple)


def _fmt(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}f}".replace("-", "−")


# -- L1: the forward pass ------------------------------------------------------------------------


def _source_live(app) -> str | None:
    r = p.model_source(app)
    if r is None or not r.blocks:
        return None
    return " → ".join(b.name for b in r.blocks)


def _forward_live(app) -> str | None:
    r = p.forward_lesson(app)
    if r is None:
        return None
    return Figure(
        N_("{layer}: allclose {ok}, max diff {diff}"),
        layer=r.layer,
        ok=r.allclose,
        diff=f"{r.max_abs_diff:.1e}",
    )


def _predict_live(app) -> str | None:
    r = p.prediction(app)
    if r is None or not r.chars or not r.top:
        return None
    top = r.top[0]
    pct = f"{100 * top.prob:.1f}%"
    # a Figure keeps its English form: the count picks one of two marked texts
    if r.chars == 1:
        return Figure(N_("1 char → ids → top {char} {pct}"), char=repr(top.char), pct=pct)
    text = N_("{n} chars → ids → top {char} {pct}")
    return Figure(text, n=r.chars, char=repr(top.char), pct=pct)


def _activations_live(app) -> Figure | None:
    return Figure(N_("activations shown")) if p.predict_side(app) == "activations" else None


L1 = Lesson(
    "L1",
    N_("Forward pass: text → ids → embeddings → scores"),
    "summary",
    MINI,
    (
        Step(
            N_("c: the model's code: __init__ declares layers, forward() is data flow"),
            lambda app: p.summary_view(app) == "source" and _source_live(app),
            N_("forward, then __init__"),
            _source_live,
        ),
        Step(
            N_("f: a Linear by hand, X·Wᵀ + b, beside the layer's own output"),
            lambda app: p.summary_view(app) == "forward" and p.forward_lesson(app) is not None,
            "allclose True",
            _forward_live,
        ),
        Step(
            N_("F4, type text: each character → id → vector → a score per character"),
            lambda app: _predict_live(app),
            N_("untrained: ≈ 1/vocab each"),
            _predict_live,
        ),
        Step(
            N_("escape, l: a layer's activations for your text, caught by a forward hook"),
            lambda app: p.predict_side(app) == "activations",
            N_("one row per character"),
            _activations_live,
        ),
    ),
)

# -- L2: backprop on a parabola ------------------------------------------------------------------


def _grad_live(app) -> str | None:
    par = p.parabola(app)
    if par is None:
        return None
    if par.get("grad") is None:
        return None
    if par.get("grad_at") is None:
        return f"x {_fmt(par['x'])}, x.grad {_fmt(par['grad'])}"
    # backward took the gradient at the x before the step moved it
    return Figure(N_("x.grad {grad} at x = {x}"), grad=_fmt(par["grad"]), x=_fmt(par["grad_at"]))


def _x_live(app) -> str | None:
    par = p.parabola(app)
    if par is None:
        return None
    return Figure(N_("x {x} at step {step}"), x=_fmt(par["x"]), step=p.step(app))


def _near_optimum(app) -> bool:
    par = p.parabola(app)
    return p.step(app) >= 80 and par is not None and abs(par["grad"]) < 0.1


L2 = Lesson(
    "L2",
    N_("Backprop: minimise f(x) = 3x² − 2x + 3 with SGD"),
    "train",
    PARABOLA,
    (
        Step(
            N_("the parabola preset: x starts at −1; f'(x) = 6x − 2 = 0 at x = 1/3"),
            lambda app: p.preset(app) == PARABOLA,
            N_("optimum x = 0.3333"),
            lambda app: Figure(N_("preset {name}"), name=p.preset(app)),
            setup=True,
        ),
        Step(
            N_("n: one step; the strip shows its five phases. x.grad < 0 pushes x up"),
            lambda app: p.preset(app) == PARABOLA and p.step(app) >= 1 and _grad_live(app),
            N_("x.grad −8 at x = −1"),
            _grad_live,
        ),
        Step(
            N_("s: plain SGD, lr 0.01, to step 80; the chart falls smoothly to a plateau"),
            lambda app: p.preset(app) == PARABOLA and p.step(app) >= 80,
            N_("x 0.3239 at step 80"),
            _x_live,
        ),
        Step(
            N_("read x.grad: near zero means near the optimum"),
            _near_optimum,
            "|x.grad| < 0.1",
            _grad_live,
        ),
    ),
)

# -- L3: nn.Embedding vs nn.Linear ---------------------------------------------------------------


def _embed(app):
    return p.embedding_lesson(app) if p.summary_view(app) == "embed" else None


def _scrolled(live: Probe) -> Probe:
    """Done once the lesson's text has been paged down (its figures are below the fold)."""

    def done(app) -> object:
        return live(app) if p.embed_scrolled(app) else None

    return done


def _shapes_live(app) -> str | None:
    r = _embed(app)
    if r is None or r.shapes is None:
        return None
    shapes = {"embedding": str(r.shapes.embedding), "linear": str(r.shapes.linear)}
    return Figure(N_("{embedding} and {linear}"), **shapes)


def _lookup_live(app) -> str | None:
    r = _embed(app)
    if r is None or r.lookup is None:
        return None
    diff = f"{r.lookup.max_abs_diff:g}"
    return Figure(N_("allclose {ok}, max diff {diff}"), ok=r.lookup.allclose, diff=diff)


def _init_live(app) -> str | None:
    r = _embed(app)
    if r is None or r.linear_init is None or r.linear_init.stats is None or r.reinit:
        return None
    bound = r.linear_init.theory.get("bound")
    bound_text = "" if bound is None else f"±{bound:.4f}, "
    return f"{bound_text}std {r.linear_init.stats.std:.4f}"


def _reinit_live(app) -> str | None:
    r = _embed(app)
    if r is None or not r.reinit or r.linear_init is None or r.linear_init.stats is None:
        return None
    return f"Linear std {r.linear_init.stats.std:.3f}"


def _tie_live(app) -> str | None:
    r = _embed(app)
    if r is None or not r.tie or r.tying is None:
        return None
    ty = r.tying
    return Figure(
        N_("{before} → {after} ({fewer} fewer)"),
        before=f"{ty.before:,}",
        after=f"{ty.after:,}",
        fewer=f"{ty.before - ty.after:,}",
    )


L3 = Lesson(
    "L3",
    N_("Embedding vs Linear: one weight shape, two uses"),
    "summary",
    None,
    (
        Step(
            N_("e: Embedding(5000, 70), Linear(70, 5000): one weight shape, args swapped"),
            _shapes_live,
            N_("[5000, 70] and [5000, 70]"),
            _shapes_live,
        ),
        Step(
            N_("PageDown: row 14 looked up equals one_hot(14) @ weight"),
            _scrolled(_lookup_live),
            N_("allclose True, max diff 0"),
            _lookup_live,
        ),
        Step(
            N_("PageDown: Linear starts uniform in ±1/√70, Embedding normal(0, 1)"),
            _scrolled(_init_live),
            "±0.1195, std 0.069",
            _init_live,
        ),
        Step(
            N_("i: re-init the Linear with normal(0, 1): its histogram turns into a bell"),
            _reinit_live,
            "std ≈ 1",
            _reinit_live,
        ),
        Step(
            N_("y: tie the weights (l.weight = e.weight): the matrix is counted once"),
            _tie_live,
            N_("350,000 fewer"),
            _tie_live,
        ),
    ),
)

# -- L4: tensor exercises ------------------------------------------------------------------------


def _cell(app, match: Callable[[dict], bool]) -> dict | None:
    """The latest cell that ``match``es since the lesson was (re)started."""
    from tui.lessons.panel import LessonPanel

    base = app.query_one(LessonPanel).cell_base.get("L4", 0)
    for entry in reversed(p.cells(app)[base:]):
        if match(entry):
            return entry
    return None


def _value(entry: dict) -> dict:
    result = entry.get("result")
    return (result.value or {}) if result is not None else {}


def _grad18(entry: dict) -> bool:
    return ".grad" in entry["code"] and "18." in p.cell_text(entry)


def _error(entry: dict):
    """The cell's error: raised by its code (the result's) or by the engine (the failure)."""
    result = entry.get("result")
    return entry.get("failure") or (result.error if result is not None else None)


def _twice(entry: dict) -> bool:
    error = _error(entry)
    return error is not None and error.type == "RuntimeError" and "backward" in entry["code"]


def _linear(entry: dict) -> bool:
    value = _value(entry)
    return value.get("shape") == [3, 2] and value.get("grad_fn") == "AddmmBackward0"


def _embedding(entry: dict) -> bool:
    return _value(entry).get("shape") == [4, 3]


def _first_model(entry: dict) -> bool:
    return "[1, 4, 2]" in p.cell_text(entry)


def _shown(match: Callable[[dict], bool], show: Callable[[dict], str]) -> Probe:
    def live(app) -> str | None:
        entry = _cell(app, match)
        return None if entry is None else show(entry)

    return live


def _cell_step(do: str, match, show, expect: str, recipe: str) -> Step:
    """A playground step: done once a cell since the lesson began ``match``es; it shows
    ``show(cell)``, which is also its live figure."""
    live = _shown(match, show)
    return Step(do, live, expect, live, recipe=recipe)


L4 = Lesson(
    "L4",
    N_("Tensors and autograd in the playground"),
    "playground",
    None,
    (
        _cell_step(
            N_("enter: z = 3(x + 2)², z.backward(), then x.grad"),
            _grad18,
            lambda e: _value(e).get("text", ""),
            "tensor([18.])",
            "autograd",
        ),
        _cell_step(
            N_("enter: backward again: the graph is freed (retain_graph=True keeps it)"),
            _twice,
            lambda e: _error(e).type,
            "RuntimeError",
            "backward_twice",
        ),
        _cell_step(
            N_("enter: nn.Linear(5, 2) on randn(3, 5)"),
            _linear,
            lambda e: "[3, 2] AddmmBackward0",
            "[3, 2] AddmmBackward0",
            "linear",
        ),
        _cell_step(
            N_("enter: nn.Embedding(10, 3) on LongTensor([1, 5, 0, 8])"),
            _embedding,
            lambda e: str(_value(e).get("shape")),
            "[4, 3]",
            "embedding",
        ),
        _cell_step(
            N_("enter: MyFirstModel on [[1, 2, 5, 9]]"),
            _first_model,
            lambda e: "[1, 4, 2]",
            "[1, 4, 2]",
            "my_first_model",
        ),
    ),
)

LESSONS: tuple[Lesson, ...] = (L1, L2, L3, L4)


def lesson(key: str) -> Lesson:
    return next(x for x in LESSONS if x.key == key)
