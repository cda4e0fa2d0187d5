"""``torchdeck train`` on several processes or machines, through torchrun.

``torchdeck train --nproc-per-node N ...`` runs exactly the line a person could type:

    python -m torch.distributed.run --standalone --nproc-per-node=N -m cli.train ...

(``torchrun`` is the same program). Under torchrun every worker runs ``cli.train``: rank 0
is the headless front end of an engine that is rank 0 of the job (its progress line, its
metrics.jsonl, its checkpoint, its socket for ``attach``); every other rank becomes a follower
engine (``core.follower``) with no output of its own. On several machines, each one runs the
same command with its ``--node-rank``; node 0 is where rank 0, and the run folder, live.

Imports no torch.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time

from core.contract.base import arg_type
from core.contract.settings import at_least
from core.errors import TorchdeckError
from core.i18n import _
from core.placement import Placement
from core.transport import torchrun_command

# the launcher's options: for torchrun, not for the ranks (each takes a value)
LAUNCH_OPTIONS = ("--nproc-per-node", "--nnodes", "--node-rank", "--rdzv-endpoint")
DEFAULT_DIST_TIMEOUT = 120.0


def add_dist_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(_("several processes or machines (torchrun, DDP)"))
    g.add_argument(
        "--nproc-per-node",
        type=arg_type(at_least(1)),
        metavar="N",
        help=_(
            "train with N processes on this machine (one per GPU; on CPU, N processes "
            "sharing the cores), launched by torchrun"
        ),
    )
    g.add_argument(
        "--nnodes",
        type=arg_type(at_least(1)),
        metavar="N",
        help=_("machines in the job (default 1)"),
    )
    g.add_argument(
        "--node-rank",
        type=arg_type(at_least(0)),
        metavar="R",
        help=_("this machine's place in the job, 0 to nnodes-1 (node 0 holds rank 0 and the run)"),
    )
    g.add_argument(
        "--rdzv-endpoint",
        metavar="HOST:PORT",
        help=_("where the machines meet: node 0's address and a free port"),
    )
    g.add_argument(
        "--grad-accum",
        type=arg_type(at_least(0)),
        metavar="K",
        help=_(
            "micro-batches per optimizer step over all processes, a multiple of their "
            "number: the global batch is batch-size x K whatever the world size (default: one "
            "per process)"
        ),
    )
    g.add_argument(
        "--dist-timeout",
        type=arg_type(at_least(1)),
        default=DEFAULT_DIST_TIMEOUT,
        metavar="S",
        help=_(
            "a process that does not answer for S seconds ends the job (default {seconds})"
        ).format(seconds=f"{DEFAULT_DIST_TIMEOUT:g}"),
    )


def wants_torchrun(args: argparse.Namespace) -> bool:
    """Whether this ``train`` launches torchrun (it is not already one of its workers)."""
    if Placement.from_env() is not None:
        return False
    return (args.nproc_per_node or 1) > 1 or (args.nnodes or 1) > 1


def check(args: argparse.Namespace) -> None:
    """Refuse what cannot work before any process starts: one sentence each."""
    n = args.nproc_per_node or 1
    if n > 1 and str(args.device).strip().lower() == "mps":
        raise TorchdeckError(
            _("--device mps has one device per machine, so it cannot take {n} processes").format(
                n=n
            ),
            _("use --nproc-per-node 1 with mps, or --device cpu or cuda"),
        )
    nodes = args.nnodes or 1
    if nodes > 1 and (args.rdzv_endpoint is None or args.node_rank is None):
        raise TorchdeckError(
            _(
                "--nnodes {nodes} needs --rdzv-endpoint HOST:PORT (node 0's address) and "
                "--node-rank on each machine"
            ).format(nodes=nodes),
            _(
                "run the same command on every machine, with --node-rank 0 on the one that "
                "holds the run"
            ),
        )
    if args.node_rank is not None and args.node_rank >= nodes:
        raise TorchdeckError(
            _("--node-rank {rank} is not below --nnodes {nodes}").format(
                rank=args.node_rank, nodes=nodes
            ),
            _("number the machines 0 to {last}").format(last=nodes - 1),
        )
    world = n * nodes
    if args.grad_accum and args.grad_accum % world:
        raise TorchdeckError(
            _("--grad-accum {accum} does not split evenly over {world} processes").format(
                accum=args.grad_accum, world=world
            ),
            _(
                "give a multiple of {world} (each process runs grad-accum / {world} "
                "micro-batches), or leave it out for one per process"
            ).format(world=world),
        )
    if args.preset == "parabola":
        raise TorchdeckError(
            _("the parabola preset has no data to split over processes"),
            _("train it with one process (no --nproc-per-node)"),
        )


def launch_command(args: argparse.Namespace, train_argv: list[str]) -> list[str]:
    """The torchrun line for ``train_argv`` (``train``'s own arguments)."""
    launch = []
    if (args.nnodes or 1) > 1:  # how long the machines wait for each other to meet
        launch.append(f"--rdzv-conf=timeout={int(args.dist_timeout)}")
    if args.nnodes:
        launch.append(f"--nnodes={args.nnodes}")
    if args.node_rank is not None:
        launch.append(f"--node-rank={args.node_rank}")
    if args.rdzv_endpoint:
        launch.append(f"--rdzv-endpoint={args.rdzv_endpoint}")
    return torchrun_command(args.nproc_per_node or 1, launch) + [
        "-m",
        "cli.train",
        *rank_argv(train_argv),
    ]


def rank_argv(argv: list[str]) -> list[str]:
    """``argv`` without the launcher's own options (what every rank's ``cli.train`` gets)."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
            continue
        name = item.split("=", 1)[0]
        if _launch_option(name):
            skip = "=" not in item
            continue
        out.append(item)
    return out


def _launch_option(name: str) -> bool:
    """Whether ``name`` is one of the launcher's options, or an abbreviation argparse took
    for one (``--nproc``)."""
    return len(name) > 3 and any(o.startswith(name) for o in LAUNCH_OPTIONS)


def run_launch(args: argparse.Namespace, train_argv: list[str]) -> int:
    """Run torchrun; its exit code is ours. It runs in a process group of its own, so the
    terminal's Ctrl-C reaches this process alone, which passes the first one to torchrun
    (every worker hears it from there: rank 0 saves, the others follow it out); a second, a
    second or more later, ends the job's processes at once. A double press counts once, so
    torchrun's agent is never interrupted in its own clean-up (it would leave the workers
    behind)."""
    check(args)
    argv = launch_command(args, train_argv)
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:  # the processes share the cores (torchrun's own is 1)
        share = max(1, (os.cpu_count() or 1) // (args.nproc_per_node or 1))
        env["OMP_NUM_THREADS"] = str(args.threads or share)
    nodes = args.nnodes or 1
    if nodes > 1:
        _say(
            "torchdeck train: "
            + _(
                "node {node} of {nodes}: waiting up to {seconds} s for the machines to meet "
                "at {endpoint}"
            ).format(
                node=args.node_rank,
                nodes=nodes,
                seconds=f"{args.dist_timeout:g}",
                endpoint=args.rdzv_endpoint,
            )
        )
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {sig: signal.signal(sig, signal.SIG_IGN) for sig in handled}
    try:
        proc = subprocess.Popen(argv, env=env, preexec_fn=os.setpgrp)
    except OSError as exc:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        raise TorchdeckError(
            _("cannot start torchrun: {reason}").format(reason=exc.strerror),
            _("is torch installed in this Python?"),
        ) from None
    first: list[float] = []

    def on_signal(signum, frame):
        now = time.monotonic()
        if not first:
            first.append(now)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)
            if signum == signal.SIGINT:
                _say(
                    _(
                        "stopping: rank 0 saves the run, then every process ends (Ctrl-C again "
                        "to end them at once)"
                    )
                )
        elif now - first[0] >= 1.0:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            _say(_("ended at once: the engine saves the run's autosave on its way out"))

    for sig in handled:
        signal.signal(sig, on_signal)
    try:
        while True:
            try:
                code = proc.wait()
                break
            except InterruptedError:
                continue
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    if code < 0 and not first:  # torchrun itself was killed: its workers live on without it
        _say(
            _(
                "error: torchrun was ended by {signal}; the job's processes may still be "
                "running: torchdeck ls lists the job, torchdeck stop ends it (saved)"
            ).format(signal=signal.Signals(-code).name)
        )
    return 128 - code if code < 0 else code


def _say(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)


def follower_line(placement: Placement) -> str:
    """What a machine's first follower rank says, once: who follows rank 0."""
    last = placement.rank + placement.local_world_size - 1
    if last == placement.rank:
        said = _(
            "rank {rank} of {world} follow rank 0, which prints the run and writes its files"
        ).format(rank=last, world=placement.world_size)
    else:
        said = _(
            "ranks {first}-{last} of {world} follow rank 0, which prints the run and writes "
            "its files"
        ).format(first=placement.rank, last=last, world=placement.world_size)
    return f"torchdeck train: {said}"


def follower_exec(args: argparse.Namespace) -> None:
    """A rank after 0: become its follower engine (the same pid: torchrun watches it)."""
    argv = [sys.executable, "-m", "core.engine_main", "--dist", "--nice", str(args.nice)]
    argv += ["--dist-timeout", str(args.dist_timeout)]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    os.execv(sys.executable, argv)
