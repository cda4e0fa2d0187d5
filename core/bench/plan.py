"""What a bench run measures and for how long: the targets, the :class:`Plan` of window lengths
and sizes, and the plan the command line asks for."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from core.errors import TorchdeckError
from core.i18n import _

FULL_QUALITY_STEPS = 2000  # the gpt preset's default run

TARGETS = {
    "train_overhead": 0.97,  # engine tokens/s ÷ bare loop tokens/s, no UI
    # the engine at its defaults ÷ the bare loop in plain fp32 eager, same model and batch, CPU
    "speedup_vs_eager": 1.3,
    # the defaults' validation loss after the quality run, minus plain fp32 eager's, at most
    "quality_delta": 0.02,
    "train_in_app": 0.85,  # the same with the app open on the Train pane
    "ui_lag_ms_p99": 16.0,  # one frame at 60 fps
    "first_paint_s": 0.6,
    "predict_idle_p95_ms": 20.0,
    "predict_training_p95_steps": 2.0,  # in training steps
    "attach_s": 1.0,  # torchdeck attach on a 10,000-step run, to the chart drawn
    "link_bytes_per_s": 20_000,  # what a socket client receives while gpt trains
    "scaling_cpu_2x1": 1.7,  # 2 ranks × 1 thread ÷ 1 rank × 1 thread, global tokens/s, CPU
    "scaling_cuda_per_gpu": 0.9,  # a job's tokens/s per GPU ÷ one GPU's (2 GPUs or more)
    # what a person feels, key to screen (feel_probes), idle p95 in ms; while training, the
    # keystroke's p95 may take one training step more
    "keystroke_to_paint_ms_p95": 16.0,
    "explain_to_paint_ms_p95": 30.0,  # idle, the Predict pane's explain view (key e) open
    "cell_to_paint_ms_p95": 20.0,
    "pane_switch_ms_p95": 33.0,  # first visits included
    "start_to_progress_ms": 250.0,
}

# What --only picks from: every figure of the result, in the order a run measures them
FIGURES = (
    "train_overhead",
    "speedup_vs_eager",
    "predict_ms",
    "quality",
    "link_bytes_per_s",
    "train_in_app",
    "ui_lag_ms_p99",
    "ui_lag_ms_p99_200x50",
    "first_paint_s",
    "engine_ready_s",
    "import_torch_s",
    "rss_mb",
    "pane_switch_ms",
    "cell_to_paint_ms",
    "keystroke_to_paint_ms",
    "explain_to_paint_ms",
    "start_to_progress_ms",
    "attach_s",
    "cuda",
    "scaling_cpu_2x1",
    "scaling_cuda_per_gpu",
)
# a figure that reads another's: --only measures that one too
NEEDS = {
    "predict_ms": "train_overhead",
    "rss_mb": "train_in_app",
    "speedup_vs_eager": "train_overhead",
}

# How the app's Train pane starts a run (tui.panes.train_pane; a test keeps them equal): the
# link figure trains as the app does.
APP_REPORT_INTERVAL_S = 0.25
APP_SAMPLE_CHARS = 80
REMOTE_BUDGET = 16_000  # bytes/s: what ``torchdeck --remote`` asks of the engine (cli.remote)
SLOW_BUDGET = 4_000  # bytes/s: a slow link, below what training sends, so the budget shows


@dataclass
class Plan:
    """How long and how big each measurement is (the full run, or ``--quick`` plumbing)."""

    quick: bool = False
    rounds: int = 3  # A/B rounds with the app (each starts the app afresh)
    warmup_s: float = 1.0  # discarded at the start of each window
    window_s: float = 5.0  # measured per window
    # The headless ratio costs no start-up: twice the rounds of half the length, so that A and
    # B sit closer in time on a machine whose load drifts.
    overhead_rounds: int = 6
    overhead_warmup_s: float = 0.5
    overhead_window_s: float = 2.5
    threads: int = 0  # torch threads for the engine and the bare loop (0: torch's default)
    model: dict = field(default_factory=dict)  # gpt overrides (none: the preset's defaults)
    train: dict = field(default_factory=dict)
    predict_n: int = 30  # predictions per condition
    paint_runs: int = 3
    rss_steps: int = 2000
    rss_model: dict = field(
        default_factory=lambda: {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 16}
    )
    rss_train: dict = field(default_factory=lambda: {"batch_size": 8})
    quality_steps: int = 300
    # attach_s: a detached engine holding a run of this many steps (mini, fast to train)
    attach_steps: int = 10_000
    attach_runs: int = 3
    attach_model: dict = field(default_factory=lambda: {"block_size": 16})
    attach_train: dict = field(default_factory=lambda: {"batch_size": 8, "eval_interval": 500})
    attach_train_timeout_s: float = 600.0
    # link_bytes_per_s: a client's received bytes over one window, plain and with a budget
    link_warmup_s: float = 2.0
    link_window_s: float = 10.0
    link_budget: int = REMOTE_BUDGET
    link_slow_budget: int = SLOW_BUDGET
    # the feel figures (feel_probes): keys typed idle and while training, Playground cells,
    # rounds of visits to the four panes after the first; keys typed with the explain view open
    feel_keys: int = 32
    feel_explain_keys: int = 32
    feel_training_keys: int = 30
    feel_typing_s: float = 40.0  # no new key after this long, per condition (a slow run's keys)
    feel_cells: int = 20
    feel_switch_rounds: int = 4
    only: tuple[str, ...] = ()  # the figures to measure (--only); empty: every one

    def wants(self, *keys: str) -> bool:
        """Whether any of the figures ``keys`` is to be measured."""
        return not self.only or any(key in self.only for key in keys)

    @classmethod
    def quick_plan(cls) -> Plan:
        tiny = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 16}
        return cls(
            quick=True,
            rounds=1,
            warmup_s=0.3,
            window_s=1.0,
            overhead_rounds=1,
            overhead_warmup_s=0.3,
            overhead_window_s=1.0,
            model=tiny,
            train={"batch_size": 8},
            predict_n=5,
            paint_runs=1,
            rss_steps=200,
            quality_steps=20,
            attach_runs=1,
            link_warmup_s=1.0,
            link_window_s=2.0,
            feel_keys=8,
            feel_explain_keys=8,
            feel_training_keys=6,
            feel_typing_s=15.0,
            feel_cells=5,
            feel_switch_rounds=1,
        )


def plan_from_args(args: argparse.Namespace) -> Plan:
    plan = Plan.quick_plan() if args.quick else Plan()
    for name, value, low in (
        ("rounds", args.rounds, 1),
        ("quality_steps", args.quality_steps, 1),
        ("threads", args.threads, 0),
    ):
        if value is not None and value < low:
            raise TorchdeckError(
                _("{option} {value} is out of range").format(
                    option="--" + name.replace("_", "-"), value=value
                ),
                _("give an integer ≥ {low}").format(low=low),
            )
    if args.window is not None and not 0.2 <= args.window <= 600:
        raise TorchdeckError(
            _("{option} {value} is out of range").format(option="--window", value=args.window),
            _("give seconds in [0.2, 600]"),
        )
    if args.rounds:
        plan.rounds, plan.overhead_rounds = args.rounds, 2 * args.rounds
    if args.window:
        plan.window_s, plan.overhead_window_s = args.window, args.window / 2
    if args.quality:
        plan.quality_steps = FULL_QUALITY_STEPS
    if args.quality_steps:
        plan.quality_steps = args.quality_steps
    plan.threads = args.threads
    if args.only:
        plan.only = only_figures(args.only)
    return plan


def only_figures(text: str) -> tuple[str, ...]:
    """``--only``'s comma-separated figures, with the ones they read (``NEEDS``)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise TorchdeckError(
            _("--only names no figure"),
            _("give {figures}").format(figures=", ".join(FIGURES)),
        )
    for name in names:
        if name not in FIGURES:
            raise TorchdeckError(
                _("--only {name!r} is not a figure").format(name=name),
                _("give {figures}").format(figures=", ".join(FIGURES)),
            )
    names += [NEEDS[name] for name in names if name in NEEDS]
    return tuple(name for name in FIGURES if name in names)
