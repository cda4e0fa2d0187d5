"""``torchdeck train --resume``: which flags may change on resume, and which may not.

Applied, and said in one line: the learning rate, the batch size, the total steps. Refused, with
the reason: the preset, the block size and the seed (the checkpoint's weights and batch order
depend on them), and a corpus whose characters the checkpoint's vocabulary lacks (the engine's
load refuses that one).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from cli.settings_args import SPEED_FIELDS, model_overrides, train_overrides
from core.client import EngineClient
from core.contract import ConfigureArgs, LoadArgs, SessionInfo
from core.errors import EngineError, TorchdeckError
from core.i18n import N_, _, ngettext

# the settings a resume may change, as its line names them
CHANGE_WORDS = {"lr": N_("lr"), "batch_size": N_("batch size")}


async def resume(run, client: EngineClient, ckpt: Path) -> SessionInfo | None:
    """Load the run; apply the settings that may change (lr, batch size, steps) and say so;
    refuse those that cannot (preset, block size, seed) with the reason."""
    args = run.args
    # grad_accum goes with the first load: the checkpoint's own may not split over this world
    load = LoadArgs(
        str(ckpt),
        args.device,
        args.corpus or None,
        train={**_accum(args), **speed_overrides(args)},
        factory=getattr(args, "model", None),
    )
    info = await client.call(load)
    keep = _("leave it out to continue this run, or train a new one in another --out")
    if args.preset and args.preset != info.preset:
        raise TorchdeckError(
            _("--preset {preset} cannot change on resume: {path} holds a {held} model").format(
                preset=args.preset, path=ckpt, held=info.preset
            ),
            keep,
        )
    if args.block_size and args.block_size != info.block_size:
        raise TorchdeckError(
            _(
                "--block-size {size} cannot change on resume: the model in {path} was built "
                "for block size {held}"
            ).format(size=args.block_size, path=ckpt, held=info.block_size),
            keep,
        )
    if args.seed is not None and args.seed != info.train_config.get("seed"):
        raise TorchdeckError(
            _(
                "--seed {seed} cannot change on resume: the weights and the batch order of "
                "{path} come from seed {held} and continue from where they stopped"
            ).format(seed=args.seed, path=ckpt, held=info.train_config.get("seed")),
            keep,
        )
    old = info.train_config
    changes = {
        key: value
        for key, value in (("lr", args.lr), ("batch_size", args.batch_size))
        if value is not None and value != old.get(key)
    }
    if changes:
        train = {**load.train, **changes}
        info = await client.call(replace(load, train=train))
    steps = args.steps if args.steps else info.steps
    if info.step >= steps:
        said = _(
            "{path} is already at step {step} of {steps}; pass a larger --steps to train further"
        )
        run.say(said.format(path=ckpt, step=info.step, steps=steps))
        return None
    for note in info.notes or ():
        run.say(_("note: {note}").format(note=note))
    said = _("resuming {model} from step {step} to {steps}")
    run.say(said.format(model=info.model_name, step=info.step, steps=steps))
    batch_change(run, info)
    if changes:
        run.say(
            _("resume: {changes}").format(
                changes=", ".join(
                    f"{_(CHANGE_WORDS[key])} {old.get(key):g} → {value:g}"
                    for key, value in changes.items()
                )
            )
        )
    return info


async def prepare(run, client: EngineClient, ckpt: Path):
    """Configure a new run (or resume ``ckpt``); None when a stop signal cut the loading of
    the corpus or the checkpoint short (the front end then says so and saves nothing)."""
    args = run.args
    try:
        if args.resume:
            return await resume(run, client, ckpt)
        return await client.call(
            ConfigureArgs(
                run.preset,
                args.corpus,
                args.device,
                seed=args.seed,
                lr=args.lr,
                batch_size=args.batch_size,
                block_size=args.block_size,
                steps=args.steps,
                model=model_overrides(args),
                train={**_accum(args), **train_overrides(args)},
                factory=getattr(args, "model", None),
            )
        )
    except EngineError as exc:
        if exc.type == "Interrupted" and run.stop_requested:
            return None
        raise


def speed_overrides(args) -> dict:
    """--precision and --compile: how the steps compute may change on resume."""
    return {k: v for k, v in train_overrides(args).items() if k in SPEED_FIELDS}


def _accum(args) -> dict:
    accum = getattr(args, "grad_accum", None)
    return {} if accum is None else {"grad_accum": accum}


def batch_change(run, info) -> None:
    """Say so when the global batch is not what the checkpoint trained with (another number of
    processes, no --grad-accum to pin it), and how to keep it."""
    before, world = info.saved_batch, info.saved_world or 1
    cfg = info.train_config
    accum = cfg.get("grad_accum") or info.world_size
    now = cfg.get("batch_size", 0) * accum
    if before is None or before == now:
        return
    keep = before // cfg["batch_size"] if before % cfg["batch_size"] == 0 else None
    processes = ngettext("{n} process", "{n} processes", world).format(n=world)
    if keep and keep % info.world_size == 0:
        said = _(
            "resume: the global batch was {before} sequences ({processes}), now {now} "
            "({world}); pass --grad-accum {keep} to keep {before}"
        )
    else:
        said = _(
            "resume: the global batch was {before} sequences ({processes}), now {now} "
            "({world}); --batch-size and --grad-accum set it"
        )
    run.say(
        said.format(before=before, processes=processes, now=now, world=info.world_size, keep=keep)
    )
