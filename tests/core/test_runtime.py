"""core/runtime.py: where engine sockets live and who may reach them.

The folder (0700, refused when open to others or owned by another user), the sockets in it
(0600), stale sockets (a killed engine's, removed on the way), and picking an engine by id.
Every test points the folder at tmp_path; none sees the user's real engines.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from core import runtime
from core.errors import TorchdeckError
from core.runtime import RuntimeDirError

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NOBODY = 65534


@pytest.fixture
def env(monkeypatch, tmp_path):
    """No runtime variable set, HOME in tmp_path: each test sets the ones it means."""
    for name in ("TORCHDECK_RUNTIME_DIR", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


@pytest.fixture
def rt(env, tmp_path) -> Path:
    """TORCHDECK_RUNTIME_DIR in tmp_path, created by runtime_dir()."""
    env.setenv("TORCHDECK_RUNTIME_DIR", str(tmp_path / "rt"))
    return runtime.runtime_dir()


@pytest.fixture
def loose_umask():
    """umask 0 while the test runs: modes must not depend on the user's umask."""
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def serve(path: Path) -> socket.socket:
    """A live engine stand-in: a socket listening at ``path``."""
    return runtime.listen(path)


def dead(path: Path) -> None:
    """A killed engine's socket: bound, then closed; the file stays, nothing listens."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()


# -- the folder ------------------------------------------------------------------------------------


def test_override_folder_is_created_0700_whatever_the_umask(env, tmp_path, loose_umask):
    env.setenv("TORCHDECK_RUNTIME_DIR", str(tmp_path / "a" / "b"))
    env.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg"))  # the override wins
    path = runtime.runtime_dir()
    assert path == tmp_path / "a" / "b"
    assert path.is_dir() and mode(path) == 0o700
    assert not (tmp_path / "xdg").exists()


def test_xdg_runtime_dir_gets_a_torchdeck_folder(env, tmp_path, loose_umask):
    (tmp_path / "xdg").mkdir()
    env.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg"))
    env.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # XDG_RUNTIME_DIR comes first
    path = runtime.runtime_dir()
    assert path == tmp_path / "xdg" / "torchdeck"
    assert mode(path) == 0o700
    assert not (tmp_path / "cache").exists()


def test_cache_home_then_home_cache_without_a_runtime_dir(env, tmp_path, loose_umask):
    env.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = runtime.runtime_dir()
    assert path == tmp_path / "cache" / "torchdeck" / "run"
    assert mode(path) == 0o700
    env.delenv("XDG_CACHE_HOME")
    path = runtime.runtime_dir()
    assert path == tmp_path / "home" / ".cache" / "torchdeck" / "run"
    assert mode(path) == 0o700


def test_create_false_makes_nothing(env, tmp_path):
    env.setenv("TORCHDECK_RUNTIME_DIR", str(tmp_path / "rt"))
    assert runtime.runtime_dir(create=False) == tmp_path / "rt"
    assert not (tmp_path / "rt").exists()
    assert runtime.live_sockets() == []


def test_a_folder_others_can_enter_is_refused_naming_the_mode_and_the_fix(env, tmp_path):
    folder = tmp_path / "rt"
    folder.mkdir()
    os.chmod(folder, 0o755)
    env.setenv("TORCHDECK_RUNTIME_DIR", str(folder))
    with pytest.raises(RuntimeDirError) as info:
        runtime.runtime_dir()
    assert info.value.message == (
        f"the engine socket folder {folder} is open to other users (mode 0755): refused"
    )
    assert info.value.hint == (
        f"run chmod 700 {folder}, or remove it and let torchdeck make it again"
    )
    # every way in checks it: listing engines, a socket's path
    with pytest.raises(RuntimeDirError, match="mode 0755"):
        runtime.live_sockets()
    with pytest.raises(RuntimeDirError, match="mode 0755"):
        runtime.socket_path("1")
    os.chmod(folder, 0o710)  # group may only enter: still refused
    with pytest.raises(RuntimeDirError, match=r"\(mode 0710\)"):
        runtime.runtime_dir()
    os.chmod(folder, 0o700)
    assert runtime.runtime_dir() == folder


@pytest.mark.skipif(not ROOT, reason="chown to another user needs root")
def test_a_folder_owned_by_another_user_is_refused(env, tmp_path):
    folder = tmp_path / "rt"
    folder.mkdir(mode=0o700)
    os.chown(folder, NOBODY, NOBODY)
    env.setenv("TORCHDECK_RUNTIME_DIR", str(folder))
    with pytest.raises(RuntimeDirError) as info:
        runtime.runtime_dir()
    assert info.value.message == (
        f"the engine socket folder {folder} belongs to another user (uid {NOBODY})"
    )
    assert info.value.hint == "set TORCHDECK_RUNTIME_DIR to a folder of your own"


def test_a_file_in_the_folders_place_is_refused(env, tmp_path):
    (tmp_path / "rt").write_text("x")
    env.setenv("TORCHDECK_RUNTIME_DIR", str(tmp_path / "rt"))
    with pytest.raises(RuntimeDirError, match="is not a folder"):
        runtime.runtime_dir()


def test_a_folder_that_cannot_be_made_says_so(env, tmp_path):
    (tmp_path / "file").write_text("x")
    env.setenv("TORCHDECK_RUNTIME_DIR", str(tmp_path / "file" / "rt"))
    with pytest.raises(RuntimeDirError) as info:
        runtime.runtime_dir()
    assert info.value.message.startswith(
        f"cannot create the engine socket folder {tmp_path / 'file' / 'rt'}: "
    )
    assert info.value.hint == "set TORCHDECK_RUNTIME_DIR to a folder you can write"


# -- sockets ---------------------------------------------------------------------------------------


def test_socket_is_0600_whatever_the_umask_and_the_umask_is_restored(rt, loose_umask):
    path = runtime.socket_path("4242")
    assert path == rt / "engine-4242.sock"
    sock = serve(path)
    try:
        info = os.stat(path)
        assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
        assert os.umask(0) == 0  # listen() put the caller's umask back
    finally:
        sock.close()


def test_listen_replaces_a_dead_engines_socket_file(rt):
    path = rt / "engine-7.sock"
    dead(path)
    sock = serve(path)
    try:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(str(path))  # the new one listens there
        client.close()
    finally:
        sock.close()


def test_a_socket_file_never_appears_before_it_listens(rt, monkeypatch):
    """spawn_detached returns once the file exists and ``ls`` removes a socket that refuses:
    a client (or ls) arriving between bind and listen must not find a refusing socket."""
    path = rt / "engine-55.sock"
    seen = []
    chmod = os.chmod

    def chmod_and_look(target, mode, *args, **kwargs):
        chmod(target, mode, *args, **kwargs)
        if path.exists():  # a client arriving at this moment
            seen.append(runtime.is_stale(path))

    monkeypatch.setattr(os, "chmod", chmod_and_look)
    sock = serve(path)
    try:
        assert True not in seen
        assert not runtime.is_stale(path) and mode(path) == 0o600
        assert sorted(p.name for p in rt.iterdir()) == ["engine-55.sock"]  # no temporary left
    finally:
        sock.close()


def test_listen_will_not_replace_a_file_that_is_not_a_socket(rt):
    (rt / "engine-8.sock").write_text("mine")
    with pytest.raises(RuntimeDirError, match="not a socket"):
        serve(rt / "engine-8.sock")
    assert (rt / "engine-8.sock").read_text() == "mine"


def test_peer_uid_is_this_user(rt):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        assert runtime.peer_uid(a) == os.getuid()
        assert runtime.peer_uid(b) == os.getuid()
    finally:
        a.close()
        b.close()


def test_stale_sockets_are_removed_without_error_and_live_ones_kept(rt):
    live = serve(rt / "engine-100.sock")
    dead(rt / "engine-200.sock")
    dead(rt / "engine-300.sock")
    (rt / "notes.txt").write_text("not a socket, not touched")
    try:
        assert runtime.is_stale(rt / "engine-200.sock")
        assert not runtime.is_stale(rt / "engine-100.sock")
        assert runtime.is_stale(rt / "engine-404.sock")  # no file at all
        assert runtime.live_sockets() == [rt / "engine-100.sock"]
        assert sorted(p.name for p in rt.iterdir()) == ["engine-100.sock", "notes.txt"]
        assert runtime.live_sockets() == [rt / "engine-100.sock"]  # again: nothing to do
    finally:
        live.close()
    assert runtime.live_sockets() == []  # the listener closed: its file is now stale
    assert not (rt / "engine-100.sock").exists()


def test_engine_id_of():
    assert runtime.engine_id_of(Path("/x/engine-123.sock")) == "123"
    assert runtime.engine_id_of(Path("/x/other")) == "other"


# -- resolve ---------------------------------------------------------------------------------------


def test_resolve_with_no_engine(rt):
    dead(rt / "engine-9.sock")  # a dead one does not count
    with pytest.raises(TorchdeckError) as info:
        runtime.resolve(None)
    assert info.value.message == "no torchdeck engine is running here"
    assert "torchdeck ls" in info.value.hint
    with pytest.raises(TorchdeckError, match="no torchdeck engine is running here"):
        runtime.resolve("9")


def test_resolve_with_one_and_two_engines_and_by_prefix(rt):
    socks = [serve(rt / "engine-1234.sock")]
    try:
        assert runtime.resolve(None) == rt / "engine-1234.sock"
        assert runtime.resolve("12") == rt / "engine-1234.sock"
        socks.append(serve(rt / "engine-1299.sock"))
        with pytest.raises(TorchdeckError) as info:
            runtime.resolve(None)
        assert info.value.message == "2 engines are running (1234, 1299)"
        assert info.value.hint == "name one: torchdeck attach ID (torchdeck ls lists them)"
        assert runtime.resolve("123") == rt / "engine-1234.sock"
        assert runtime.resolve("1299") == rt / "engine-1299.sock"
        with pytest.raises(TorchdeckError) as info:
            runtime.resolve("12")
        assert info.value.message == "more than one engine has the id '12'"
        assert info.value.hint == "running engines: 1234, 1299"
        with pytest.raises(TorchdeckError) as info:
            runtime.resolve("77")
        assert info.value.message == "no engine has the id '77'"
        assert info.value.hint == "running engines: 1234, 1299"
    finally:
        for s in socks:
            s.close()


def test_resolve_an_exact_id_wins_over_a_longer_one_it_prefixes(rt):
    """pids 1234 and 12345 both running: ``attach 1234`` means 1234, not 'ambiguous'."""
    socks = [serve(rt / "engine-1234.sock"), serve(rt / "engine-12345.sock")]
    try:
        assert runtime.resolve("1234") == rt / "engine-1234.sock"
        assert runtime.resolve("12345") == rt / "engine-12345.sock"
        with pytest.raises(TorchdeckError, match="more than one engine has the id '123'"):
            runtime.resolve("123")
    finally:
        for s in socks:
            s.close()
