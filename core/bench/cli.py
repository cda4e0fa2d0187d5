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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="torchdeck bench",
        description="Measure training speed against a bare PyTorch loop, with and without the "
        "app, the app's event-loop lag, start-up, attaching to a long run, prediction latency, "
        "the bytes a client on the engine's socket receives, memory, a short quality run, "
        "how training scales over ranks (torchrun), and what a person feels: key to screen in "
        "Predict (bars, and the explain view), a cell's answer, a pane switch, start to the "
        "first step. About 7 minutes on 2 CPU cores; --quick about two.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object, no table")
    p.add_argument(
        "--quick",
        action="store_true",
        help="a tiny model and short windows: checks the plumbing, not the speed",
    )
    p.add_argument(
        "--quality",
        action="store_true",
        help=f"run the quality figure for the full {FULL_QUALITY_STEPS} steps "
        "(about 4 minutes more on 2 cores)",
    )
    p.add_argument(
        "--quality-steps",
        type=int,
        metavar="N",
        help="steps of the quality run (default 300; 20 with --quick)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        metavar="N",
        help="A/B rounds with the app (default 3); twice as many headless",
    )
    p.add_argument(
        "--window",
        type=float,
        metavar="SECONDS",
        help="seconds measured per window with the app (default 5); half that headless",
    )
    p.add_argument(
        "--only",
        metavar="FIGURE[,FIGURE]",
        help="measure only these figures (and those they read): " + ", ".join(FIGURES),
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        metavar="N",
        help="torch threads for the engine and the bare loop (default: torch's)",
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
        print(f"\n(bench took {result['bench_s']:.0f} s)")
    return 1 if result["errors"] else 0
