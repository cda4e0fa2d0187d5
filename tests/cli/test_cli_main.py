"""The ``torchdeck`` dispatcher (cli/main.py), run as a real subprocess: bad arguments to
``train`` and ``sample`` are refused by argparse with a one-line reason, before any engine
starts, and the installed ``torchdeck`` script does the same."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "args, message",
    [
        # the learning rate's range is the engine's: --lr 20 used to pass here and fail there
        (["--lr", "abc"], "argument --lr: 'abc' is not a number in (0, 10], e.g. 0.001"),
        (["--lr", "0"], "argument --lr: 0 is out of range: want a number in (0, 10], e.g. 0.001"),
        (
            ["--lr", "-0.1"],
            "argument --lr: -0.1 is out of range: want a number in (0, 10], e.g. 0.001",
        ),
        (
            ["--lr", "nan"],
            "argument --lr: nan is out of range: want a number in (0, 10], e.g. 0.001",
        ),
        (
            ["--lr", "inf"],
            "argument --lr: inf is out of range: want a number in (0, 10], e.g. 0.001",
        ),
        (["--lr", "20"], "argument --lr: 20 is out of range: want a number in (0, 10], e.g. 0.001"),
        (["--steps", "-1"], "argument --steps: -1 is out of range: want an integer ≥ 1"),
        (["--steps", "0"], "argument --steps: 0 is out of range: want an integer ≥ 1"),
        (["--steps", "1.5"], "argument --steps: '1.5' is not an integer ≥ 1"),
        (["--batch-size", "x"], "argument --batch-size: 'x' is not an integer ≥ 1"),
        (
            ["--seed", "-3"],
            f"argument --seed: -3 is out of range: want an integer in [0, {2**63 - 1}]",
        ),
        (
            ["--preset", "bert"],
            "argument --preset: invalid choice: 'bert' (choose from 'gpt', 'mini', 'mlp', 'parabola')",
        ),
    ],
)
def test_bad_train_arguments_are_rejected_by_argparse(args, message, tmp_path, run_cli):
    proc = run_cli("train", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (  # two lines, not the whole usage block above the one that matters
        f"torchdeck train: error: {message}\nhint: see `torchdeck train --help`\n"
    )
    assert list(tmp_path.iterdir()) == []  # no run folder


def test_the_installed_script_rejects_bad_arguments(tmp_path, run_cli):
    script = Path(sys.executable).with_name("torchdeck")
    if not script.exists():
        pytest.skip("the torchdeck script is not installed next to this Python")
    proc = run_cli("train", "--steps", "-1", cwd=tmp_path, command=[str(script)])
    assert proc.returncode == 2
    assert (
        "torchdeck train: error: argument --steps: -1 is out of range: want an integer ≥ 1"
        in proc.stderr
    )


def test_bad_sample_arguments_are_rejected_by_argparse(tmp_path, run_cli):
    proc = run_cli("sample", "--checkpoint", "x", "--max-new", "-5", cwd=tmp_path)
    assert proc.returncode == 2
    assert (
        "torchdeck sample: error: argument --max-new: -5 is out of range: want an integer in "
        "[0, 1000000]" in proc.stderr
    )
    proc = run_cli("sample", "--checkpoint", "x", "--temperature", "500", cwd=tmp_path)
    assert "argument --temperature: 500 is out of range: want 0 (greedy) or in [0.01, 100]" in (
        proc.stderr
    )
    proc = run_cli("sample", cwd=tmp_path)
    assert proc.returncode == 2
    assert "the following arguments are required: --checkpoint" in proc.stderr


@pytest.mark.parametrize("args", [["--lr", "5"], ["--preset", "mini", "--steps=5"]])
def test_a_training_setting_given_to_the_app_says_where_it_goes(args, tmp_path, run_cli):
    """``torchdeck --lr 5`` said "argument COMMAND: invalid choice: '5'"."""
    proc = run_cli(*args, cwd=tmp_path)
    name = "--lr" if "--lr" in args else "--steps"
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        f"torchdeck: error: {name} is a training setting, not an option of the app\n"
        "hint: give it to the app in a --config FILE.toml (or in the Train pane's form), or "
        f"train headless with torchdeck train {name} …\n"
    )
    assert list(tmp_path.iterdir()) == []  # no app, no engine, no run folder
