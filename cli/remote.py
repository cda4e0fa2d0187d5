"""``--remote [USER@]HOST``: the engine on another machine, reached with the system ``ssh``.

The app here speaks to ``torchdeck bridge`` there, which joins ssh's stdin/stdout to an engine's
Unix socket (``bridge --spawn`` first starts a detached engine, so a dropped link leaves the run
going; ``torchdeck attach --remote HOST`` finds it again). ``ls`` and ``stop`` run over ssh as
they are and print what the remote prints.

ssh is whatever ``ssh`` is on PATH (``$TORCHDECK_SSH`` replaces the command, e.g.
``ssh -F ~/other_config``), so the user's config, agent, keys and jump hosts apply. Each
connection adds ``-T -x -a -e none`` (no terminal, nothing forwarded, no escape character) and
``ServerAliveInterval=15``, ``ServerAliveCountMax=4`` (a dead link is noticed within a minute),
``ConnectTimeout=20``. ``-o`` options given in ``$TORCHDECK_SSH`` win over these (ssh keeps an
option's first value); these win over ``~/.ssh/config``.

Before the screen changes, a first connection runs ``CMD bridge --help`` with the terminal
still plain, so a password or a new host key can be asked for there, and a failure prints as
one clear line. Unless the user's config already shares connections (ControlMaster or
ControlPath), that first connection becomes a shared one (``ControlMaster=auto``, its socket in
torchdeck's private runtime folder, ``ControlPersist=60``): the app's own connections, which run
with ``BatchMode=yes`` behind the screen where nothing can be typed, reuse its login. A second
step connects to the engine and checks its protocol (and, for ``attach``, which engine) before
the app starts; the app then connects to that engine by its id. The shared connection stays in
the background for 60 s after its last use (``ssh -O exit -S SOCKET HOST`` ends it sooner;
``TORCHDECK_SSH='ssh -o ControlMaster=no'`` turns sharing off).

Exit codes (``torchdeck ... --remote HOST``):

=====  =====================================================================
   0   done (``ls``, ``stop``: the remote command's own code passes through)
   2   the host or ``--remote-cmd`` cannot be used as given
   3   the remote torchdeck refused (no engine there, a wrong id, ...)
  10   the host name does not resolve
  11   the host cannot be reached (connection refused, timed out, no route)
  12   ssh could not log in (permission denied)
  13   the host key is unknown or has changed (host key verification failed)
  14   the ssh connection failed or dropped otherwise
  15   no ssh client here
  20   torchdeck is not found (or cannot run) on the remote host
  21   the remote torchdeck is too old (it lacks ``bridge`` or an option)
  22   the remote engine speaks another protocol version
 130   interrupted (Ctrl-C) on the way
=====  =====================================================================

Imports no torch.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys

from cli.ssh import (
    ENV_SSH,
    INTERRUPTED,
    NO_SSH,
    PROTOCOL,
    SSH_FAILED,
    RemoteError,
    bridge_args,
    diagnose,
    remote_refusal,
    shared_connection,
    ssh_argv,
)
from core.client import EngineClient
from core.errors import EngineDied, ProtocolMismatch
from core.i18n import _
from core.protocol import PROTOCOL_VERSION

DEFAULT_BUDGET = 16_000  # bytes/s: the engine merges training reports to fit a slow link
READY_TIMEOUT = 180.0  # a remote engine imports torch (a cold disk, a big CUDA build) first
__all__ = ["ENV_SSH", "RemoteClient", "RemoteError", "remote_client", "run_remote", "ssh_argv"]


# -- ls, stop ------------------------------------------------------------------------------------


def _run_ssh(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    except OSError as exc:
        raise RemoteError(
            _("cannot run {command}: {reason}").format(command=argv[0], reason=exc.strerror),
            _("check {variable}").format(variable=ENV_SSH),
            NO_SSH,
        ) from None


def run_remote(host: str, remote_cmd: str, argv: list[str]) -> int:
    """Run ``torchdeck ARGV`` on ``host`` (``ls``, ``stop``): its output printed here, its exit
    code returned; RemoteError where ssh or the remote torchdeck's install fails."""
    options = shared_connection(host)
    sys.stdout.flush()
    try:
        done = _run_ssh(ssh_argv(host, remote_cmd, argv, options, batch=False))
    except KeyboardInterrupt:
        said = _("interrupted while reaching {host}").format(host=host)
        raise RemoteError(said, "", INTERRUPTED) from None
    stderr = done.stderr.decode("utf-8", "replace")
    failure = diagnose(host, remote_cmd, done.returncode, stderr)
    if failure is not None:
        raise failure
    sys.stderr.write(stderr)
    sys.stderr.flush()
    return done.returncode


# -- the app's engine ----------------------------------------------------------------------------


class RemoteClient(EngineClient):
    """An EngineClient over ssh. After its first start, ``argv`` becomes ``restart_argv``: the
    app's restart spawns a new engine where it began with a new one."""

    def __init__(
        self,
        host: str,
        argv: list[str],
        restart_argv: list[str] | None = None,
        role: str = "ui",
        budget: int = DEFAULT_BUDGET,
    ) -> None:
        super().__init__(argv, role=role, budget=budget)
        self.host = host
        self.restart_argv = restart_argv or argv

    async def start(self, wait_ready: bool = True, timeout: float = READY_TIMEOUT) -> dict | None:
        try:
            return await super().start(wait_ready=wait_ready, timeout=timeout)
        finally:
            self.argv = self.restart_argv

    async def close(self, timeout: float = 5.0, shutdown: bool | None = None) -> int | None:
        try:
            return await super().close(timeout=timeout, shutdown=shutdown)
        finally:
            # a shared ssh connection may hold ssh's stderr open a while after it exits: let the
            # pipes go now, not when the event loop has gone (a warning on the terminal then)
            transport = getattr(self.proc, "_transport", None)
            if transport is not None:
                transport.close()

    # A client of a shared ssh connection hands its stdin, stdout and stderr to the master
    # process; if it dies while its stdin is still open, the master keeps the remote command
    # and ssh's stderr open until its next keepalive (15 s), and asyncio's wait() with them.
    # So stdin is closed first, and ssh signalled one turn of the event loop later.

    def kill(self) -> None:
        if self._writer is None or self.proc is None:
            return super().kill()
        with contextlib.suppress(Exception):
            self._writer.close()
        try:
            asyncio.get_running_loop().call_soon(super().kill)
        except RuntimeError:  # no loop running: at once
            super().kill()

    async def _greet(self, ready_msg, ready) -> None:
        if ready_msg.data.get("protocol") != PROTOCOL_VERSION and self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            await asyncio.sleep(0)  # the pipe is closed before ssh is told to end
        await super()._greet(ready_msg, ready)


def preflight(host: str, remote_cmd: str, options: list[str]) -> None:
    """``CMD bridge --help`` over ssh, the terminal still plain: a password or a new host key
    is asked for here (and opens the shared connection); a failure raises RemoteError."""
    done = _run_ssh(
        ssh_argv(host, remote_cmd, ["bridge", "--help"], options, batch=False),
        stdout=subprocess.PIPE,
    )
    stderr = done.stderr.decode("utf-8", "replace")
    failure = diagnose(host, remote_cmd, done.returncode, stderr)
    if failure is None and done.returncode != 0:
        failure = remote_refusal(host, done.returncode, stderr)
    if failure is not None:
        raise failure


async def connect(
    host: str,
    remote_cmd: str,
    engine_id: str | None = None,
    spawn: bool = True,
    options: list[str] = (),
    timeout: float = READY_TIMEOUT,
) -> RemoteClient:
    """Reach the engine (a new one with ``spawn``) and check its protocol, as a brief look;
    return a client, not started, for that engine by its id."""
    argv = ssh_argv(host, remote_cmd, bridge_args(engine_id, spawn), options)
    look = RemoteClient(host, argv, role="probe", budget=0)
    try:
        await look.start(timeout=timeout)
    except ProtocolMismatch:
        theirs = (look.ready_info or {}).get("protocol")
        exc = ProtocolMismatch(
            theirs if isinstance(theirs, int) else 0, PROTOCOL_VERSION, f", {host}"
        )
        raise RemoteError(exc.message, exc.hint, PROTOCOL) from None
    except EngineDied:
        stderr = look.stderr_text()
        failure = diagnose(host, remote_cmd, look.returncode, stderr)
        raise failure or remote_refusal(host, look.returncode, stderr) from None
    except (TimeoutError, asyncio.TimeoutError):
        raise RemoteError(
            _("the engine on {host} did not get ready within {seconds} s").format(
                host=host, seconds=f"{timeout:.0f}"
            ),
            _("see its log on {host} (runs/torchdeck/engine.log under the remote home)").format(
                host=host
            ),
            SSH_FAILED,
        ) from None
    finally:
        look.kill()  # its work is done: no need to wait for a clean end over the link
        await look.close()
    ident = str((look.info or {}).get("id") or "")
    if not ident:
        said = _("the engine on {host} did not say its id").format(host=host)
        raise RemoteError(said, "", SSH_FAILED)
    again = bridge_args(None, True) if spawn else ["bridge", ident]
    return RemoteClient(
        host,
        ssh_argv(host, remote_cmd, ["bridge", ident], options),
        restart_argv=ssh_argv(host, remote_cmd, again, options),
    )


def remote_client(
    host: str, remote_cmd: str, engine_id: str | None = None, spawn: bool = True
) -> EngineClient:
    """The app's client for an engine on ``host``: a new detached one (``spawn``) or the one
    ``engine_id`` names (default: the only one). Checked before the app starts (see the
    module's docstring); RemoteError says what failed."""
    try:
        options = shared_connection(host)
        preflight(host, remote_cmd, options)
        if sys.stderr.isatty():
            said = _("reaching the engine on {host}…").format(host=host)
            print(f"torchdeck: {said}", file=sys.stderr, flush=True)
        return asyncio.run(connect(host, remote_cmd, engine_id, spawn, options))
    except KeyboardInterrupt:
        said = _("interrupted while reaching {host}").format(host=host)
        raise RemoteError(said, "", INTERRUPTED) from None
