"""Faults found by attacking the detachable engine as a user would: a runaway cell whose app
died, a busy engine that ``torchdeck stop`` must still end, ``stop``'s exit code when the engine
goes before its reply, a second engine in a folder already training, odd files in the socket
folder, a headless run whose socket folder is refused, an engine started by hand with
``--detach``, and the figures ``ls`` shows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import runtime
from core.client import EngineClient
from core.transport import spawn_detached
from tests.core.engine_helpers import TEXT, mini

TIMEOUT = 60.0
CLI = [sys.executable, "-m", "cli.main"]


@pytest.fixture
def rt(tmp_path, monkeypatch):
    """A socket folder of its own; every engine in it is killed at the end."""
    folder = tmp_path / "rt"
    monkeypatch.setenv("TORCHDECK_RUNTIME_DIR", str(folder))
    yield folder
    for path in folder.glob("engine-*.sock") if folder.exists() else []:
        with contextlib.suppress(ValueError, ProcessLookupError):
            os.kill(int(runtime.engine_id_of(path)), signal.SIGKILL)


def cli(*args: str, cwd: Path, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


async def engine(tmp_path: Path, run_dir: str = "runs/torchdeck") -> tuple[Path, EngineClient]:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    path = await spawn_detached(0, 1, str(tmp_path / run_dir), 600.0)
    client = EngineClient(socket_path=str(path))
    await client.start(timeout=TIMEOUT)
    await client.request("configure", mini(str(corpus), steps=1_000_000))
    return path, client


async def test_a_runaway_cell_is_stopped_when_its_app_goes_away(rt, tmp_path):
    path, client = await engine(tmp_path)
    try:
        raw = client._writer  # the cell is sent, and the app dies before its reply
        raw.write(b'{"id": 99, "op": "exec", "args": {"code": "while True: pass"}}\n')
        await raw.drain()
        await asyncio.sleep(0.5)
        await client.close()  # its connection ends: the engine interrupts the cell
        other = EngineClient(socket_path=str(path), role="probe")
        start = time.monotonic()
        await other.start(timeout=TIMEOUT)
        status = await other.request("status", timeout=10)
        assert status["state"] == "idle" and time.monotonic() - start < 10
        await other.close(shutdown=True)
    finally:
        with contextlib.suppress(Exception):
            await client.close()


async def test_stop_ends_an_engine_that_does_not_answer(rt, tmp_path):
    path, client = await engine(tmp_path)
    pid = int(runtime.engine_id_of(path))
    await client.request("train_start", autosave_path=str(tmp_path / "auto.pt"))
    os.kill(pid, signal.SIGSTOP)  # stopped: it answers nothing
    try:
        done = await asyncio.to_thread(cli, "stop", "--wait", "2", cwd=tmp_path)
    finally:
        os.kill(pid, signal.SIGCONT)  # SIGTERM waits behind SIGCONT: it then saves and ends
    await client.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"engine {pid}: no answer within 2 s (busy or stopped): sent it SIGTERM, which "
        "interrupts it and saves its run where autosave points"
    )
    deadline = time.monotonic() + TIMEOUT
    while runtime.live_sockets():
        assert time.monotonic() < deadline, "the engine outlived its SIGTERM"
        await asyncio.sleep(0.1)
    assert (tmp_path / "auto.pt").is_file()  # the run was saved on the way out


async def test_stop_says_shut_down_every_time(rt, tmp_path):
    for _ in range(4):  # an engine that ends before its shutdown reply is read: still a success
        path, client = await engine(tmp_path)
        await client.close()
        done = await asyncio.to_thread(cli, "stop", cwd=tmp_path)
        ident = runtime.engine_id_of(path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == [
            f"engine {ident}: no run in progress (idle)",
            f"engine {ident}: shut down",
        ]
        deadline = time.monotonic() + TIMEOUT
        while runtime.live_sockets():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)


async def test_a_second_app_is_refused_in_a_folder_already_training(rt, tmp_path):
    path, client = await engine(tmp_path)
    ident = runtime.engine_id_of(path)
    try:
        await client.request("train_start")
        done = await asyncio.to_thread(cli, "--preset", "mini", cwd=tmp_path)
        assert done.returncode == 3
        lines = done.stderr.splitlines()
        assert lines[0].startswith(f"error: engine {ident} is training in runs/torchdeck (running")
        assert lines[0].endswith("a second one here would autosave over it")
        assert lines[1] == (
            f"hint: torchdeck attach {ident} shows it, torchdeck stop {ident} ends it; or start "
            "torchdeck in another folder"
        )
        assert len(runtime.live_sockets()) == 1  # no second engine was started
    finally:
        await client.close(shutdown=True)


async def test_ls_shows_the_last_validation_loss_and_no_stale_rate(rt, tmp_path):
    path, client = await engine(tmp_path)
    try:
        await client.request("train_start", report_interval=0.05)
        deadline = time.monotonic() + TIMEOUT
        while True:  # mini evaluates every few hundred steps
            info = (await client.request("status"))["engine"]
            if info["val_loss"] is not None:
                break
            assert time.monotonic() < deadline, "no validation loss"
            await asyncio.sleep(0.1)
        assert isinstance(info["val_loss"], float) and info["tokens_per_s"] > 0
        await client.request("train_pause")
        paused = (await client.request("status"))["engine"]
        assert paused["val_loss"] is not None and paused["tokens_per_s"] is None
    finally:
        await client.close(shutdown=True)


def test_ls_leaves_other_files_in_the_socket_folder_alone(rt, tmp_path):
    rt.mkdir(mode=0o700)
    odd = rt / "engine-abc.sock"
    odd.write_text("not a socket")
    done = cli("ls", "--json", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout) == []
    assert odd.read_text() == "not a socket"


def test_stop_with_several_engines_names_the_stop_command(rt, tmp_path, monkeypatch):
    rt.mkdir(mode=0o700)
    import socket

    held = []
    for ident in ("111", "222"):  # two listeners that look like engines
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(rt / f"engine-{ident}.sock"))
        s.listen(1)
        held.append(s)
    try:
        done = cli("stop", cwd=tmp_path)
        assert done.returncode == 3
        assert done.stderr.splitlines() == [
            "error: 2 engines are running (111, 222)",
            "hint: name one: torchdeck stop ID (torchdeck ls lists them)",
        ]
    finally:
        for s in held:
            s.close()


def test_a_headless_run_trains_on_when_its_socket_folder_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "open"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    monkeypatch.setenv("TORCHDECK_RUNTIME_DIR", str(folder))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    args = ("train", "--preset", "parabola", "--out", str(tmp_path / "run"), "--threads", "1")
    done = cli(*args, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"warning: the engine socket folder {folder} is open to other users")
    assert first.endswith("this run cannot be attached (run chmod 700 " + f"{folder}, or remove "
                          "it and let torchdeck make it again)")  # fmt: skip
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def test_detach_by_hand_leaves_the_shell_and_checks_its_idle_timeout(rt, tmp_path):
    bad = cli("engine", "--detach", "--idle-timeout", "-5", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[-1] == (
        "torchdeck engine: error: argument --idle-timeout: '-5': want a number of seconds, at "
        "least 0 (0: never end when idle)"
    )
    start = time.monotonic()
    done = cli("engine", "--detach", "--idle-timeout", "2", cwd=tmp_path)
    assert done.returncode == 0 and time.monotonic() - start < 30  # back at the prompt
    pid = int(done.stdout.split()[2].rstrip(":"))
    log = tmp_path / "runs" / "torchdeck" / "engine.log"
    assert done.stdout.strip() == (
        f"torchdeck engine {pid}: detached; log {log}; torchdeck ls lists it"
    )
    assert os.getsid(pid) == pid  # a session of its own: no terminal's hang-up reaches it
    deadline = time.monotonic() + TIMEOUT
    while "no client for 2 s and no run: exiting" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def test_a_relative_run_dir_given_by_hand_is_listed_as_its_full_path(rt, tmp_path):
    """The folder checks (a second engine, serve's tabs) compare full paths: an engine started
    by hand with a relative ``--run-dir`` must be listed under its full one to be found."""
    done = cli("engine", "--detach", "--run-dir", "rel/run", "--idle-timeout", "60", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[2].rstrip(":"))
    try:
        ls = cli("ls", "--json", cwd=tmp_path)
        (found,) = json.loads(ls.stdout)
        assert found["id"] == str(pid)
        assert found["run_dir"] == str((tmp_path / "rel" / "run").resolve())
        assert found["log"] == str((tmp_path / "rel" / "run" / "engine.log").resolve())
    finally:
        assert cli("stop", str(pid), cwd=tmp_path).returncode == 0
