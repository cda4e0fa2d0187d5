"""The ``torchdeck`` command: parses arguments and hands off to the right front end.

Imports no torch. ``engine`` replaces this process with ``python -m core.engine``; ``train`` and
``sample`` (``cli.headless``) drive an engine through ``core.client``; ``inspect``
(``cli.inspect``) and ``bench`` (``core.bench``) parse their own arguments.
"""

from __future__ import annotations

import argparse
import os
import sys

from cli.argparse_texts import Parser, training_option_for_the_app
from core.contract.base import arg_type
from core.contract.settings import (
    AUTOSAVE_MINUTES,
    BATCH_SIZE,
    BLOCK_SIZE,
    DEFAULT_AUTOSAVE_MINUTES,
    DEFAULT_LOG_EVERY,
    DEFAULT_PRESET,
    GENERATE_SEED,
    LOG_EVERY,
    LR,
    MAX_NEW,
    PRESETS,
    REPORT_INTERVAL,
    SEED,
    STEPS,
    TEMPERATURE,
    TOP_K,
    TOP_P,
    at_least,
)
from core.i18n import LANGUAGES, N_, _

# subcommands with their own argument parser: module, help line; module.main(argv) -> exit code
SWITCH_INTERVAL_S = 0.001  # how long a thread that wants the GIL waits for it, in the app

DELEGATED = {
    "inspect": ("cli.inspect", N_("print a model's layer table, like torchinfo")),
    "bench": ("core.bench", N_("measure training speed, UI lag, start-up and prediction latency")),
    "plot": ("cli.plot", N_("draw the loss curves of run folders in the terminal")),
    "serve": (
        "cli.serve",
        N_("serve the app to a browser on 127.0.0.1, with a token (textual-serve)"),
    ),
}


# Each option's range is the contract's: the command line refuses what the engine would.
_steps = arg_type(STEPS)
_batch_size = arg_type(BATCH_SIZE)
_block_size = arg_type(BLOCK_SIZE)
_lr = arg_type(LR)
_seed = arg_type(SEED)
_report_every = arg_type(REPORT_INTERVAL)
_log_every = arg_type(LOG_EVERY)
_threads = arg_type(at_least(0))
_max_new = arg_type(MAX_NEW)
_temperature = arg_type(TEMPERATURE)
_top_k = arg_type(TOP_K)
_top_p = arg_type(TOP_P)
_sample_seed = arg_type(GENERATE_SEED)
_autosave_minutes = arg_type(AUTOSAVE_MINUTES)


def _add_train_args(p: argparse.ArgumentParser, defaults_run: bool = False) -> None:
    p.add_argument(
        "--preset",
        choices=PRESETS,
        help=_("model preset (default {preset}; on --resume, the checkpoint's)").format(
            preset=DEFAULT_PRESET
        ),
    )
    p.add_argument("--steps", type=_steps, help=_("total optimizer steps"))
    p.add_argument(
        "--corpus",
        metavar="PATH",
        help=_("UTF-8 text file to train on (default: the Python docs shipped with Python)"),
    )
    p.add_argument("--device", default="auto", help=_("auto (default), cpu, cuda, cuda:N or mps"))
    p.add_argument(
        "--out",
        metavar="DIR",
        help=_("run folder for checkpoint.pt and metrics.jsonl (default runs/PRESET-TIME)"),
    )
    p.add_argument("--resume", action="store_true", help=_("continue the run in --out"))
    p.add_argument("--lr", type=_lr, help=_("peak learning rate"))
    p.add_argument("--batch-size", type=_batch_size, help=_("sequences per step"))
    p.add_argument("--block-size", type=_block_size, help=_("context length in characters"))
    p.add_argument("--seed", type=_seed, help=_("seed for weights and batch order"))
    p.add_argument(
        "--report-every",
        type=_report_every,
        default=1.0,
        metavar="SECONDS",
        help=_("seconds between progress reports (default 1)"),
    )
    p.add_argument(
        "--log-every",
        type=_log_every,
        default=DEFAULT_LOG_EVERY,
        metavar="STEPS",
        help=_(
            "steps between the rows of OUT/metrics.jsonl (default {steps}; "
            "a row also at each evaluation and where the run ends)"
        ).format(steps=DEFAULT_LOG_EVERY),
    )
    p.add_argument(
        "--threads",
        type=_threads,
        default=0,
        help=_("torch CPU threads (default: torch's choice)"),
    )
    p.add_argument(
        "--nice",
        type=int,
        default=0,
        help=_("lower the engine's CPU priority by this much (default 0 headless)"),
    )
    from cli.settings_args import add_settings_args

    add_settings_args(p)  # every other training and model setting, and --config


def _add_autosave_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--autosave-minutes",
        type=_autosave_minutes,
        default=DEFAULT_AUTOSAVE_MINUTES,
        metavar="MIN",
        help=_(
            "while training, save the checkpoint every MIN minutes, and when the run ends "
            "or its terminal closes (default {minutes}; 0 turns it off)"
        ).format(minutes=f"{DEFAULT_AUTOSAVE_MINUTES:g}"),
    )


def _add_remote_args(p: argparse.ArgumentParser, top: bool = False) -> None:
    # a subcommand's own default would hide ``torchdeck --remote H attach``: only the top sets one
    p.add_argument(
        "--remote",
        metavar="[USER@]HOST",
        default=None if top else argparse.SUPPRESS,
        help=_("the engine runs on HOST, reached with your ssh (its config, keys, jump hosts)"),
    )
    p.add_argument(
        "--remote-cmd",
        default="torchdeck" if top else argparse.SUPPRESS,
        metavar="CMD",
        help=_("torchdeck on the remote host, if not on its PATH (e.g. ~/venv/bin/torchdeck)"),
    )


def build_parser() -> argparse.ArgumentParser:
    from cli.settings_args import add_model_arg

    parser = Parser(
        prog="torchdeck",
        description=_("A terminal lab for PyTorch. With no command: open the app."),
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        default=DEFAULT_PRESET,
        help=_("the app's model preset (default {preset})").format(preset=DEFAULT_PRESET),
    )
    parser.add_argument(
        "--corpus",
        metavar="PATH",
        help=_("the app's training text (default: the Python docs shipped with Python)"),
    )
    parser.add_argument(
        "--device", default="auto", help=_("auto (default), cpu, cuda, cuda:N or mps")
    )
    add_model_arg(parser)
    parser.add_argument(  # taken out before parsing (cli.lang): listed here for the help
        "--lang", choices=LANGUAGES, help=_("vi or en (default: from LANGUAGE, LC_ALL or LANG)")
    )
    parser.add_argument(
        "--config",
        metavar="FILE.toml",
        help=_("the first model's settings (a run's config.toml)"),
    )
    _add_autosave_arg(parser)
    _add_remote_args(parser, top=True)
    # a tab of torchdeck serve: attach to this folder's engine if there is one (cli/serve.py)
    parser.add_argument("--served", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = sub.add_parser(
        "train", help=_("train headless, with a progress line and metrics.jsonl")
    )
    parser.train_parser = train  # --config is read against its flags
    parser.commands = sub.choices  # the dict argparse fills as each command is added
    _add_train_args(train)
    _add_autosave_arg(train)
    from cli.launch import add_dist_args

    add_dist_args(train)
    smp = sub.add_parser("sample", help=_("generate text from a checkpoint"))
    smp.add_argument(
        "--checkpoint", required=True, metavar="PATH", help=_("a checkpoint file or a run folder")
    )
    smp.add_argument("--prompt", default="", help=_("text to continue"))
    smp.add_argument("--max-new", type=_max_new, default=200, help=_("characters to generate"))
    smp.add_argument(
        "--temperature", type=_temperature, default=0.8, help=_("0 = greedy; default 0.8")
    )
    smp.add_argument("--top-k", type=_top_k, help=_("sample among the k likeliest"))
    smp.add_argument("--top-p", type=_top_p, help=_("nucleus sampling threshold in (0, 1]"))
    smp.add_argument("--seed", type=_sample_seed, help=_("seed for repeatable samples"))
    smp.add_argument("--device", default="auto", help=_("auto (default), cpu, cuda, cuda:N, mps"))
    smp.add_argument("--threads", type=_threads, default=0, help=_("torch CPU threads"))
    add_model_arg(smp, loading=True)
    ls = sub.add_parser("ls", help=_("list the running engines and their runs"))
    ls.add_argument("--json", action="store_true", help=_("one JSON list, for scripts"))
    _add_remote_args(ls)
    attach = sub.add_parser("attach", help=_("open the app on a running engine (a run goes on)"))
    attach.add_argument("id", nargs="?", help=_("the engine's id from ls (default: the only one)"))
    _add_remote_args(attach)
    stop = sub.add_parser("stop", help=_("stop an engine's run (checkpoint saved) and end it"))
    stop.add_argument("id", nargs="?", help=_("the engine's id from ls (default: the only one)"))
    stop.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="S",
        help=_("seconds to wait for a busy engine before sending it SIGTERM (default 30)"),
    )
    _add_remote_args(stop)
    bridge = sub.add_parser(
        "bridge", help=_("join stdin/stdout to an engine's socket (what --remote runs over ssh)")
    )
    bridge.add_argument("id", nargs="?", help=_("the engine's id (default: the only one)"))
    bridge.add_argument("--spawn", action="store_true", help=_("start a new detached engine"))
    bridge.add_argument("--run-dir", default="runs/torchdeck", help=_("its run folder"))
    bridge.add_argument("--nice", type=int, default=10, help=_("its CPU priority offset"))
    sub.add_parser("engine", help=_("run the engine: JSON lines on stdin/stdout"), add_help=False)
    for name, (_module, text) in DELEGATED.items():
        sub.add_parser(name, help=_(text), add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    from cli import lang

    argv, refused = lang.apply(list(sys.argv[1:] if argv is None else argv))
    if refused is not None:
        return refused
    if argv[:1] == ["engine"]:
        os.execv(sys.executable, [sys.executable, "-m", "core.engine", *argv[1:]])
    if argv[:1] and argv[0] in DELEGATED:
        import importlib

        module = importlib.import_module(DELEGATED[argv[0]][0])
        return module.main(argv[1:])
    from cli.settings_args import absolute_factory

    parser = build_parser()
    misplaced = training_option_for_the_app(parser, parser.train_parser, argv)
    if misplaced:
        print(misplaced, end="", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)

    if args.command in ("ls", "stop", "bridge", "attach"):
        return run_engines_command(args)
    if getattr(args, "model", None) and not getattr(args, "remote", None):
        args.model = absolute_factory(args.model)  # a remote engine reads its own machine's
    if args.command == "sample":
        from cli.sample import run_sample

        return run_sample(args)
    if args.command == "train":
        from cli.settings_args import config_refused

        train_argv = argv[argv.index("train") + 1 :]
        refused = config_refused(parser.train_parser, args, train_argv)  # --config read here
        return refused if refused is not None else run_train_command(args, train_argv)
    from cli import engines

    if args.command is None:
        from cli.settings_args import app_settings
        from core.errors import TorchdeckError

        try:  # --config: every setting of the app's first model, checked as train checks it
            args.settings = app_settings(parser, args, argv)
        except TorchdeckError as exc:
            hint = _("hint: {hint}").format(hint=exc.hint)
            print(f"torchdeck: {exc.message}\n  {hint}", file=sys.stderr)
            return 2
    if args.served:
        from cli.serve_engines import attach_to_served

        attach_to_served(args)
    if engines.refuse_a_wrong_corpus(args):
        return 2
    # what stops the app from starting (an ssh failure, an engine already training in this
    # folder) prints plainly, with its exit code, before the screen changes
    return engines.errors_to_exit(run_app, args)


def run_train_command(args: argparse.Namespace, train_argv: list[str]) -> int:
    """Headless training: here, through torchrun (``--nproc-per-node``), or as one of
    torchrun's workers (rank 0 drives the engine, the others follow it)."""
    from cli import engines, headless, launch
    from core.errors import TorchdeckError
    from core.placement import Placement

    if launch.wants_torchrun(args):
        try:
            launch.check(args)  # refused before torchrun starts, as train refuses (exit 2)
        except TorchdeckError as exc:
            return headless.refuse(exc)
        return engines.errors_to_exit(lambda a: launch.run_launch(a, train_argv), args)
    placement = Placement.from_env()
    if placement is not None and placement.rank != 0:
        if placement.local_rank == 0:  # one line per machine, not one per rank
            print(launch.follower_line(placement), file=sys.stderr, flush=True)
        launch.follower_exec(args)
    return headless.run_train(args)


def process_started_at() -> float:
    """When this process started, on the perf_counter clock (Linux: from /proc; elsewhere:
    now, which leaves out the interpreter's own start-up)."""
    import time

    now = time.perf_counter()
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
        return now - max(0.0, age)
    except (OSError, ValueError, IndexError):
        return now


def run_engines_command(args: argparse.Namespace) -> int:
    from cli import engines

    remote = getattr(args, "remote", None)
    if remote is not None and args.command in ("ls", "stop"):
        from cli import remote as remote_cli

        extra = ["--json"] if getattr(args, "json", False) else []
        extra += [args.id] if getattr(args, "id", None) else []
        return engines.errors_to_exit(
            lambda a: remote_cli.run_remote(remote, a.remote_cmd, [a.command, *extra]), args
        )
    if args.command == "attach":
        return engines.errors_to_exit(run_app, args)
    command = {"ls": engines.run_ls, "stop": engines.run_stop, "bridge": engines.run_bridge}
    return engines.errors_to_exit(command[args.command], args)


def run_app(args: argparse.Namespace) -> int:
    started = process_started_at()
    import gc

    # No collections while start-up builds its long-lived objects (imports, CSS, widgets):
    # they would only scan them. The app freezes them and turns the collector back on once the
    # first frame is painted.
    gc.disable()
    # The screen's writer thread and the key reader thread wait for the GIL while the loop
    # runs: every 1 ms, not Python's 5 ms (a pane switch's frame waited up to 8 ms to go out).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    from cli.engines import app_client
    from tui.app import TorchdeckApp

    client = app_client(args)  # resolved before the screen changes: its errors print plainly
    app = TorchdeckApp(
        preset=getattr(args, "preset", DEFAULT_PRESET),
        corpus=getattr(args, "corpus", None),
        device=getattr(args, "device", "auto"),
        factory=getattr(args, "model", None),
        settings=getattr(args, "settings", None),
        started_at=started,
        autosave_minutes=getattr(args, "autosave_minutes", DEFAULT_AUTOSAVE_MINUTES),
        client=client,
        attach=args.command == "attach",
    )
    app.run()
    if isinstance(app.return_value, str) and app.return_value:
        print(app.return_value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
