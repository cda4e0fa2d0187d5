"""The link's ops: ``hello`` (a client's version, role and byte budget) and ``attach``
(everything a client needs to draw a running engine's whole picture at once)."""

from __future__ import annotations

from dataclasses import replace

from core.contract import AttachArgs, AttachResult, EngineInfo, HelloArgs
from core.errors import ProtocolMismatch, TorchdeckError
from core.history import decimated
from core.protocol import PROTOCOL_VERSION


def engine_ops(engine) -> dict:
    def op_hello(args: HelloArgs) -> EngineInfo:
        if args.protocol != PROTOCOL_VERSION:
            raise ProtocolMismatch(PROTOCOL_VERSION, args.protocol)
        conn = engine.reply_to
        if conn is not None:
            if args.role == "owner" and conn is not engine.owner:
                raise TorchdeckError(
                    "only the process that started the engine is its owner",
                    "attach with role 'ui' (or 'probe' for a look)",
                )
            conn.role = args.role
            conn.budget = args.budget
        return engine.engine_info()

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
        )

    return {"hello": (op_hello, HelloArgs), "attach": (op_attach, AttachArgs)}


def _progress(data: dict):
    from core.contract import TrainProgress

    return TrainProgress.from_dict({**data, "losses": []})  # the losses are in the history
