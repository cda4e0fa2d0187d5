"""``--remote HOST``: the engine on another machine through the real ``ssh`` client.

The "remote machine" is this one, behind a real SSH server on 127.0.0.1 (asyncssh, see
remote_helpers.py); ``$TORCHDECK_SSH`` points ssh at its config file, and the remote command is
this venv's own ``torchdeck``. Each test has its own runtime folder, so its engines and its
shared ssh connection are its own; every engine a test starts is ended when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cli import remote
from cli.engines import COLUMNS
from core.protocol import PROTOCOL_VERSION
from tests.cli.remote_helpers import (
    SSHServer,
    after,
    end_engines,
    script,
    ssh_control,
    wait_async,
)
from tests.core.engine_helpers import wait_for

TORCHDECK = str(Path(sys.executable).parent / "torchdeck")
NO_SSH = shutil.which("ssh") is None
needs_ssh = pytest.mark.skipif(
    NO_SSH, reason="no ssh client on PATH: these tests drive the real one"
)
MINI = ["--preset", "mini", "--device", "cpu", "--threads", "1"]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    if NO_SSH:
        pytest.skip("no ssh client on PATH: the --remote tests drive the real one")
    pytest.importorskip("asyncssh", reason="asyncssh (the test extra) serves the SSH server")
    server = SSHServer(tmp_path_factory.mktemp("sshd")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def rt(sshd, tmp_path, monkeypatch):
    """This test's runtime folder (short: ssh's shared-connection socket lives there), ssh
    pointed at the test server, and the remote home; afterwards every engine started there is
    ended and the shared connection closed."""
    folder = Path(tempfile.mkdtemp(prefix="td"))
    monkeypatch.setenv("TORCHDECK_RUNTIME_DIR", str(folder))
    monkeypatch.setenv(remote.ENV_SSH, f"ssh -F {sshd.config}")
    sshd.home = tmp_path / "home"
    sshd.home.mkdir()
    try:
        yield folder
    finally:
        for sock in folder.glob("ssh-*"):
            ssh_control(sshd, sock, "exit")
        end_engines(folder)
        shutil.rmtree(folder, ignore_errors=True)


# -- the command line ssh gets ---------------------------------------------------------------


@needs_ssh
def test_ssh_argv_quotes_every_remote_word(monkeypatch):
    monkeypatch.setenv(remote.ENV_SSH, "ssh -F /cfg")
    argv = remote.ssh_argv("me@gpubox", "'~/my venv/bin/torchdeck' -v", ["bridge", "a b;rm"])
    assert argv == [
        *["ssh", "-F", "/cfg", "-T", "-x", "-a", "-e", "none"],
        *["-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "-o", "ConnectTimeout=20"],
        *["-o", "BatchMode=yes", "--", "me@gpubox"],
        *["~/'my venv/bin/torchdeck'", "-v", "bridge", "'a b;rm'"],
    ]
    assert remote.bridge_args("123", spawn=False) == ["bridge", "123"]
    with pytest.raises(remote.RemoteError) as err:
        remote.ssh_argv("-oProxyCommand=evil", "torchdeck", ["ls"])
    assert (err.value.message, err.value.exit_code) == (
        "'-oProxyCommand=evil' is not a host for --remote",
        2,
    )


@pytest.mark.parametrize(
    "code, stderr, expected",
    [
        (255, "ssh: connect to host 10.0.0.9 port 22: Connection timed out", 11),
        (255, "ssh: connect to host 10.0.0.9 port 22: No route to host", 11),
        (255, "Connection closed by 10.0.0.9 port 22", 14),
        (126, "bash: line 1: /opt/td: Permission denied", 20),
        (2, "torchdeck ls: error: unrecognized arguments: --json", 21),
        (3, "error: no torchdeck engine is running here", None),  # the remote's own answer
        (0, "", None),
    ],
)
def test_what_ssh_says_decides_the_message(code, stderr, expected):
    failure = remote.diagnose("gpubox", "/opt/td --x", code, stderr)
    assert (failure and failure.exit_code) == expected
    said = {
        11: "ssh cannot connect to gpubox: " + stderr.rsplit(": ", 1)[-1].lower(),
        14: "the ssh connection to gpubox failed: Connection closed by 10.0.0.9 port 22",
        20: "torchdeck is not found on gpubox: '/opt/td': it cannot be run",
        21: "the torchdeck on gpubox is too old: it has no --json",
    }
    assert (failure and failure.message) == said.get(expected)


def test_no_ssh_client_is_one_clear_error(tmp_path, monkeypatch, run_cli):
    monkeypatch.setenv(remote.ENV_SSH, "/nonexistent/ssh -v")
    proc = run_cli("ls", "--remote", "gpubox", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (15, "")
    assert proc.stderr == (
        "error: there is no '/nonexistent/ssh' command here to reach the remote host\n"
        "hint: install the OpenSSH client, or set TORCHDECK_SSH to your ssh command\n"
    )


def test_the_remote_shell_gets_each_argument_as_it_was(rt, capfd):
    words = ["a b", "$HOME", "it's", ";echo no", "*"]
    assert remote.run_remote("testbox", "printf '%s|'", words) == 0
    assert capfd.readouterr().out == "a b|$HOME|it's|;echo no|*|"


# -- ssh's failures, each its own message and exit code ----------------------------------------

UNKNOWN = (
    10,
    "ssh cannot find the host nosuchhost.invalid: the name does not resolve",
    "check the name, or give it a Host entry in ~/.ssh/config",
)
REFUSED = (
    11,
    "ssh cannot connect to closed: connection refused",
    "check that the machine is up and runs sshd, and the port (Port in ~/.ssh/config)",
)
DENIED = (
    12,
    "ssh could not log in to stranger: permission denied",
    "check that ssh stranger logs you in; torchdeck uses your ssh config, agent and keys "
    "(ssh-copy-id stranger installs a key)",
)
HOST_KEY = (
    13,
    "ssh refused badkey: its host key is unknown or has changed",
    "run ssh badkey once in a terminal to check its key and accept it",
)
MISSING = (
    20,
    "torchdeck is not found on testbox: '/nonexistent/torchdeck': command not found",
    "install torchdeck there, or give its path: --remote-cmd '~/venv/bin/torchdeck' "
    "(quoted: ~ is then the remote home)",
)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["ls", "--remote", "nosuchhost.invalid"], UNKNOWN),
        (["--remote", "nosuchhost.invalid"], UNKNOWN),  # the app: before its screen
        (["stop", "--remote", "closed"], REFUSED),
        (["ls", "--remote", "stranger"], DENIED),
        (["attach", "--remote", "stranger"], DENIED),
        (["ls", "--remote", "badkey"], HOST_KEY),
        (["ls", "--remote", "testbox", "--remote-cmd", "/nonexistent/torchdeck"], MISSING),
        (["--remote", "testbox", "--remote-cmd", "/nonexistent/torchdeck"], MISSING),
    ],
    ids=[
        "unknown",
        "unknown-app",
        "refused",
        "denied",
        "denied-attach",
        "hostkey",
        "missing",
        "missing-app",
    ],
)
def test_each_ssh_failure_has_its_message_and_exit_code(args, expected, rt, tmp_path, run_cli):
    code, message, hint = expected
    proc = run_cli(*args, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (code, "")
    assert proc.stderr == f"error: {message}\nhint: {hint}\n"


def test_a_remote_torchdeck_without_bridge_is_too_old(rt, tmp_path, run_cli):
    old = script(
        tmp_path,
        "old-torchdeck",
        "echo 'usage: torchdeck [-h] COMMAND ...' >&2\n"
        "echo \"torchdeck: error: argument COMMAND: invalid choice: 'bridge' "
        "(choose from 'train', 'sample', 'engine')\" >&2\nexit 2\n",
    )
    proc = run_cli("--remote", "testbox", "--remote-cmd", old, cwd=tmp_path)
    assert proc.returncode == 21
    assert re.fullmatch(
        r"error: the torchdeck on testbox is too old: it has no 'bridge' command\n"
        r"hint: install the same torchdeck on testbox as here \(torchdeck [\w.]+\), "
        r"then try again\n",
        proc.stderr,
    ), proc.stderr


@pytest.mark.parametrize(
    "theirs, hint",
    [
        (999, "upgrade torchdeck on this machine"),
        (1, "upgrade torchdeck on the engine's machine, testbox"),
    ],
)
def test_a_protocol_mismatch_says_which_side_to_upgrade(theirs, hint, rt, tmp_path, run_cli):
    ready = json.dumps({"event": "ready", "data": {"protocol": theirs, "pid": 1}})
    fake = script(tmp_path, "other-torchdeck", f"echo '{ready}'\ncat >/dev/null\n")
    proc = run_cli("--remote", "testbox", "--remote-cmd", fake, cwd=tmp_path)
    older = "client" if theirs > PROTOCOL_VERSION else "engine"
    assert (proc.returncode, proc.stdout) == (22, "")
    assert proc.stderr == (
        f"error: the engine speaks protocol {theirs} and this torchdeck speaks "
        f"{PROTOCOL_VERSION}: the {older} is older\n"
        f"hint: {hint} (the same version on both sides), then try again\n"
    )


def test_attach_with_nothing_running_there_says_so(rt, tmp_path, run_cli):
    proc = run_cli("attach", "--remote", "testbox", "--remote-cmd", TORCHDECK, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (3, "")
    assert proc.stderr == (
        "error: testbox: no torchdeck engine is running here\n"
        "hint: start one with torchdeck (the app) or torchdeck train; torchdeck ls lists them\n"
    )


# -- ls, stop and the app's engine over a real ssh link ----------------------------------------


def test_ls_and_stop_over_ssh_see_a_headless_run_there(rt, sshd, corpus_file, run_cli, cli_env):
    out = sshd.home / "runs" / "far"
    train = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "train",
            *MINI,
            "--corpus",
            str(corpus_file),
            "--steps",
            "1000000",
        ]
        + ["--out", str(out), "--report-every", "0.2"],
        cwd=sshd.home,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        sock = wait_for(lambda: list(rt.glob("engine-*.sock")), 60, "the run's engine")[0]
        ident = sock.name[len("engine-") : -len(".sock")]

        def running() -> dict | None:
            proc = run_cli(
                "ls", "--json", "--remote", "testbox", "--remote-cmd", TORCHDECK, cwd=sshd.home
            )
            assert proc.returncode == 0, proc.stderr
            rows = json.loads(proc.stdout)
            return rows[0] if rows and rows[0].get("state") == "running" else None

        row = wait_for(running, 60, "the run to show as running")
        assert (row["id"], row["preset"], row["detached"]) == (ident, "mini", False)
        table = run_cli("ls", "--remote", "testbox", "--remote-cmd", TORCHDECK, cwd=sshd.home)
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].split() == list(COLUMNS)
        assert lines[1].split()[:4] == [ident, "mini", "cpu", "running"]
        assert "headless (owned by its train process)" in lines[2]

        stop = run_cli("stop", "--remote", "testbox", "--remote-cmd", TORCHDECK, cwd=sshd.home)
        assert stop.returncode == 0, stop.stderr
        said = stop.stdout.splitlines()
        assert said[0].startswith(f"engine {ident}: run stopped at step ")
        assert said[-1] == f"engine {ident}: its torchdeck train process ends it"
        assert train.wait(60) == 0, train.stderr.read()
        assert (out / "checkpoint.pt").exists()
    finally:
        if train.poll() is None:
            train.kill()
            train.wait()


async def test_a_dropped_link_leaves_the_run_going_and_attach_finds_it(rt, sshd, corpus_file):
    from cli.engines import probe
    from tests.core.engine_helpers import collect, is_progress_at, mini

    client = await asyncio.to_thread(remote.remote_client, "testbox", TORCHDECK)
    again = None
    try:
        assert client.budget == remote.DEFAULT_BUDGET and client.role == "ui"
        await client.start()
        assert client.restart_argv[-2:] == ["bridge", "--spawn"]  # a restart: a new engine
        ident = client.info["id"]
        sock = rt / f"engine-{ident}.sock"
        await client.request("configure", mini(str(corpus_file)))
        await client.request("train_start", report_interval=0.1)
        await collect(client, is_progress_at(20))

        # the link drops: the app's ssh and the shared connection under it die at once
        [master] = rt.glob("ssh-*")
        pid = int(re.search(r"pid=(\d+)", ssh_control(sshd, master, "check")).group(1))
        for victim in (pid, client.proc.pid):
            with contextlib.suppress(ProcessLookupError):  # the app's ssh may go with the first
                os.kill(victim, signal.SIGKILL)
        await collect(client, lambda ev: ev.event == "engine_exited")

        async def alone() -> dict | None:
            info = await probe(sock)
            return info if info.get("clients") == 0 else None

        before = await wait_async(alone, 30, "the engine to see its client leave")
        assert before["state"] == "running"
        later = await wait_async(
            lambda: after(probe(sock), before["step"]), 30, "the run to go on training"
        )
        assert later["state"] == "running"

        again = await asyncio.to_thread(remote.remote_client, "testbox", TORCHDECK, ident, False)
        assert again.argv[-2:] == again.restart_argv[-2:] == ["bridge", ident]
        await again.start()
        seen = await again.request("attach")
        assert seen["state"] == "running"
        assert seen["engine"]["id"] == ident and seen["engine"]["clients"] == 1
        steps = seen["session"]["history"]["train"]["steps"]
        assert steps[0] == 1 and steps[-1] >= later["step"]
    finally:
        for c in (client, again):
            if c is not None:
                await c.close()
