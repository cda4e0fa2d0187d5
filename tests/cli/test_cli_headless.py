"""The headless ``torchdeck train`` / ``torchdeck sample`` commands (cli/headless.py), run as
real subprocesses.

stdout is a pipe here, so ``train`` must print plain records (no carriage returns, no escape
sequences). Each command starts its own engine (~1.5 s of torch import), so runs that several
tests can read are made once per module.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

TEXT = "the quick brown fox jumps over the lazy dog. " * 100
TRAIN_KEYS = {"kind", "step", "train_loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"}


def assert_plain(text: str) -> None:
    """No carriage return, no escape sequence, no control character but the newline."""
    assert "\r" not in text and "\x1b" not in text
    bad = sorted({repr(ch) for ch in text if ch != "\n" and (ord(ch) < 32 or ord(ch) == 127)})
    assert not bad, f"control characters in the output: {bad}"


def read_rows(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]  # every line is valid JSON
    for row in rows:
        assert isinstance(row["step"], int)
        assert isinstance(row["elapsed_s"], (int, float)) and row["elapsed_s"] >= 0
        if row["kind"] == "eval":
            assert set(row) == {"kind", "step", "val_loss", "elapsed_s"}, row
            continue
        assert row["kind"] == "train" and TRAIN_KEYS <= set(row), row
        assert isinstance(row["train_loss"], float) and isinstance(row["lr"], float)
        assert row["tokens_per_s"] is None or row["tokens_per_s"] > 0
    return rows


def read_metrics(run_dir: Path) -> list[dict]:
    """The train rows of a run's metrics.jsonl."""
    return [row for row in read_rows(run_dir) if row["kind"] == "train"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def corpus(workdir) -> Path:
    path = workdir / "fox.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def parabola_run(workdir, run_cli) -> tuple[Path, subprocess.CompletedProcess]:
    out = workdir / "parabola"
    proc = run_cli(
        "train", "--preset", "parabola", "--device", "cpu", "--out", str(out), cwd=workdir
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc


@pytest.fixture(scope="module")
def mini_run(workdir, corpus, run_cli) -> Path:
    out = workdir / "mini"
    proc = run_cli(
        "train",
        "--preset",
        "mini",
        "--corpus",
        str(corpus),
        "--steps",
        "60",
        "--batch-size",
        "8",
        "--block-size",
        "16",
        "--seed",
        "1",
        "--device",
        "cpu",
        "--report-every",
        "0.2",
        "--out",
        str(out),
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr
    assert_plain(proc.stdout)
    assert proc.stdout.splitlines()[0].startswith("torchdeck train: mini · ")
    assert f"· corpus {corpus} (4,500 chars) · out {out}" in proc.stdout.splitlines()[0]
    assert proc.stdout.splitlines()[-1].startswith("done: step 60 · train loss ")
    return out


# -- train ---------------------------------------------------------------------------------------


def test_train_parabola_prints_plain_records(parabola_run):
    out, proc = parabola_run
    assert proc.stderr == ""
    assert_plain(proc.stdout)
    lines = proc.stdout.splitlines()
    assert lines[0] == f"torchdeck train: parabola · 1 parameters · cpu · fp32 · out {out}"
    records = [line for line in lines if line.startswith("step=")]
    assert records, proc.stdout
    assert re.fullmatch(
        r"step=80/80 loss=\d+\.\d{4} lr=0\.01 tokens_per_s=0 elapsed_s=\d+\.\d "
        r"x=0\.3239 f=2\.6669 grad=-0\.06\d\d optimum=0\.3333",
        records[-1],
    ), records[-1]
    assert re.fullmatch(
        r"done: step 80 · train loss \d+\.\d{4} · val loss -- · \d+\.\d s · "
        rf"checkpoint {re.escape(str(out / 'checkpoint.pt'))}",
        lines[-2],
    )
    assert lines[-1] == "parabola: x = 0.3239 (optimum 0.3333, distance 0.0094), f(x) = 2.6669"


def test_train_parabola_writes_metrics_and_checkpoint(parabola_run):
    out, _ = parabola_run
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.pt",
        "config.toml",
        "metrics.jsonl",
    ]
    assert (out / "checkpoint.pt").stat().st_size > 0
    records = read_metrics(out)
    steps = [r["step"] for r in records]
    assert steps == sorted(steps) and steps[-1] == 80
    last = records[-1]
    assert last["lr"] == 0.01
    assert last["tokens_per_s"] is None  # the parabola reads no tokens
    assert not [r for r in read_rows(out) if r["kind"] == "eval"]  # nor evaluates
    assert steps == list(range(10, 81, 10))  # a row every --log-every 10 steps
    p = last["parabola"]
    assert abs(p["x"] - 0.3239) <= 0.001
    assert p["grad"] == pytest.approx(6 * p["grad_at"] - 2, abs=1e-5)
    assert last["grad_norm"] == pytest.approx(abs(p["grad"]), rel=1e-5)


def test_train_again_without_resume_refuses(parabola_run, workdir, run_cli):
    out, _ = parabola_run
    metrics_before = (out / "metrics.jsonl").read_bytes()
    ckpt_before = (out / "checkpoint.pt").stat().st_mtime_ns
    proc = run_cli(
        "train", "--preset", "parabola", "--device", "cpu", "--out", str(out), cwd=workdir
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        f"error: {out / 'checkpoint.pt'} already exists\n"
        "hint: pass --resume to continue that run, or choose another --out\n"
    )
    assert (out / "metrics.jsonl").read_bytes() == metrics_before
    assert (out / "checkpoint.pt").stat().st_mtime_ns == ckpt_before


def test_resume_continues_the_run(parabola_run, tmp_path, run_cli):
    src, _ = parabola_run
    out = tmp_path / "resumed"
    shutil.copytree(src, out)
    first = read_metrics(out)
    proc = run_cli(
        "train", "--out", str(out), "--resume", "--steps", "100", "--device", "cpu", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert_plain(proc.stdout)
    lines = proc.stdout.splitlines()
    assert lines[0] == "resuming parabola from step 80 to 100"
    assert any(line.startswith("step=100/100 ") for line in lines)
    assert lines[-2].startswith("done: step 100 · ")
    records = read_metrics(out)
    assert records[: len(first)] == first  # appended, the first run's records kept
    new = records[len(first) :]
    assert new and all(80 < r["step"] <= 100 for r in new)
    assert records[-1]["step"] == 100
    # 20 more steps of x ← 0.94·x + 0.02 from x_80
    x100 = 1 / 3 - 4 / 3 * 0.94**100
    assert records[-1]["parabola"]["x"] == pytest.approx(x100, abs=1e-4)


def test_resume_without_a_checkpoint_refuses(tmp_path, run_cli):
    out = tmp_path / "empty"
    proc = run_cli("train", "--out", str(out), "--resume", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"error: --resume: no checkpoint at {out / 'checkpoint.pt'}\n"
        "hint: give --out the folder of an earlier run\n"
    )


def test_train_with_a_missing_corpus_fails_cleanly(tmp_path, run_cli):
    missing = tmp_path / "no-such-corpus.txt"
    out = tmp_path / "run"
    proc = run_cli(
        "train",
        "--preset",
        "mini",
        "--corpus",
        str(missing),
        "--device",
        "cpu",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: corpus file not found: {missing}",
        "hint: check the path, or leave --corpus out to use the built-in Python docs",
    ]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not out.exists()  # nothing written for a run that never started


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_the_app_refuses_a_wrong_corpus_before_its_screen_as_train_does(tmp_path, run_cli, kind):
    """Not a fallback to the built-in text that a person would train on by mistake: the app
    does not start, and says why in train's words (no engine is started either)."""
    bad = tmp_path / "nope.txt" if kind == "missing" else tmp_path
    proc = run_cli("--corpus", str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == (
        [
            f"error: corpus file not found: {bad}",
            "hint: check the path, or leave --corpus out to use the built-in Python docs",
        ]
        if kind == "missing"
        else [
            f"error: corpus path is a directory: {bad}",
            "hint: give one UTF-8 text file, e.g. --corpus notes/shakespeare.txt",
        ]
    )
    assert proc.stdout == "" and not (tmp_path / "runs").exists()


# -- mini run and sample -------------------------------------------------------------------------


def test_train_mini_writes_metrics_with_validation(mini_run):
    rows = read_rows(mini_run)
    assert [r["step"] for r in rows if r["kind"] == "train"] == [10, 20, 30, 40, 50, 60]
    # the last step of a run is evaluated on the validation split, after its train row
    assert rows[-1]["kind"] == "eval" and rows[-1]["step"] == 60
    assert isinstance(rows[-1]["val_loss"], float)
    assert all(r["tokens_per_s"] > 0 for r in rows if r["kind"] == "train")
    assert (mini_run / "checkpoint.pt").is_file()


def test_sample_prints_prompt_and_n_characters(mini_run, workdir, run_cli):
    proc = run_cli(
        "sample",
        "--checkpoint",
        str(mini_run),
        "--prompt",
        "the ",
        "--max-new",
        "40",
        "--seed",
        "3",
        "--device",
        "cpu",
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith("the ") and proc.stdout.endswith("\n")
    generated = proc.stdout[len("the ") : -1]
    assert len(generated) == 40
    assert set(generated) <= set(TEXT)  # only characters of the training vocabulary


def test_sample_with_a_missing_checkpoint_fails_cleanly(tmp_path, run_cli):
    missing = tmp_path / "nothing-here"
    proc = run_cli("sample", "--checkpoint", str(missing), "--device", "cpu", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: no checkpoint at {missing / 'checkpoint.pt'}",
        "hint: give a checkpoint file or a run folder holding checkpoint.pt",
    ]
    assert "Traceback" not in proc.stdout + proc.stderr


# -- Ctrl-C --------------------------------------------------------------------------------------


def test_sigint_saves_a_checkpoint_and_exits_130(
    corpus, tmp_path, cli_command, cli_env, cli_timeout
):
    out = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [
            *cli_command,
            "train",
            "--preset",
            "mini",
            "--corpus",
            str(corpus),
            "--steps",
            "1000000",
            "--batch-size",
            "8",
            "--block-size",
            "16",
            "--device",
            "cpu",
            "--report-every",
            "0.2",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
    )
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen = []
    try:
        deadline = time.monotonic() + cli_timeout
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"train ended early: {''.join(seen)}{proc.stderr.read()}"
            seen.append(line)
            if line.startswith("step="):
                break
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    while (line := lines.get_nowait()) is not None:
        seen.append(line)
    stdout = "".join(seen)
    stderr = proc.stderr.read()
    assert code == 130, stdout + stderr
    assert_plain(stdout)
    assert stdout.splitlines()[-1] == f"interrupted: checkpoint saved to {out / 'checkpoint.pt'}"
    assert "checkpoint saved" in stdout
    assert (out / "checkpoint.pt").stat().st_size > 0
    records = read_metrics(out)
    assert records and records[-1]["step"] < 1_000_000
