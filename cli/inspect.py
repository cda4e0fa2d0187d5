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
from core.i18n import N_, _, pgettext
from core.inspection import summarize

# a row's Train column: whether its parameters learn (the summary's words)
TRAINABLE = {"yes": N_("yes"), "no": N_("no"), "partly": N_("partly")}


def format_table(summary: dict, depth: int | None = None) -> str:
    """A torchinfo-like plain-text table (no colours, no escape codes)."""
    from rich.cells import cell_len

    rows = [r for r in summary["rows"] if depth is None or r["depth"] <= depth]
    tied_names = {n for group in summary["totals"]["tied"] for n in group}
    head = (
        _("Layer (type)"),
        _("Output shape"),
        _("Params"),
        pgettext("trainable", "Train"),
        _("Share"),
        _("Mult-adds"),
    )
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
            _("{weight} tied to {others}").format(weight=w["short"], others=", ".join(w["tied_to"]))
            for w in r["weights"]
            if w["tied_to"] and w["name"] in tied_names and not w["counted_here"]
        ]
        shape = "--" if r["output_shape"] is None else str(r["output_shape"])
        lines.append(
            (
                label,
                shape,
                params + (" " + _("(tied)") if notes else ""),
                _(TRAINABLE[r["trainable"]]) if r["trainable"] in TRAINABLE else r["trainable"],
                f"{100 * r['share']:.1f}%",
                fmt_count(r["macs"]) if r["macs"] else "--",
            )
        )
    widths = [max(cell_len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    rule = "=" * (sum(widths) + 2 * (len(widths) - 1))

    def fmt(cols):
        first = cols[0] + " " * (widths[0] - cell_len(cols[0]))
        rest = (" " * (w - cell_len(c)) + c for c, w in zip(cols[1:], widths[1:]))
        return "  ".join([first, *rest]).rstrip()

    t = summary["totals"]
    out = [rule, fmt(head), rule, *(fmt(x) for x in lines), rule]
    totals = _("Total params: {total}    Trainable: {trainable}    Frozen: {frozen}")
    out.append(
        totals.format(
            total=f"{t['params']:,}", trainable=f"{t['trainable']:,}", frozen=f"{t['frozen']:,}"
        )
    )
    for group in t["tied"]:
        out.append(_("Tied (one tensor, counted once): {names}").format(names=" = ".join(group)))
    if t["naive_params"] != t["params"]:
        said = _("(counting each name separately, as torchinfo does, would give {count})")
        out.append("  " + said.format(count=f"{t['naive_params']:,}"))
    if summary["input_shape"]:
        said = _("Input: {shape} (batch × context)")
        out.append(said.format(shape=summary["input_shape"]))
        said = _(
            "Mult-adds per forward: {total} = Linear/conv {linear} + attention matmuls {attention}"
        )
        out.append(
            said.format(
                total=fmt_macs(t["macs"]),
                linear=fmt_macs(t["macs_linear"]),
                attention=fmt_macs(t["macs_attention"]),
            )
        )
        said = _(
            "(torchinfo's Total mult-adds for this input: {count}: it counts each weight\n"
            " once per sequence, not per position, and biases and lookups too)"
        )
        out.append("  " + said.format(count=f"{t['macs_torchinfo']:,}").replace("\n", "\n  "))
        said = _("Activations kept for backward (est.): {size}")
        out.append(said.format(size=fmt_bytes(t["activation_bytes"])))
    said = _("Parameter memory: {size} ({dtype})")
    out.append(said.format(size=fmt_bytes(t["param_bytes"]), dtype=t["dtype"]))
    out.append(rule)
    return "\n".join(out)


def _input_size(text: str) -> tuple[int, int]:
    """``B,T`` (or ``B T``, ``[B, T]``) as two integers ≥ 1."""
    parts = text.strip().strip("[]()").replace(",", " ").split()
    try:
        b, t = (int(x) for x in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not B,T: two integers, the batch and the context, e.g. 2,64").format(
                text=text
            )
        ) from None
    if b < 1 or t < 1:
        raise argparse.ArgumentTypeError(
            _("{text!r}: the batch and the context must be ≥ 1").format(text=text)
        )
    return b, t


def main(argv: list[str]) -> int:
    from core.session import Session

    parser = argparse.ArgumentParser(
        prog="torchdeck inspect",
        description=_(
            "Print a model's layers, output shapes, parameters (tied weights counted "
            "once) and multiply-adds, like torchinfo."
        ),
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        default=DEFAULT_PRESET,
        help=_("model preset (default {preset})").format(preset=DEFAULT_PRESET),
    )
    parser.add_argument(
        "--depth",
        type=arg_type(SummaryArgs.field_rule("depth")),
        default=3,
        help=_("rows down to this depth (default 3)"),
    )
    parser.add_argument(
        "--batch-size",
        type=arg_type(SummaryArgs.field_rule("batch_size")),
        default=None,
        help=_("batch of the sample input (default: the preset's training batch)"),
    )
    parser.add_argument(
        "--block-size",
        type=arg_type(BLOCK_SIZE),
        default=None,
        help=_("context length of the sample input (default: the preset's)"),
    )
    parser.add_argument(
        "--corpus",
        metavar="PATH",
        default=None,
        help=_(
            "text whose characters set the vocabulary (default: the Python docs shipped with "
            "Python)"
        ),
    )
    parser.add_argument(
        "--input-size",
        type=_input_size,
        metavar="B,T",
        help=_("the sample input's batch and context length (as torchinfo's input_size)"),
    )
    add_settings_args(parser, train=False)  # --model, the model's sizes, and --config
    args = parser.parse_args(argv)
    try:
        apply_config(parser, args, argv, skip=run_settings())  # a run's config.toml too
        args.model = absolute_factory(args.model)
    except TorchdeckError as exc:
        hint = _("hint: {hint}").format(hint=exc.hint)
        print(f"torchdeck inspect: {exc.message}\n  {hint}", file=sys.stderr)
        return 2
    if args.input_size:
        if args.batch_size or args.block_size:
            parser.error(_("--input-size B,T sets the batch and the context: leave out the others"))
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
        parser.error(_("{message}: leave --block-size out").format(message=exc.message))
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    try:
        session = Session.create(settings)
        summary = summarize(session, args.batch_size)
    except TorchdeckError as exc:
        print(f"torchdeck inspect: {exc.message}", file=sys.stderr)
        if exc.hint:
            print("  " + _("hint: {hint}").format(hint=exc.hint), file=sys.stderr)
        return 2
    print(format_table(summary, args.depth))
    return 0
