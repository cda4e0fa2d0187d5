"""The engine behind ``torchdeck serve``'s tabs: one per folder (``runs/torchdeck``), started by
the first tab, attached to by the others, left alone when a tab closes; when serving stops, an
idle one nobody is attached to is shut down and a training one is said to go on."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

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
    """For a tab's app (``--served``): attach to this folder's engine if there is one."""
    from core.transport import DEFAULT_RUN_DIR

    ident = served_engine(DEFAULT_RUN_DIR)
    if ident is not None:
        args.command, args.id = "attach", ident


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
