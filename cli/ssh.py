"""The ssh side of ``--remote``: the command line ``ssh`` gets, the shared connection, and what
ssh's failures (and a remote torchdeck that is missing or too old) mean, each as a
:class:`RemoteError` with a message, a hint and the exit code that ``cli/remote.py``'s table
lists. Imports no torch.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

from core import i18n
from core.errors import TorchdeckError
from core.i18n import N_, _
from core.protocol import PROTOCOL_VERSION

ENV_SSH = "TORCHDECK_SSH"
CONNECT_TIMEOUT = 20
SHARE_SECONDS = 60  # how long the shared connection outlives its last user
KEEPALIVE = ["-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
OPTIONS = ["-T", "-x", "-a", "-e", "none", *KEEPALIVE, "-o", f"ConnectTimeout={CONNECT_TIMEOUT}"]
SUN_PATH = 104  # a Unix socket path's limit (macOS; Linux allows 108)

# exit codes (the table in cli/remote.py's docstring)
USAGE, REFUSED = 2, 3
UNRESOLVED, UNREACHABLE, AUTH, HOST_KEY, SSH_FAILED, NO_SSH = 10, 11, 12, 13, 14, 15
MISSING, TOO_OLD, PROTOCOL, INTERRUPTED = 20, 21, 22, 130

# ssh's own failures (it exits 255): what its stderr says → exit code, message, hint
_SSH_FAILURES = [
    (
        re.compile(r"Could not resolve hostname"),
        UNRESOLVED,
        N_("ssh cannot find the host {host}: the name does not resolve"),
        N_("check the name, or give it a Host entry in ~/.ssh/config"),
    ),
    (
        re.compile(r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED"),
        HOST_KEY,
        N_("ssh refused {host}: its host key is unknown or has changed"),
        N_("run ssh {host} once in a terminal to check its key and accept it"),
    ),
    (
        re.compile(r"Permission denied|Too many authentication failures"),
        AUTH,
        N_("ssh could not log in to {host}: permission denied"),
        N_(
            "check that ssh {host} logs you in; torchdeck uses your ssh config, agent and keys "
            "(ssh-copy-id {host} installs a key)"
        ),
    ),
    (
        re.compile(
            r"(?i)(connection refused|connection timed out|operation timed out|timed out"
            r"|no route to host|network is unreachable)"
        ),
        UNREACHABLE,
        N_("ssh cannot connect to {host}: {reason}"),
        N_("check that the machine is up and runs sshd, and the port (Port in ~/.ssh/config)"),
    ),
]


class RemoteError(TorchdeckError):
    """A failure on the way to a remote engine, with its own exit code."""

    def __init__(self, message: str, hint: str, exit_code: int) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code


# -- the command line ------------------------------------------------------------------------------


def ssh_command() -> list[str]:
    """The ssh command: ``$TORCHDECK_SSH`` split like a shell line, else ``ssh``; on PATH."""
    try:
        words = shlex.split(os.environ.get(ENV_SSH) or "ssh")
    except ValueError as exc:
        raise RemoteError(
            _("{variable} cannot be split into words: {reason}").format(
                variable=ENV_SSH, reason=exc
            ),
            _("fix its quotes"),
            USAGE,
        ) from None
    if not words:
        words = ["ssh"]
    if shutil.which(words[0]) is None:
        raise RemoteError(
            _("there is no {command!r} command here to reach the remote host").format(
                command=words[0]
            ),
            _("install the OpenSSH client, or set {variable} to your ssh command").format(
                variable=ENV_SSH
            ),
            NO_SSH,
        )
    return words


def check_host(host: str) -> None:
    if not host or host.startswith("-") or any(c.isspace() or ord(c) < 32 for c in host):
        raise RemoteError(
            _("{host!r} is not a host for --remote").format(host=host),
            _("give [USER@]HOST, as ssh takes it"),
            USAGE,
        )


def remote_words(remote_cmd: str, args: list[str]) -> list[str]:
    """The remote command line's words, each quoted for the remote shell (ssh joins them with
    spaces and the remote user's shell runs the result). A leading ``~`` or ``~user`` is left
    unquoted so that it is the remote home."""
    try:
        words = shlex.split(remote_cmd)
    except ValueError as exc:
        raise RemoteError(
            _("--remote-cmd {command!r} cannot be split into words: {reason}").format(
                command=remote_cmd, reason=exc
            ),
            _("fix its quotes"),
            USAGE,
        ) from None
    if not words:
        raise RemoteError(_("--remote-cmd is empty"), _("give the remote torchdeck command"), USAGE)
    return [_quote_word(w) for w in words] + [shlex.quote(a) for a in args]


def _quote_word(word: str) -> str:
    match = re.fullmatch(r"(~[\w.-]*)(/.*)?", word, re.S)
    if match is None:
        return shlex.quote(word)
    head, rest = match.group(1), match.group(2)
    if not rest:
        return head
    return f"{head}/{shlex.quote(rest[1:])}" if len(rest) > 1 else f"{head}/"


def ssh_argv(
    host: str, remote_cmd: str, args: list[str], options: list[str] = (), batch: bool = True
) -> list[str]:
    """``ssh [options] -- HOST REMOTE_CMD ARGS...``; ``batch``: never prompt (behind the
    screen, where nothing can be typed)."""
    check_host(host)
    argv = [*ssh_command(), *OPTIONS, *(["-o", "BatchMode=yes"] if batch else []), *options]
    return [*argv, "--", host, *remote_words(remote_cmd, args)]


def bridge_args(engine_id: str | None = None, spawn: bool = True) -> list[str]:
    if spawn:
        return ["bridge", "--spawn"]
    return ["bridge", engine_id] if engine_id else ["bridge"]


def shared_connection(host: str) -> list[str]:
    """Options that make this torchdeck's connections to ``host`` share one login (see
    ``cli/remote.py``); none where the user's ssh config already shares connections (its own
    ControlMaster or ControlPath), or where ``ssh -G`` cannot tell."""
    from core import runtime

    check_host(host)
    try:
        done = subprocess.run(
            [*ssh_command(), "-G", "--", host],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=15,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    conf = dict(line.partition(" ")[::2] for line in done.stdout.splitlines())
    if done.returncode != 0 or "controlmaster" not in conf:
        return []
    if conf["controlmaster"] != "false" or conf.get("controlpath", "none") != "none":
        return []  # the user's own sharing
    try:
        folder = str(runtime.runtime_dir())
    except TorchdeckError:
        return []
    # ssh puts a 40-character hash for %C and, while it starts, a 17-character suffix
    if len(folder) + len("/ssh-") + 40 + 17 >= SUN_PATH or re.search(r"[\s\"'%]", folder):
        return []
    return [
        "-o",
        "ControlMaster=auto",
        "-o",
        f"ControlPath={folder}/ssh-%C",
        "-o",
        f"ControlPersist={SHARE_SECONDS}",
    ]


# -- what went wrong ---------------------------------------------------------------------------


def diagnose(host: str, remote_cmd: str, returncode: int | None, stderr: str) -> RemoteError | None:
    """ssh's own failure (exit 255), a missing or too old remote torchdeck, as a clear error;
    None for anything else (the remote torchdeck's own answer)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if returncode == 255:
        for pattern, code, message, hint in _SSH_FAILURES:
            found = pattern.search(stderr)
            if found:
                reason = found.group(0).lower() if code == UNREACHABLE else ""
                return RemoteError(
                    _(message).format(host=host, reason=reason), _(hint).format(host=host), code
                )
        said = lines[-1] if lines else _("ssh exited with code 255")
        return RemoteError(
            _("the ssh connection to {host} failed: {reason}").format(host=host, reason=said),
            _("check that ssh {host} works in a terminal").format(host=host),
            SSH_FAILED,
        )
    if returncode in (126, 127):
        why = _("command not found") if returncode == 127 else _("it cannot be run")
        return RemoteError(
            _("torchdeck is not found on {host}: {command!r}: {reason}").format(
                host=host, command=shlex.split(remote_cmd)[0], reason=why
            ),
            _(
                "install torchdeck there, or give its path: --remote-cmd "
                "'~/venv/bin/torchdeck' (quoted: ~ is then the remote home)"
            ),
            MISSING,
        )
    if returncode == 2:
        choice = _argparse_said("invalid choice: %(value)r (choose from %(choices)s)", stderr)
        extra = _argparse_said("unrecognized arguments: %s", stderr)
        if choice or extra:
            if choice:
                said = _("the torchdeck on {host} is too old: it has no {command!r} command")
            else:
                said = _("the torchdeck on {host} is too old: it has no {arguments}")
            return RemoteError(
                said.format(host=host, command=choice, arguments=extra),
                _(
                    "install the same torchdeck on {host} as here ({version}), then try again"
                ).format(host=host, version=_version()),
                TOO_OLD,
            )
    return None


def _in_every_language(msgid: str) -> list[str]:
    """``msgid`` and its translations: the remote torchdeck may speak another language than
    this one (ssh passes LANG on; --lang is not)."""
    found = [msgid]
    for lang in i18n.LANGUAGES:
        try:
            text = i18n.catalog(lang).gettext(msgid)
        except OSError:  # no catalog of that language here
            continue
        if text not in found:
            found.append(text)
    return found


def _argparse_said(msgid: str, stderr: str) -> str | None:
    """What a remote argparse error ``msgid`` (``invalid choice: %(value)r ...``) named in
    ``stderr``, in any language: the quoted value, or the rest of the line; None if absent."""
    for text in _in_every_language(msgid):
        head = re.split(r"%(?:\(\w+\))?[rs]", text)[0]
        if not head:
            continue
        quoted = "'([^']*)'" if re.search(r"%(?:\(\w+\))?r", text) else "(.*)"
        found = re.search(re.escape(head) + quoted, stderr)
        if found:
            return found.group(1)
    return None


def remote_refusal(host: str, returncode: int | None, stderr: str) -> RemoteError:
    """The remote torchdeck's own error ("error: ..." and "hint: ..." lines), or its last
    line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    said = {}
    for key, msgid, field in (
        ("error", "error: {message}", "message"),
        ("hint", "hint: {hint}", "hint"),
    ):
        heads = [text.split("{" + field + "}")[0] for text in _in_every_language(msgid)]
        for line in lines:
            head = next((h for h in heads if h and line.startswith(h)), None)
            if head is not None:
                said[key] = line[len(head) :]
    if "error" in said:
        return RemoteError(f"{host}: {said['error']}", said.get("hint", ""), REFUSED)
    last = lines[-1] if lines else _("no message")
    return RemoteError(
        _("the connection to the engine on {host} ended (code {code}): {last}").format(
            host=host, code=returncode, last=last
        ),
        _(
            "see the engine's log on {host} (runs/torchdeck/engine.log under the remote home)"
        ).format(host=host),
        SSH_FAILED,
    )


def _version() -> str:
    from importlib import metadata

    try:
        return f"torchdeck {metadata.version('torchdeck')}"
    except metadata.PackageNotFoundError:
        return f"protocol {PROTOCOL_VERSION}"
