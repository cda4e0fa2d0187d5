"""``metrics.jsonl`` of a headless run: a train row every ``--log-every`` steps and at the last
step, an eval row at each evaluation, written by the engine as it goes; ``--log-every`` checked
by the contract's rule."""

from __future__ import annotations

import json
from pathlib import Path

TEXT = "the quick brown fox jumps over the lazy dog. " * 200
TINY = ["--preset", "mini", "--batch-size", "4", "--block-size", "8", "--device", "cpu"]


def rows_of(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def test_a_300_step_run_logs_every_10_steps_and_each_evaluation(tmp_path, run_cli):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "run"
    proc = run_cli(
        "train", *TINY, "--corpus", str(corpus), "--steps", "300", "--log-every", "10",
        "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = rows_of(out)
    train = [r for r in rows if r["kind"] == "train"]
    evals = [r for r in rows if r["kind"] == "eval"]
    assert [r["step"] for r in train] == list(range(10, 301, 10))
    assert [r["step"] for r in evals] == [200, 300]  # mini evaluates every 200 and at the end
    assert len(rows) == len(train) + len(evals)
    # in step order, each evaluation after its step's train row
    assert [(r["step"], r["kind"]) for r in rows] == sorted(
        ((r["step"], r["kind"]) for r in rows), key=lambda k: (k[0], k[1] == "eval")
    )
    assert all(isinstance(r["val_loss"], float) for r in evals)
    elapsed = [r["elapsed_s"] for r in train]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    # the cosine schedule's warm-up: lr climbs over the first rows
    assert train[0]["lr"] < train[1]["lr"] < train[2]["lr"]
    assert all(r["grad_norm"] > 0 and r["tokens_per_s"] > 0 for r in train)
    # the done line's validation loss is the last eval row's
    assert f"val loss {evals[-1]['val_loss']:.4f}" in proc.stdout.splitlines()[-1]


def test_resume_appends_rows_from_where_the_run_was(tmp_path, run_cli):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "run"
    first = ["train", *TINY, "--corpus", str(corpus), "--steps", "30", "--out", str(out)]
    assert run_cli(*first, "--log-every", "7", cwd=tmp_path).returncode == 0
    again = ["train", "--resume", "--steps", "45", "--out", str(out), "--log-every", "5"]
    proc = run_cli(*again, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    train = [r for r in rows_of(out) if r["kind"] == "train"]
    assert [r["step"] for r in train] == [7, 14, 21, 28, 30, 35, 40, 45]
    # elapsed goes on counting across the resume
    assert [r["elapsed_s"] for r in train] == sorted(r["elapsed_s"] for r in train)


def test_log_every_out_of_range_is_refused(tmp_path, run_cli):
    proc = run_cli("train", "--preset", "parabola", "--log-every", "0", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == (
        "torchdeck train: error: argument --log-every: 0 is out of range: "
        "want an integer in [1, 1000000]"
    )
    assert "Traceback" not in proc.stderr
