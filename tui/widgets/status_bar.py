"""The one-line status bar: engine state, device, preset, step, losses, throughput (each item
whole: at 80 columns the least useful ones are shortened or go, :func:`fit_parts`); and, when
the engine keeps the app waiting, its health ("busy (12 s)", "not responding"): see
:func:`engine_health`, which the app's heartbeat timer calls twice a second."""

from __future__ import annotations

import time

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.format import fmt_loss, fmt_rate

STATE_STYLE = {
    "starting": "yellow",
    "ready": "green",
    "idle": "green",
    "running": "bold green",
    "paused": "yellow",
    "stopped": "cyan",
    "finished": "cyan",
    "diverged": "bold red",
    "crashed": "bold red",
    "ended": "cyan",  # shut down in an orderly way (another client, torchdeck stop)
    "disconnected": "yellow",  # the connection went; the engine still runs
}


BUSY_AFTER_S = 2.0  # a request waiting this long shows "busy (N s)"
SILENT_AFTER_S = 10.0  # nothing heard this long, while something was due: "not responding"


def engine_health(
    now: float,
    *,
    alive: bool,
    training: bool,
    pending_since: float | None,
    heard_at: float,
    stopped: bool = False,
) -> str:
    """What the status bar says of an engine that keeps the app waiting, or "" when all is well.
    ``alive``: the engine process runs; ``stopped``: it is stopped (SIGSTOP, a debugger);
    ``training``: a run is going (progress is due every report interval); ``pending_since``:
    when the oldest request without its reply was sent; ``heard_at``: when the engine's latest
    line (reply or event) arrived. Times in seconds of one clock (``time.monotonic()``).

    A request being worked on is "busy", however long: the engine answers one request at a
    time, so a 30 s cell is not a fault. "not responding" is kept for a stopped engine and for
    a run whose progress stops coming with no request to explain it."""
    if not alive:
        return ""
    waited = None if pending_since is None else now - pending_since
    since = heard_at if pending_since is None else max(heard_at, pending_since)
    silent = now - since
    if stopped:
        return f"not responding (stopped, {silent:.0f} s) · ctrl+r restarts"
    if waited is not None:
        return f"busy ({waited:.0f} s)" if waited >= BUSY_AFTER_S else ""
    if training and silent >= SILENT_AFTER_S:
        return f"not responding ({silent:.0f} s) · ctrl+r restarts"
    return ""


def loss_label(window: int) -> str:
    """What the status bar's loss is: the mean over the steps of the latest report (about a
    quarter second of a run), or one step's loss when stepping by hand."""
    if window == 1:
        return "loss(last step)"
    return f"loss(avg {window})" if window > 1 else "loss"


def fit_parts(parts: dict[str, list[str]], cuts: list[tuple[str, int | None]], room: int) -> list:
    """The status bar's items in order, each as its longest wording (``parts``: name → its
    wordings, longest first), then shortened or dropped one cut at a time (``cuts``: name and
    the index of its next wording, or None to drop it) until they fit ``room`` cells, with
    " │ " between them. Never cuts a word: what does not fit goes whole."""
    shown = {name: words[0] for name, words in parts.items()}

    def width() -> int:
        return sum(cell_len(text) + 3 for text in shown.values())

    for name, index in cuts:
        if width() <= room:
            break
        if name not in shown:
            continue
        if index is None:
            del shown[name]
        elif index < len(parts[name]):
            shown[name] = parts[name][index]
    while shown and width() > room:  # narrower than any plan: the last items go
        shown.popitem()
    return list(shown.values())


class StatusBar(Widget):
    DEFAULT_CSS = "StatusBar { height: 1; }"

    state: reactive[str] = reactive("starting")
    """Engine state: starting, ready, running, paused, stopped, finished, diverged, crashed,
    ended, disconnected."""
    device: reactive[str] = reactive("-")
    preset: reactive[str] = reactive("-")
    step: reactive[int] = reactive(0)
    steps: reactive[int] = reactive(0)
    loss: reactive[float | None] = reactive(None)
    val_loss: reactive[float | None] = reactive(None)
    tokens_per_s: reactive[float | None] = reactive(None)
    loss_window: reactive[int] = reactive(0)
    """The steps ``loss`` is the mean of (the latest report's; 1: a step by hand; 0: unknown)."""
    world_size: reactive[int] = reactive(1)
    """Ranks training together: 2 or more shows "· N ranks" after tok/s (the whole job's)."""
    corpus_loading: reactive[str] = reactive("")
    """"reading corpus 45%" while the engine loads a training text; else ""."""
    health: reactive[str] = reactive("")
    """"" while the engine answers; else "busy (N s)" or "not responding…" (engine_health)."""
    compiling_since: reactive[float | None] = reactive(None)
    """When (``time.monotonic()``) the engine began compiling the training step, while it
    does: the bar says "compiling (N s)", counting, instead of "not responding"."""
    _ticker = None

    def watch_compiling_since(self, since: float | None) -> None:
        if since is not None and self._ticker is None:
            self._ticker = self.set_interval(1.0, self.refresh)
        elif since is None and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def _compiling(self) -> str:
        if self.compiling_since is None or self.state in ("crashed", "ended", "disconnected"):
            return ""
        return f"compiling ({time.monotonic() - self.compiling_since:.0f} s)"

    def render(self) -> Text:
        label = {"starting": "engine starting…", "idle": "ready"}.get(self.state, self.state)
        style = STATE_STYLE.get(self.state, "")
        if self.corpus_loading:
            label, style = self.corpus_loading, "yellow"
        compiling = self._compiling()
        if compiling and not self.health.startswith("not responding (stopped"):
            label, style = compiling, "yellow"
        elif self.health and not (self.corpus_loading and self.health.startswith("busy")):
            label = self.health
            style = "bold red" if self.health.startswith("not") else "yellow"
        text = Text()
        text.append(" ● ", style=style)
        text.append(label, style=style)
        known_rate = bool(self.tokens_per_s)  # 0: no tokens (the parabola), None: not yet
        rate = f"{fmt_rate(self.tokens_per_s)} tok/s"
        ranks = self.world_size > 1
        loss = fmt_loss(self.loss)
        window = self.loss_window if self.loss is not None else 0
        parts = {
            "device": [self.device],
            "preset": [self.preset],
            "step": [f"step {self.step}/{self.steps}", f"{self.step}/{self.steps}"],
            "loss": [f"{loss_label(window)} {loss}", f"loss {loss}"],
            "val": [f"val {fmt_loss(self.val_loss)}"],
            "rate": [f"{rate} · {self.world_size} ranks", f"{rate} ×{self.world_size}", rate]
            if ranks
            else [rate],
        }
        # the least useful first: figures not known yet, the device, the word "step", the
        # ranks' words, the loss's window, then whole items, the loss last
        cuts = [
            *([("rate", None)] if not known_rate else []),
            *([("val", None)] if self.val_loss is None else []),
            ("device", None),
            ("step", 1),
            ("rate", 1),
            ("preset", None),
            ("loss", 1),
            ("rate", 2),
            ("val", None),
            ("rate", None),
            ("step", None),
            ("loss", None),
        ]
        if self.size.width:  # a blank cell at the right end
            shown = fit_parts(parts, cuts, self.size.width - cell_len(text.plain) - 2)
        else:  # not laid out yet: no width to fit
            shown = [words[0] for words in parts.values()]
        if shown:
            text.append("  │ " + " │ ".join(shown))
        return text
