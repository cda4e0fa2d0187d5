"""What the lessons read of the app: each function looks at what a pane already holds (nothing is
asked of the engine) and answers None while the pane is not built or has nothing yet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.app import TorchdeckApp


def _pane(app: TorchdeckApp, key: str):
    return app.panes.get(key)


def preset(app: TorchdeckApp) -> str:
    from tui.widgets.status_bar import StatusBar

    return app.query_one(StatusBar).preset


def step(app: TorchdeckApp) -> int:
    from tui.widgets.status_bar import StatusBar

    return app.query_one(StatusBar).step


def parabola(app: TorchdeckApp) -> dict | None:
    """The parabola's latest x, f(x) and x.grad, from a run's report or a step by hand."""
    from tui.widgets.loop_strip import LoopStrip
    from tui.widgets.train_metrics import TrainMetrics

    train = _pane(app, "train")
    if train is None:
        return None
    data = train.query_one(TrainMetrics).data
    if data is not None and data.parabola:
        return data.parabola
    detail = train.query_one(LoopStrip).detail
    return detail.parabola if detail is not None and detail.parabola else None


def summary_view(app: TorchdeckApp) -> str | None:
    pane = _pane(app, "summary")
    return pane.current_view if pane is not None else None


def embedding_lesson(app: TorchdeckApp):
    """The Embedding-vs-Linear lesson's latest reply (an EmbeddingLessonResult) or None."""
    pane = _pane(app, "summary")
    return getattr(pane.lesson_view, "lesson", None) if pane is not None else None


def embed_scrolled(app: TorchdeckApp) -> bool:
    """Whether the Embedding-vs-Linear text has been paged down from its top."""
    pane = _pane(app, "summary")
    return pane is not None and pane.query_one("#sum-embed-scroll").scroll_y > 0


def forward_lesson(app: TorchdeckApp):
    from tui.widgets.summary_forward_lesson import SummaryForwardLesson

    pane = _pane(app, "summary")
    return pane.query_one(SummaryForwardLesson).forward if pane is not None else None


def model_source(app: TorchdeckApp):
    from tui.widgets.summary_source import SummarySource

    pane = _pane(app, "summary")
    return pane.query_one(SummarySource).source if pane is not None else None


def prediction(app: TorchdeckApp):
    pane = _pane(app, "predict")
    return pane.result if pane is not None else None


def predict_side(app: TorchdeckApp) -> str | None:
    pane = _pane(app, "predict")
    return pane.side if pane is not None else None


def cells(app: TorchdeckApp) -> list[dict[str, Any]]:
    """The playground's cells so far: code, result (an ExecResult or None), failure."""
    from tui.widgets.playground_transcript import PlaygroundTranscript

    pane = _pane(app, "playground")
    if pane is None:
        return []
    return [e for e in pane.query_one(PlaygroundTranscript).entries if "code" in e]


def cell_text(entry: dict) -> str:
    """A cell's printed output and its value's text, for matching what the lesson expects."""
    result = entry.get("result")
    if result is None:
        return ""
    value = result.value or {}
    return f"{result.stdout}\n{value.get('text', '')}"
