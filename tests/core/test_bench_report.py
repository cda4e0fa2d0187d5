"""``torchdeck bench``'s table: figures, targets and failures."""

from __future__ import annotations

from core.bench.report import table


def _link(rate: float, reports: float, size: int, losses: float, stride: int) -> dict:
    return {
        "bytes_per_s": rate,
        "reports_per_s": reports,
        "bytes_per_line": size,
        "losses_per_report": losses,
        "stride": stride,
    }


def test_table_shows_figures_targets_and_failures():
    r = {
        "quick": False,
        "machine": {"cpu_cores": 2, "torch": "2.13.0", "threads": 2},
        "settings": {"rounds": 3, "window_s": 5.0},
        "train_overhead": {
            "median": 0.99,
            "min": 0.97,
            "max": 1.01,
            "runs": [0.99],
            "engine_tokens_per_s": 13100,
            "bare_tokens_per_s": 13200,
            "step_ms": 156.0,
            "target": 0.97,
            "met": True,
        },
        "train_in_app": {"error": "the app probe wrote no result (exit code 1)"},
        "ui_lag_ms_p99": {"error": "the app probe wrote no result (exit code 1)"},
        "first_paint_s": {
            "median": 0.7,
            "min": 0.65,
            "max": 0.8,
            "runs": [0.7],
            "target": 0.6,
            "met": False,
        },
        "engine_ready_s": {"median": 2.0, "min": 1.9, "max": 2.1, "runs": [2.0]},
        "import_torch_s": {"median": 1.8, "min": 1.7, "max": 1.9, "runs": [1.8]},
        "predict_ms": {
            "idle": {"p50": 4.0, "p95": 5.0, "n": 30},
            "training": {"p50": 80.0, "p95": 160.0, "n": 30},
            "step_ms": 156.0,
            "training_p95_steps": 1.03,
            "target_idle_p95": 20.0,
            "target_training_p95_steps": 2.0,
            "met": True,
        },
        "rss_mb": {
            "ui_idle": 60.1,
            "engine_idle": 400.2,
            "ui_before": 60.0,
            "engine_before": 300.0,
            "ui_after": 61.0,
            "engine_after": 305.0,
            "steps": 2000,
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
        "attach_s": {
            "median": 0.54,
            "min": 0.5,
            "max": 0.7,
            "runs": [0.54, 0.5, 0.7],
            "target": 1.0,
            "met": True,
            "steps": 10000,
            "chart_points": 500,
            "first_paint_s": 0.48,
            "engine_ready_s": 0.44,
        },
        "link_bytes_per_s": {
            "value": 2400.0,
            "target": 20000,
            "met": True,
            "budget": 16000,
            "gpt": _link(2400.0, 4.0, 600, 2.0, 1),
            "gpt_budgeted": _link(2400.0, 4.0, 600, 2.0, 1),
            "mini": _link(30000.0, 4.0, 7500, 340.0, 1),
            "mini_budgeted": _link(15800.0, 4.0, 3950, 166.0, 3),
            "slow_budget": 4000,
            "gpt_slow": _link(2400.0, 4.0, 600, 2.0, 1),
            "mini_slow": _link(3900.0, 1.0, 3900, 166.0, 12),
        },
    }
    text = table(r)
    lines = text.splitlines()
    row = next(line for line in lines if line.startswith("train_overhead"))
    assert "0.99 [0.97–1.01]" in row and row.endswith("≥ 0.97 ok")
    assert "13.1k / 13.2k  (156 ms/step)" in text
    assert any(
        line.startswith("train_in_app") and "failed: the app probe wrote no result" in line
        for line in lines
    )
    assert next(line for line in lines if line.startswith("first_paint_s")).endswith("≤ 0.6 MISSED")
    assert "80.0 / 160.0 = 1.03 steps" in text
    assert "60.0 → 61.0 / 300.0 → 305.0" in text
    assert "quality (300 of 2000 steps)" in text and "2000 steps ≈ 313 s" in text
    assert "not measured (no CUDA device)" in text
    row = next(line for line in lines if line.startswith("attach_s"))
    assert "(10,000-step run)" in row and "0.54 s [0.50–0.70]" in row
    assert row.endswith("≤ 1.0 ok") and "500 / 0.48 s (engine ready 0.44 s)" in text
    row = next(line for line in lines if line.startswith("link_bytes_per_s"))
    assert "2,400 B/s = 4.0/s × 600 B (2 losses)" in row
    assert row.endswith("≤ 20,000 ok")
    row = next(line for line in lines if "mini, budget 16,000 B/s" in line)
    assert row.endswith("15,800 B/s = 4.0/s × 3,950 B (166 losses, means of ≤ 3)")
    assert [line.split("  ")[1] for line in lines if line.startswith("  gpt, ")] == [
        "gpt, budget 16,000 B/s",
        "gpt, budget 4,000 B/s",
    ]
    row = next(line for line in lines if "mini, budget 4,000 B/s" in line)
    assert row.endswith("3,900 B/s = 1.0/s × 3,900 B (166 losses, means of ≤ 12)")
