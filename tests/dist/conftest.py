"""Fixtures for the multi-process tests: ``torchdeck train`` (``python -m cli.main train``) as
a subprocess, on a small corpus, with one torch thread per process. Helpers are fixtures, never
imported from this file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "cli.main"]
TIMEOUT = 180
TEXT = "the cat sat on the mat, and the dog sat on the log. " * 100
# fp32: the equivalences compared are exact in float32 (bf16 rounds each split of a batch its
# own way, and where the CPU computes bf16 natively, auto would pick it)
COMMON = (
    *("--preset", "mini", "--device", "cpu", "--threads", "1", "--seed", "7"),
    *("--precision", "fp32"),
)


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "OMP_NUM_THREADS")}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def corpus(folder: Path) -> Path:
    path = folder / "corpus.txt"
    if not path.exists():
        path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def run_cli():
    """Factory: ``run_cli(*args, cwd=...)`` runs ``torchdeck ARGS`` to completion."""

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*CLI, *args],
            cwd=cwd,
            env=cli_env(),
            capture_output=True,
            encoding="utf-8",
            timeout=TIMEOUT,
        )

    return run


@pytest.fixture(scope="session")
def run_train(run_cli):
    """Factory: ``run_train(base, out, *extra)``: a mini run on the small corpus in ``base``."""

    def run(base: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
        return run_cli(
            "train", *COMMON, "--corpus", str(corpus(base)), "--out", str(out), *extra, cwd=base
        )

    return run


@pytest.fixture(scope="session")
def train_argv():
    """Factory: the argv of a mini run on the small corpus in ``base`` (for Popen)."""

    def argv(base: Path, out: Path, *extra: str) -> list[str]:
        return [*CLI, "train", *COMMON, "--corpus", str(corpus(base)), "--out", str(out), *extra]

    return argv


@pytest.fixture(scope="session")
def dist_env():
    return cli_env
