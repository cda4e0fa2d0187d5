"""``torchdeck bench`` in Vietnamese (area bench): its help, its refusals and its table; in
English nothing changes. The app the bench measures speaks English whatever the bench's
language, since the probes read its screen. The catalog is the shipped one."""

from __future__ import annotations

import sys

import pytest
from rich.cells import cell_len

import core.bench as bench
from cli.main import main as torchdeck
from core import i18n
from core.bench.app_probes import PtyApp
from core.bench.report import aligned, table
from core.bench.report import cell_len as report_cell_len


@pytest.fixture
def vi(monkeypatch):
    """Speak Vietnamese; English again afterwards."""
    monkeypatch.setenv(i18n.ENV_VAR, i18n.ENGLISH)  # set_language writes it: put back after
    i18n.set_language("vi")
    yield
    i18n.set_language("en")


def _figures() -> dict:
    """A result with fixed figures: a row of most kinds the table draws."""
    keys = {"n": 32, "timeouts": 0, "p50": 40.0, "p95": 52.0}
    return {
        "quick": False,
        "machine": {
            "cpu_cores": 2,
            "torch": "2.13.0",
            "threads": 2,
            "load_avg_1min": {"start": 1.5, "end": 2.0},
        },
        "settings": {"rounds": 3, "window_s": 5.0, "overhead_rounds": 6, "overhead_window_s": 2.5},
        "train_overhead": {
            "median": 0.99,
            "min": 0.97,
            "max": 1.01,
            "engine_tokens_per_s": 13100,
            "bare_tokens_per_s": 13200,
            "step_ms": 156.0,
            "target": 0.97,
            "met": True,
        },
        "first_paint_s": {"median": 0.7, "min": 0.65, "max": 0.8, "target": 0.6, "met": False},
        "engine_ready_s": {"median": 2.0, "min": 1.9, "max": 2.1},
        "import_torch_s": {"median": 1.8, "min": 1.7, "max": 1.9},
        "train_in_app": {"error": "the app probe wrote no result (exit code 1)"},
        "predict_ms": {
            "idle": {"p50": 4.0, "p95": 5.0},
            "training": {"p50": 80.0, "p95": 160.0},
            "training_p95_steps": 1.03,
            "target_idle_p95": 20.0,
            "target_training_p95_steps": 2.0,
            "met": True,
        },
        "keystroke_to_paint_ms": {
            "idle": keys,
            "training": {"n": 30, "timeouts": 2, "p50": 400.0, "p95": 700.0},
            "echo": {"n": 26, "timeouts": 0, "p50": 7.0, "p95": 9.0},
            "step_ms": 760.0,
            "target": 16.0,
            "training_target_ms": 776.0,
        },
        "quality": {
            "steps": 300,
            "full": False,
            "wall_s": 47.0,
            "tokens_per_s": 13000,
            "val_loss": 1.9,
            "wall_s_2000_estimate": 313.3,
        },
        "cuda": {"measured": False, "reason": "not measured (no CUDA device)"},
    }


def _row(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def test_bench_help_is_printed_in_vietnamese(vi, capsys):
    with pytest.raises(SystemExit) as done:
        torchdeck(["--lang", "vi", "bench", "--help"])
    assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert out.startswith("cách dùng: torchdeck bench")
    assert "Đo tốc độ huấn luyện so với một vòng lặp PyTorch trần" in out
    assert "in một đối tượng JSON, không in bảng" in out
    assert "đo chỉ số chất lượng trọn 2000 bước" in out
    assert "chỉ đo các chỉ số này (và những chỉ số chúng cần): train_overhead," in out
    assert "Measure training speed" not in out and "print one JSON object" not in out
    # and English again, word for word as before
    with pytest.raises(SystemExit):
        torchdeck(["--lang", "en", "bench", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: torchdeck bench")
    assert "Measure training speed against a bare PyTorch loop" in out
    assert "run the quality figure for the full 2000 steps (about 4 minutes more on 2 cores)" in out


def test_bad_arguments_are_refused_in_vietnamese(vi, capsys):
    assert bench.main(["--rounds", "0"]) == 2
    err = capsys.readouterr().err
    assert "--rounds 0 nằm ngoài khoảng cho phép; hãy cho một số nguyên ≥ 1" in err
    assert bench.main(["--only", "scaling"]) == 2
    err = capsys.readouterr().err
    assert "--only 'scaling' không phải một chỉ số" in err and "scaling_cpu_2x1" in err


def test_the_table_in_vietnamese_keeps_figure_names_and_aligns_its_columns(vi):
    text = table(_figures())
    assert text.startswith("torchdeck bench — 2 lõi CPU, torch 2.13.0, 2 luồng; gpt; vòng A/B:")
    assert "trung vị [min–max]" in text and "tải trung bình (1 phút) 1.5 lúc đầu" in text
    row = _row(text, "train_overhead (engine ÷ vòng trần)")
    assert "0.99 [0.97–1.01]" in row and row.endswith("≥ 0.97 đạt")
    assert _row(text, "first_paint_s").endswith("≤ 0.6 KHÔNG ĐẠT")
    assert _row(text, "train_in_app").endswith(
        "thất bại: the app probe wrote no result (exit code 1)"
    )
    assert "80.0 / 160.0 = 1.03 bước" in text and "p95 ≤ 2 bước đạt" in text
    row = _row(text, "keystroke_to_paint_ms khi huấn luyện")
    assert "400 / 700 ms (30 phím, 2 quá hạn); một bước 760 ms" in row
    assert row.endswith("p95 ≤ 776 (một bước + 16) KHÔNG ĐẠT")
    assert "chất lượng (300 trên 2000 bước)" in text and "2000 bước ≈ 313 s" in text
    assert "tok/s, val 1.9000" in text
    assert "  python -c 'import torch'" in text and "tham chiếu" in text
    # the second column starts on one terminal column in every row
    lines = text.splitlines()[3:]
    starts = {
        cell_len(line[: line.index(value)])
        for line, value in zip(
            [_row(text, "train_overhead"), _row(text, "first_paint_s"), _row(text, "chất lượng")],
            ["0.99 [", "0.70 [", "47.0 s"],
        )
    }
    assert len(starts) == 1
    assert all(report_cell_len(line) == cell_len(line) for line in lines)


def test_the_table_in_english_is_unchanged_after_vietnamese(vi):
    i18n.set_language("en")
    english = table(_figures())
    i18n.set_language("vi")
    assert table(_figures()) != english
    i18n.set_language("en")
    assert table(_figures()) == english
    assert _row(english, "train_overhead (engine ÷ bare)").endswith("≥ 0.97 ok")
    assert _row(english, "first_paint_s").endswith("≤ 0.6 MISSED")
    assert "400 / 700 ms (30 keys, 2 timed out); a step 760 ms" in english
    assert "quality (300 of 2000 steps)" in english and "2000 steps ≈ 313 s" in english


def test_columns_are_padded_by_terminal_cells():
    lines = aligned([("bước", "ô", "đạt"), ("ab", "全角", "")])
    assert lines == ["bước  ô     đạt", "ab    全角"]
    assert report_cell_len("全角") == cell_len("全角") == 4


def test_the_measured_app_speaks_english_whatever_the_bench_speaks(vi):
    app = PtyApp([sys.executable, "-c", "import os; print('lang=' + os.environ['TORCHDECK_LANG'])"])
    app.wait(timeout=30)
    assert "lang=en" in app.screen_tail()
