"""A session: one model with its data, tokenizer, device and trainer, built from a spec or a
checkpoint. The engine owns one; tests use it directly. Works without a UI."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import torch

from core import checkpoint, distributed, user_model
from core import device as devices
from core.contract import RunSettings, SessionInfo
from core.contract.settings import DEFAULT_BLOCK_SIZE
from core.data import DEFAULT_CORPUS, CorpusData, Progress, load_data
from core.errors import (
    CheckpointError,
    ConfigError,
    CorpusError,
    TorchdeckError,
    UnknownCharactersError,
)
from core.i18n import _
from core.models import (
    LANGUAGE_PRESETS,
    build_model,
    config_to_dict,
    count_parameters,
    make_config,
    tied_parameters,
)
from core.tokenizer import CharTokenizer
from core.training import TrainConfig, Trainer, make_train_config
from core.user_model import FactoryConfig

# What a session is built from: preset, corpus, device and the overrides of the preset's model
# and training settings (the contract's RunSettings, named for what it is here).
RunSpec = RunSettings


class Session:
    def __init__(
        self,
        preset: str,
        model: torch.nn.Module,
        model_config: object,
        train_config: TrainConfig,
        tokenizer: CharTokenizer | None,
        data: CorpusData | None,
        device: torch.device,
        corpus: str | None,
    ) -> None:
        self.preset = preset
        self.model = model
        self.model_config = model_config
        self.train_config = train_config
        self.tokenizer = tokenizer
        self.data = data
        self.device = device
        self.corpus = corpus
        self.block_size = getattr(model_config, "block_size", 1)
        self.dist = distributed.job()
        self.trainer = Trainer(model, train_config, data, self.block_size, device, self.dist)
        self.notes: list[str] = []  # what loading found that the person should know

    @property
    def is_language_model(self) -> bool:
        return self.preset in LANGUAGE_PRESETS

    @classmethod
    def create(cls, spec: RunSpec, progress: Progress | None = None) -> Session:
        if not isinstance(spec.model, dict) or not isinstance(spec.train, dict):
            raise ConfigError(
                _("model and train settings must be objects"),
                _("e.g. {example}").format(example="{'lr': 0.001}"),
            )
        if spec.preset in LANGUAGE_PRESETS and "vocab_size" in spec.model:
            raise ConfigError(
                _(
                    "vocab_size cannot be set: it is the number of distinct characters in the "
                    "corpus"
                ),
                _("leave vocab_size out"),
            )
        device = _device(spec.device)
        train_config = make_train_config(spec.preset, **spec.train)
        if spec.factory:
            _own_model_settings(spec)
        else:
            make_config(
                spec.preset,
                **({"vocab_size": 1} if spec.preset in LANGUAGE_PRESETS else {}),
                **spec.model,
            )  # fail fast on bad settings
        data = tokenizer = None
        if spec.preset in LANGUAGE_PRESETS:
            data = load_data(spec.corpus, progress=progress)
            tokenizer = data.tokenizer
            values = {**spec.model, "vocab_size": tokenizer.vocab_size}
            if spec.factory:
                values = {"block_size": DEFAULT_BLOCK_SIZE, **values, "factory": spec.factory}
                model_config = FactoryConfig(**values)
            else:
                model_config = make_config(spec.preset, **values)
        else:
            model_config = make_config(spec.preset, **spec.model)
        torch.manual_seed(train_config.seed)
        model = _build(spec.preset, model_config, device)
        corpus = data.source if data is not None else None
        return cls(spec.preset, model, model_config, train_config, tokenizer, data, device, corpus)

    def settings(self) -> RunSpec:
        """What builds this session's model afresh (``reset``)."""
        own = isinstance(self.model_config, FactoryConfig)
        model = {k: v for k, v in vars(self.model_config).items() if k != "vocab_size"}
        return RunSpec(
            preset=self.preset,
            corpus=self.corpus,
            device=str(self.device),
            model={"block_size": self.model_config.block_size} if own else model,
            train=vars(self.train_config).copy(),
            factory=self.model_config.factory if own else None,
        )

    # -- checkpoints ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> str:
        """Write a checkpoint; refused while any weight is NaN or infinite, so that a diverged
        run never overwrites a good checkpoint."""
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            raise CheckpointError(
                _(
                    "not saved: the weights hold NaN or infinite values (the run diverged); "
                    "{path} is untouched"
                ).format(path=checkpoint.resolve_path(path)),
                _("load the last good checkpoint or start again with a smaller learning rate"),
            )
        if self.dist is not None and not self.dist.leader:
            return str(checkpoint.resolve_path(path))  # rank 0 writes the job's files
        state = {
            "preset": self.preset,
            "model_config": config_to_dict(self.model_config),
            "train_config": asdict(self.train_config),
            "tokenizer": self.tokenizer.to_dict() if self.tokenizer else None,
            "corpus": self.corpus,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "trainer": self.trainer.state_dict(),
        }
        return str(checkpoint.save(state, path))

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        device: str = "auto",
        corpus: str | None = None,
        train: dict | None = None,
        progress: Progress | None = None,
        factory: str | None = None,
    ) -> Session:
        """Rebuild a session from a checkpoint. The corpus is read again (``corpus`` overrides
        the saved one) with the saved vocabulary; if it cannot be read, the model still loads
        for prediction and training reports why it cannot run."""
        state = checkpoint.load(path)
        preset = state["preset"]
        notes: list[str] = []
        try:
            train_config = make_train_config(preset, **state["train_config"])
            saved = dict(state["model_config"])
            if "factory" in saved:
                model_config = _own_model_config(path, saved, factory)
            else:
                model_config = make_config(preset, **saved)
                if factory:  # named for a checkpoint of a preset: said, not silently dropped
                    notes.append(
                        _(
                            "--model {factory} is not used: the checkpoint holds a {preset} model"
                        ).format(factory=factory, preset=preset)
                    )
            tokenizer = (
                CharTokenizer.from_dict(state["tokenizer"]) if state.get("tokenizer") else None
            )
        except CheckpointError:
            raise
        except (TypeError, TorchdeckError) as exc:
            raise CheckpointError(
                _("checkpoint settings are invalid: {problem}").format(problem=exc),
                _("the file was not written by this torchdeck"),
            ) from None
        if train:  # settings changed on resume: checked as the person's, not the file's
            train_config = make_train_config(preset, **{**asdict(train_config), **train})
        dev = _device(device)
        model = _build(preset, model_config, torch.device("cpu"))
        own = getattr(model_config, "factory", None)
        if own:
            notes += _changes(saved, model_config)
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as exc:
            lines = [x.strip() for x in str(exc).splitlines()[1:] if x.strip()] or [str(exc)]
            said = " ".join(lines)[:300]
            if own:
                raise CheckpointError(
                    _("checkpoint weights do not fit {model}: {problem}").format(
                        model=own, problem=said
                    ),
                    _(
                        "the checkpoint was trained with other code than {own}: name the factory "
                        "it was built by ({factory})"
                    ).format(own=own, factory=saved["factory"]),
                ) from None
            raise CheckpointError(
                _("checkpoint weights do not fit the {preset} model: {problem}").format(
                    preset=preset, problem=said
                ),
                _("the file is damaged or from another version"),
            ) from None
        model.to(dev)
        data = None
        source = corpus if corpus is not None else state.get("corpus")
        if preset in LANGUAGE_PRESETS:
            try:
                data = load_data(
                    None if source == DEFAULT_CORPUS else source, tokenizer, progress=progress
                )
            except TorchdeckError as exc:
                if corpus is not None and _misfit(exc):  # asked for: say why it cannot be used
                    raise _vocabulary_refusal(exc, source, tokenizer) from None
                data = None  # predict still works; training says why it cannot
        session = cls(preset, model, model_config, train_config, tokenizer, data, dev, source)
        session.notes = notes
        try:
            session.trainer.load_state_dict(state["trainer"])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CheckpointError(
                _("checkpoint training state is unreadable: {problem}").format(problem=exc),
                _("the weights are fine but resuming is not possible; load another checkpoint"),
            ) from None
        return session

    # -- reports -------------------------------------------------------------------------------

    def describe(self) -> SessionInfo:
        corpus = (
            self.data.info()
            if self.data
            else ({"source": self.corpus, "unavailable": True} if self.corpus else None)
        )
        return SessionInfo(
            preset=self.preset,
            device=devices.describe(self.device),
            device_type=self.device.type,
            params=count_parameters(self.model),
            trainable_params=count_parameters(self.model, trainable_only=True),
            tied=tied_parameters(self.model),
            model_config=config_to_dict(self.model_config),
            train_config=asdict(self.train_config),
            vocab_size=self.tokenizer.vocab_size if self.tokenizer else None,
            corpus=corpus,
            step=self.trainer.step,
            steps=self.train_config.steps,
            block_size=self.block_size,
            world_size=self.trainer.world,
            tokens_per_step=self.trainer.tokens_per_step,
            factory=getattr(self.model_config, "factory", None),
            notes=list(self.notes) or None,
            precision=devices.dtype_name(self.trainer.dtype),
            compile=self.trainer.compiler.wanted,
        )


def _build(preset: str, model_config: object, device: torch.device) -> torch.nn.Module:
    if isinstance(model_config, FactoryConfig):
        return user_model.build(model_config, device)
    return build_model(preset, model_config).to(device)


def _own_model_settings(spec: RunSpec) -> None:
    """One's own model has the preset's training defaults but none of its sizes."""
    if spec.preset not in LANGUAGE_PRESETS:
        raise ConfigError(
            _("--model builds a language model; the {preset} preset is not one").format(
                preset=spec.preset
            ),
            _("use --model with one of: {presets}").format(presets=", ".join(LANGUAGE_PRESETS)),
        )
    sizes = sorted(set(spec.model) - {"block_size"})
    if sizes:
        flags = ", ".join("--" + k.replace("_", "-") for k in sizes)
        raise ConfigError(
            _("{flags} sets the size of a built-in model; {factory} builds its own").format(
                flags=flags, factory=spec.factory
            ),
            _("set the sizes in your factory, or leave them out"),
        )


def _own_model_config(path, saved: dict, factory: str | None) -> FactoryConfig:
    """The config of a checkpoint of one's own model, built by the factory the person names:
    a checkpoint never makes torchdeck import code."""
    if not factory:
        raise CheckpointError(
            _(
                "{path} holds a model built by {factory}; torchdeck never imports code because a "
                "checkpoint names it"
            ).format(path=checkpoint.resolve_path(path), factory=saved["factory"]),
            _("load it with --model {factory} (the file you trust)").format(
                factory=saved["factory"]
            ),
        )
    config = FactoryConfig(**{**saved, "factory": factory})
    config.validate()
    return config


def _changes(saved: dict, built: FactoryConfig) -> list[str]:
    """What the person should know about the code the weights go into: another file than the
    checkpoint's, or its file changed since (package modules included)."""
    then, now = saved.get("source", ""), built.source
    if then and now and Path(then).resolve() != Path(now).resolve():
        return [
            _("this checkpoint was built by {saved}; its weights go into {factory}").format(
                saved=saved["factory"], factory=built.factory
            )
        ]
    old = saved.get("source_sha256", "")
    if old and built.source_sha256 and old != built.source_sha256:
        return [
            _(
                "{file} has changed since this checkpoint was saved (sha256 {then}… then, "
                "{now}… now): the weights are loaded into the file's code as it is today"
            ).format(file=now or built.factory, then=old[:12], now=built.source_sha256[:12])
        ]
    return []


def _device(name: str) -> torch.device:
    """The device asked for; in a job of several ranks, this rank's own one."""
    device = devices.resolve_device(name)
    job = distributed.job()
    if job is not None:
        device = distributed.rank_device(device, job.placement)
    devices.prepare(device)
    return device


def _misfit(exc: TorchdeckError) -> bool:
    """Whether a corpus failed to load because its characters are not in the vocabulary."""
    return isinstance(exc, UnknownCharactersError) or "vocabulary" in exc.message


def _vocabulary_refusal(exc: TorchdeckError, source, tokenizer) -> CorpusError:
    unknown = getattr(exc, "unknown", None) or []
    chars = sorted({ch for _pos, ch in unknown})
    shown = " ".join(repr(ch) for ch in chars[:12])
    if len(chars) > 12:
        message = _(
            "the corpus {source} does not fit this checkpoint: it has {count} character(s) the "
            "checkpoint's vocabulary lacks: {shown} and {more} more"
        )
    elif chars:
        message = _(
            "the corpus {source} does not fit this checkpoint: it has {count} character(s) the "
            "checkpoint's vocabulary lacks: {shown}"
        )
    else:
        message = _("the corpus {source} does not fit this checkpoint: it has {problem}")
    if tokenizer is not None:
        hint = _(
            "a model's vocabulary of {size} characters is fixed when it is first trained; resume "
            "with a corpus made of its characters, or train a new model on this one"
        ).format(size=tokenizer.vocab_size)
    else:
        hint = _(
            "a model's vocabulary is fixed when it is first trained; resume with a corpus made "
            "of its characters, or train a new model on this one"
        )
    return CorpusError(
        message.format(
            source=source,
            count=len(chars),
            shown=shown,
            more=len(chars) - 12,
            problem=exc.message,
        ),
        hint,
    )
