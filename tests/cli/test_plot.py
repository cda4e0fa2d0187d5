"""``torchdeck plot``, run as a real subprocess on run folders holding hand-written
metrics.jsonl files: the chart's title, legend and axis labels, plain text when piped and
colour on a terminal, and each file it cannot plot refused in two lines (exit 2, no
traceback). It reads files only: no torch, no engine."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ESC = "\x1b"


def train_row(step: int, **extra) -> dict:
    row = {
        "kind": "train",
        "step": step,
        "train_loss": round(1.0 + 3.0 * math.exp(-step / 300), 4),
        "lr": 3e-4 * min(1.0, step / 100),
        "grad_norm": 0.5 + (step % 7) / 10,
        "tokens_per_s": 13000.0 + step,
        "elapsed_s": step / 10,
    }
    row.update(extra)
    return row


def make_run(folder, rows=None, tail: str = ""):
    """A run folder whose metrics.jsonl holds ``rows`` (default: 100 train rows every 10 steps
    and an eval row every 250), then ``tail`` as written."""
    if rows is None:
        rows = []
        for step in range(10, 1001, 10):
            rows.append(train_row(step))
            if step % 250 == 0:
                rows.append({"kind": "eval", "step": step, "val_loss": 1.5, "elapsed_s": step})
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in rows) + tail
    (folder / "metrics.jsonl").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def plot(run_cli, tmp_path):
    """``plot(*args)``: ``torchdeck plot ARGS`` in tmp_path, output piped."""
    return lambda *args: run_cli("plot", *map(str, args), cwd=tmp_path)


def assert_plain_chart(out, width: int = 100, height: int = 25):
    assert out.returncode == 0, out.stderr
    assert ESC not in out.stdout
    lines = out.stdout.splitlines()
    assert len(lines) == height
    assert max(len(line) for line in lines) == width
    assert "Traceback" not in out.stderr


def test_one_run_piped_is_plain_text_with_title_legend_and_labels(plot, tmp_path):
    make_run(tmp_path / "mini-0412")
    out = plot(tmp_path / "mini-0412")
    assert_plain_chart(out)
    assert out.stderr == ""
    lines = out.stdout.splitlines()
    assert lines[0].strip() == "train loss"
    assert "mini-0412" in out.stdout and "◆◆ mini-0412 val" in out.stdout  # the legend
    assert lines[-1].startswith("loss (nats)") and lines[-1].split()[-1] == "step"
    assert lines[-2].split() == ["200", "400", "600", "800", "1000"]  # round x ticks


def test_a_metrics_file_can_be_named_itself(plot, tmp_path):
    make_run(tmp_path / "r1")
    out = plot(tmp_path / "r1" / "metrics.jsonl", "--width", 60, "--height", 15)
    assert_plain_chart(out, 60, 15)
    assert "r1" in out.stdout


def test_two_runs_overlaid_each_named_by_its_folder(plot, tmp_path):
    make_run(tmp_path / "a" / "seed1")
    make_run(tmp_path / "b" / "seed1", [train_row(s, train_loss=2.0) for s in range(5, 501, 5)])
    out = plot(tmp_path / "a" / "seed1", tmp_path / "b" / "seed1")
    assert_plain_chart(out)
    # the same folder name twice: named with their parents to tell them apart
    assert "a/seed1" in out.stdout and "b/seed1" in out.stdout
    assert "a/seed1 val" in out.stdout and "b/seed1 val" not in out.stdout  # b has no eval


def test_metric_lr(plot, tmp_path):
    make_run(tmp_path / "run")
    out = plot(tmp_path / "run", "--metric", "lr", "--height", 16)
    assert_plain_chart(out, height=16)
    lines = out.stdout.splitlines()
    assert lines[0].strip() == "learning rate"
    assert lines[-1].startswith("learning rate")
    assert "val" not in out.stdout  # validation markers are for the loss chart only
    ticks = [line.split("┤")[0].strip() for line in lines if "┤" in line]
    # from the top, one unit for the axis; the schedule starts at 3e-5
    assert ticks == ["3.0e-4", "2.5e-4", "2.0e-4", "1.5e-4", "1.0e-4", "5.0e-5"]


@pytest.mark.parametrize(
    "metric, title, label",
    [
        ("loss", "train loss", "loss (nats)"),
        ("val_loss", "validation loss", "loss (nats)"),
        ("tokens_per_s", "throughput", "tokens/s"),
        ("grad_norm", "gradient norm before clipping", "grad norm"),
        ("mem_peak_mb", "CUDA memory, peak", "MiB"),
        ("fan_rpm", "fan_rpm", "fan_rpm"),  # any number the rows hold
        ("gpu_util", "GPU utilisation", "% busy"),  # the short name of gpu_util_pct
        ("rss", "engine memory (RSS)", "MiB"),
    ],
)
def test_metric_titles_and_units(plot, tmp_path, metric, title, label):
    rows = [
        train_row(s, mem_peak_mb=512.0 + s, fan_rpm=50 + s % 9, gpu_util_pct=90.0, proc_rss_mb=9.0)
        for s in range(1, 300)
    ]
    rows.append({"kind": "eval", "step": 299, "val_loss": 1.25})
    rows.insert(100, {"kind": "eval", "step": 100, "val_loss": 1.5})
    make_run(tmp_path / "run", rows)
    out = plot(tmp_path / "run", "--metric", metric)
    assert_plain_chart(out)
    lines = out.stdout.splitlines()
    assert lines[0].strip() == title
    assert lines[-1].startswith(label)


def test_smooth_keeps_the_raw_points_under_the_smoothed_line(plot, tmp_path):
    make_run(tmp_path / "run")
    out = plot(tmp_path / "run", "--smooth", "0.9")
    assert_plain_chart(out)
    assert out.stdout.splitlines()[0].strip() == "train loss · smoothed 0.9"
    assert "⋅" in out.stdout  # the raw line, as dots when there is no faint colour
    assert "⋅" not in plot(tmp_path / "run").stdout


def test_last_and_log_are_in_the_title(plot, tmp_path):
    make_run(tmp_path / "run")
    out = plot(tmp_path / "run", "--last", 200, "--log")
    assert_plain_chart(out)
    assert out.stdout.splitlines()[0].strip() == "train loss · last 200 steps · log scale"
    assert out.stdout.splitlines()[-2].split() == ["850", "900", "950", "1000"]


def test_a_torn_last_line_from_a_run_still_writing_is_skipped(plot, tmp_path):
    make_run(tmp_path / "run", tail='{"kind": "train", "step": 1010, "train_l')
    out = plot(tmp_path / "run")
    assert_plain_chart(out)
    assert out.stderr == ""


def test_old_rows_without_a_kind_plot(plot, tmp_path):
    rows = [{"step": s, "train_loss": 3 - s / 100, "lr": 0.01} for s in range(1, 200)]
    rows[-1]["val_loss"] = 1.2
    make_run(tmp_path / "old", rows)
    out = plot(tmp_path / "old")
    assert_plain_chart(out)
    assert "old val" in out.stdout


def test_a_run_without_the_metric_is_left_out_with_a_note(plot, tmp_path):
    make_run(tmp_path / "gpu", [train_row(s, mem_peak_mb=100.0 + s) for s in range(1, 50)])
    make_run(tmp_path / "cpu", [train_row(s) for s in range(1, 50)])
    out = plot(tmp_path / "gpu", tmp_path / "cpu", "--metric", "mem_peak_mb")
    assert_plain_chart(out)
    note = f"torchdeck plot: note: {tmp_path / 'cpu' / 'metrics.jsonl'} holds no mem_peak_mb"
    assert out.stderr.startswith(note)
    assert "cpu" not in out.stdout.split("┐")[1].split("└")[0]  # not in the legend


def _refused(out, message: str, hint: str) -> None:
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr == f"torchdeck plot: {message}\nhint: {hint}\n"
    assert "Traceback" not in out.stderr


def test_a_missing_folder(plot, tmp_path):
    _refused(
        plot(tmp_path / "nope"),
        f"{tmp_path / 'nope'} does not exist",
        f"give a run folder (one that holds metrics.jsonl); `torchdeck train --out "
        f"{tmp_path / 'nope'}` makes one",
    )


def test_a_folder_without_metrics(plot, tmp_path):
    (tmp_path / "run").mkdir()
    _refused(
        plot(tmp_path / "run"),
        f"no metrics.jsonl in {tmp_path / 'run'}",
        f"train into it with `torchdeck train --out {tmp_path / 'run'}`",
    )


def test_an_empty_file(plot, tmp_path):
    make_run(tmp_path / "run", [])
    _refused(
        plot(tmp_path / "run"),
        f"{tmp_path / 'run' / 'metrics.jsonl'} is empty: the run has not logged a step yet",
        "a run writes a row every --log-every steps; plot it once the first is written",
    )


def test_a_malformed_line_in_the_middle(plot, tmp_path):
    rows = [train_row(s) for s in (10, 20)]
    make_run(tmp_path / "run", rows, tail='{"kind": "train", "step": 30,\n' + json.dumps(rows[0]))
    _refused(
        plot(tmp_path / "run"),
        f"{tmp_path / 'run' / 'metrics.jsonl'}, line 3: not a JSON object (Expecting property "
        "name enclosed in double quotes at column 30)",
        "each line must hold one JSON object, as `torchdeck train` writes them; mend or delete "
        "line 3",
    )


def test_an_unknown_metric_lists_the_ones_there(plot, tmp_path):
    make_run(tmp_path / "run")
    _refused(
        plot(tmp_path / "run", "--metric", "gpu_temp"),
        f"{tmp_path / 'run' / 'metrics.jsonl'} holds no gpu_temp values",
        "its rows hold: train_loss, val_loss, lr, grad_norm, tokens_per_s, elapsed_s; choose "
        "one with --metric NAME",
    )


def test_a_binary_file(plot, tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)))
    _refused(
        plot(path),
        f"{path} is a binary file, not JSON lines (a zero byte at 5)",
        "give a run folder or its metrics.jsonl, the JSON lines that `torchdeck train` writes",
    )


def test_a_run_that_diverged_at_once(plot, tmp_path):
    make_run(tmp_path / "run", [train_row(s, train_loss="nan") for s in (10, 20, 30)])
    _refused(
        plot(tmp_path / "run"),
        "every train_loss value is nan or inf: there is no point to draw",
        "the run diverged from its first logged step; a smaller --lr keeps it finite, and "
        "--metric lr or grad_norm shows what happened",
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--smooth", "1"],
            "argument --smooth: 1 is out of range: want a number in [0, 1), e.g. 0.9",
        ),
        (["--last", "0"], "argument --last: 0 is out of range: want an integer ≥ 1"),
        (["--width", "10"], "argument --width: 10 is out of range: want an integer ≥ 30"),
    ],
)
def test_bad_options_are_refused_in_two_lines(plot, tmp_path, args, message):
    make_run(tmp_path / "run")
    # argparse's refusals say "error:", as every command's do
    _refused(plot(tmp_path / "run", *args), f"error: {message}", "see `torchdeck plot --help`")


def test_plot_loads_no_torch_and_starts_no_engine(cli_env, tmp_path):
    make_run(tmp_path / "run")
    probe = (
        "import sys, contextlib, io\n"
        "from cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main(['plot', {str(tmp_path / 'run')!r}])\n"
        "print(rc, 'torch' in sys.modules, 'numpy' in sys.modules, 'core.client' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        encoding="utf-8",
        timeout=120,
    )
    assert out.stdout.split() == ["0", "False", "False", "False"], out.stderr


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_colours_on_a_terminal(cli_command, cli_env, tmp_path):
    make_run(tmp_path / "a")
    make_run(tmp_path / "b", [train_row(s, train_loss=2.0 + s % 3) for s in range(10, 1001, 10)])
    env = {**cli_env(), "COLUMNS": "80", "LINES": "24", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    leader, follower = os.openpty()
    try:
        proc = subprocess.Popen(
            [*cli_command, "plot", str(tmp_path / "a"), str(tmp_path / "b"), "--smooth", "0.6"],
            stdout=follower,
            stderr=subprocess.PIPE,
            env=env,
            cwd=tmp_path,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    finally:
        os.close(leader)
    text = b"".join(chunks).decode("utf-8")
    assert "\x1b[38;5;33m" in text and "\x1b[38;5;208m" in text  # each run its own colour
    assert "\x1b[38;5;67m" in text  # the first run's raw line, faint, under its smoothed one
    assert "⋅" not in text
    assert len(text.splitlines()) == 23  # the terminal's height, a line left for the prompt


def test_a_one_step_spike_in_a_long_run_reaches_its_height(plot, tmp_path):
    rows = [{"kind": "train", "step": s, "train_loss": 1.0 + (s % 5) / 100} for s in range(50_000)]
    rows[31_337]["train_loss"] = 9.0
    make_run(tmp_path / "long", rows)
    out = plot(tmp_path / "long", "--height", 20)
    assert_plain_chart(out, height=20)
    ticks = [line.split("┤")[0].strip() for line in out.stdout.splitlines() if "┤" in line]
    assert ticks[0] == "9"  # the top of the y axis is the spike's
    assert out.stdout.splitlines()[-2].split() == ["0", "10k", "20k", "30k", "40k"]


def test_tick_labels():
    from cli.plot import log_ticks, tick_labels, ticks

    assert ticks(0, 1000, 5) == (
        [0, 200, 400, 600, 800, 1000],
        ["0", "200", "400", "600", "800", "1000"],
    )
    assert tick_labels([0, 250_000, 500_000], 250_000) == ["0", "250k", "500k"]
    assert tick_labels([1_000_000, 1_500_000], 500_000) == ["1.0M", "1.5M"]
    assert tick_labels([1e-4, 2e-4], 1e-4) == ["1e-4", "2e-4"]
    assert tick_labels([2.5e-5, 5e-5, 7.5e-5], 2.5e-5) == ["2.5e-5", "5.0e-5", "7.5e-5"]
    assert tick_labels([0.25, 0.5], 0.25) == ["0.25", "0.50"]
    assert ticks(-0.98, 0.98, 3)[1] == ["-0.5", "0.0", "0.5"]  # the nearest round step
    assert ticks(2.0, 2.0, 5) == ([2.0], ["2"])
    assert log_ticks(0.015, 3.0, 8) == (
        [0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0],
        ["0.02", "0.05", "0.1", "0.2", "0.5", "1", "2"],
    )
    assert log_ticks(0.015, 3.0, 6) == ([0.1, 1.0], ["0.1", "1"])  # only the powers of ten fit
    assert log_ticks(1e-5, 10.0, 8)[1] == ["1e-5", "1e-4", "0.001", "0.01", "0.1", "1", "10"]
