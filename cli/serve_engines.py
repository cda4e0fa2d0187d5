"""The engine behind ``torchdeck serve``'s tabs: one per folder (``runs/torchdeck``), started by
the first tab, attached to by the others, left alone when a tab closes; when serving stops, an
idle one nobody is attached to is shut down and a training one is said to go on."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import os
import time
from pathlib import Path

from core.errors import TorchdeckError
from core.i18n import _

TRAINING = ("running", "paused")


def _engines_here(run_dir: str) -> list[dict]:
    from cli.engines import list_engines
    from core import runtime

    if not runtime.live_sockets():
        return []
    here = str(Path(run_dir).resolve())
    found = asyncio.run(list_engines())
    return [e for e in found if e.get("run_dir") == here and not e.get("error")]


def served_engine(run_dir: str) -> str | None:
    """The id of the engine in ``run_dir`` a new tab should attach to (a training one first),
    or None: the tab starts one."""
    engines = _engines_here(run_dir)
    engines.sort(key=lambda e: e.get("state") not in TRAINING)
    return str(engines[0]["id"]) if engines else None


def attach_to_served(args: argparse.Namespace) -> None:
    """For a tab's app (``--served``): attach to this folder's engine, starting it if there is
    none. Tabs opened at the same moment take turns (a lock in the socket folder), and the one
    that starts the engine lets go only once the engine answers, so the next finds it: each
    tab starting its own engine left two engines in one folder."""
    from core import runtime
    from core.transport import DEFAULT_RUN_DIR, spawn_detached

    with _turn(DEFAULT_RUN_DIR):
        ident = served_engine(DEFAULT_RUN_DIR)
        if ident is None:
            try:
                path = asyncio.run(spawn_detached())
            except TorchdeckError:  # the tab's app starts one itself and shows why it cannot
                return
            ident = runtime.engine_id_of(path)
            _wait_answering(path)
    args.command, args.id = "attach", ident


@contextlib.contextmanager
def _turn(run_dir: str, wait_s: float = 120.0):
    """An exclusive lock per run folder among the tabs of this user (an flock on a file in the
    socket folder); after ``wait_s`` a tab goes on without it rather than never open."""
    from core import runtime

    folder = str(Path(run_dir).resolve()).encode()
    name = f"serve-{hashlib.sha256(folder).hexdigest()[:16]}.lock"
    try:
        fd = os.open(runtime.runtime_dir() / name, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # the lock goes with it


def _wait_answering(path: Path, wait_s: float = 60.0) -> None:
    """Until the engine on ``path`` answers a status (it has imported torch), so that the next
    tab's listing finds it."""
    from cli.engines import probe

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and path.exists():  # gone: it died, the app says so
        if not asyncio.run(probe(path)).get("error"):
            return
        time.sleep(0.1)


def engines_before() -> set[str]:
    """The ids of this folder's engines before serving starts: serving leaves them alone."""
    from core.transport import DEFAULT_RUN_DIR

    return {str(e["id"]) for e in _engines_here(DEFAULT_RUN_DIR)}


def after_serving(say, before: set[str]) -> None:
    """Once the server stops: shut down the idle engines its tabs started that nobody uses; say
    how to reach a run that goes on. Engines in ``before`` were there first and are not
    touched."""
    from cli.engines import STATES, stop
    from core import runtime
    from core.transport import DEFAULT_RUN_DIR

    for e in _engines_here(DEFAULT_RUN_DIR):
        ident = str(e["id"])
        if ident in before:
            continue
        if e.get("state") in TRAINING:
            said = _(
                "engine {id} goes on training ({state}, step {step}/{steps}): torchdeck attach "
                "{id} opens it, torchdeck stop {id} ends it"
            )
            state = _(STATES[e["state"]]) if e["state"] in STATES else e["state"]
            say(said.format(id=ident, state=state, step=e.get("step"), steps=e.get("steps")))
        elif e.get("detached") and not e.get("clients"):
            asyncio.run(stop(runtime.socket_path(ident), lambda _line: None, timeout=10))
