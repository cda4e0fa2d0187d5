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

from core import i18n
from core.i18n import N_, _, ngettext
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
# what the bar says of each state (a state the table lacks shows as the engine named it)
STATE_WORDS = {
    "starting": N_("engine starting…"),
    "ready": N_("ready"),
    "idle": N_("ready"),
    "running": N_("running"),
    "paused": N_("paused"),
    "stopped": N_("stopped"),
    "finished": N_("finished"),
    "diverged": N_("diverged"),
    "crashed": N_("crashed"),
    "ended": N_("ended"),
    "disconnected": N_("disconnected"),
}


class Health(str):
    """The words of :func:`engine_health`, with what they say (``kind``): "busy", "silent"
    (no progress while training) or "stopped". The bar colours them by kind, in any language."""

    kind = ""

    def __new__(cls, text: str, kind: str) -> Health:
        health = super().__new__(cls, text)
        health.kind = kind
        return health


def health_kind(health: str) -> str:
    """What ``health`` says: its ``kind``, or, for words set as plain text, read from them."""
    if isinstance(health, Health):
        return health.kind
    if health.startswith("not responding (stopped"):
        return "stopped"
    if health.startswith("not"):
        return "silent"
    return "busy" if health.startswith("busy") else ""


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
        words = _("not responding (stopped, {seconds} s) · ctrl+r restarts")
        return Health(words.format(seconds=f"{silent:.0f}"), "stopped")
    if waited is not None:
        if waited < BUSY_AFTER_S:
            return ""
        return Health(_("busy ({seconds} s)").format(seconds=f"{waited:.0f}"), "busy")
    if training and silent >= SILENT_AFTER_S:
        words = _("not responding ({seconds} s) · ctrl+r restarts")
        return Health(words.format(seconds=f"{silent:.0f}"), "silent")
    return ""


def loss_label(window: int) -> str:
    """What the status bar's loss is: the mean over the steps of the latest report (about a
    quarter second of a run), or one step's loss when stepping by hand."""
    if window == 1:
        return _("loss(last step)")
    return _("loss(avg {steps})").format(steps=window) if window > 1 else _("loss")


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
        seconds = f"{time.monotonic() - self.compiling_since:.0f}"
        return _("compiling ({seconds} s)").format(seconds=seconds)

    def render(self) -> Text:
        words = STATE_WORDS.get(self.state)
        label = i18n._(words) if words else self.state
        style = STATE_STYLE.get(self.state, "")
        if self.corpus_loading:
            label, style = self.corpus_loading, "yellow"
        compiling = self._compiling()
        kind = health_kind(self.health)
        if compiling and kind != "stopped":
            label, style = compiling, "yellow"
        elif self.health and not (self.corpus_loading and kind == "busy"):
            label = self.health
            style = "bold red" if kind in ("stopped", "silent") else "yellow"
        text = Text()
        text.append(" ● ", style=style)
        text.append(label, style=style)
        known_rate = bool(self.tokens_per_s)  # 0: no tokens (the parabola), None: not yet
        rate = f"{fmt_rate(self.tokens_per_s)} tok/s"
        n = self.world_size
        ranks = self.world_size > 1
        loss = fmt_loss(self.loss)
        window = self.loss_window if self.loss is not None else 0
        parts = {
            "device": [self.device],
            "preset": [self.preset],
            "step": [
                _("step {step}/{steps}").format(step=self.step, steps=self.steps),
                f"{self.step}/{self.steps}",
            ],
            "loss": [f"{loss_label(window)} {loss}", _("loss") + f" {loss}"],
            "val": [_("val {loss}").format(loss=fmt_loss(self.val_loss))],
            "rate": [
                f"{rate} · " + ngettext("{n} rank", "{n} ranks", n).format(n=n),
                f"{rate} ×{n}",
                rate,
            ]
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
