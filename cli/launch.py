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

from core.contract.base import arg_type
from core.contract.settings import at_least
from core.errors import TorchdeckError
from core.placement import Placement
from core.transport import torchrun_command

# the launcher's options: for torchrun, not for the ranks (each takes a value)
LAUNCH_OPTIONS = ("--nproc-per-node", "--nnodes", "--node-rank", "--rdzv-endpoint")
DEFAULT_DIST_TIMEOUT = 120.0


def add_dist_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("several processes or machines (torchrun, DDP)")
    g.add_argument(
        "--nproc-per-node",
        type=arg_type(at_least(1)),
        metavar="N",
        help="train with N processes on this machine (one per GPU; on CPU, N processes "
        "sharing the cores), launched by torchrun",
    )
    g.add_argument(
        "--nnodes", type=arg_type(at_least(1)), metavar="N", help="machines in the job (default 1)"
    )
    g.add_argument(
        "--node-rank",
        type=arg_type(at_least(0)),
        metavar="R",
        help="this machine's place in the job, 0 to nnodes-1 (node 0 holds rank 0 and the run)",
    )
    g.add_argument(
        "--rdzv-endpoint",
        metavar="HOST:PORT",
        help="where the machines meet: node 0's address and a free port",
    )
    g.add_argument(
        "--grad-accum",
        type=arg_type(at_least(0)),
        metavar="K",
        help="micro-batches per optimizer step over all processes, a multiple of their "
        "number: the global batch is batch-size x K whatever the world size (default: one "
        "per process)",
    )
    g.add_argument(
        "--dist-timeout",
        type=arg_type(at_least(1)),
        default=DEFAULT_DIST_TIMEOUT,
        metavar="S",
        help=f"a process that does not answer for S seconds ends the job "
        f"(default {DEFAULT_DIST_TIMEOUT:g})",
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
            f"--device mps has one device per machine, so it cannot take {n} processes",
            "use --nproc-per-node 1 with mps, or --device cpu or cuda",
        )
    nodes = args.nnodes or 1
    if nodes > 1 and (args.rdzv_endpoint is None or args.node_rank is None):
        raise TorchdeckError(
            f"--nnodes {nodes} needs --rdzv-endpoint HOST:PORT (node 0's address) and "
            "--node-rank on each machine",
            "run the same command on every machine, with --node-rank 0 on the one that "
            "holds the run",
        )
    if args.node_rank is not None and args.node_rank >= nodes:
        raise TorchdeckError(
            f"--node-rank {args.node_rank} is not below --nnodes {nodes}",
            f"number the machines 0 to {nodes - 1}",
        )


def launch_command(args: argparse.Namespace, train_argv: list[str]) -> list[str]:
    """The torchrun line for ``train_argv`` (``train``'s own arguments)."""
    launch = []
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
        if name in LAUNCH_OPTIONS:
            skip = "=" not in item
            continue
        out.append(item)
    return out


def run_launch(args: argparse.Namespace, train_argv: list[str]) -> int:
    """Run torchrun in the foreground; its exit code is ours. A Ctrl-C reaches every worker
    from the terminal (rank 0 saves, then ends the others), so this process only waits."""
    check(args)
    argv = launch_command(args, train_argv)
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:  # the processes share the cores (torchrun's own is 1)
        share = max(1, (os.cpu_count() or 1) // (args.nproc_per_node or 1))
        env["OMP_NUM_THREADS"] = str(args.threads or share)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = subprocess.Popen(argv, env=env)
    except OSError as exc:
        raise TorchdeckError(
            f"cannot start torchrun: {exc.strerror}", "is torch installed in this Python?"
        ) from None
    forward = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        code = proc.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, forward)
    return 128 - code if code < 0 else code


def follower_exec(args: argparse.Namespace) -> None:
    """A rank after 0: become its follower engine (the same pid: torchrun watches it)."""
    argv = [sys.executable, "-m", "core.engine_main", "--dist", "--nice", str(args.nice)]
    argv += ["--dist-timeout", str(args.dist_timeout)]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    os.execv(sys.executable, argv)
