"""A real SSH server on 127.0.0.1 for the ``--remote`` tests (tests/cli/test_remote.py).

``asyncssh`` serves on a random port from a thread of its own, with a generated host key and
one authorized client key. Each session runs its command as ``bash -c COMMAND`` in the
server's "remote home", with this process's environment at that moment (so a test's
``TORCHDECK_RUNTIME_DIR`` reaches the "remote" engines), piping stdin, stdout and stderr, and
ends with the command's exit status, as sshd does. The real ``ssh`` client reaches it through
an ssh config file (``ssh -F FILE``) with these hosts:

``testbox``   the server, the authorized key, host key accepted on first use
``stranger``  the server with a key it does not know (permission denied)
``badkey``    the server with another host key on record (host key verification failed)
``closed``    a port nobody listens on (connection refused)
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path


class SSHServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.home = folder  # where commands run; a test may point it elsewhere
        self.commands: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server = None
        self.port = 0

    # -- keys and config -----------------------------------------------------------------------

    def _key(self, name: str):
        import asyncssh

        key = asyncssh.generate_private_key("ssh-ed25519")
        path = self.folder / name
        key.write_private_key(str(path))
        os.chmod(path, 0o600)
        return key, path

    def start(self) -> SSHServer:
        import asyncssh

        host_key, _ = self._key("host_key")
        client_key, self.client_key = self._key("client_key")
        other_key, self.stranger_key = self._key("stranger_key")
        authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode("ascii"))
        self._thread.start()

        async def serve():
            return await asyncssh.create_server(
                asyncssh.SSHServer,
                "127.0.0.1",
                0,
                server_host_keys=[host_key],
                authorized_client_keys=authorized,
                process_factory=self._session,
                encoding=None,
                allow_scp=False,
            )

        self._server = asyncio.run_coroutine_threadsafe(serve(), self._loop).result(30)
        self.port = self._server.sockets[0].getsockname()[1]
        wrong = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
        (self.folder / "known_wrong").write_text(f"[127.0.0.1]:{self.port} {wrong}")
        self.config = self.folder / "ssh_config"
        self.config.write_text(self._config(other_key, closed_port()))
        return self

    def _config(self, _other_key, closed: int) -> str:
        f = self.folder
        common = (
            "  HostName 127.0.0.1\n"
            f"  User {getpass.getuser()}\n"
            "  IdentitiesOnly yes\n"
            "  IdentityAgent none\n"
            "  PasswordAuthentication no\n"
            "  KbdInteractiveAuthentication no\n"
            "  GlobalKnownHostsFile /dev/null\n"
            "  LogLevel ERROR\n"
        )
        return (
            f"Host testbox\n  Port {self.port}\n  IdentityFile {self.client_key}\n"
            f"  UserKnownHostsFile {f / 'known_hosts'}\n  StrictHostKeyChecking accept-new\n"
            f"{common}\n"
            f"Host stranger\n  Port {self.port}\n  IdentityFile {self.stranger_key}\n"
            f"  UserKnownHostsFile {f / 'known_stranger'}\n  StrictHostKeyChecking accept-new\n"
            f"{common}\n"
            f"Host badkey\n  Port {self.port}\n  IdentityFile {self.client_key}\n"
            f"  UserKnownHostsFile {f / 'known_wrong'}\n  StrictHostKeyChecking yes\n"
            f"{common}\n"
            f"Host closed\n  Port {closed}\n  IdentityFile {self.client_key}\n"
            f"  UserKnownHostsFile {f / 'known_closed'}\n  StrictHostKeyChecking accept-new\n"
            f"{common}"
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._server.wait_closed(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # -- one session -------------------------------------------------------------------------

    async def _session(self, process) -> None:
        command = process.command or ""
        self.commands.append(command)
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(self.home),
            env=dict(os.environ),
            start_new_session=True,
        )

        async def feed() -> None:
            with contextlib.suppress(Exception):
                while True:
                    data = await process.stdin.read(65536)
                    if not data:
                        break
                    proc.stdin.write(data)
                    await proc.stdin.drain()
            with contextlib.suppress(Exception):
                proc.stdin.close()  # end of input, as sshd gives when the link goes

        async def pump(source, target) -> None:
            gone = False
            while True:
                data = await source.read(65536)
                if not data:
                    break
                if gone:
                    continue  # the client has left: drain and drop
                try:
                    target.write(data)
                    await target.drain()
                except Exception:
                    gone = True

        feeder = asyncio.create_task(feed())
        await asyncio.gather(pump(proc.stdout, process.stdout), pump(proc.stderr, process.stderr))
        code = await proc.wait()
        feeder.cancel()
        with contextlib.suppress(Exception):
            process.exit(code if code >= 0 else 128 - code)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- for the tests: waiting, ending what they started --------------------------------------


def ssh_control(sshd, sock: Path, command: str) -> str:
    done = subprocess.run(
        ["ssh", "-F", str(sshd.config), "-S", str(sock), "-O", command, "testbox"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stderr


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def end_engines(folder: Path) -> None:
    pids = [int(p.name[len("engine-") : -len(".sock")]) for p in folder.glob("engine-*.sock")]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 15
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


async def after(info, step: int) -> dict | None:
    got = await info
    return got if got.get("step", 0) > step else None


async def wait_async(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
