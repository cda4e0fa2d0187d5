"""``torchdeck bench``'s ``explain_to_paint_ms`` (``core.bench.explain_probe``): the criterion on
canned explain views drawn through the emulator, the figure's stats and target, where the part
runs in the feel session, and its rows in the table. The real app runs it in
``test_bench_feel``'s quick run."""

from __future__ import annotations

from core.bench import feel_probes
from core.bench.explain_probe import (
    ATTENTION_TITLE,
    DRAWN,
    bars_shown,
    drawn,
    explain_figure,
    explained,
    why_line,
)
from core.bench.feel_probes import FEEL_FIGURES, latency
from core.bench.plan import FIGURES, TARGETS, Plan, only_figures
from core.bench.pty_screen import shows
from core.bench.report import table
from tests.core.test_bench_feel import AFTER_BARS, STATUS, TABS, TEXT, draw, predict_lines


def explain_lines(box: str, fed: str, target: str = "s 4%") -> list[str]:
    """The Predict pane with its explain view open (80×24): the box shows ``box``, the view's
    why line the last characters of ``fed`` that fit, drawn as the view draws them."""
    lines = [STATUS.format(state="ready", step=0), TABS, "━" * 80]
    lines += ["▊" + "▔" * 78 + "▎", "▊  " + f"{box[-70:]:<76}" + "▎", "▊" + "▁" * 78 + "▎"]
    lines += ["…" + "  ".join(drawn(fed[-20:])), " 70" * 20, "text loss 4.718 nats"]
    char, pct = target.split()
    head = f"why '{char}' {pct}: "
    lines.append("▏ " + head + drawn(fed)[-(77 - len(head)) :])
    lines.append("▏ near 's':  \\ 0.19  5 0.19  D 0.19")
    lines.append(f"▏ {'attention · layer 1/4 · head 1/4':<48} logit lens: top next chars")
    lines += ["▏ " + drawn(fed[-14:]), *["▏ ab ▀▀▀▀▀▀▀▀▀▀▀▀▀▀"] * 8, "▏ [ ] layer · , . head"]
    while len(lines) < 22:
        lines.append("▏")
    return [*lines, " T=1 ↑↓ │ top-k all k │ top-p off p │ sampled s │ gen 200 g n", ""]


def test_a_key_counts_once_the_why_line_ends_with_the_typed_text():
    new = TEXT + "t"
    before = draw(explain_lines(TEXT, TEXT))
    assert why_line(before) is not None and why_line(before).startswith("why 's' 4%: ")
    assert explained(TEXT)(before) and not explained(new)(before)
    # the echo alone: the box shows the key, the view is the old reply's
    assert not explained(new)(draw(explain_lines(new, TEXT)))
    # the view redrawn from the key's reply (another top character too)
    after = draw(explain_lines(TEXT, TEXT), explain_lines(new, new, "t 31%"))
    assert explained(new)(after) and why_line(after).startswith("why 't' 31%: ")
    # a space is drawn as ␣ and read as one: a trailing one is no blank
    spaced = TEXT + "to "
    lines = draw(explain_lines(spaced, spaced))
    assert why_line(lines).endswith("to␣")
    assert explained(spaced)(lines) and not explained(TEXT + "to")(lines)
    # the view shows only the last characters that fit: still their end
    long = TEXT * 3 + "python"
    assert explained(long)(draw(explain_lines(long, long)))


def test_the_view_is_told_from_the_bars():
    view = draw(explain_lines(TEXT, TEXT))
    bars = draw(predict_lines(TEXT, TEXT, AFTER_BARS, "4.718"))
    assert shows(ATTENTION_TITLE)(view) and view[11].startswith("▏ attention · layer 1/4")
    assert not shows(ATTENTION_TITLE)(bars)
    assert bars_shown(bars) and not bars_shown(view)
    assert why_line(bars) is None and not explained(TEXT)(bars)
    # a view with no attribution (its note) has no why line; the box's text is never one
    noted = explain_lines("why 'x' 1%: " + TEXT, TEXT)
    noted[9] = "▏ no attribution"
    assert why_line(draw(noted)) is None


def test_characters_are_drawn_as_the_view_draws_them():
    from tui.format import visible_char

    for ch in (*DRAWN, "a", "Z", "'", "…"):
        assert drawn(ch) == visible_char(ch)
    assert drawn("a b\nc") == "a␣b⏎c"


def test_the_figure_is_the_idle_p95_against_30_ms():
    assert TARGETS["explain_to_paint_ms_p95"] == 30
    assert "explain_to_paint_ms" in FEEL_FIGURES
    assert only_figures("explain_to_paint_ms") == ("explain_to_paint_ms",)
    # measured after the idle keystrokes, before training starts
    assert FIGURES.index("keystroke_to_paint_ms") < FIGURES.index("explain_to_paint_ms")
    assert FIGURES.index("explain_to_paint_ms") < FIGURES.index("start_to_progress_ms")
    assert (Plan().feel_explain_keys, Plan.quick_plan().feel_explain_keys) == (32, 8)
    f = explain_figure(latency([20.0, 22.0, 25.0, 28.0]), 140.0)
    assert f["value"] == f["p95"] == 27.55 and f["p50"] == 23.5 and f["n"] == 4
    assert f["met"] is True and f["target"] == 30 and f["open_ms"] == 140.0
    assert f["context_chars"] == 64
    assert explain_figure(latency([20.0, 40.0]), 140.0)["met"] is False  # over
    timed_out = explain_figure(latency([20.0, None, 21.0]), None)
    assert timed_out["timeouts"] == 1 and timed_out["met"] is False
    assert explain_figure(latency([None]), None)["value"] is None


class Session:
    """The feel session's parts, as calls in turn."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def pane_switch(self) -> dict:
        self.calls.append("pane_switch")
        return {}

    def cells(self) -> dict:
        self.calls.append("cells")
        return {}

    def predict_ready(self) -> None:
        self.calls.append("predict_ready")

    def type_keys(self, keys: str, training: bool, budget_s: float):
        self.calls.append("training keys" if training else "idle keys")
        stats = latency([10.0])
        return stats, stats

    def start_training(self) -> float:
        self.calls.append("start_training")
        return 200.0

    def read_for(self, seconds: float) -> None:
        pass

    def step_ms(self, since: float) -> float:
        return 120.0


def test_the_part_runs_after_the_idle_keys_and_before_training(monkeypatch):
    from core.bench import explain_probe

    def measure(session, plan):
        session.calls.append("explain")
        return {"value": 1.0}

    monkeypatch.setattr(explain_probe, "measure_explain", measure)
    every = Session()
    out = feel_probes._parts(Plan(only=FEEL_FIGURES), every)
    assert every.calls[2:6] == ["predict_ready", "idle keys", "explain", "start_training"]
    assert out["explain_to_paint_ms"] == {"value": 1.0} and "start_to_progress_ms" in out
    alone = Session()
    out = feel_probes._parts(Plan(only=("explain_to_paint_ms",)), alone)
    assert alone.calls == ["explain"] and set(out) == {"explain_to_paint_ms"}  # no training


def test_the_table_shows_the_figure():
    r = {
        "quick": False,
        "machine": {"cpu_cores": 2, "torch": "2.13.0", "threads": 2},
        "settings": {"rounds": 3, "window_s": 5.0},
        "explain_to_paint_ms": explain_figure(latency([20.0, 22.0, None]), 140.0),
    }
    text = table(r)
    assert "explain_to_paint_ms idle p50 / p95" in text
    assert "21 / 22 ms (2 keys, 1 timed out)" in text and "p95 ≤ 30 MISSED" in text
    assert "e to the explain view drawn" in text and "140 ms" in text
    r["explain_to_paint_ms"] = explain_figure(latency([20.0, 22.0]), None)
    assert "p95 ≤ 30 ok" in table(r) and "-- ms" in table(r)
    r["explain_to_paint_ms"] = {"error": "e drew no attention title in the Predict pane"}
    assert "explain_to_paint_ms  failed: e drew no attention title" in table(r)
