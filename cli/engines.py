"""``torchdeck ls``, ``stop`` and ``bridge``: the engines running on this machine.

``ls`` asks every live engine socket (``core.runtime``) for its status, as a "probe" client
(not counted as attached), and prints one row each; a socket nothing listens on any more is
removed on the way. ``stop`` ends one run cleanly: ``train_stop`` (the engine saves the run where
autosave points), then, for a detached engine, ``shutdown``; a headless run's own process sees
the stop and writes its final checkpoint and summary. ``bridge`` joins its stdin/stdout to an
engine's socket, byte for byte: what ``ssh host torchdeck bridge`` runs on a remote box.
Imports no torch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from core import runtime
from core.client import EngineClient
from core.errors import EngineDied, EngineError, TorchdeckError
from core.fmt import fmt_rate
from core.i18n import N_, _

PROBE_TIMEOUT = 5.0
COLUMNS = (
    "ID",
    N_("MODEL"),
    N_("DEVICE"),
    N_("STATE"),
    N_("STEP"),
    N_("TRAIN"),
    N_("VAL"),
    "TOK/S",
    "VRAM",
    N_("STARTED"),
)
# an engine's state as the ls table words it (the protocol's words are kept for --json)
STATES = {
    "idle": N_("idle"),
    "running": N_("running"),
    "paused": N_("paused"),
    "stopped": N_("stopped"),
    "finished": N_("finished"),
    "diverged": N_("diverged"),
}


async def probe(path: Path, timeout: float = PROBE_TIMEOUT) -> dict:
    """One engine's EngineInfo as a dict; {"id", "socket", "error"} when it does not answer."""
    client = EngineClient(socket_path=str(path), role="probe")
    try:
        await asyncio.wait_for(client.start(timeout=timeout), timeout)
        status = await client.request("status", timeout=timeout)
        return status.get("engine") or {}
    except (TorchdeckError, OSError, asyncio.TimeoutError, TimeoutError) as exc:
        why = exc.message if isinstance(exc, TorchdeckError) else _("busy: no answer in time")
        return {"id": runtime.engine_id_of(path), "socket": str(path), "error": why}
    finally:
        with contextlib.suppress(Exception):
            await client.close()


async def list_engines() -> list[dict]:
    paths = runtime.live_sockets()
    return list(await asyncio.gather(*(probe(p) for p in paths)))


def _num(v, spec: str = ".4f") -> str:
    return format(v, spec) if isinstance(v, (int, float)) else ("-" if v is None else str(v))


def gpu_memory(engine: dict) -> str:
    """The CUDA memory a run's engine holds, of its GPU's: ``3.2/80.0 GiB`` (``-`` on a CPU)."""
    held, total = engine.get("gpu_mem_mb"), engine.get("gpu_mem_total_mb")
    if not isinstance(held, (int, float)):
        return "-"
    if isinstance(total, (int, float)) and total:
        return f"{held / 1024:.1f}/{total / 1024:.1f} GiB"
    return f"{held / 1024:.1f} GiB"


def table(engines: list[dict]) -> str:
    """The ``ls`` table (the run folder and the client count on a second line per engine)."""
    if not engines:
        return _("no torchdeck engine is running here (torchdeck starts one; so does train)")
    from rich.cells import cell_len

    rows = [tuple(_(c) for c in COLUMNS)]
    extra = []
    for e in engines:
        if e.get("error"):
            rows.append((e["id"], "?", "?", e["error"], "", "", "", "", "", ""))
            extra.append("")
            continue
        steps = f"{e.get('step', 0)}/{e.get('steps', 0)}" if e.get("steps") else "-"
        rate = e.get("tokens_per_s")
        device = e.get("device") or "-"
        if (e.get("world_size") or 1) > 1:  # a torchrun job: rank 0's device, times the ranks
            device += f"×{e['world_size']}"
        rows.append(
            (
                e.get("id", "?"),
                e.get("preset") or "-",
                device,
                _(STATES[e["state"]]) if e.get("state") in STATES else e.get("state", "?"),
                steps,
                _num(e.get("loss")),
                _num(e.get("val_loss")),
                fmt_rate(rate) if isinstance(rate, (int, float)) and rate else "-",
                gpu_memory(e),
                time.strftime("%m-%d %H:%M", time.localtime(e.get("started", 0))),
            )
        )
        who = _("detached") if e.get("detached") else _("headless (owned by its train process)")
        line = _("{clients} attached · {who} · run {folder}").format(
            clients=e.get("clients", 0), who=who, folder=e.get("run_dir") or e.get("cwd")
        )
        extra.append(f"    {line}")
    widths = [max(cell_len(str(r[i])) for r in rows) for i in range(len(COLUMNS))]

    def row_text(row) -> str:
        cells = (str(c) + " " * (w - cell_len(str(c))) for c, w in zip(row, widths))
        return "  ".join(cells).rstrip()

    out = [row_text(rows[0])]
    for row, more in zip(rows[1:], extra):
        out.append(row_text(row))
        if more:
            out.append(more)
    return "\n".join(out)


def run_ls(args: argparse.Namespace) -> int:
    engines = asyncio.run(list_engines())
    if args.json:
        print(json.dumps(engines, indent=None))
    else:
        print(table(engines))
    return 0


async def stop(path: Path, say, timeout: float = 30.0) -> int:
    """Stop the engine's run (its checkpoint saved where autosave points), then shut down a
    detached engine. One that does not answer in ``timeout`` seconds (a runaway playground cell,
    a stopped process) gets SIGTERM, which interrupts what it is doing and saves the run."""
    ident = runtime.engine_id_of(path)
    client = EngineClient(socket_path=str(path), role="probe")
    try:
        await client.start(timeout=timeout)
        status = await client.request("status", timeout=timeout)
    except (asyncio.TimeoutError, TimeoutError):
        return _terminate(ident, timeout, say)
    try:
        info = status.get("engine") or {}
        ident = info.get("id", ident)
        if status.get("state") in ("running", "paused"):
            reply = await client.request("train_stop", timeout=120)
            saved = [ev.data.get("path") for ev in client.drain_events() if ev.event == "autosaved"]
            step = reply.get("step", "?")
            if saved:
                said = _("engine {id}: run stopped at step {step}; checkpoint saved to {path}")
                say(said.format(id=ident, step=step, path=saved[-1]))
            else:
                say(_("engine {id}: run stopped at step {step}").format(id=ident, step=step))
        else:
            state = status.get("state")
            state = _(STATES[state]) if state in STATES else state
            say(_("engine {id}: no run in progress ({state})").format(id=ident, state=state))
        if info.get("detached"):
            with contextlib.suppress(EngineDied):  # it may end before its reply is read
                await client.request("shutdown", timeout=timeout)
            say(_("engine {id}: shut down").format(id=ident))
        else:
            say(_("engine {id}: its torchdeck train process ends it").format(id=ident))
        return 0
    finally:
        with contextlib.suppress(Exception):
            await client.close()


def _terminate(ident: str, waited: float, say) -> int:
    """SIGTERM to a local engine that does not answer (its id is its pid)."""
    try:
        pid = int(ident)
        os.kill(pid, signal.SIGTERM)
    except (ValueError, ProcessLookupError, PermissionError) as exc:
        raise TorchdeckError(
            _(
                "engine {id} did not answer within {seconds} s and cannot be signalled ({reason})"
            ).format(id=ident, seconds=f"{waited:.0f}", reason=exc),
            _("see torchdeck ls; kill it by hand if it is stuck"),
        ) from None
    say(
        _(
            "engine {id}: no answer within {seconds} s (busy or stopped): sent it SIGTERM, "
            "which interrupts it and saves its run where autosave points"
        ).format(id=ident, seconds=f"{waited:.0f}")
    )
    return 0


def run_stop(args: argparse.Namespace) -> int:
    path = runtime.resolve(args.id, command="stop")
    return asyncio.run(stop(path, print, timeout=getattr(args, "wait", 30.0)))


def run_bridge(args: argparse.Namespace) -> int:
    """Relay stdin/stdout to an engine's socket (``--spawn``: a new detached engine's)."""
    if args.spawn:
        from core.transport import spawn_detached

        path = asyncio.run(spawn_detached(run_dir=args.run_dir, nice=args.nice))
    else:
        path = runtime.resolve(args.id)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as exc:
        raise TorchdeckError(
            _("cannot reach the engine at {path}: {reason}").format(path=path, reason=exc.strerror),
            _("torchdeck ls lists engines"),
        ) from None
    return relay(sock, sys.stdin.buffer.fileno(), sys.stdout.buffer.fileno())


def relay(sock: socket.socket, fd_in: int, fd_out: int) -> int:
    """Copy ``fd_in`` → socket and socket → ``fd_out`` until the engine closes the connection
    (0) or the input ends (the client, or its ssh link, is gone: 0 once the engine has closed
    its side)."""

    def up() -> None:
        try:
            while True:
                data = os.read(fd_in, 65536)
                if not data:
                    break
                sock.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)  # the engine sees the client leave; its run goes on

    threading.Thread(target=up, daemon=True).start()
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return 0
            view = memoryview(data)
            while view:
                view = view[os.write(fd_out, view) :]
    except (BrokenPipeError, ConnectionResetError):
        return 0
    finally:
        sock.close()


def errors_to_exit(func, args: argparse.Namespace) -> int:
    try:
        return func(args)
    except (asyncio.TimeoutError, TimeoutError) as exc:
        said = _("error: the engine did not answer in time ({reason})").format(reason=exc)
        print(said, file=sys.stderr)
        print(
            _("hint: it may be busy with a long request; torchdeck stop ID ends it"),
            file=sys.stderr,
        )
        return 3
    except (EngineDied, EngineError, TorchdeckError) as exc:
        print_refusal(exc)
        return getattr(exc, "exit_code", 3)  # cli.remote's errors carry their own


def print_refusal(exc: TorchdeckError) -> None:
    """An error as the command line says it: its message, then its hint, on stderr."""
    print(_("error: {message}").format(message=exc.message), file=sys.stderr)
    if exc.hint:
        print(_("hint: {hint}").format(hint=exc.hint), file=sys.stderr)


def refuse_a_wrong_corpus(args: argparse.Namespace) -> bool:
    """Say why the app's ``--corpus`` (or its --config's) cannot be read, as ``train`` says
    it, before the screen changes; True if so. A remote engine's paths are its own."""
    from core.corpus_file import DEFAULT_CORPUS, check_corpus_path
    from core.errors import CorpusError

    corpus = getattr(args, "corpus", None) or (getattr(args, "settings", None) or {}).get("corpus")
    if not corpus or str(corpus) == DEFAULT_CORPUS or args.command == "attach":
        return False
    if getattr(args, "remote", None) is not None:
        return False
    try:
        check_corpus_path(corpus)
    except CorpusError as exc:
        print_refusal(exc)
        return True
    return False


def app_client(args: argparse.Namespace):
    """The app's engine: a new detached one (it outlives the terminal), the one ``attach``
    names, or one on ``--remote`` HOST through ssh."""
    remote = getattr(args, "remote", None)
    if remote is not None:
        from cli import remote as remote_cli

        return remote_cli.remote_client(
            remote,
            args.remote_cmd,
            engine_id=getattr(args, "id", None),
            spawn=args.command != "attach",
        )
    if args.command == "attach":
        return EngineClient(socket_path=str(runtime.resolve(args.id)))
    from core.transport import DEFAULT_RUN_DIR, spawn_detached

    refuse_a_second_engine(DEFAULT_RUN_DIR)
    return EngineClient(spawn=lambda: spawn_detached())


def refuse_a_second_engine(run_dir: str, states=("running", "paused")) -> None:
    """Two engines training in one run folder would autosave over each other's checkpoint: if
    one is there in one of ``states`` (None: any), say how to reach it instead."""
    if not runtime.live_sockets():
        return
    here = str(Path(run_dir).resolve())
    for e in asyncio.run(list_engines()):
        if e.get("run_dir") == here and (states is None or e.get("state") in states):
            ident = e["id"]
            raise TorchdeckError(
                _(
                    "engine {id} is training in {folder} ({state}, step {step}/{steps}); a "
                    "second one here would autosave over it"
                ).format(
                    id=ident,
                    folder=run_dir,
                    state=_(STATES[e["state"]]) if e["state"] in STATES else e["state"],
                    step=e.get("step"),
                    steps=e.get("steps"),
                ),
                _(
                    "torchdeck attach {id} shows it, torchdeck stop {id} ends it; or start "
                    "torchdeck in another folder"
                ).format(id=ident),
            )
