"""``torchdeck bench`` (being built in its own issue)."""

from __future__ import annotations


def main(argv: list[str]) -> int:
    print("torchdeck bench: not built yet")
    return 2
