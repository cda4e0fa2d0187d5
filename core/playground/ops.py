"""The playground's engine ops: ``exec`` (run a cell), ``complete`` (tab completion) and
``playground_reset`` (a fresh namespace), each with its argument spec."""

from __future__ import annotations

from core.errors import TorchdeckError
from core.playground.guard import DEFAULT_MEMORY_SHARE
from core.playground.namespace import Playground
from core.protocol import Arg

MAX_CODE = 1_000_000


def engine_ops(engine) -> dict:
    playground = Playground()
    engine.playground = playground

    def op_exec(args: dict) -> dict:
        code = args["code"]
        if len(code) > MAX_CODE:
            raise TorchdeckError(
                f"the cell is {len(code):,} characters long",
                f"a cell holds at most {MAX_CODE:,} characters",
            )
        playground.bind(engine.session)
        result = playground.run(code, args.get("memory_share", DEFAULT_MEMORY_SHARE))
        result["state"] = engine.state
        result["step"] = engine.session.trainer.step if engine.session is not None else None
        return result

    def op_complete(args: dict) -> dict:
        playground.bind(engine.session)
        code = args["code"]
        cursor = args.get("cursor", len(code))
        if cursor > len(code):
            raise TorchdeckError(
                f"cursor {cursor} is past the end of the code ({len(code)})",
                "give a cursor between 0 and len(code)",
            )
        return playground.complete(code, cursor)

    def op_reset(args: dict) -> dict:
        playground.reset()
        playground.bind(engine.session)
        return {"names": sorted(k for k in playground.namespace if not k.startswith("__"))}

    share = Arg(float, check=lambda v: 0 < v <= 1, expect="a share in (0, 1], e.g. 0.5")
    return {
        "exec": (op_exec, {"code": Arg(str, required=True), "memory_share": share}),
        "complete": (
            op_complete,
            {
                "code": Arg(str, required=True),
                "cursor": Arg(int, check=lambda v: v >= 0, expect="an integer ≥ 0"),
            },
        ),
        "playground_reset": (op_reset, {}),
    }
