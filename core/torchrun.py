"""torchrun's own launcher (``torch.distributed.run``), run for ``torchdeck train
--nproc-per-node``, with its failure said in one line: which rank failed first, and how.

torchrun itself ends a job when one worker fails: it stops the others (SIGTERM, then SIGKILL)
and raises ``ChildFailedError`` with every worker's exit. Here that becomes
``error: rank 1 (local rank 1, pid 4242) was killed by SIGKILL; torchrun stopped the other
ranks`` instead of a traceback. ``python -m core.torchrun ARGS`` takes torchrun's arguments.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from core import i18n
from core.i18n import _


def main(argv: list[str] | None = None) -> int:
    # torch's C++ warnings print stack dumps (a node's agent finding node 0's store gone as
    # the job ends); what matters is said in one line here or by the ranks
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
    i18n.from_environment_or_english()  # TORCHDECK_LANG from the command that ran it
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    args = parse_args(sys.argv[1:] if argv is None else argv)
    # its log lines repeat what the ranks and the line below say
    for name in ["torch.distributed.elastic", *logging.root.manager.loggerDict]:
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        run(args)
    except ChildFailedError as exc:
        own = _rank0_said(exc.failures)
        if own is not None:  # rank 0 refused the run and said why: its exit code is ours
            return own
        _say(
            _("error: {failures}; torchrun stopped the job").format(failures=summary(exc.failures))
        )
        return 1
    except SignalException as exc:  # a Ctrl-C or SIGTERM: rank 0 has said what it saved
        return 128 + int(exc.sigval)
    except Exception as exc:  # the machines could not meet: a port taken, a node missing
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        _say(_("error: torchrun could not start the job: {error}").format(error=first))
        if "EADDRINUSE" in str(exc) or "address already in use" in str(exc).lower():
            _say(_("hint: that port is taken on node 0: choose another --rdzv-endpoint port"))
        elif "timeout" in str(exc).lower() or "timed out" in str(exc).lower():
            _say(_("hint: start the same command on every machine, each with its --node-rank"))
        return 1
    return 0


def _rank0_said(failures: dict) -> int | None:
    """Rank 0's exit code when it alone failed on its own (a refused setting: it printed
    why), the others stopped by torchrun; None otherwise."""
    zero = failures.get(0)
    others = [f for r, f in failures.items() if r != 0]
    stopped = all(f.exitcode < 0 and f.signal_name() == "SIGTERM" for f in others)
    if zero is not None and zero.exitcode == 2 and stopped:
        return 2
    return None


def summary(failures: dict) -> str:
    """The workers that failed, a signal's victims first, then by the time each failure was
    seen; those torchrun stopped itself (SIGTERM) only when nothing else failed."""

    def stopped(failure) -> bool:  # by torchrun itself, once another rank had failed
        return failure.exitcode < 0 and failure.signal_name() == "SIGTERM"

    causes = {r: f for r, f in failures.items() if not stopped(f)} or failures

    def order(item):
        rank, failure = item
        return (failure.exitcode >= 0, failure.timestamp, rank)

    return "; ".join(describe(rank, f) for rank, f in sorted(causes.items(), key=order))


def describe(rank: int, failure) -> str:
    """One worker's failure, as a sentence: its rank, and its exit or its signal."""
    if failure.exitcode < 0:
        return _("rank {rank} (local rank {local_rank}, pid {pid}) was killed by {signal}").format(
            rank=rank, local_rank=failure.local_rank, pid=failure.pid, signal=failure.signal_name()
        )
    return _("rank {rank} (local rank {local_rank}, pid {pid}) exited with code {code}").format(
        rank=rank, local_rank=failure.local_rank, pid=failure.pid, code=failure.exitcode
    )


def _say(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
