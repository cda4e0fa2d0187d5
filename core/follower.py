"""The ranks of a job after rank 0: each holds the same session as rank 0's engine and does
what rank 0 tells it (``core.distributed`` describes the control channel). Also rank 0's side
of an op that every rank runs (``lead_op``).

A follower speaks no protocol and writes no file: rank 0's engine is what clients see, and its
replies and events carry the whole job's figures (the losses averaged over ranks, each rank's
pace). A follower ignores SIGINT and hang-ups (rank 0 decides when the run pauses or ends), and
leaves ten seconds after a SIGTERM if rank 0 has not ended it by then.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from typing import TYPE_CHECKING

from core.i18n import _
from core.protocol import check_args

if TYPE_CHECKING:
    from core.distributed import Dist

# the ops that change the session or its run's settings: every rank runs them
MIRRORED = frozenset({"configure", "reset", "load", "train_start", "train_step", "evaluate"})
TERM_GRACE_S = 10.0


def lead_op(engine, dist: Dist, op: str, raw: dict, run):
    """Rank 0: have every rank run ``op``, run it here, and agree on how it went. If the ranks
    do not agree (one failed, another did not), none keeps a model: they must stay the same."""
    from core.distributed import DistributedError

    dist.check()
    dist.announce("op", op, raw, engine.state)
    dist.check()  # the others could not hear it
    dist.in_op = True
    error: str | None = None
    try:
        try:
            result = run()
        except BaseException as exc:  # an interrupt too: the others must hear how it went
            error = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
            raise
        finally:
            dist.in_op = False
            failures = dist.agree(error, _holds(engine))
            if failures and len(failures) < dist.world_size:
                engine.session = None  # some ranks have the new model, some not
    except DistributedError:
        raise
    others = [f"rank {rank}: {msg}" for rank, msg in failures if rank != dist.rank]
    if others:
        raise DistributedError(
            _("{op} failed on {ranks}").format(op=op, ranks="; ".join(others)),
            _(
                "every rank must be able to do what rank 0 does (the same corpus and checkpoint "
                "paths on each machine, enough device memory); fix it and configure again"
            ),
        )
    return result


def follow(engine, dist: Dist) -> int:
    """A follower's life: rank 0's commands, until it says ``exit`` or is gone."""
    from core.distributed import DistributedError, say

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _leave_soon)
    while True:
        try:
            command = dist.receive()
        except Exception as exc:  # rank 0 is gone
            say(f"torchdeck rank {dist.rank}: {dist.failed(exc).message}")
            return 1
        kind = command[0]
        if kind == "exit":
            return 0
        try:
            if kind == "op":
                engine.state = command[3]  # rank 0's run state: its checks pass here too
                _run_op(engine, dist, command[1], command[2])
            elif kind == "steps":
                engine.require_session().trainer.run_steps(int(command[1]))
            elif kind == "flush":
                engine.require_session().trainer.flush()
            elif kind == "sync":  # a playground cell changed rank 0's model
                dist.sync_model(engine.require_session().model)
            else:
                raise RuntimeError(f"unknown command {kind!r} from rank 0")
        except DistributedError as exc:
            say(f"torchdeck rank {dist.rank}: {exc.message}")
            return 1
        except Exception as exc:  # this rank cannot keep step with the others any more
            traceback.print_exc(file=sys.stderr)
            words = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
            dist.note_failure(words)
            say(_("torchdeck rank {rank} failed: {error}").format(rank=dist.rank, error=words))
            return 1


def _run_op(engine, dist: Dist, op: str, raw: dict) -> None:
    from core.distributed import DistributedError

    error = None
    try:
        handler, spec = engine.ops[op]
        args = check_args(op, raw, spec) if isinstance(spec, dict) else spec.from_args(op, raw)
        handler(args)
    except DistributedError:
        raise
    except Exception as exc:  # rank 0 hears it and decides
        error = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
    failures = dist.agree(error, _holds(engine))
    if failures and len(failures) < dist.world_size:
        engine.session = None


def _holds(engine) -> str | None:
    return engine.session.trainer.fingerprint() if engine.session is not None else None


def _leave_soon(signum, frame) -> None:
    timer = threading.Timer(TERM_GRACE_S, os._exit, (128 + signal.SIGTERM,))
    timer.daemon = True
    timer.start()
