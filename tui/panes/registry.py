"""The app's four panes: their keys and names, in the order of the tabs, and their classes.

The Train pane is built at start; the others on first show, so the first frame comes sooner
(their imports and their first layout cost ~0.2 s that nobody looks at yet).
"""

from __future__ import annotations

import importlib

from core.i18n import N_
from tui.panes.base import Pane

PANES = (
    ("summary", N_("Summary")),
    ("train", N_("Train")),
    ("playground", N_("Playground")),
    ("predict", N_("Predict")),
)
LAZY_PANES = {
    "summary": ("tui.panes.summary_pane", "SummaryPane"),
    "playground": ("tui.panes.playground_pane", "PlaygroundPane"),
    "predict": ("tui.panes.predict_pane", "PredictPane"),
}
PREBUILD_AFTER_S = 0.2  # after the first model is shown, the other panes are built


def pane_class(key: str) -> type[Pane]:
    if key == "train":
        from tui.panes.train_pane import TrainPane

        return TrainPane
    module, name = LAZY_PANES[key]
    return getattr(importlib.import_module(module), name)
