"""Engine ops for the playground (being built in its own issue)."""

from __future__ import annotations


def engine_ops(engine) -> dict:
    return {}
