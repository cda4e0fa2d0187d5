"""What a person feels: the real app (``torchdeck --preset gpt``) in a pseudo-terminal, keys
written to it at a human pace, each timed from its bytes written to the first frame on the
emulated screen (``pty_screen``) that shows its effect. Nothing inside the app is asked.

One app, one session, in this order (each part only if its figure is wanted):

- ``pane_switch_ms``: ``1``/``3``/``4``/``2`` (after ``esc``, as a person leaves a text box,
  when a box has the keys) to the first frame showing the target pane's own line
  (:data:`PANE_MARKS`) with the previous pane's gone. The first visit of each lazily built pane
  is kept apart from later visits; the Summary's first visit also says when its layer table came
  (``summary_table_ms``: an engine round trip, not part of the switch).
- ``cell_to_paint_ms``: Playground, ``6*7`` then ``6*7+i`` typed (the echo awaited), Enter to
  the first frame where the transcript shows the cell and, on the next row, its value.
- ``keystroke_to_paint_ms``, idle: Predict, 64 characters of context typed, then one key every
  :data:`PACE_S` (or once the last one has painted, if later): key to the first frame where the
  token strip ends with the new text (the strip is drawn from the engine's reply, never from the
  box) and the prediction block (the info line and the bars) differs from just before the key.
  A key with no such frame within :data:`KEY_TIMEOUT_S` counts as a timeout. The box's echo is
  timed too: the app holds it (12 ms at most) for the bars, to paint both in one frame.
- ``explain_to_paint_ms``, idle: the same with the explain view (key ``e``) open, each key to
  the view redrawn for it (``explain_probe``); the view is left afterwards.
- ``start_to_progress_ms``: Train, ``s`` to the first frame where the status bar's step is > 0.
- ``keystroke_to_paint_ms``, while training: as idle (the context typed again), with the run
  going; a key may take :data:`TRAINING_TIMEOUT_STEPS` steps before it counts as a timeout. The
  step time is read from the status bar's step counter over the same keys (the frame times of
  its changes).

Either typing series stops early after ``plan.feel_typing_s`` seconds (a slow machine's run).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from core.bench.engines import private_runtime
from core.bench.plan import TARGETS, Plan
from core.bench.pty_screen import (
    READY,
    SUMMARY_TABLE,
    Lines,
    PtyScreen,
    cell_shown,
    echoed,
    painted,
    pane_shown,
    prediction_block,
    shows,
    status_step,
)
from core.bench.stats import percentile
from core.contract.settings import GPT
from core.errors import TorchdeckError
from core.i18n import _

FEEL_FIGURES = (
    "pane_switch_ms",
    "cell_to_paint_ms",
    "keystroke_to_paint_ms",
    "explain_to_paint_ms",
    "start_to_progress_ms",
)
KEY_TIMEOUT_S = 2.0  # a key with no effect on screen within this is a timeout, not a hang
FIRST_VISIT_TIMEOUT_S = 5.0  # a pane built on its first show
TRAINING_TIMEOUT_STEPS = 4  # while training, a key's time out in steps (if over 2 s)
READY_TIMEOUT_S = 120.0
PACE_S = 0.12  # a human typing: one key every 120 ms
MIN_GAP_S = 0.03  # after a slow key's effect, before the next key
SETTLE_S = 0.3  # after a switch, before the next: the pane's own follow-ups land
ESC_WAIT_S = 0.3  # after esc: the app's escape delay (100 ms) passes, the box is left

# 64 characters of context, then the keys typed one by one: letters and spaces, all in the
# default corpus (the Python docs)
CONTEXT = "the quick brown fox jumps over the lazy dog while a model learns "[:64]
KEYS = (
    "to predict the next character of python code from the docs and then "
    "it trains for many steps on some text"
)
FEEL_SETTINGS = {
    "app": f"torchdeck --preset {GPT} --device cpu",
    "terminal": "80x24, pyte",
    "pace_ms": PACE_S * 1000,
    "key_timeout_s": KEY_TIMEOUT_S,
    "context_chars": len(CONTEXT),
}
PANE_KEYS = {"summary": "1", "train": "2", "playground": "3", "predict": "4"}
BOX_PANES = ("playground", "predict")  # their text box takes the keys: esc before a digit
QUIT_DIALOG = r"keep training in the background"


def _ms(start: float, stamp: float | None) -> float | None:
    return None if stamp is None else round((stamp - start) * 1000, 2)


def latency(values: list[float | None]) -> dict:
    """p50/p95 of the timed ones, and how many timed out."""
    done = [v for v in values if v is not None]
    out: dict = {"n": len(done), "timeouts": len(values) - len(done), "p50": None, "p95": None}
    if done:
        out.update(p50=round(percentile(done, 50), 2), p95=round(percentile(done, 95), 2))
    out["ms"] = values  # each in turn; None: timed out
    return out


class FeelSession:
    """The app in a pseudo-terminal, driven as a person would, timing what the screen shows."""

    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.app = PtyScreen(
            [sys.executable, "-m", "cli.main", "--preset", GPT, "--device", "cpu"], cwd=workdir
        )
        self.pane = "train"
        self.visited = {"train"}  # built at start, shown first
        self.steps: list[tuple[float, int]] = []  # (frame time, status bar step) on changes
        self.trained_at = 0.0  # when s started the run
        self.app.on_frame = self._note_step

    def _note_step(self, stamp: float, lines: Lines) -> None:
        step = status_step(lines)
        if step is not None and (not self.steps or step != self.steps[-1][1]):
            self.steps.append((stamp, step))

    def fail(self, what: str) -> TorchdeckError:
        return TorchdeckError(
            what, _("the app's screen: {screen}").format(screen=self.app.screen_tail())
        )

    def read_for(self, seconds: float) -> None:
        """Wait, reading the screen meanwhile."""
        deadline = time.perf_counter() + seconds
        while self.app.next_frame(deadline) is not None:
            pass

    def wait_ready(self) -> None:
        seen = self.app.wait_for({"ready": shows(READY)}, "ready", READY_TIMEOUT_S)
        if seen["ready"] is None:
            raise self.fail(_("the app did not show a configured model"))
        self.read_for(1.0)  # start-up work after ready (the first system sample) lands

    def key(self, keys: str, checks: dict, until: str, timeout: float) -> tuple[float, dict]:
        """Write ``keys`` once the screen has caught up; the time they were written and the
        first frame time of each of ``checks``."""
        self.app.catch_up()
        start = self.app.send_at(keys)
        return start, self.app.wait_for(checks, until, timeout)

    def paced(self, start: float) -> None:
        """Until the next key: :data:`PACE_S` after this one, and a little after its effect."""
        self.read_for(max(start + PACE_S - time.perf_counter(), MIN_GAP_S))

    def go(self, pane: str) -> float | None:
        """Switch to ``pane`` as a person would: ms to its first frame (None: not in time)."""
        if self.pane in BOX_PANES:
            self.app.send("\x1b")
            self.read_for(ESC_WAIT_S)
        timeout = KEY_TIMEOUT_S if pane in self.visited else FIRST_VISIT_TIMEOUT_S
        start, seen = self.key(
            PANE_KEYS[pane], {"shown": pane_shown(pane, self.pane)}, "shown", timeout
        )
        self.pane = pane
        self.visited.add(pane)
        return _ms(start, seen["shown"])

    def show(self, pane: str) -> None:
        """On ``pane``, settled (not timed)."""
        if self.pane != pane:
            self.go(pane)
            self.read_for(SETTLE_S)

    # -- the parts -----------------------------------------------------------------------------

    def pane_switch(self) -> dict:
        first: dict[str, float | None] = {}
        later: list[float | None] = []
        table = None
        for pane in ("summary", "playground", "predict", "train"):
            new = pane not in self.visited
            ms = self.go(pane)
            if new:
                first[pane] = ms
            else:
                later.append(ms)
            if pane == "summary" and ms is not None:  # its layer table: the engine's summary, drawn
                start = time.perf_counter() - (ms or 0) / 1000
                seen = self.app.wait_for({"t": shows(SUMMARY_TABLE)}, "t", 10.0)
                table = _ms(start, seen["t"])
            self.read_for(SETTLE_S)
        for _round in range(self.plan.feel_switch_rounds):
            for pane in ("summary", "playground", "predict", "train"):
                later.append(self.go(pane))
                self.read_for(SETTLE_S)
        stats = latency(later)
        # the figure: the slower of the worst first visit and the later visits' p95
        timed = [v for v in (*first.values(), stats["p95"]) if v is not None]
        value = max(timed) if timed else None
        target = TARGETS["pane_switch_ms_p95"]
        missing = None in first.values() or stats["timeouts"]
        return {
            "value": value,
            "first": first,
            "later": stats,
            "summary_table_ms": table,
            "target": target,
            "met": value is not None and value <= target and not missing,
        }

    def cells(self) -> dict:
        self.show("playground")
        times: list[float | None] = []
        for i in range(self.plan.feel_cells):
            expr = "6*7" if i == 0 else f"6*7+{i}"
            self.app.send(expr)
            if self.app.wait_for({"e": echoed(expr)}, "e", KEY_TIMEOUT_S)["e"] is None:
                raise self.fail(_("the Playground box did not show {expr!r}").format(expr=expr))
            start, seen = self.key("\r", {"c": cell_shown(expr, str(42 + i))}, "c", KEY_TIMEOUT_S)
            times.append(_ms(start, seen["c"]))
            self.paced(start)
        stats = latency(times)
        target = TARGETS["cell_to_paint_ms_p95"]
        ok = stats["p95"] is not None and stats["p95"] <= target and not stats["timeouts"]
        return {"value": stats["p95"], **stats, "target": target, "met": ok}

    def predict_ready(self) -> None:
        """The Predict pane with :data:`CONTEXT` typed and its bars drawn. Typed afresh each
        time: back on the pane, the box selects its text when focused (Textual's ``Input``),
        so the first key replaces it; either way the text then ends with the context, and only
        its end is read."""
        self.show("predict")
        self.app.send(CONTEXT)
        if self.app.wait_for({"p": painted(CONTEXT, None)}, "p", 10.0)["p"] is None:
            raise self.fail(_("the Predict pane drew no bars for the typed context"))
        self.read_for(SETTLE_S)

    def key_timeout(self, training: bool) -> float:
        """How long a key may take: while training it waits for the step in progress, so
        :data:`TRAINING_TIMEOUT_STEPS` steps as measured so far, if that is longer."""
        if not training:
            return KEY_TIMEOUT_S
        step = self.step_ms(self.trained_at) or 1000.0
        return max(KEY_TIMEOUT_S, TRAINING_TIMEOUT_STEPS * step / 1000)

    def type_keys(self, keys: str, training: bool, budget_s: float) -> tuple[dict, dict]:
        """Type ``keys`` one by one after the context (no new key after ``budget_s`` seconds):
        the keystroke latencies, the echo's."""
        text = CONTEXT
        paints: list[float | None] = []
        echoes: list[float | None] = []
        ends = time.perf_counter() + budget_s
        for ch in keys:
            if time.perf_counter() > ends:
                break
            text += ch
            self.app.catch_up()
            before = prediction_block(self.app.lines)
            checks = {"echo": echoed(text), "paint": painted(text, before)}
            start, seen = self.key(ch, checks, "paint", self.key_timeout(training))
            paints.append(_ms(start, seen["paint"]))
            if ch != " ":
                echoes.append(_ms(start, seen["echo"]))
            self.paced(start)
        return latency(paints), latency(echoes)

    def start_training(self) -> float | None:
        """``s`` on the Train pane: ms to the first step on the status bar."""
        self.show("train")

        def moved(lines: Lines) -> bool:
            step = status_step(lines)
            return step is not None and step > 0

        start, seen = self.key("s", {"m": moved}, "m", 60.0)
        self.trained_at = start
        if seen["m"] is None:
            raise self.fail(_("no training step showed within 60 s of s"))
        return _ms(start, seen["m"])

    def step_ms(self, since: float) -> float | None:
        """Milliseconds a step, from the status bar's step changes after ``since``."""
        log = [(t, s) for t, s in self.steps if t >= since]
        if len(log) < 2 or log[-1][1] <= log[0][1]:
            return None
        return round((log[-1][0] - log[0][0]) * 1000 / (log[-1][1] - log[0][1]), 1)

    def quit(self) -> None:
        self.app.send("\x11")  # ctrl+q
        if self.app.wait_for({"d": shows(QUIT_DIALOG)}, "d", 3.0)["d"] is not None:
            self.app.send("s")  # stop the run and quit
        self.app.wait(timeout=60)


def measure_feel(plan: Plan, workdir: Path) -> dict:
    """The wanted feel figures (:data:`FEEL_FIGURES`) by name; one whose part failed holds
    ``{"error": …}``. Raises if the app never showed its model."""
    with private_runtime(workdir / "sockets-feel"):
        folder = workdir / "feel"
        folder.mkdir(exist_ok=True)
        switch = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)  # the reader thread stamps a chunk without waiting long
        session = FeelSession(plan, folder)
        try:
            session.wait_ready()
            return _parts(plan, session)
        finally:
            sys.setswitchinterval(switch)
            if session.app.proc.poll() is None:
                try:
                    session.quit()
                except TorchdeckError:
                    pass  # killed; the runtime folder's engines are ended on the way out


def _error(exc: TorchdeckError) -> dict:
    return {"error": f"{exc.message} ({exc.hint})"}


def _parts(plan: Plan, session: FeelSession) -> dict:
    out: dict = {}
    for name, work in (
        ("pane_switch_ms", session.pane_switch),
        ("cell_to_paint_ms", session.cells),
    ):
        if plan.wants(name):
            try:
                out[name] = work()
            except TorchdeckError as exc:
                out[name] = _error(exc)
    typing = plan.wants("keystroke_to_paint_ms")
    if not (typing or plan.wants("explain_to_paint_ms", "start_to_progress_ms")):
        return out
    parts: dict = {}
    try:
        if typing:
            session.predict_ready()
            parts["idle"], parts["echo"] = session.type_keys(
                KEYS[: plan.feel_keys], False, plan.feel_typing_s
            )
        if plan.wants("explain_to_paint_ms"):
            from core.bench.explain_probe import measure_explain  # it reads this module

            out["explain_to_paint_ms"] = measure_explain(session, plan)
        if not (typing or plan.wants("start_to_progress_ms")):
            return out
        began = session.start_training()
        since = time.perf_counter()
        session.read_for(2.0)  # a few steps: the run warms up
        if typing:
            session.predict_ready()
            since = time.perf_counter()
            # a key waits for the step in progress: its time out is three steps at least
            keys = KEYS[plan.feel_keys : plan.feel_keys + plan.feel_training_keys]
            parts["training"], _echo = session.type_keys(keys, True, plan.feel_typing_s)
        else:
            session.read_for(3.0)
        step_ms = session.step_ms(since)
    except TorchdeckError as exc:
        for name in ("keystroke_to_paint_ms", "explain_to_paint_ms", "start_to_progress_ms"):
            if plan.wants(name) and name not in out:
                out[name] = _error(exc)
        return out
    if plan.wants("start_to_progress_ms"):
        target = TARGETS["start_to_progress_ms"]
        ok = began is not None and began <= target
        out["start_to_progress_ms"] = {
            "value": began,
            "step_ms": step_ms,
            "target": target,
            "met": ok,
        }
    if typing:
        out["keystroke_to_paint_ms"] = keystroke_figure(parts, step_ms)
    return out


def keystroke_figure(parts: dict, step_ms: float | None) -> dict:
    """Idle p95 against one frame; while training, p95 against one step (measured) more."""
    idle, training = parts["idle"], parts["training"]
    target = TARGETS["keystroke_to_paint_ms_p95"]
    train_target = None if step_ms is None else round(step_ms + target, 1)
    idle_ok = idle["p95"] is not None and idle["p95"] <= target and not idle["timeouts"]
    train_ok = (
        train_target is not None
        and training["p95"] is not None
        and training["p95"] <= train_target
        and not training["timeouts"]
    )
    return {
        "value": idle["p95"],
        "idle": idle,
        "training": training,
        "echo": parts["echo"],
        "step_ms": step_ms,
        "context_chars": len(CONTEXT),
        "target": target,
        "training_target_ms": train_target,
        "met": idle_ok and train_ok,
    }
