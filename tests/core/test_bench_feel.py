"""``torchdeck bench``'s feel figures (``core.bench.feel_probes``): the screen criteria on canned
terminal output drawn through the emulator, frames told apart by time, the table's rows, and
the figures from the real app in a pseudo-terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pyte

from core.bench.feel_probes import FEEL_FIGURES, latency
from core.bench.plan import FIGURES, TARGETS, only_figures
from core.bench.pty_screen import (
    PtyScreen,
    cell_shown,
    echoed,
    painted,
    pane_shown,
    prediction_block,
    status_step,
)
from core.bench.report import table

STATUS = " ● {state}  │ cpu │ gpt │ step {step}/2000 │ loss -- │ val -- │ -- tok/s"
TABS = " Summary F1  Train F2  Playground F3  Predict F4"
CONTROLS = " T=1 ↑↓ │ top-k all k │ top-p off p │ sampled s │ gen 200 g n"
SIDE = ["generated text appears here: ctrl+g", "(in the box) or g streams 200"]


def strip_rows(text: str) -> list[str]:
    """The token strip as the Predict pane draws it: the end of the text, a cell per char."""
    cells = ["␣" if ch == " " else ch for ch in text[-20:]]
    return ["…" + "".join(f"{c:<3}" for c in cells), " " + " ".join("70" for _ in cells)]


def predict_lines(box: str, strip: str, bars: list[tuple[str, float]], loss: str) -> list[str]:
    """A Predict pane screen (80×24): the box shows ``box``, the strip ``strip``'s end, the bars
    ``bars`` (char, probability)."""
    lines = [STATUS.format(state="ready", step=0), TABS, "━" * 80]
    lines += ["▊" + "▔" * 78 + "▎", "▊  " + f"{box[-70:]:<76}" + "▎", "▊" + "▁" * 78 + "▎"]
    lines += strip_rows(strip) if strip else ["type below: each character becomes an id", ""]
    lines.append(f"text loss {loss} nats · untrained: random weights")
    head = "next character  (uniform 1/103 = 0.97%) "
    lines.append(f"{head:<40}▏ {SIDE[0]}")
    for n, (ch, p) in enumerate(bars):
        side = SIDE[1] if n == 0 else ""
        lines.append(f"{f' {ch}  ▍{p * 100:25.1f}%   {n:>2}':<40}▏ {side}")
    while len(lines) < 22:
        lines.append(" " * 40 + "▏")
    return [*lines, CONTROLS, " " * 68 + "▏^p palette"]


def ansi(lines: list[str]) -> bytes:
    """``lines`` as a full-screen update the way Textual writes one: each row positioned, in
    colour, its cells padded to the width."""
    out = ["\x1b[?25l"]
    for row, line in enumerate(lines, start=1):
        out.append(f"\x1b[{row};1H\x1b[38;5;253;48;5;233m{line:<80}\x1b[0m")
    return "".join(out).encode()


def draw(*updates: list[str]) -> list[str]:
    """The emulated screen after ``updates`` were written to it, in turn."""
    screen = pyte.Screen(80, 24)
    stream = pyte.ByteStream(screen)
    for lines in updates:
        stream.feed(ansi(lines))
    return screen.display


BEFORE_BARS = [("e", 0.024), ("9", 0.018), ("Q", 0.016), ("K", 0.014), ("y", 0.014)]
AFTER_BARS = [("e", 0.031), ("t", 0.019), ("Q", 0.016), ("s", 0.013), ("y", 0.012)]
TEXT = "the quick brown fox jumps over the lazy dog while a model learns "


def test_a_key_counts_as_painted_only_once_its_prediction_is_on_screen():
    before = draw(predict_lines(TEXT, TEXT, BEFORE_BARS, "4.741"))
    new = TEXT + "t"
    block = prediction_block(before)
    assert block is not None and "next character" in block and "4.741" in block
    assert "generated text" not in block  # the side panel is left out
    check = painted(new, block)
    assert not check(before)
    # the echo alone: the box shows the key, the strip and bars are the old reply's
    echo = draw(predict_lines(new, TEXT, BEFORE_BARS, "4.741"))
    assert echoed(new)(echo) and not echoed(new)(before)
    assert not check(echo)
    # new bars, the strip not yet redrawn (a partial update): not yet
    assert not check(draw(predict_lines(new, TEXT, AFTER_BARS, "4.655")))
    # the strip shows the new text but nothing else changed (a reply that drew no bars)
    assert not check(draw(predict_lines(new, new, BEFORE_BARS, "4.741")))
    # the whole reply: strip and bars
    after = draw(
        predict_lines(TEXT, TEXT, BEFORE_BARS, "4.741"),
        predict_lines(new, new, AFTER_BARS, "4.655"),
    )
    assert check(after)
    # bars alike, the loss in the info line changed: the reply is on screen
    assert check(draw(predict_lines(new, new, BEFORE_BARS, "4.655")))
    # no bars yet (the engine starting): never painted
    empty = predict_lines(new, new, [], "4.655")
    empty[9] = " engine starting…"
    assert prediction_block(draw(empty)) is None and not painted(new, None)(draw(empty))


def test_spaces_in_the_strip_are_read_as_spaces():
    text = TEXT + "to "
    lines = draw(predict_lines(text, text, AFTER_BARS, "4.1"))
    assert painted(text, None)(lines)
    assert not painted(TEXT + "tox", None)(lines)


def playground_lines(cells: list[tuple[str, str]], box: str) -> list[str]:
    lines = [STATUS.format(state="ready", step=0), TABS, "━" * 80, "Python prompt in the engine."]
    for n, (code, value) in enumerate(cells, start=1):
        lines += [f"In [{n}] {code}", value]
    while len(lines) < 18:
        lines.append("")
    lines += ["▊" + "▔" * 78 + "▎", "▊ " + f"{box:<77}" + "▎", "▊" + "▁" * 78 + "▎"]
    lines.append("enter runs · ctrl+t recipes · ctrl+s save · ctrl+n fresh namespace · esc leaves")
    return [*lines, " ^c Interrupt cell  ^t Recipes", ""]


def test_a_cell_is_shown_with_its_value_on_the_next_row():
    check = cell_shown("6*7+1", "43")
    assert echoed("6*7+1")(draw(playground_lines([("6*7", "42")], "6*7+1")))
    assert not check(draw(playground_lines([("6*7", "42")], "6*7+1")))
    assert not check(draw(playground_lines([("6*7", "42"), ("6*7+1", "")], "")))  # no value yet
    assert not check(draw(playground_lines([("6*7", "42"), ("6*7+12", "54")], "")))
    assert check(draw(playground_lines([("6*7", "42"), ("6*7+1", "43")], "")))


def test_a_pane_is_shown_once_its_line_is_there_and_the_last_ones_gone():
    predict = draw(predict_lines(TEXT, TEXT, BEFORE_BARS, "4.7"))
    playground = draw(playground_lines([], ""))
    assert pane_shown("predict", "playground")(predict)
    assert not pane_shown("playground", "predict")(predict)
    assert pane_shown("playground", "predict")(playground)
    # half drawn: the new pane's line is there, the old one's not yet gone
    half = list(playground)
    half[22] = CONTROLS
    assert not pane_shown("playground", "predict")(half)
    assert status_step(predict) == 0
    assert status_step(draw([STATUS.format(state="running", step=12)])) == 12
    assert status_step(draw(["no status bar"])) is None


def test_frames_are_bursts_timed_by_their_last_chunk(tmp_path):
    """Two screen updates 0.3 s apart, the first written in pieces: two frames, each at the time
    its bytes came, the first one whole when it is read."""
    first = ansi(predict_lines(TEXT, TEXT, BEFORE_BARS, "4.741"))
    second = ansi(predict_lines(TEXT + "t", TEXT + "t", AFTER_BARS, "4.655"))
    script = (
        "import os, sys, time\n"
        f"a, b = {first!r}, {second!r}\n"
        "for i in range(0, len(a), 1000): os.write(1, a[i:i + 1000])\n"
        "time.sleep(0.3)\n"
        "os.write(1, b)\n"
        "time.sleep(0.3)\n"
    )
    app = PtyScreen([sys.executable, "-c", script], cwd=tmp_path)
    try:
        deadline = time.perf_counter() + 10
        t1 = app.next_frame(deadline)
        assert t1 is not None and "4.741" in "\n".join(app.lines)
        assert painted(TEXT, None)(app.lines)
        seen = app.wait_for({"p": painted(TEXT + "t", prediction_block(app.lines))}, "p", 5)
        assert seen["p"] is not None and 0.2 < seen["p"] - t1 < 1.0
    finally:
        app.wait(timeout=10)


def test_the_feel_figures_are_figures_with_targets():
    assert set(FEEL_FIGURES) <= set(FIGURES)
    assert only_figures("keystroke_to_paint_ms") == ("keystroke_to_paint_ms",)
    assert TARGETS["keystroke_to_paint_ms_p95"] == 16 and TARGETS["cell_to_paint_ms_p95"] == 20
    assert TARGETS["pane_switch_ms_p95"] == 33 and TARGETS["start_to_progress_ms"] == 250
    stats = latency([10.0, None, 30.0])
    assert stats == {"n": 2, "timeouts": 1, "p50": 20.0, "p95": 29.0, "ms": [10.0, None, 30.0]}
    assert latency([None])["p95"] is None


def test_the_table_shows_the_feel_figures():
    keys = {"n": 32, "timeouts": 0, "p50": 40.0, "p95": 52.0}
    r = {
        "quick": False,
        "machine": {"cpu_cores": 2, "torch": "2.13.0", "threads": 2},
        "settings": {"rounds": 3, "window_s": 5.0},
        "pane_switch_ms": {
            "value": 115.0,
            "first": {"summary": 115.0, "playground": 60.0, "predict": 100.0},
            "later": {"n": 16, "timeouts": 1, "p50": 40.0, "p95": 64.0},
            "summary_table_ms": 900.0,
            "target": 33.0,
            "met": False,
        },
        "cell_to_paint_ms": {"value": 12.0, **keys, "p95": 12.0, "target": 20.0, "met": True},
        "keystroke_to_paint_ms": {
            "value": 52.0,
            "idle": keys,
            "training": {"n": 30, "timeouts": 0, "p50": 400.0, "p95": 700.0},
            "echo": {"n": 26, "timeouts": 0, "p50": 7.0, "p95": 9.0},
            "step_ms": 760.0,
            "target": 16.0,
            "training_target_ms": 776.0,
            "met": False,
        },
        "start_to_progress_ms": {"error": "no training step showed within 60 s of s"},
    }
    text = table(r)
    assert "pane_switch_ms first visit" in text and "summary 115 / playground 60" in text
    assert "40 / 64 ms (16 visits, 1 timed out)" in text and "900 ms" in text
    assert "cell_to_paint_ms p50 / p95" in text and "p95 ≤ 20 ok" in text
    assert "40 / 52 ms (32 keys)" in text and "p95 ≤ 16 MISSED" in text
    assert "a step 760 ms" in text and "p95 ≤ 776 (a step + 16) ok" in text
    assert "start_to_progress_ms" in text and "failed: no training step" in text


def test_quick_bench_measures_switches_cells_and_the_explain_view_in_the_app():
    env = {k: v for k, v in os.environ.items() if k != "TORCHDECK_TIMINGS"}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "bench", "--quick", "--json"]
        + ["--only", "pane_switch_ms,cell_to_paint_ms,explain_to_paint_ms"],
        capture_output=True,
        encoding="utf-8",
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    r = json.loads(proc.stdout)
    only = ["pane_switch_ms", "cell_to_paint_ms", "explain_to_paint_ms"]
    assert r["errors"] == {} and r["settings"]["only"] == only
    assert "keystroke_to_paint_ms" not in r and "train_overhead" not in r
    f = r["pane_switch_ms"]
    assert set(f["first"]) == {"summary", "playground", "predict"}
    assert all(0 < ms < 5000 for ms in f["first"].values())
    assert f["later"]["n"] + f["later"]["timeouts"] == 1 + 4  # Train (shown at start), a round
    assert 0 < f["later"]["p50"] <= f["later"]["p95"] and f["target"] == 33
    assert f["value"] >= max(f["first"].values()) and isinstance(f["met"], bool)
    assert f["summary_table_ms"] is None or f["summary_table_ms"] > 0
    f = r["cell_to_paint_ms"]
    assert f["n"] + f["timeouts"] == 5 and f["n"] >= 4
    assert 0 < f["p50"] <= f["p95"] == f["value"] and f["target"] == 20
    f = r["explain_to_paint_ms"]  # 8 keys with the view open, after the cells
    assert f["n"] + f["timeouts"] == 8 and f["n"] >= 7 and 0 < f["open_ms"] < 10_000
    assert 0 < f["p50"] <= f["p95"] == f["value"] and f["target"] == 30
    assert time.perf_counter() - started < 120


def test_ready_means_a_model_is_configured_not_just_an_engine():
    from core.bench.pty_screen import READY, shows

    engine_only = [" ● ready  │ - │ - │ step 0/0 │ loss -- │ val -- │ -- tok/s", TABS]
    configured = [STATUS.format(state="ready", step=0), TABS]
    assert not shows(READY)(engine_only) and shows(READY)(configured)
