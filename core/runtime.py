"""Where engines listen: one Unix socket per engine in a per-user runtime folder.

The folder is ``$XDG_RUNTIME_DIR/torchdeck``, else ``torchdeck/run`` under the user's cache
folder (``$XDG_CACHE_HOME`` or ``~/.cache``); ``$TORCHDECK_RUNTIME_DIR`` overrides both (tests,
two separate set-ups on one machine). It is created 0700 and refused when another user owns it
or when others may enter it; each socket is made 0600, and each side of a connection checks the
other's user (SO_PEERCRED on Linux). Nothing listens on TCP. Imports no torch and no UI library.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
from pathlib import Path

from core.errors import TorchdeckError
from core.i18n import _

SUFFIX = ".sock"


class RuntimeDirError(TorchdeckError):
    pass


def runtime_dir(create: bool = True) -> Path:
    """The checked runtime folder (created 0700 when missing and ``create``)."""
    override = os.environ.get("TORCHDECK_RUNTIME_DIR")
    if override:
        path = Path(override)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(os.environ["XDG_RUNTIME_DIR"]) / "torchdeck"
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(cache) / "torchdeck" / "run"
    if create and not path.exists():
        try:
            path.mkdir(parents=True, mode=0o700, exist_ok=True)
            os.chmod(path, 0o700)  # whatever the umask made of it
        except OSError as exc:
            raise RuntimeDirError(
                _("cannot create the engine socket folder {path}: {error}").format(
                    path=path, error=exc.strerror
                ),
                _("set TORCHDECK_RUNTIME_DIR to a folder you can write"),
            ) from None
    if path.exists():
        check_private(path)
    return path


def check_private(path: Path) -> None:
    """Refuse a socket folder that another user owns or others can enter: anyone who reaches an
    engine's socket can run Python as its user (the playground)."""
    info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise RuntimeDirError(
            _("the engine socket folder {path} is not a folder").format(path=path),
            _("remove {path} and try again").format(path=path),
        )
    if info.st_uid != os.getuid():
        raise RuntimeDirError(
            _("the engine socket folder {path} belongs to another user (uid {uid})").format(
                path=path, uid=info.st_uid
            ),
            _("set TORCHDECK_RUNTIME_DIR to a folder of your own"),
        )
    if info.st_mode & 0o077:
        raise RuntimeDirError(
            _(
                "the engine socket folder {path} is open to other users (mode {mode}): refused"
            ).format(path=path, mode=f"{stat.S_IMODE(info.st_mode):04o}"),
            _("run chmod 700 {path}, or remove it and let torchdeck make it again").format(
                path=path
            ),
        )


def socket_path(engine_id: str) -> Path:
    return runtime_dir() / f"engine-{engine_id}{SUFFIX}"


def engine_id_of(path: Path) -> str:
    name = path.name
    return name[len("engine-") : -len(SUFFIX)] if name.startswith("engine-") else name


def listen(path: Path) -> socket.socket:
    """A listening Unix socket at ``path``, mode 0600 from the start (umask while binding).

    It is bound and made to listen under a temporary name, then renamed into place: the file
    at ``path`` never exists before it accepts (spawn_detached returns as soon as it exists,
    and ``live_sockets`` removes a socket that refuses a connection as a dead engine's)."""
    try:
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise RuntimeDirError(
                _("{path} is in the way: not a socket").format(path=path),
                _("remove {path}").format(path=path),
            )
    except FileNotFoundError:
        pass
    temporary = path.with_name(f".{path.name}.new")  # not an engine-*.sock name
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        sock.bind(str(temporary))
    finally:
        os.umask(old)
    os.chmod(temporary, 0o600)
    sock.listen(16)
    os.replace(temporary, path)  # over a dead engine's socket, if any (a live one's pid differs)
    return sock


def peer_uid(sock: socket.socket) -> int | None:
    """The user id of the process at the other end of a Unix socket (None: not knowable
    here)."""
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:
        return None
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("3i"))
    except OSError:
        return None
    return struct.unpack("3i", creds)[1]


def check_peer(sock, path: str | Path) -> None:
    """Refuse an engine socket whose process runs as another user: what the client sends it
    (playground code, file paths) must not reach someone else's process."""
    uid = peer_uid(sock) if sock is not None else None
    if uid is not None and uid != os.getuid():
        raise TorchdeckError(
            _("the engine at {path} belongs to another user (uid {uid}): refused").format(
                path=path, uid=uid
            ),
            _("start your own engine; torchdeck ls lists yours"),
        )


def live_sockets() -> list[Path]:
    """The sockets of engines that answer; a socket file nothing listens on (an engine that
    was killed) is removed on the way, never an error."""
    try:
        folder = runtime_dir(create=False)
    except RuntimeDirError:
        raise
    if not folder.exists():
        return []
    found = []
    for path in sorted(folder.glob(f"engine-*{SUFFIX}")):
        try:
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                continue  # not an engine's: neither listed nor removed
        except OSError:
            continue
        if is_stale(path):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        found.append(path)
    return found


def is_stale(path: Path) -> bool:
    """Whether nothing listens on the socket at ``path`` any more."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    except OSError:
        return False  # busy or slow: alive, as far as we can tell
    finally:
        probe.close()
    return False


def resolve(engine_id: str | None, command: str = "attach") -> Path:
    """The socket of engine ``engine_id`` (a unique prefix will do), or of the only live one;
    ``command`` is the torchdeck command the hints name."""
    sockets = live_sockets()
    if not sockets:
        raise TorchdeckError(
            _("no torchdeck engine is running here"),
            _("start one with torchdeck (the app) or torchdeck train; torchdeck ls lists them"),
        )
    if engine_id is None:
        if len(sockets) > 1:
            ids = ", ".join(engine_id_of(p) for p in sockets)
            raise TorchdeckError(
                _("{count} engines are running ({ids})").format(count=len(sockets), ids=ids),
                _("name one: torchdeck {command} ID (torchdeck ls lists them)").format(
                    command=command
                ),
            )
        return sockets[0]
    # an exact id wins: with engines 1234 and 12345, "1234" names the first, not both
    matches = [p for p in sockets if engine_id_of(p) == engine_id]
    matches = matches or [p for p in sockets if engine_id_of(p).startswith(engine_id)]
    if len(matches) != 1:
        ids = ", ".join(engine_id_of(p) for p in sockets)
        if not matches:
            message = _("no engine has the id {engine_id!r}").format(engine_id=engine_id)
        else:
            message = _("more than one engine has the id {engine_id!r}").format(engine_id=engine_id)
        raise TorchdeckError(message, _("running engines: {ids}").format(ids=ids))
    return matches[0]
