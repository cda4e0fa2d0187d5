"""``torchdeck engine``: start an engine process.

Three ways: a pipe child (the default: JSON lines on stdin/stdout, ended by end of input or by
its parent's death); ``--serve``, the same plus a Unix socket that other clients attach to (a
headless ``torchdeck train``); and ``--detach``, an engine on its own: no stdin/stdout client,
its own session (setsid) so a closed terminal's SIGHUP never reaches it, its output in a log
file, ended by ``shutdown``, ``torchdeck stop``, SIGTERM, or ``--idle-timeout`` seconds with no
client and no run. The socket is ``core.runtime.socket_path(pid)``, made before torch is
imported so a client can connect at once (it then waits for ``ready``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading
from dataclasses import replace

from core.i18n import _

DEFAULT_IDLE_TIMEOUT = 600.0


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(
            _("{text!r}: want a number of seconds, at least 0 (0: never end when idle)").format(
                text=text
            )
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchdeck engine",
        description=_(
            "The torchdeck engine: JSON lines on stdin/stdout, and on a Unix socket "
            "with --serve or --detach."
        ),
    )
    parser.add_argument(
        "--nice", type=int, default=10, help=_("lower the engine's CPU priority (default 10)")
    )
    parser.add_argument(
        "--threads", type=int, default=0, help=_("torch CPU threads (default: torch's own choice)")
    )
    parser.add_argument(
        "--serve", action="store_true", help=_("also listen on a Unix socket for attaching clients")
    )
    parser.add_argument(
        "--detach",
        action="store_true",
        help=_("run on its own: no stdin/stdout client, only the socket (implies --serve)"),
    )
    parser.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=DEFAULT_IDLE_TIMEOUT,
        metavar="S",
        help=_(
            "with --detach: exit after S seconds with no client and no run (default 600; 0: never)"
        ),
    )
    parser.add_argument(
        "--dist",
        action="store_true",
        help=_(
            "join the torchrun job this process was started in: rank 0 is the engine, "
            "the other ranks follow it"
        ),
    )
    parser.add_argument(
        "--dist-timeout",
        type=_seconds,
        default=120.0,
        metavar="S",
        help=_("with --dist: a training collective waiting longer than S seconds ends the job"),
    )
    parser.add_argument("--run-dir", default="", help=_("the run folder, shown by torchdeck ls"))
    parser.add_argument("--log", default="", help=_("where the engine's output goes (shown by ls)"))
    return parser


def main(argv: list[str] | None = None) -> int:
    # Until Engine.on_sigint is installed, a SIGINT (the client's interrupt) must not kill the
    # engine while it imports torch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from core import i18n

    # TORCHDECK_LANG from the process that started it (English where its catalog is unreadable:
    # that process has said why)
    i18n.from_environment_or_english()
    args = build_parser().parse_args(argv)
    if args.run_dir:  # as the folder checks compare it (ls, a second engine, serve's tabs)
        args.run_dir = os.path.realpath(args.run_dir)
    if args.dist and os.environ.get("RANK", "0") != "0":
        return _follow(args)  # not rank 0: no protocol, no socket; rank 0 leads
    if args.detach and os.getsid(0) != os.getpid():
        _daemonize(args)  # started by hand from a shell: leave its session and its terminal
    serve = args.serve or args.detach
    listening = None
    if serve:
        from core import runtime
        from core.errors import TorchdeckError

        try:
            path = runtime.socket_path(str(os.getpid()))
            listening = runtime.listen(path)
        except TorchdeckError as exc:  # a socket folder refused: one plain line, no traceback
            print(f"torchdeck engine: {exc}", file=sys.stderr, flush=True)
            return 2
    if args.detach:
        with contextlib.suppress(OSError):
            os.setsid()  # no controlling terminal: no SIGHUP from a closed one
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        out = None
        os.dup2(2, 1)
        sys.stdout = sys.stderr
    else:
        # Keep the real stdout for protocol lines only; everything else goes to stderr.
        proto_fd = _private_fd(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        out = os.fdopen(proto_fd, "w", encoding="utf-8", buffering=1)
    if args.nice:
        with contextlib.suppress(OSError):
            os.nice(args.nice)
    from core.compiled import use_cache_dir

    use_cache_dir()  # before torch: inductor fixes its cache folder the first time it looks
    import torch

    from core.engine import Engine

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    engine = Engine(out)
    if args.dist:
        job = _join(args)
        if job is None:
            return 2
        engine.dist = job
    signal.signal(signal.SIGINT, engine.on_sigint)
    signal.signal(signal.SIGTERM, engine.on_sigterm)
    signal.signal(signal.SIGHUP, signal.SIG_IGN if args.detach else engine.on_sigterm)
    if listening is not None:
        from core.hub import Listener

        engine.info = replace(
            engine.info,
            id=str(os.getpid()),
            host=socket.gethostname(),
            socket=str(path),
            run_dir=args.run_dir,
            log=args.log,
            detached=args.detach,
        )
        engine.idle_timeout = args.idle_timeout if args.detach else 0.0
        engine.listener = Listener(
            listening, engine.add_client, engine.read_lines, engine.remove_client
        )
    if not args.detach:
        _die_with_parent()
        reader = threading.Thread(target=engine.read_stdin, args=(sys.stdin.buffer,), daemon=True)
        reader.start()
    if args.detach:
        print(f"torchdeck engine {os.getpid()} serving {path}", file=sys.stderr, flush=True)
    code = 0
    try:
        engine.run()
    except Exception:  # a bug: said, and the engine still ends cleanly (its reader is busy)
        import traceback

        traceback.print_exc(file=sys.stderr)
        code = 1
    finally:
        if engine.folder_claim is not None:
            engine.folder_claim.release()  # the run folder is free for another engine
        if engine.dist is not None:
            with contextlib.suppress(Exception):
                engine.dist.announce("exit")  # the other ranks end with this engine
        if listening is not None:
            engine.listener.close()
            with contextlib.suppress(OSError):
                os.unlink(path)
        for conn in engine.connections():
            conn.close()
    with contextlib.suppress(Exception):
        if out is not None:
            out.flush()
        sys.stderr.flush()
    # A reader thread may sit in a blocking read; end the process without waiting on it (a
    # normal interpreter exit would abort on the reader's lock).
    os._exit(code)


def _join(args: argparse.Namespace):
    """Join the torchrun job (``--dist``): one plain line and None if that cannot be done."""
    from core import distributed

    placement = distributed.Placement.from_env()
    if placement is None:
        print(
            "torchdeck engine: "
            + _(
                "--dist needs the job torchrun starts (RANK and WORLD_SIZE of "
                "2 or more in the environment)"
            ),
            file=sys.stderr,
            flush=True,
        )
        return None
    job = distributed.Dist(placement, args.dist_timeout)
    try:
        job.start()
    except Exception as exc:
        print(
            "torchdeck engine: "
            + _("rank {rank} could not join the job: {error}").format(
                rank=placement.rank, error=exc
            ),
            file=sys.stderr,
            flush=True,
        )
        return None
    distributed.set_job(job)
    return job


def _follow(args: argparse.Namespace) -> int:
    """A rank after 0 (``core.follower``): the same session as rank 0's engine, no clients."""
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    from core.engine import Engine
    from core.follower import follow

    job = _join(args)
    if job is None:
        return 2
    code = follow(Engine(None), job)
    # Out without the interpreter's teardown: gloo's threads, torn down under a peer that is
    # leaving too, abort the process ("terminate called without an active exception").
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(code)


def _daemonize(args: argparse.Namespace) -> None:
    """Fork: the parent says where the engine is and exits; the child starts a session of its
    own (setsid needs a process that leads no group), its output in its log file."""
    from pathlib import Path

    from core.transport import DEFAULT_RUN_DIR, LOG_NAME

    log = Path(args.log or Path(args.run_dir or DEFAULT_RUN_DIR) / LOG_NAME)
    log.parent.mkdir(parents=True, exist_ok=True)
    args.log = str(log.resolve())
    pid = os.fork()
    if pid:
        print(
            _("torchdeck engine {pid}: detached; log {log}; torchdeck ls lists it").format(
                pid=pid, log=args.log
            )
        )
        os._exit(0)
    os.setsid()
    fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _private_fd(fd: int) -> int:
    """A copy of ``fd`` at an unguessable high number, not inherited by child processes, so
    that a playground cell does not write protocol lines by accident or by ``os.write(3, ...)``
    (one that hunts for it through /proc still can: the client checks every line it reads)."""
    import random

    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError):  # not on this platform: an ordinary copy
        return os.dup(fd)
    top = min(soft if soft > 0 else 1024, 1 << 16)
    for _attempt in range(20):
        target = random.SystemRandom().randrange(max(top // 2, 10), max(top, 11))
        try:
            os.fstat(target)
        except OSError:  # free: take it
            try:
                return os.dup2(fd, target, inheritable=False)
            except OSError:
                break
    return os.dup(fd)


def _die_with_parent() -> None:
    """On Linux, have the kernel send SIGTERM when the client that started the engine dies, so
    an engine busy in a long request (its end of input unread) never lingers as an orphan."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the client died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
