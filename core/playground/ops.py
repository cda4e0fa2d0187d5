"""The playground's engine ops: ``exec`` (run a cell), ``complete`` (tab completion) and
``playground_reset`` (a fresh namespace), each with its argument spec."""

from __future__ import annotations

from core.contract.lab import (
    MAX_CODE,
    CompleteArgs,
    Completion,
    ExecArgs,
    ExecResult,
    NamesResult,
)
from core.errors import TorchdeckError
from core.i18n import _, ngettext
from core.optim import follow_parameters
from core.playground.namespace import Playground


def trains_line(changed: dict) -> str:
    """One line saying what training updates after a cell changed the model's parameters."""
    count = changed["tensors"]
    parts = [
        ngettext(
            "the model's parameters changed: training now updates {count} tensor",
            "the model's parameters changed: training now updates {count} tensors",
            count,
        ).format(count=count)
    ]
    added = changed["added"]
    if added:
        names = ", ".join(added[:4]) + (" …" if len(added) > 4 else "")
        parts.append(_("new, with no optimizer state yet: {names}").format(names=names))
    if changed["removed"]:
        parts.append(
            ngettext(
                "{count} no longer trained", "{count} no longer trained", changed["removed"]
            ).format(count=changed["removed"])
        )
    return "; ".join(parts)


def engine_ops(engine) -> dict:
    playground = Playground()
    engine.playground = playground

    def op_exec(args: ExecArgs) -> ExecResult:
        code = args.code
        if len(code) > MAX_CODE:
            raise TorchdeckError(
                _("the cell is {count} characters long").format(count=f"{len(code):,}"),
                _("a cell holds at most {limit} characters").format(limit=f"{MAX_CODE:,}"),
            )
        playground.bind(engine.session)
        job, session = engine.dist, engine.session
        before = job.fingerprint(session.model) if job is not None and session else None
        result = playground.run(code, args.memory_share)
        if before is not None and engine.session is session:
            job.sync_if_changed(session.model, before)  # the cell changed every rank's model
        trains = None
        if job is None and session is not None and engine.session is session:
            changed = follow_parameters(session.trainer)  # what the cell made of the model
            trains = None if changed is None else trains_line(changed)
        step = engine.session.trainer.step if engine.session is not None else None
        return ExecResult.from_dict(
            {**result, "state": engine.state, "step": step, "trains": trains}
        )

    def op_complete(args: CompleteArgs) -> Completion:
        playground.bind(engine.session)
        code = args.code
        cursor = len(code) if args.cursor is None else args.cursor
        if cursor > len(code):
            raise TorchdeckError(
                _("cursor {cursor} is past the end of the code ({length})").format(
                    cursor=cursor, length=len(code)
                ),
                _("give a cursor between 0 and len(code)"),
            )
        return Completion(**playground.complete(code, cursor))

    def op_reset(args: dict) -> NamesResult:
        playground.reset()
        playground.bind(engine.session)
        return NamesResult(sorted(k for k in playground.namespace if not k.startswith("__")))

    return {
        "exec": (op_exec, ExecArgs),
        "complete": (op_complete, CompleteArgs),
        "playground_reset": (op_reset, {}),
    }
