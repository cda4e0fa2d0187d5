"""The machine at a glance: this process's and the machine's CPU and memory (psutil), the NVIDIA
GPUs' utilisation, memory, temperature and power (NVML), and torch's own CUDA memory figures.

Imports no UI library and never imports torch: torch's figures are read only when the engine has
already imported it and initialised CUDA. NVML comes from the optional ``nvidia-ml-py`` package
(``pip install torchdeck[gpu]``), imported lazily by :class:`SystemSampler`; without it, or
without a driver or a GPU, a sample carries ``gpu_note``, one sentence saying why.

A sample is a flat, JSON-safe dict; ``_mb`` figures are MiB (2**20 bytes), as nvidia-smi and
torch's memory summary print them and as the metrics rows' ``mem_alloc_mb`` counts. Meant to be
taken about once a second from a background thread, never from the training step.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import psutil

from core import i18n
from core.i18n import N_

MIB = 1 << 20

# in English here; a sample carries them in the language of the moment it is taken
NOTE_NO_LIBRARY = N_("no NVIDIA library (pip install nvidia-ml-py to see GPU figures)")
NOTE_NO_DRIVER = N_("no NVIDIA driver: {error}")
NOTE_NO_GPU = N_("no NVIDIA GPU")


def _mb(n_bytes: float) -> float:
    return round(n_bytes / MIB, 1)


def _text(value: Any) -> str:
    """NVML gives names as bytes in older bindings, str in newer ones."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class _MachineCpu:
    """The machine's CPU use since the previous reading, all cores, 0-100: psutil.cpu_percent's
    arithmetic, with the previous reading kept here rather than in psutil's module state, which
    any other caller in the same thread would reset."""

    def __init__(self) -> None:
        self._last = psutil.cpu_times()

    @staticmethod
    def _total(times: Any) -> float:
        # Linux counts guest time inside user and nice already.
        return sum(times) - getattr(times, "guest", 0) - getattr(times, "guest_nice", 0)

    def percent(self) -> float:
        now = psutil.cpu_times()
        deltas = type(now)(*(max(0.0, b - a) for a, b in zip(self._last, now)))
        self._last = now
        total = self._total(deltas)
        idle = deltas.idle + getattr(deltas, "iowait", 0)
        return round(min(100.0, max(0.0, (total - idle) / total * 100)), 1) if total > 0 else 0.0


class SystemSampler:
    """Takes samples of the machine's figures; see the module's docstring for the fields.

    ``device_index`` is the NVML index of the engine's own GPU (NVML numbers devices by PCI bus
    and ignores CUDA_VISIBLE_DEVICES); its figures are repeated as flat ``gpu_*`` fields.
    ``torch_device`` is the CUDA index torch's figures are read for (default: ``device_index``).
    NVML is initialised once, here, and shut down by :meth:`close`.
    """

    def __init__(self, device_index: int = 0, torch_device: int | None = None) -> None:
        self.device_index = device_index
        self.torch_device = device_index if torch_device is None else torch_device
        self._lock = threading.Lock()
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first call only starts the clock
        self._cpu = _MachineCpu()
        self._cpu_count = psutil.cpu_count() or 1
        self._nvml: Any = None
        self._gpus: list[tuple[int, Any, str]] = []  # (index, handle, name)
        self._note_error = ""  # the driver's error, for NOTE_NO_DRIVER
        self._note: str | None = self._start_nvml()  # one of the NOTE_ templates, or None
        self.gpu_note: str | None = (
            None if self._note is None else self._note.format(error=self._note_error)
        )

    def _start_nvml(self) -> str | None:
        try:
            import pynvml
        except ImportError:
            return NOTE_NO_LIBRARY
        try:
            pynvml.nvmlInit()
        except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...
            self._note_error = str(exc) or type(exc).__name__
            return NOTE_NO_DRIVER
        self._nvml = pynvml
        try:
            count = int(pynvml.nvmlDeviceGetCount())
        except Exception:
            count = 0
        for index in range(count):
            try:
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            except Exception:
                continue  # a device NVML cannot open (lost, no permission) is left out
            try:
                name = _text(pynvml.nvmlDeviceGetName(handle))
            except Exception:
                name = f"GPU {index}"
            self._gpus.append((index, handle, name))
        if not self._gpus:
            self.close()
            return NOTE_NO_GPU
        return None

    def close(self) -> None:
        """Shut NVML down (once); later samples carry no GPU section."""
        with self._lock:
            nvml, self._nvml, self._gpus = self._nvml, None, []
            if nvml is not None:
                try:
                    nvml.nvmlShutdown()
                except Exception:
                    pass

    def __enter__(self) -> SystemSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sample(self) -> dict:
        """The figures now (CPU use: since the previous sample, or since construction)."""
        with self._lock:
            out: dict[str, Any] = {}
            self._host(out)
            if self._nvml is not None:
                self._gpu(out)
            elif self._note is not None:
                out["gpu_note"] = i18n._(self._note).format(error=self._note_error)
            self._torch(out)
            return out

    def _host(self, out: dict) -> None:
        try:
            with self._process.oneshot():
                out["proc_cpu_pct"] = round(self._process.cpu_percent(None), 1)
                out["proc_rss_mb"] = _mb(self._process.memory_info().rss)
        except Exception:
            pass
        try:
            out["cpu_pct"] = self._cpu.percent()
        except Exception:
            pass
        out["cpu_count"] = self._cpu_count
        try:
            vm = psutil.virtual_memory()
            # used = total - available, the share psutil's own percent is computed from
            out["mem_used_mb"] = _mb(vm.total - vm.available)
            out["mem_total_mb"] = _mb(vm.total)
            out["mem_pct"] = round(vm.percent, 1)
        except Exception:
            pass

    def _gpu(self, out: dict) -> None:
        nvml = self._nvml
        gpus = []
        for index, handle, name in self._gpus:
            gpu: dict[str, Any] = {"index": index, "name": name}
            try:
                gpu["util_pct"] = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except Exception:
                pass
            try:
                mem = nvml.nvmlDeviceGetMemoryInfo(handle)
                gpu["mem_used_mb"] = _mb(mem.used)
                gpu["mem_total_mb"] = _mb(mem.total)
            except Exception:
                pass
            try:
                sensor = getattr(nvml, "NVML_TEMPERATURE_GPU", 0)
                gpu["temp_c"] = float(nvml.nvmlDeviceGetTemperature(handle, sensor))
            except Exception:
                pass
            try:
                gpu["power_w"] = round(nvml.nvmlDeviceGetPowerUsage(handle) / 1000, 1)
            except Exception:
                pass
            try:
                limit_mw = nvml.nvmlDeviceGetEnforcedPowerLimit(handle)
                gpu["power_limit_w"] = round(limit_mw / 1000, 1)
            except Exception:
                pass
            gpus.append(gpu)
        out["gpus"] = gpus
        mine = next((g for g in gpus if g["index"] == self.device_index), None)
        if mine is None:
            return
        for key in ("util_pct", "mem_used_mb", "mem_total_mb", "temp_c", "power_w"):
            if key in mine:
                out[f"gpu_{key}"] = mine[key]
        if mine.get("mem_total_mb") and "mem_used_mb" in mine:
            out["gpu_mem_pct"] = round(mine["mem_used_mb"] / mine["mem_total_mb"] * 100, 1)

    def _torch(self, out: dict) -> None:
        torch = sys.modules.get("torch")  # never imported here: only read if the engine did
        if torch is None:
            return
        try:
            cuda = torch.cuda
            if not cuda.is_initialized():
                return
            stats = cuda.memory_stats(self.torch_device)
            out["torch_alloc_mb"] = _mb(stats.get("allocated_bytes.all.current", 0))
            out["torch_reserved_mb"] = _mb(stats.get("reserved_bytes.all.current", 0))
            out["torch_peak_mb"] = _mb(stats.get("allocated_bytes.all.peak", 0))
        except Exception:
            pass
