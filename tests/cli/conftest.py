"""Shared fixtures for the command-line tests: ``python -m cli.main`` run as a subprocess, and
for the in-process ``torchdeck inspect`` tests, a tiny corpus and one torch thread.

Helpers are handed out as fixtures (never imported from this file), so that this conftest can
sit beside others without ``import conftest`` picking the wrong one. Torch is imported only by
the fixture that needs it: the subprocess tests never load it in the pytest process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "cli.main"]
TIMEOUT = 180  # generous: a hung command fails the test instead of the whole run
REPETITIVE_TEXT = "the cat sat on the mat. " * 60


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}  # the pipe alone makes it plain
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _run_cli(*args: str, cwd: Path, command: list[str] = CLI) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=_cli_env(),
        capture_output=True,
        encoding="utf-8",
        timeout=TIMEOUT,
    )


@pytest.fixture(scope="session")
def cli_command() -> list[str]:
    """The ``torchdeck`` command as this Python runs it: ``python -m cli.main``."""
    return list(CLI)


@pytest.fixture(scope="session")
def cli_timeout() -> float:
    return TIMEOUT


@pytest.fixture(scope="session")
def cli_env():
    """Factory: the environment a command runs in (no CI variable, UTF-8 output)."""
    return _cli_env


@pytest.fixture(scope="session")
def run_cli():
    """Factory: ``run_cli(*args, cwd=..., command=[...])`` runs the command to completion and
    returns the ``subprocess.CompletedProcess`` (text, stdout and stderr captured)."""
    return _run_cli


@pytest.fixture
def single_thread():
    """One intra-op thread while a test runs (the models are tiny). Restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(REPETITIVE_TEXT, encoding="utf-8")
    return path
