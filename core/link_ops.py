"""The link's ops: ``hello`` (a client's version, role and byte budget) and ``attach``
(everything a client needs to draw a running engine's whole picture at once), and what an
engine says about itself: ``ready`` to each new client, ``EngineInfo`` to ``ls``."""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import replace

from core.contract import PRESETS, AttachArgs, AttachResult, EngineInfo, HelloArgs, ReadyInfo
from core.contract.link import LanguageArgs
from core.errors import ConfigError, ProtocolMismatch, TorchdeckError
from core.history import decimated
from core.i18n import _, set_language
from core.protocol import PROTOCOL_VERSION


def engine_ops(engine) -> dict:
    def op_hello(args: HelloArgs) -> EngineInfo:
        if args.protocol != PROTOCOL_VERSION:
            raise ProtocolMismatch(PROTOCOL_VERSION, args.protocol)
        conn = engine.reply_to
        if conn is not None:
            if args.role == "owner" and conn is not engine.owner:
                raise TorchdeckError(
                    _("only the process that started the engine is its owner"),
                    _("attach with role 'ui' (or 'probe' for a look)"),
                )
            conn.role = args.role
            conn.budget = args.budget
        if args.lang:
            # a language this engine cannot read is no reason to refuse the client: it keeps
            # its own (the language op, asked on its own, says why)
            with contextlib.suppress(ConfigError):
                set_language(args.lang)
        return engine.engine_info()

    def op_language(args: LanguageArgs) -> dict:
        return {"lang": set_language(args.lang)}

    def op_attach(args: AttachArgs) -> AttachResult:
        s = engine.session
        session = None
        if s is not None:
            if engine.state == "running":
                engine.report()  # the losses not yet reported join the history first
            trainer = s.trainer
            history = {
                "train": decimated(trainer.train_history.to_dict(), args.points),
                "val": decimated(trainer.val_history.to_dict(), args.points),
                "signals": {
                    name: decimated(h, args.points) for name, h in trainer.log.histories().items()
                },
            }
            session = replace(s.describe(), history=history)
        playground = getattr(engine, "playground", None)
        names = (
            sorted(k for k in playground.namespace if not k.startswith("__"))
            if playground is not None
            else []
        )
        progress = engine.last_progress
        return AttachResult(
            engine=engine.engine_info(),
            state=engine.state,
            session=session,
            progress=None if progress is None else _progress(progress),
            sample=engine.last_sample,
            variables=names,
            system=engine.monitor.recent() if engine.monitor is not None else [],
        )

    return {
        "hello": (op_hello, HelloArgs),
        "attach": (op_attach, AttachArgs),
        "language": (op_language, LanguageArgs),
    }


def ready_info(engine) -> ReadyInfo:
    import torch

    return ReadyInfo(
        protocol=PROTOCOL_VERSION,
        torch=torch.__version__,
        python=platform.python_version(),
        pid=os.getpid(),
        cuda=torch.cuda.is_available(),
        threads=torch.get_num_threads(),
        presets=list(PRESETS),
    )


def engine_info(engine) -> EngineInfo:
    """What ``ls`` shows of ``engine``, as of now."""
    s, p = engine.session, engine.last_progress or {}
    info = s.describe() if s is not None else None
    return replace(
        engine.info,
        protocol=PROTOCOL_VERSION,
        clients=engine.attached(),
        state=engine.state,
        preset=info.model_name if info else "",  # the preset, or one's own model's factory
        device=info.device if info else "",
        world_size=_world_size(engine),
        step=s.trainer.step if s is not None else 0,
        steps=info.steps if info else 0,
        loss=p.get("loss"),
        val_loss=_last_val(s),
        # a rate only while it is being measured
        tokens_per_s=p.get("tokens_per_s") if engine.state == "running" else None,
        client=engine.reply_to.id if engine.reply_to is not None else 0,
        **_gpu_memory(engine),
    )


def _gpu_memory(engine) -> dict:
    """The CUDA memory the engine holds (torch's reserved, what the device gives the process)
    and its GPU's total, from the latest machine sample: ``ls`` shows them."""
    latest = engine.monitor.latest if engine.monitor is not None else None
    if latest is None or latest.torch_reserved_mb is None:
        return {}
    return {"gpu_mem_mb": latest.torch_reserved_mb, "gpu_mem_total_mb": latest.gpu_mem_total_mb}


def _world_size(engine) -> int:
    """Ranks in the engine's job: its session's trainer's, or before a model, its ``dist``'s."""
    if engine.session is not None:
        return engine.session.trainer.world
    return engine.dist.world_size if engine.dist is not None else 1


def _last_val(session) -> float | None:
    """The run's latest validation loss (a report carries one only when it measured one)."""
    if session is None or not session.trainer.val_history.values:
        return None
    return session.trainer.val_history.values[-1]


def _progress(data: dict):
    from core.contract import TrainProgress

    return TrainProgress.from_dict({**data, "losses": []})  # the losses are in the history
