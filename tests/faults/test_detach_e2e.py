"""The SSH drop, end to end: the app runs in a pseudo-terminal, a run starts, the terminal goes
away (its master side closed, and SIGHUP to the app's process group, as sshd does on a dropped
link) — the run keeps training, ``torchdeck attach`` in a new terminal shows it from step 1,
and ``torchdeck stop`` ends it with its checkpoint saved."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.core.engine_helpers import wait_for

TORCHDECK = str(Path(sys.executable).parent / "torchdeck")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux ptys only")


class Terminal:
    """A program in a pseudo-terminal of 100×30 in its own session, as over ssh."""

    def __init__(self, argv: list[str], cwd: Path, env: dict) -> None:
        self.pid, self.fd = os.forkpty()
        if self.pid == 0:  # the child: the program, its controlling terminal the pty
            try:
                os.chdir(cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.seen = b""

    def read_until(self, pattern: bytes, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.fd, 65536)
                except OSError:
                    break
            if pattern in ANSI.sub(b"", self.seen):
                return self.seen
        text = ANSI.sub(b"", self.seen)[-2000:].decode("utf-8", "replace")
        raise AssertionError(f"{pattern!r} not on screen after {timeout} s; last output:\n{text}")

    def send(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def hang_up(self) -> None:
        """What a dropped ssh link does: the terminal is gone, its session gets SIGHUP."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGHUP)
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def wait(self, timeout: float) -> int | None:
        """Its exit status; its output is read meanwhile, as a terminal does (a program whose
        terminal is not read blocks on its last writes and never exits)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                return status
            with contextlib.suppress(OSError):
                if select.select([self.fd], [], [], 0.05)[0]:
                    self.seen += os.read(self.fd, 65536)
        return None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.fd)


def engines(env: dict) -> list[dict]:
    out = subprocess.run(
        [TORCHDECK, "ls", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("the quick brown fox jumps over the lazy dog.\n" * 400, encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_run_outlives_its_terminal_and_attach_shows_it_from_the_start(tmp_path, corpus_file):
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": "100",
        "LINES": "30",
        "TORCHDECK_RUNTIME_DIR": str(tmp_path / "rt"),
    }
    app = Terminal(
        [TORCHDECK, "--preset", "gpt", "--corpus", str(corpus_file), "--device", "cpu"],
        tmp_path,
        env,
    )
    viewer = None
    try:
        app.read_until(b"ready", 90)
        app.send(b"s")
        first = wait_for(
            lambda: [e for e in engines(env) if e.get("step", 0) > 20], 90, "training to start"
        )[0]
        app.hang_up()
        assert app.wait(20) is not None, "the app outlived its terminal"
        before = engines(env)[0]
        assert before["id"] == first["id"] and before["state"] == "running"
        time.sleep(1.5)
        after = engines(env)[0]
        assert after["step"] > before["step"], "the run stopped with its terminal"
        assert after["clients"] == 0  # nobody attached, and it trains on

        viewer = Terminal([TORCHDECK, "attach", first["id"]], tmp_path, env)
        viewer.read_until(b"running", 60)
        wait_for(lambda: engines(env)[0]["clients"] == 1, 30, "the viewer to attach")
        viewer.send(b"q")
        viewer.read_until(b"keep training", 20)
        viewer.send(b"k")
        if viewer.wait(30) is None:  # its screen, to see why
            with contextlib.suppress(AssertionError):
                viewer.read_until(b"@@never@@", 1)
            tail = ANSI.sub(b"", viewer.seen)[-3000:].decode("utf-8", "replace")
            raise AssertionError(f"the viewer did not quit; its screen ended with:\n{tail}")
        assert engines(env)[0]["state"] == "running"

        stop = subprocess.run(
            [TORCHDECK, "stop"], env=env, capture_output=True, text=True, timeout=120
        )
        assert stop.returncode == 0, stop.stderr
        assert f"engine {first['id']}: run stopped at step" in stop.stdout
        assert "checkpoint saved to" in stop.stdout
        assert f"engine {first['id']}: shut down" in stop.stdout
        wait_for(lambda: engines(env) == [], 30, "the engine to end")
        assert (tmp_path / "runs" / "torchdeck" / "autosave.pt").is_file()
    finally:
        for term in (app, viewer):
            if term is not None:
                term.kill()
        for engine in engines(env) if (tmp_path / "rt").exists() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(engine["pid"], signal.SIGKILL)
