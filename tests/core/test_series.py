"""What a chart does to a series (core.series) and how a run's metrics.jsonl is read back into
series (core.metrics_file): exact values on small hand-written inputs, the errors' words, and
a million-point series whose one-step spike survives thinning to a chart's width."""

from __future__ import annotations

import json
import math

import pytest

from core.errors import ConfigError
from core.metrics_file import available, metrics_path, number, read_rows, series
from core.series import columns, ema, finite, window

# -- core.series ---------------------------------------------------------------------------------


def test_finite_leaves_out_nan_inf_and_non_numbers():
    steps = [1, 2, 3, 4, 5]
    values = [1.0, math.nan, math.inf, None, 2]
    assert finite(steps, values) == ([1, 5], [1.0, 2.0])


def test_window_keeps_the_last_n_steps():
    steps = [10, 20, 30, 40, 50]
    values = [5.0, 4.0, 3.0, 2.0, 1.0]
    assert window(steps, values, 25) == ([30, 40, 50], [3.0, 2.0, 1.0])
    assert window(steps, values, 0) == (steps, values)
    assert window([], [], 10) == ([], [])


def test_ema_is_debiased_like_tensorboard():
    assert ema([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]
    out = ema([1.0, 2.0, 3.0], 0.5)
    # last = 0.5, 1.25, 2.125; each divided by 1 - 0.5**n
    assert out == pytest.approx([1.0, 1.25 / 0.75, 2.125 / 0.875])
    with_nan = ema([1.0, math.nan, 3.0], 0.5)
    assert with_nan[0] == 1.0 and math.isnan(with_nan[1])
    assert with_nan[2] == pytest.approx((0.5 * 0.5 + 1.5) / 0.75)  # the NaN did not count


def test_columns_leaves_a_short_series_alone():
    steps, values = [1, 2, 3], [3.0, 1.0, 2.0]
    assert columns(steps, values, 10) == (steps, values)


def test_columns_keeps_a_one_step_spike_in_a_million_points():
    n, width = 1_000_000, 100
    steps = list(range(1, n + 1))
    values = [2.0 + (i % 7) * 0.01 for i in range(n)]
    values[654_321] = 40.0  # a single step that blew up
    values[123_456] = -3.0  # and one that dipped
    out_s, out_v = columns(steps, values, width)
    assert len(out_s) == len(out_v) <= 2 * width + 2
    assert 40.0 in out_v and out_s[out_v.index(40.0)] == 654_322
    assert -3.0 in out_v and out_s[out_v.index(-3.0)] == 123_457
    assert out_s[0] == 1 and out_s[-1] == n
    assert out_s == sorted(out_s)


# -- core.metrics_file: series -------------------------------------------------------------------

NEW_ROWS = [
    {
        "kind": "train",
        "step": 10,
        "train_loss": 2.5,
        "lr": 0.001,
        "grad_norm": 0.8,
        "tokens_per_s": 13000.0,
        "elapsed_s": 1.0,
    },
    {
        "kind": "train",
        "step": 20,
        "train_loss": 2.25,
        "lr": 0.002,
        "grad_norm": "inf",
        "tokens_per_s": 12500.0,
        "elapsed_s": 2.0,
        "mem_alloc_mb": 100.5,
    },
    {"kind": "eval", "step": 20, "val_loss": 2.4, "elapsed_s": 2.5},
    {
        "kind": "train",
        "step": 30,
        "train_loss": "nan",
        "lr": 0.003,
        "grad_norm": 1.5,
        "tokens_per_s": None,
        "elapsed_s": 3.0,
        "fan_rpm": 87,
    },
]
OLD_ROWS = [  # before rows had a kind: one row a report, val_loss in it when evaluated
    {
        "step": 7,
        "train_loss": 3.0,
        "lr": 0.01,
        "grad_norm": 1.0,
        "tokens_per_s": 900.0,
        "elapsed_s": 1.0,
    },
    {
        "step": 15,
        "train_loss": 2.0,
        "lr": 0.01,
        "grad_norm": 0.5,
        "tokens_per_s": 950.0,
        "elapsed_s": 2.0,
        "val_loss": 2.2,
    },
    {
        "step": 21,
        "train_loss": 1.5,
        "lr": 0.005,
        "grad_norm": 0.25,
        "tokens_per_s": 1000.0,
        "elapsed_s": 3.0,
        "val_loss": 1.9,
    },
]


def test_series_of_the_new_rows():
    assert series(NEW_ROWS, "lr") == ([10, 20, 30], [0.001, 0.002, 0.003])
    assert series(NEW_ROWS, "val_loss") == ([20], [2.4])
    assert series(NEW_ROWS, "tokens_per_s") == ([10, 20], [13000.0, 12500.0])  # null skipped
    assert series(NEW_ROWS, "mem_alloc_mb") == ([20], [100.5])
    assert series(NEW_ROWS, "fan_rpm") == ([30], [87.0])
    steps, values = series(NEW_ROWS, "train_loss")
    assert steps == [10, 20, 30] and values[:2] == [2.5, 2.25] and math.isnan(values[2])
    assert series(NEW_ROWS, "grad_norm")[1][1] == math.inf
    loss = series(NEW_ROWS, "loss")  # the alias
    assert loss[0] == steps and loss[1][:2] == [2.5, 2.25]


def test_series_of_the_old_rows_without_a_kind():
    assert series(OLD_ROWS, "train_loss") == ([7, 15, 21], [3.0, 2.0, 1.5])
    assert series(OLD_ROWS, "val_loss") == ([15, 21], [2.2, 1.9])
    assert series(OLD_ROWS, "grad_norm") == ([7, 15, 21], [1.0, 0.5, 0.25])


def test_a_resumed_run_that_wrote_steps_again_keeps_the_later_rows():
    rows = [{"step": s, "train_loss": float(s)} for s in (10, 20, 30, 40)]
    rows += [{"step": s, "train_loss": s + 0.5} for s in (30, 40, 50)]  # resumed at step 20
    assert series(rows, "train_loss") == ([10, 20, 30, 40, 50], [10.0, 20.0, 30.5, 40.5, 50.5])


def test_rows_without_a_usable_step_are_skipped():
    rows = [
        {"train_loss": 1.0},
        {"step": "x", "train_loss": 2.0},
        {"step": True, "train_loss": 3.0},
        {"step": 4.0, "train_loss": 4.0},
        {"step": 5, "train_loss": 5},
    ]
    assert series(rows, "train_loss") == ([4, 5], [4.0, 5.0])


def test_number_reads_the_non_finite_strings():
    assert number("nan") != number("nan")  # NaN
    assert number("inf") == math.inf and number("-inf") == -math.inf
    assert number(3) == 3.0 and number(0.5) == 0.5
    for nothing in (None, True, "fast", [1], {"x": 1}):
        assert number(nothing) is None


def test_a_metric_no_row_holds_lists_those_they_do():
    with pytest.raises(ConfigError) as err:
        series(NEW_ROWS, "gpu_temp", "runs/a/metrics.jsonl")
    assert err.value.message == "runs/a/metrics.jsonl holds no gpu_temp values"
    assert err.value.hint == (
        "its rows hold: train_loss, val_loss, lr, grad_norm, tokens_per_s, mem_alloc_mb, "
        "elapsed_s, fan_rpm"
    )
    assert available(OLD_ROWS) == [
        "train_loss",
        "val_loss",
        "lr",
        "grad_norm",
        "tokens_per_s",
        "elapsed_s",
    ]
    with pytest.raises(ConfigError, match="holds no tokens_per_s values"):  # null in every row
        series([{"step": 1, "tokens_per_s": None, "f": 1.0}], "tokens_per_s")


# -- core.metrics_file: read_rows ----------------------------------------------------------------


def _write(folder, text: str | bytes):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "metrics.jsonl"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _lines(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_read_rows_from_a_folder_or_the_file(tmp_path):
    path = _write(tmp_path / "run", _lines(NEW_ROWS))
    assert read_rows(tmp_path / "run") == NEW_ROWS
    assert read_rows(path) == NEW_ROWS
    assert metrics_path(str(tmp_path / "run")) == path


def test_python_json_literals_and_blank_lines_and_crlf(tmp_path):
    text = '{"step": 1, "train_loss": NaN}\r\n\n  \n{"step": 2, "train_loss": Infinity}\r\n'
    _write(tmp_path, text)
    steps, values = series(read_rows(tmp_path), "train_loss")
    assert steps == [1, 2] and math.isnan(values[0]) and values[1] == math.inf


def test_a_torn_last_line_is_skipped(tmp_path):
    _write(tmp_path, _lines(OLD_ROWS) + '{"step": 30, "train_lo')
    assert read_rows(tmp_path) == OLD_ROWS


@pytest.mark.parametrize(
    "text, line, problem",
    [
        (
            _lines(OLD_ROWS[:1]) + '{"step": 9, "train_lo\n' + _lines(OLD_ROWS[1:]),
            2,
            "Unterminated string starting at column 13",
        ),
        (_lines(OLD_ROWS) + "[1, 2]\n", 4, "it holds an array"),
        ('"step"\n', 1, "it holds a string"),
        # a torn last line after it changes nothing
        (
            _lines(OLD_ROWS) + '{"step": 30, }\n{"step": 31',
            4,
            "Expecting property name enclosed in double quotes at column 14",
        ),
        # ends with a newline: written whole, so not torn
        (_lines(OLD_ROWS) + '{"step": 30, "x"\n', 4, "Expecting ':' delimiter at column 17"),
        ("\n\nnot json\n", 3, "Expecting value at column 1"),
    ],
)
def test_a_malformed_line_is_named(tmp_path, text, line, problem):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        read_rows(tmp_path)
    assert err.value.message == f"{path}, line {line}: not a JSON object ({problem})"
    assert err.value.hint == (
        "each line must hold one JSON object, as `torchdeck train` writes them; "
        f"mend or delete line {line}"
    )


def test_a_malformed_line_far_into_a_long_file_is_named(tmp_path):
    rows = [{"kind": "train", "step": s, "train_loss": 1.0} for s in range(1, 10_001)]
    lines = [json.dumps(r) for r in rows]
    lines[9_000] = lines[9_000][:-1] + ', "x": }'
    path = _write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=f"^{path}, line 9001: not a JSON object"):
        read_rows(tmp_path)


def test_a_long_file_reads_whole(tmp_path):
    rows = [{"kind": "train", "step": s, "train_loss": s / 7} for s in range(1, 10_001)]
    _write(tmp_path, _lines(rows))
    assert read_rows(tmp_path) == rows


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "{path} is empty: the run has not logged a step yet"),
        ("\n  \n", "{path} is empty: the run has not logged a step yet"),
        ('{"step": 1, "tr', "{path} is empty: the run has not logged a step yet"),  # torn only
        (b"\x80PK\x03\x04\x00\x00", "{path} is a binary file, not JSON lines (a zero byte at 5)"),
        (b'{"step": 1}\n\xff\xfe', "{path} is not UTF-8 text, so not JSON lines (byte 12)"),
    ],
)
def test_files_that_hold_no_rows(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        read_rows(tmp_path)
    assert err.value.message == message.format(path=path)


def test_a_missing_folder_or_file(tmp_path):
    with pytest.raises(ConfigError) as err:
        read_rows(tmp_path)
    assert err.value.message == f"no metrics.jsonl in {tmp_path}"
    assert err.value.hint == f"train into it with `torchdeck train --out {tmp_path}`"
    gone = tmp_path / "gone"
    with pytest.raises(ConfigError) as err:
        read_rows(gone)
    assert err.value.message == f"{gone} does not exist"
    assert err.value.hint == (
        f"give a run folder (one that holds metrics.jsonl); `torchdeck train --out {gone}` "
        "makes one"
    )
