"""Text pieces the Summary pane's lesson views share (summary_embedding_lesson.py, LESSONS.md L3,
and summary_forward_lesson.py, L1): a vector's first values and an allclose verdict."""

from __future__ import annotations


def vec(values: list[float], n: int = 4) -> str:
    """The first ``n`` values, signed, three decimals."""
    return "[" + " ".join(f"{v:+.3f}" for v in values[:n]) + " …]"


def allclose_label(ok: bool) -> tuple[str, str]:
    """The verdict of a torch.allclose check and its style."""
    return ("allclose ✓", "bold green") if ok else ("allclose ✗", "bold red")
