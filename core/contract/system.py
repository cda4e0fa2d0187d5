"""The ``system`` event: the machine beside the run, about once a second while a client is
attached or a run trains (``core.monitor`` takes it with ``core.system_metrics``). Every figure
is optional: a machine without NVIDIA GPUs sends no ``gpu_*`` and says why in ``gpu_note``.
Sizes are MiB, shares are percent. Imports no torch and no UI library.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.contract.base import Contract, optional

# The figures a metrics row carries (``core.metric_log``): `torchdeck plot --metric NAME`
ROW_FIELDS = (
    "cpu_pct",
    "proc_cpu_pct",
    "proc_rss_mb",
    "mem_used_mb",
    "gpu_util_pct",
    "gpu_mem_used_mb",
    "gpu_mem_pct",
    "gpu_temp_c",
    "gpu_power_w",
)


@dataclass(frozen=True)
class SystemSample(Contract):
    t: float = 0.0  # Unix time of the sample
    # the engine's process: CPU in % of one core since the last sample, resident memory
    proc_cpu_pct: float | None = optional()
    proc_rss_mb: float | None = optional()
    # the machine: CPU over all cores, memory
    cpu_pct: float | None = optional()
    cpu_count: int | None = optional()
    mem_used_mb: float | None = optional()
    mem_total_mb: float | None = optional()
    mem_pct: float | None = optional()
    # the engine's GPU (NVML), and every GPU as {index, name, util_pct, mem_used_mb,
    # mem_total_mb, temp_c, power_w, power_limit_w}
    gpu_util_pct: float | None = optional()
    gpu_mem_used_mb: float | None = optional()
    gpu_mem_total_mb: float | None = optional()
    gpu_mem_pct: float | None = optional()
    gpu_temp_c: float | None = optional()
    gpu_power_w: float | None = optional()
    gpus: list | None = optional()
    gpu_note: str | None = optional()  # why there are no GPU figures
    # torch's own CUDA memory for the engine's tensors: allocated, reserved, peak
    torch_alloc_mb: float | None = optional()
    torch_reserved_mb: float | None = optional()
    torch_peak_mb: float | None = optional()
    training: bool = False  # whether the run was training when the sample was taken

    def row_fields(self) -> dict:
        """The figures a metrics row carries (those measured)."""
        return {k: getattr(self, k) for k in ROW_FIELDS if getattr(self, k) is not None}
