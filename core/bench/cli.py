"""``torchdeck bench``'s command line: its arguments, and the run printed as a table or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from core.bench.plan import FIGURES, FULL_QUALITY_STEPS, plan_from_args
from core.bench.report import table
from core.bench.run import run_bench
from core.errors import TorchdeckError
from core.i18n import _


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="torchdeck bench",
        description=_(
            "Measure training speed against a bare PyTorch loop, with and without the "
            "app, the app's event-loop lag, start-up, attaching to a long run, prediction "
            "latency, the bytes a client on the engine's socket receives, memory, a short "
            "quality run, how training scales over ranks (torchrun), and what a person feels: "
            "key to screen in Predict (bars, and the explain view), a cell's answer, a pane "
            "switch, start to the first step. About 7 minutes on 2 CPU cores; --quick about two."
        ),
    )
    p.add_argument("--json", action="store_true", help=_("print one JSON object, no table"))
    p.add_argument(
        "--quick",
        action="store_true",
        help=_("a tiny model and short windows: checks the plumbing, not the speed"),
    )
    p.add_argument(
        "--quality",
        action="store_true",
        help=_(
            "run the quality figure for the full {steps} steps (about 4 minutes more on 2 cores)"
        ).format(steps=FULL_QUALITY_STEPS),
    )
    p.add_argument(
        "--quality-steps",
        type=int,
        metavar="N",
        help=_("steps of the quality run (default 300; 20 with --quick)"),
    )
    p.add_argument(
        "--rounds",
        type=int,
        metavar="N",
        help=_("A/B rounds with the app (default 3); twice as many headless"),
    )
    p.add_argument(
        "--window",
        type=float,
        metavar="SECONDS",
        help=_("seconds measured per window with the app (default 5); half that headless"),
    )
    p.add_argument(
        "--only",
        metavar="FIGURE[,FIGURE]",
        help=_("measure only these figures (and those they read): {figures}").format(
            figures=", ".join(FIGURES)
        ),
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        metavar="N",
        help=_("torch threads for the engine and the bare loop (default: torch's)"),
    )
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        plan = plan_from_args(args)
    except TorchdeckError as exc:
        print(f"torchdeck bench: {exc.message}; {exc.hint}", file=sys.stderr)
        return 2
    started = time.perf_counter()

    def say(text: str) -> None:
        if not args.json:
            print(text, file=sys.stderr, flush=True)

    result = asyncio.run(run_bench(plan, say))
    result["bench_s"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(result))
    else:
        print(table(result))
        print("\n" + _("(bench took {seconds:.0f} s)").format(seconds=result["bench_s"]))
    return 1 if result["errors"] else 0
