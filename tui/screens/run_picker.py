"""Pick a previous run to draw on the Train pane's loss chart: the run folders beside this
one's (``runs/*/`` holding a ``metrics.jsonl``), newest first, each with its number of rows,
its last step and its last train loss. Enter picks, escape cancels; while a run is drawn,
"none" comes first and takes it off. The folders are summed up in a worker thread (a long run's
file is megabytes): its lines counted, only its last rows parsed; the picked one is read whole
(``read_run``), and a malformed file is reported then."""

from __future__ import annotations

import asyncio
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from core.errors import ConfigError
from core.history import LossHistory
from core.i18n import N_, _
from core.metrics_file import METRICS_FILE, read_rows, series
from tui.screens.prompt_paint import PromptPaint
from tui.widgets.run_chart import TRAIN_POINTS, VAL_POINTS

TAIL_BYTES = 65536  # the end of a file read for its last row


@dataclass
class RunSummary:
    name: str
    path: str
    rows: int
    last_step: int | None
    last_loss: float | None
    mtime: float

    def line(self) -> str:
        step = "?" if self.last_step is None else str(self.last_step)
        loss = self.last_loss
        shown = "?" if loss is None else f"{loss:.4f}" if math.isfinite(loss) else str(loss)
        return _("{name} {rows:>7} rows  step {step:>7}  loss {loss}").format(
            name=f"{self.name[:24]:<24}", rows=self.rows, step=step, loss=shown
        )


def summarise(folder: Path) -> RunSummary | None:
    """A run folder's summary from its metrics file (None: it has none). Counts the lines and
    reads the last train row from the file's end; an unreadable row leaves "?" in the summary
    (picking the run names the fault)."""
    file = folder / METRICS_FILE
    try:
        stat = file.stat()
        with file.open("rb") as f:
            data = f.read()
    except OSError:
        return None
    rows = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    last_step = last_loss = None
    for raw in reversed(data[-TAIL_BYTES:].split(b"\n")):
        try:
            row = json.loads(raw)
        except ValueError:
            continue
        if isinstance(row, dict) and "train_loss" in row:
            step, loss = row.get("step"), row.get("train_loss")
            last_step = step if isinstance(step, int) else None
            try:
                last_loss = float(loss)
            except (TypeError, ValueError):
                last_loss = None
            break
    return RunSummary(folder.name, str(folder), rows, last_step, last_loss, stat.st_mtime)


def list_runs(runs_dir: Path) -> list[RunSummary]:
    """The run folders of ``runs_dir`` that hold a metrics file, newest first."""
    try:
        folders = [p for p in Path(runs_dir).iterdir() if p.is_dir()]
    except OSError:
        return []
    found = [s for s in map(summarise, folders) if s is not None]
    return sorted(found, key=lambda s: s.mtime, reverse=True)


def read_run(path: str) -> tuple[LossHistory, LossHistory]:
    """A run's train loss and validation loss, as bounded histories the chart draws (a long
    run's rows are many: this runs in a worker thread). Raises ``core.errors.ConfigError`` for
    a missing, empty or malformed file, or one with no train loss."""
    rows = read_rows(path)
    where = os.path.join(path, METRICS_FILE)
    train, val = LossHistory(TRAIN_POINTS), LossHistory(VAL_POINTS)
    for step, value in zip(*series(rows, "train_loss", where)):
        train.append(step, value)
    try:
        evaluated = series(rows, "val_loss", where)
    except ConfigError:  # a run without evaluation
        evaluated = ([], [])
    for step, value in zip(*evaluated):
        val.append(step, value)
    return train, val


class RunPicker(ModalScreen[str | None], PromptPaint):
    """Dismissed with the picked run folder's path, "" for none, or None (cancelled)."""

    DEFAULT_CSS = """
    RunPicker { align: center middle; }
    #picker-body {
        width: 76; max-width: 100%; height: auto; max-height: 90%;
        background: $panel; border: round $primary; padding: 0 1;
    }
    #picker-list { height: auto; max-height: 16; }
    #picker-help { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, runs_dir: Path | str, shown: bool = False) -> None:
        """``shown``: a compared run is drawn now ("none" is offered first)."""
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.shown = shown
        self.runs: list[RunSummary] | None = None  # None until listed
        self.choices: list[str] = []  # the dismiss value of each option, in order

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-body"):
            yield Static(self._head(), id="picker-head")
            yield OptionList(id="picker-list")
            yield Static(self._help(), id="picker-help")

    def _head(self) -> str:
        return _("[b]Compare with a run[/b] in {folder}/").format(folder=self.runs_dir)

    def _help(self) -> str:
        return _("enter: draw it on the loss chart · escape: cancel")

    async def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.add_option(Option(_("reading the run folders…"), disabled=True))
        self.runs = await asyncio.to_thread(list_runs, self.runs_dir)
        self._list_runs()
        options.focus()

    def _list_runs(self) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        self.choices = []
        if self.shown:
            options.add_option(Option(_("none (take the compared run off the chart)")))
            self.choices.append("")
        for run in self.runs or []:
            options.add_option(Option(run.line()))
            self.choices.append(run.path)
        if not self.choices:
            options.add_option(
                Option(
                    _("no run folder with a {file} in {folder}/").format(
                        file=METRICS_FILE, folder=self.runs_dir
                    ),
                    disabled=True,
                )
            )
        else:
            options.highlighted = 0

    def relabel(self) -> None:
        """The dialog in the new language, the same run highlighted."""
        self.query_one("#picker-head", Static).update(self._head())
        self.query_one("#picker-help", Static).update(self._help())
        if self.runs is not None:
            options = self.query_one(OptionList)
            highlighted = options.highlighted
            self._list_runs()
            if highlighted is not None and self.choices:
                options.highlighted = highlighted

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if 0 <= event.option_index < len(self.choices):
            self.dismiss(self.choices[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
