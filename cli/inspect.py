"""``torchdeck inspect``: a model's layer table printed on a terminal, like torchinfo.

Builds the model in this process on the CPU (so it loads torch) and prints the rows of
``core.inspection.summarize`` as plain text: no colours, no escape codes.
"""

from __future__ import annotations

import argparse
import sys

import torch

from cli.settings_args import (
    absolute_factory,
    add_settings_args,
    apply_config,
    model_overrides,
    run_settings,
)
from core.contract import DEFAULT_PRESET, PRESETS, ConfigureArgs
from core.contract.base import arg_type
from core.contract.inspect import SummaryArgs
from core.contract.settings import BLOCK_SIZE
from core.errors import TorchdeckError
from core.fmt import fmt_bytes, fmt_count, fmt_macs
from core.inspection import summarize


def format_table(summary: dict, depth: int | None = None) -> str:
    """A torchinfo-like plain-text table (no colours, no escape codes)."""
    rows = [r for r in summary["rows"] if depth is None or r["depth"] <= depth]
    tied_names = {n for group in summary["totals"]["tied"] for n in group}
    head = ("Layer (type)", "Output shape", "Params", "Train", "Share", "Mult-adds")
    lines = []
    for r in rows:
        label = (
            "  " * (r["depth"] - 1)
            + ("└─" if r["depth"] else "")
            + (f"{r['name'].rsplit('.', 1)[-1]}: " if r["name"] else "")
            + r["type"]
        )
        params = fmt_count(r["params"]) if r["params"] or not r["shared_params"] else "0"
        notes = [
            f"{w['short']} tied to {', '.join(w['tied_to'])}"
            for w in r["weights"]
            if w["tied_to"] and w["name"] in tied_names and not w["counted_here"]
        ]
        shape = "--" if r["output_shape"] is None else str(r["output_shape"])
        lines.append(
            (
                label,
                shape,
                params + (" (tied)" if notes else ""),
                r["trainable"],
                f"{100 * r['share']:.1f}%",
                fmt_count(r["macs"]) if r["macs"] else "--",
            )
        )
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    rule = "=" * (sum(widths) + 2 * (len(widths) - 1))

    def fmt(cols):
        first = cols[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cols[1:], widths[1:]))]).rstrip()

    t = summary["totals"]
    out = [rule, fmt(head), rule, *(fmt(x) for x in lines), rule]
    out.append(
        f"Total params: {t['params']:,}    Trainable: {t['trainable']:,}    Frozen: {t['frozen']:,}"
    )
    for group in t["tied"]:
        out.append(f"Tied (one tensor, counted once): {' = '.join(group)}")
    if t["naive_params"] != t["params"]:
        out.append(
            f"  (counting each name separately, as torchinfo does, would give "
            f"{t['naive_params']:,})"
        )
    if summary["input_shape"]:
        out.append(f"Input: {summary['input_shape']} (batch × context)")
        out.append(
            f"Mult-adds per forward: {fmt_macs(t['macs'])} = Linear/conv "
            f"{fmt_macs(t['macs_linear'])} + attention matmuls "
            f"{fmt_macs(t['macs_attention'])}"
        )
        out.append(
            f"  (torchinfo's Total mult-adds for this input: {t['macs_torchinfo']:,}: it counts "
            "each weight\n   once per sequence, not per position, and biases and lookups too)"
        )
        out.append(f"Activations kept for backward (est.): {fmt_bytes(t['activation_bytes'])}")
    out.append(f"Parameter memory: {fmt_bytes(t['param_bytes'])} ({t['dtype']})")
    out.append(rule)
    return "\n".join(out)


def _input_size(text: str) -> tuple[int, int]:
    """``B,T`` (or ``B T``, ``[B, T]``) as two integers ≥ 1."""
    parts = text.strip().strip("[]()").replace(",", " ").split()
    try:
        b, t = (int(x) for x in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not B,T: two integers, the batch and the context, e.g. 2,64"
        ) from None
    if b < 1 or t < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the batch and the context must be ≥ 1")
    return b, t


def main(argv: list[str]) -> int:
    from core.session import Session

    parser = argparse.ArgumentParser(
        prog="torchdeck inspect",
        description="Print a model's layers, output shapes, parameters (tied weights counted "
        "once) and multiply-adds, like torchinfo.",
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        default=DEFAULT_PRESET,
        help=f"model preset (default {DEFAULT_PRESET})",
    )
    parser.add_argument(
        "--depth",
        type=arg_type(SummaryArgs.field_rule("depth")),
        default=3,
        help="rows down to this depth (default 3)",
    )
    parser.add_argument(
        "--batch-size",
        type=arg_type(SummaryArgs.field_rule("batch_size")),
        default=None,
        help="batch of the sample input (default: the preset's training batch)",
    )
    parser.add_argument(
        "--block-size",
        type=arg_type(BLOCK_SIZE),
        default=None,
        help="context length of the sample input (default: the preset's)",
    )
    parser.add_argument(
        "--corpus",
        metavar="PATH",
        default=None,
        help="text whose characters set the vocabulary (default: the Python "
        "docs shipped with Python)",
    )
    parser.add_argument(
        "--input-size",
        type=_input_size,
        metavar="B,T",
        help="the sample input's batch and context length (as torchinfo's input_size)",
    )
    add_settings_args(parser, train=False)  # --model, the model's sizes, and --config
    args = parser.parse_args(argv)
    try:
        apply_config(parser, args, argv, skip=run_settings())  # a run's config.toml too
        args.model = absolute_factory(args.model)
    except TorchdeckError as exc:
        print(f"torchdeck inspect: {exc.message}\n  hint: {exc.hint}", file=sys.stderr)
        return 2
    if args.input_size:
        if args.batch_size or args.block_size:
            parser.error("--input-size B,T sets the batch and the context: leave out the others")
        args.batch_size, args.block_size = args.input_size
    configure = ConfigureArgs(
        args.preset,
        args.corpus,
        "cpu",
        block_size=args.block_size,
        model=model_overrides(args),
        factory=args.model,
    )
    try:
        settings = configure.run_settings()
    except TorchdeckError as exc:
        parser.error(f"{exc.message}: leave --block-size out")
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    try:
        session = Session.create(settings)
        summary = summarize(session, args.batch_size)
    except TorchdeckError as exc:
        print(f"torchdeck inspect: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return 2
    print(format_table(summary, args.depth))
    return 0
