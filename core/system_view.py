"""A machine sample (``core.system_metrics``) as a person reads it: the Train pane's one line,
fitted to a width, and the hints a sample calls for (GPU memory nearly full; the GPU idle while
training, so something else is the bottleneck). Imports no torch, no psutil and no UI library:
the app reads samples the engine sent.
"""

from __future__ import annotations

import time

from core.i18n import _

MEM_WARN_PCT = 90.0  # GPU memory above this share is a warning
LOW_UTIL_PCT = 50.0  # GPU utilisation under this while training counts as low ...
LOW_UTIL_AFTER_S = 10.0  # ... and is a warning once it has lasted this long
SEP = " · "


def _gb(mb: float) -> str:
    return f"{mb / 1024:.1f}"  # MiB to GiB


def size_text(mb: float) -> str:
    """MiB as a person reads them: GiB from one GiB up."""
    return f"{_gb(mb)} GiB" if mb >= 1024 else f"{mb:.0f} MiB"


def short_note(note: str) -> str:
    """The gist of a gpu_note: the words before any colon or parenthesis."""
    return note.split(":")[0].split(" (")[0].strip()


def _parts(sample: dict) -> list[tuple[int, int, str]]:
    """(importance, group, text) for each figure the sample has, in display order; texts of one
    group are joined by spaces, groups by SEP. Lower importance numbers are kept longer."""
    s = sample
    parts: list[tuple[int, int, str]] = []
    if "cpu_pct" in s:
        parts.append((2, 0, f"cpu {s['cpu_pct']:.0f}%"))
    if "mem_used_mb" in s and "mem_total_mb" in s:
        parts.append((3, 1, f"ram {_gb(s['mem_used_mb'])}/{_gb(s['mem_total_mb'])} GiB"))
    if "proc_rss_mb" in s:
        parts.append((5, 2, f"engine {size_text(s['proc_rss_mb'])}"))
    if "gpu_util_pct" in s:
        parts.append((0, 3, f"gpu {s['gpu_util_pct']:.0f}%"))
    if "gpu_mem_used_mb" in s and "gpu_mem_total_mb" in s:
        used, total = _gb(s["gpu_mem_used_mb"]), _gb(s["gpu_mem_total_mb"])
        parts.append((1, 4, f"vram {used}/{total} GiB"))
    if "gpu_temp_c" in s:
        parts.append((6, 4, f"{s['gpu_temp_c']:.0f}°C"))
    if "gpu_power_w" in s:
        parts.append((7, 4, f"{s['gpu_power_w']:.0f} W"))
    if "gpu_note" in s:
        parts.append((4, 3, f"gpu: {short_note(s['gpu_note'])}"))
    return parts


def _join(parts: list[tuple[int, int, str]]) -> str:
    groups: dict[int, list[str]] = {}
    for _importance, group, text in parts:
        groups.setdefault(group, []).append(text)
    return SEP.join(" ".join(texts) for texts in groups.values())


def summary_line(sample: dict, width: int = 80) -> str:
    """One line for the Train pane, at most ``width`` columns: while it does not fit, the least
    important figure goes first (power, temperature, the engine's RSS, the GPU note, RAM, CPU,
    GPU memory, GPU busy); empty where not even one fits, since a cut figure would mislead."""
    kept = _parts(sample)
    while kept and len(_join(kept)) > width:
        kept.remove(max(kept))
    return _join(kept)


def warnings(sample: dict, training: bool, low_util_for_s: float) -> list[str]:
    """The hints for a sample: GPU memory above 90%, and GPU utilisation under 50% while
    training for ``low_util_for_s`` of at least 10 s (see :class:`LowUtilTimer`)."""
    out = []
    mem_pct = sample.get("gpu_mem_pct")
    if mem_pct is not None and mem_pct > MEM_WARN_PCT:
        out.append(
            _(
                "GPU memory {percent}% full: a larger batch or model will run out; "
                "lower --batch-size or use --grad-accum"
            ).format(percent=f"{mem_pct:.0f}")
        )
    util = sample.get("gpu_util_pct")
    if training and util is not None and util < LOW_UTIL_PCT and low_util_for_s >= LOW_UTIL_AFTER_S:
        out.append(
            _(
                "GPU busy {percent}% while training: the input pipeline or a host sync is the "
                "bottleneck (a .item() per step, a small batch)"
            ).format(percent=f"{util:.0f}")
        )
    return out


class LowUtilTimer:
    """How long GPU utilisation has stayed under 50% while training: fed every sample, it
    restarts whenever training stops, utilisation reaches 50% or the sample has no figure."""

    def __init__(self) -> None:
        self._since: float | None = None

    def update(self, sample: dict, training: bool, now: float | None = None) -> float:
        """Seconds utilisation has been low, as of this sample (0.0 when it is not)."""
        now = time.monotonic() if now is None else now
        util = sample.get("gpu_util_pct")
        if not training or util is None or util >= LOW_UTIL_PCT:
            self._since = None
            return 0.0
        if self._since is None:
            self._since = now
        return now - self._since
