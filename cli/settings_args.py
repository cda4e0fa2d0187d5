"""Every training and model setting on the command line, and config files with the same names.

The flags take their ranges from the contract (``core.contract.settings``): the command line
refuses what the engine would, in its words. ``--config run.toml`` reads the same names (dashes or
underscores) from a TOML file; a flag given on the command line wins over the file. Each run
folder gets the fully resolved ``config.toml`` it ran with, so ``torchdeck train --config
runs/X/config.toml`` repeats that run.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
from pathlib import Path

from core.contract import TrainSettings, arg_type
from core.contract.settings import MODEL_RULES, OPTIMIZERS, PRECISIONS, SCHEDULES, split_factory
from core.errors import ConfigError
from core.i18n import N_, _

try:  # the standard library from Python 3.11; the same parser as a package before it
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_NAME = "config.toml"
# flag (its dest) → the TrainSettings field it sets
TRAIN_FIELDS = {
    "weight_decay": "weight_decay",
    "warmup_steps": "warmup_steps",
    "min_lr_ratio": "min_lr_ratio",
    "min_lr": "min_lr",
    "grad_clip": "grad_clip",
    "eval_interval": "eval_interval",
    "eval_iters": "eval_batches",
    "beta1": "beta1",
    "beta2": "beta2",
    "optimizer": "optimizer",
    "schedule": "schedule",
    "precision": "precision",
    "compile": "compile",
}
# how a step computes, not what: these may change when a run resumes (on another machine)
SPEED_FIELDS = ("precision", "compile")
TRAIN_HELP = {
    "weight_decay": N_("AdamW weight decay on matrices, in [0, 1) (default 0.1)"),
    "warmup_steps": N_("steps of linear warm-up from 0 to --lr (default 100)"),
    "min_lr_ratio": N_("the cosine schedule's floor as a fraction of --lr (default 0.1)"),
    "min_lr": N_("the cosine schedule's floor as a learning rate (instead of --min-lr-ratio)"),
    "grad_clip": N_("clip the global gradient norm at this (0: off; default 1.0)"),
    "eval_interval": N_("steps between validation passes (0: never; default 200)"),
    "eval_iters": N_("batches averaged for one validation loss (default 20)"),
    "beta1": N_("Adam's beta1 (default 0.9)"),
    "beta2": N_("Adam's beta2 (default 0.99)"),
}
MODEL_HELP = {
    "n_layer": N_("transformer blocks (gpt)"),
    "n_head": N_("attention heads per block (gpt; must divide --n-embd)"),
    "n_embd": N_("embedding width (all language models)"),
    "n_hidden": N_("hidden layer width (mini, mlp)"),
    "context": N_("characters one prediction sees (mlp)"),
    "dropout": N_("dropout probability in [0, 1) (gpt)"),
    "bias": N_("true/false: biases in the Linear layers and LayerNorms (gpt; default true)"),
    "tie_weights": N_(
        "true/false: the output layer shares the embedding matrix (gpt; default true)"
    ),
}
# what a config file may not set: where this run writes, how it starts, and what it connects
# to or how it runs the processes (a shared file must not point a run at another machine)
NOT_IN_CONFIG = {
    "config",
    "out",
    "resume",
    "command",
    "help",
    "nproc_per_node",
    "nnodes",
    "node_rank",
    "rdzv_endpoint",
    "dist_timeout",
    "nice",
}


def add_settings_args(p: argparse.ArgumentParser, train: bool = True) -> None:
    """The model's sizes (and, for ``train``, every training setting) and ``--config``."""
    p.add_argument("--config", metavar="FILE.toml", help=_("settings from a TOML file (flags win)"))
    add_model_arg(p)
    if train:
        for dest, field in TRAIN_FIELDS.items():
            flag = "--" + dest.replace("_", "-")
            if field == "optimizer":
                p.add_argument(flag, choices=OPTIMIZERS, help=_("default adamw"))
            elif field == "schedule":
                p.add_argument(flag, choices=SCHEDULES, help=_("learning rate schedule (cosine)"))
            elif field == "precision":
                p.add_argument(
                    flag,
                    choices=PRECISIONS,
                    help=_(
                        "a training step's arithmetic: auto (default) is bf16 autocast where "
                        "the device computes bf16 natively (CUDA; a CPU with AVX-512 BF16 or "
                        "AMX), fp32 elsewhere"
                    ),
                )
            elif field == "compile":
                p.add_argument(
                    flag,
                    action=argparse.BooleanOptionalAction,
                    help=_(
                        "torch.compile the training step (default: on a CUDA GPU only; on a "
                        "CPU it pays on long runs: compiling takes tens of seconds cold)"
                    ),
                )
            else:
                rule = TrainSettings.field_rule(field)
                p.add_argument(flag, type=arg_type(rule), help=_(TRAIN_HELP[dest]))
    for name, rule in MODEL_RULES.items():
        flag = "--" + name.replace("_", "-")
        p.add_argument(flag, type=arg_type(rule), help=_(MODEL_HELP[name]))


def add_model_arg(p: argparse.ArgumentParser, loading: bool = False) -> None:
    where = _("FACTORY(vocab_size, block_size) in FILE.py (or package.module:FACTORY)")
    if loading:
        said = _("the factory that built the checkpoint's model: {where}")
    else:
        said = _(
            "your own model instead of the preset's, built by {where}; the preset gives "
            "the training defaults"
        )
    p.add_argument(
        "--model", metavar="FILE.py:FACTORY", type=_factory_arg, help=said.format(where=where)
    )


def _factory_arg(text: str) -> str:
    try:
        split_factory(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(f"{exc.message}: {exc.hint}") from None
    return text


def absolute_factory(ref: str | None) -> str | None:
    """``ref`` with its file made absolute, so that the engine (another process, maybe started
    elsewhere) and a run's config.toml find the same file from any folder."""
    if not ref:
        return ref
    target, attr, is_file = split_factory(ref)
    if not is_file:
        return ref
    return f"{Path(target).expanduser().resolve()}:{attr}"


def train_overrides(args: argparse.Namespace) -> dict:
    """The training settings given (flags or config), as TrainSettings fields."""
    out = {}
    for dest, field in TRAIN_FIELDS.items():
        value = getattr(args, dest, None)
        if value is not None:
            out[field] = value
    return out


def model_overrides(args: argparse.Namespace) -> dict:
    return {n: getattr(args, n) for n in MODEL_RULES if getattr(args, n, None) is not None}


def given_on_command_line(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The dests of the options ``argv`` sets itself (not their defaults)."""
    bare = copy.deepcopy(parser)
    for action in bare._actions:
        action.default = argparse.SUPPRESS
        action.required = False
    return set(vars(bare.parse_args(argv)))


def apply_config(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    argv: list[str],
    skip: frozenset[str] = frozenset(),
):
    """Fill ``args`` from ``args.config`` where the command line left a setting out; every value
    goes through its flag's own check, so a bad one is refused in the same words. Keys in
    ``skip`` are known but not this command's (a run's settings, given to ``inspect``)."""
    path = getattr(args, "config", None)
    if not path:
        return
    data = read_config(path)
    actions = {
        a.dest: a
        for a in parser._actions
        if a.option_strings and a.dest not in NOT_IN_CONFIG and a.dest != "help"
    }
    given = given_on_command_line(parser, argv)
    for key, value in data.items():
        dest = key.replace("-", "_")
        dest = "eval_iters" if dest == "eval_batches" else dest
        action = actions.get(dest)
        if action is None and dest in skip:
            continue
        if action is None and dest in NOT_IN_CONFIG:
            raise ConfigError(
                _("{path}: {key} cannot be set in a config file").format(path=path, key=key),
                _("give {flag} on the command line").format(flag="--" + dest.replace("_", "-")),
            )
        if action is None:
            raise ConfigError(
                _("{path}: unknown setting {key!r}").format(path=path, key=key),
                _("its settings are: {names}").format(names=", ".join(sorted(actions))),
            )
        if dest in given:
            continue  # the command line wins
        setattr(args, dest, _checked(path, key, value, action))


def config_refused(parser, args: argparse.Namespace, argv: list[str]) -> int | None:
    """Read ``--config`` into ``args``; the exit code (2) when it is refused, with what and why."""
    from cli.headless import refuse
    from core.errors import TorchdeckError

    try:
        apply_config(parser, args, argv)
        args.model = absolute_factory(args.model)
    except TorchdeckError as exc:
        return refuse(exc)
    if getattr(args, "resume", False):
        # the checkpoint's model and training settings go on (a run's own config.toml may be
        # given again); typed on the command line, the sizes and these settings are refused
        given = given_on_command_line(parser, argv)
        fixed = [*MODEL_RULES, *(d for d in TRAIN_FIELDS if d not in SPEED_FIELDS)]
        typed = [d for d in fixed if d in given]
        if typed:
            flags = ", ".join("--" + d.replace("_", "-") for d in typed)
            return refuse(
                ConfigError(
                    _(
                        "{flags} cannot change on --resume: the run goes on with the checkpoint's"
                    ).format(flags=flags),
                    _(
                        "leave them out to resume (--lr, --batch-size and --steps may change), or "
                        "start a new run with another --out"
                    ),
                )
            )
        for dest in fixed:
            setattr(args, dest, None)
    return None


def _checked(path: str, key: str, value, action: argparse.Action):
    if isinstance(value, (dict, list)):
        raise ConfigError(
            _("{path}: {key} = {value!r} is not a single value").format(
                path=path, key=key, value=value
            ),
            _("write e.g. lr = 0.01"),
        )
    if action.choices is not None and value not in action.choices:
        raise ConfigError(
            _("{path}: {key} = {value!r} is not one of {choices}").format(
                path=path, key=key, value=value, choices=", ".join(map(str, action.choices))
            ),
            _("set {key} to one of them").format(key=key),
        )
    if isinstance(action, argparse.BooleanOptionalAction):
        if not isinstance(value, bool):
            raise ConfigError(
                _("{path}: {key} = {value!r} is not true or false").format(
                    path=path, key=key, value=value
                ),
                _("write {key} = true").format(key=key),
            )
        return value
    if action.type is None:
        return value if isinstance(value, str) else str(value)
    try:  # a TOML true/false reads as its word: refused in words by a rule that wants a number
        return action.type(str(value).lower() if isinstance(value, bool) else str(value))
    except argparse.ArgumentTypeError as exc:
        hint = _("fix {key} in {path}").format(key=key, path=path)
        raise ConfigError(f"{path}: {key}: {exc}", hint) from None


def read_config(path: str) -> dict:
    p = Path(path).expanduser()
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            _("no config file {path}").format(path=path),
            _("give --config a TOML file that exists"),
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            _("{path} is a folder").format(path=path),
            _("give --config a file, e.g. {example}").format(example=Path(path) / CONFIG_NAME),
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            _("{path} is not valid TOML: {reason}").format(path=path, reason=exc),
            _("fix it, or write key = value lines"),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        said = _("cannot read {path}: {reason}").format(path=path, reason=exc)
        raise ConfigError(said, _("give --config a UTF-8 TOML file")) from None


def resolved_config(info, device: str) -> dict:
    """Everything a run ran with, as config names: the model's preset, sizes and corpus, and
    every training setting (the vocabulary comes from the corpus, so it is not among them)."""
    train, model = info.train_config, dict(info.model_config)
    source = (info.corpus or {}).get("source")
    out: dict = {"preset": info.preset}
    if info.factory:
        out["model"] = info.factory
    if source not in (None, "pydoc"):  # absolute: the config repeats the run from any folder
        out["corpus"] = os.path.abspath(os.path.expanduser(source))
    out["device"] = device
    for key in ("seed", "steps", "lr", "batch_size", "grad_accum"):
        if key in train:
            out[key] = train[key]
    if "block_size" in model:
        out["block_size"] = model["block_size"]
    for dest, field in TRAIN_FIELDS.items():
        if train.get(field) is not None:  # min_lr unset: the ratio says it
            out[dest] = train[field]
    for name in MODEL_RULES:
        if name in model:
            out[name] = model[name]
    return out


def toml_text(values: dict, title: str) -> str:
    lines = [f"# {title}"]
    for key, value in values.items():
        if isinstance(value, bool):
            shown = "true" if value else "false"
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                continue
            shown = repr(value)
        else:
            # a TOML basic string: JSON's escapes, and DEL, which JSON leaves as it is
            shown = json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")
        lines.append(f"{key} = {shown}")
    return "\n".join(lines) + "\n"


def write_config(folder: Path, info, device: str) -> Path:
    """The run's ``config.toml``, written whole then renamed."""
    path = folder / CONFIG_NAME
    text = toml_text(
        resolved_config(info, device),
        _("torchdeck train --config this file repeats this run (flags given with it win)"),
    )
    tmp = path.with_name(f".{CONFIG_NAME}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def run_settings() -> frozenset[str]:
    """The names ``torchdeck train`` takes: what a run's config.toml may hold."""
    from cli.main import build_parser

    return frozenset(a.dest for a in build_parser().train_parser._actions if a.option_strings)


def app_settings(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list) -> dict:
    """The app's first model from ``--config FILE.toml`` (what ``train`` reads, a run's
    config.toml included), as ConfigureArgs' names; the app's own flags given win."""
    if not args.config:
        return {}
    train_parser = parser.train_parser
    run = train_parser.parse_args([])
    run.config = args.config
    apply_config(train_parser, run, [])
    given = given_on_command_line(parser, argv)
    out: dict = {
        key: getattr(run, dest)
        for key, dest in (("preset", "preset"), ("corpus", "corpus"), ("factory", "model"))
        if dest not in given and getattr(run, dest) is not None
    }
    if "device" not in given and run.device != "auto":
        out["device"] = run.device
    if out.get("factory"):
        out["factory"] = absolute_factory(out["factory"])
    for key in ("lr", "batch_size", "block_size", "steps", "seed"):
        if getattr(run, key) is not None:
            out[key] = getattr(run, key)
    out["model"], out["train"] = model_overrides(run), train_overrides(run)
    return out
