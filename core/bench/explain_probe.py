"""``explain_to_paint_ms``: the Predict pane's explain view (key ``e``) redrawn for each key, in
the feel session (``feel_probes``), after the idle keystrokes and before training starts.

The context typed afresh (its bars drawn), ``esc`` leaves the box, ``e`` opens the view (timed
to its attention title and its ``why`` line for the context: ``open_ms``), ``i`` focuses the box
again; then one key every :data:`~core.bench.feel_probes.PACE_S`, as the idle keystrokes: each
key's request carries ``explain``, and it is timed from its bytes to the first frame where the
view's ``why 'X' NN%: …`` line (drawn from the engine's reply, never from the box) ends with the
typed text's last :data:`EXPLAIN_TAIL` characters, drawn as the view draws them. A key with no
such frame within :data:`~core.bench.feel_probes.KEY_TIMEOUT_S` counts as a timeout. Then
``esc`` and ``e`` leave the view (the bars are back for the parts after it) and ``i`` focuses
the box, as the idle keystrokes leave it."""

from __future__ import annotations

import time

from core.bench.feel_probes import (
    CONTEXT,
    ESC_WAIT_S,
    KEY_TIMEOUT_S,
    KEYS,
    SETTLE_S,
    FeelSession,
    _ms,
    latency,
)
from core.bench.plan import TARGETS, Plan
from core.bench.pty_screen import Check, Lines, prediction_block, shows
from core.errors import TorchdeckError
from core.i18n import _

ATTENTION_TITLE = r"attention · layer \d+/\d+ · head \d+/\d+"  # the view's 4th line
WHY = "why '"  # the view's first line: "why 'X' NN%: " then the last fed characters
EXPLAIN_TAIL = 12  # characters of the text the why line must end with
OPEN_TIMEOUT_S = 10.0  # e to the view's first draw (its first request is the slowest)
# how the view draws a character (tui.format.visible_char; a test keeps them equal)
DRAWN = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}


def drawn(text: str) -> str:
    return "".join(DRAWN.get(ch, ch) for ch in text)


def why_line(lines: Lines) -> str | None:
    """The explain view's first line from ``why '`` on, trailing blanks gone; None while the
    view is not drawn (or draws no attribution). Only the side panel's border and padding come
    before it on its row (a text box's row, framed by ▊, is never it)."""
    for line in lines:
        head, found, _rest = line.partition(WHY)
        if found and not head.strip("▏ "):
            return line[len(head) :].rstrip()
    return None


def explained(text: str) -> Check:
    """The explain criterion: the why line ends with ``text``'s last characters, drawn."""
    tail = drawn(text[-EXPLAIN_TAIL:])

    def check(lines: Lines) -> bool:
        line = why_line(lines)
        return line is not None and line.endswith(tail)

    return check


def bars_shown(lines: Lines) -> bool:
    return prediction_block(lines) is not None


def open_view(session: FeelSession) -> float | None:
    """``esc``, then ``e``: ms to the first frame with the attention title and the why line for
    the context (None: not in time); then ``i``, the box has the keys again."""
    session.app.send("\x1b")
    session.read_for(ESC_WAIT_S)
    checks = {"title": shows(ATTENTION_TITLE), "why": explained(CONTEXT)}
    start, seen = session.key("e", checks, "title", OPEN_TIMEOUT_S)
    if seen["title"] is None:
        raise session.fail(_("e drew no attention title in the Predict pane"))
    why = seen["why"] or session.app.wait_for(checks, "why", OPEN_TIMEOUT_S)["why"]
    session.app.send("i")
    session.read_for(SETTLE_S)
    return _ms(start, why)


def close_view(session: FeelSession) -> None:
    """``esc``, then ``e`` until the bars are back; then ``i``."""
    session.app.send("\x1b")
    session.read_for(ESC_WAIT_S)
    _start, seen = session.key("e", {"bars": bars_shown}, "bars", KEY_TIMEOUT_S)
    if seen["bars"] is None:
        raise session.fail(_("e did not bring the bars back"))
    session.app.send("i")
    session.read_for(SETTLE_S)


def explain_keys(session: FeelSession, keys: str, budget_s: float) -> dict:
    """Type ``keys`` one by one after the context, the view open (no new key after
    ``budget_s`` seconds): the latencies."""
    text = CONTEXT
    times: list[float | None] = []
    ends = time.perf_counter() + budget_s
    for ch in keys:
        if time.perf_counter() > ends:
            break
        text += ch
        start, seen = session.key(ch, {"why": explained(text)}, "why", KEY_TIMEOUT_S)
        times.append(_ms(start, seen["why"]))
        session.paced(start)
    return latency(times)


def explain_figure(stats: dict, open_ms: float | None) -> dict:
    """p95 against its target; met with no timeouts."""
    target = TARGETS["explain_to_paint_ms_p95"]
    ok = stats["p95"] is not None and stats["p95"] <= target and not stats["timeouts"]
    return {
        "value": stats["p95"],
        **stats,
        "open_ms": open_ms,
        "context_chars": len(CONTEXT),
        "target": target,
        "met": ok,
    }


def measure_explain(session: FeelSession, plan: Plan) -> dict:
    """The figure, or ``{"error": …}``; once ``e`` was pressed, the view is left either way."""
    opened = False
    try:
        session.predict_ready()
        opened = True  # e is pressed next: from here on, it is pressed again to leave
        open_ms = open_view(session)
        stats = explain_keys(session, KEYS[: plan.feel_explain_keys], plan.feel_typing_s)
        figure = explain_figure(stats, open_ms)
    except TorchdeckError as exc:
        figure = {"error": f"{exc.message} ({exc.hint})"}
    if opened:
        try:
            close_view(session)
        except TorchdeckError:
            pass  # the parts after it say what they find
    return figure
