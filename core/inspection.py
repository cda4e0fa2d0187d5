"""Engine ops for the inspection (being built in its own issue)."""

from __future__ import annotations


def engine_ops(engine) -> dict:
    return {}


def main(argv: list[str]) -> int:
    print("torchdeck inspect: not built yet")
    return 2
