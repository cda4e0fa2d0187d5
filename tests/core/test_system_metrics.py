"""core.system_metrics: real psutil figures on this machine, the NVML path through a fake pynvml
(two devices with exact figures, the library missing, no driver, a field NVML does not support),
torch's figures through a fake torch, the Train pane's line and the hints."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import psutil
import pytest

from core.system_metrics import NOTE_NO_GPU, NOTE_NO_LIBRARY, SystemSampler
from core.system_view import LowUtilTimer, summary_line, warnings

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20
HOST_FIELDS = set(
    "proc_cpu_pct proc_rss_mb cpu_pct cpu_count mem_used_mb mem_total_mb mem_pct".split()
)


# ---- real figures on this machine ----------------------------------------------------------


def test_host_fields_are_present_in_range_and_json_safe(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # whatever is installed: no NVML here
    with SystemSampler() as sampler:
        deadline = time.process_time() + 0.3
        while time.process_time() < deadline:  # keep a core busy for a measurable share
            pass
        sample = sampler.sample()
    assert HOST_FIELDS <= set(sample)
    assert sample["cpu_count"] == psutil.cpu_count()
    assert 10 < sample["proc_cpu_pct"] <= 100 * sample["cpu_count"] + 20
    assert 0 < sample["cpu_pct"] <= 100
    assert 0 < sample["proc_rss_mb"] < sample["mem_total_mb"]
    assert 0 < sample["mem_used_mb"] <= sample["mem_total_mb"]
    assert 0 < sample["mem_pct"] <= 100
    assert json.loads(json.dumps(sample)) == sample


def test_rss_grows_with_a_200_mb_buffer_and_shrinks_after_del():
    before = SystemSampler().sample()["proc_rss_mb"]
    buffer = bytearray(200 * MIB)
    for i in range(0, len(buffer), 4096):  # touch every page, so that it is really resident
        buffer[i] = 1
    grown = SystemSampler().sample()["proc_rss_mb"]
    del buffer
    gc.collect()
    after = SystemSampler().sample()["proc_rss_mb"]
    assert grown - before >= 150, (before, grown)
    assert grown - after >= 150, (grown, after)


def test_a_sample_starts_no_process(monkeypatch):
    """Sampling stays cheap by reading what psutil reads, never by running a tool such as
    nvidia-smi or ps (its cost is for `torchdeck bench`, not a timed test)."""
    sampler = SystemSampler()

    def refuse(*args, **kwargs):
        raise AssertionError(f"a sample started a process: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(os, "fork", refuse)
    monkeypatch.setattr(os, "posix_spawn", refuse)
    for _ in range(3):
        assert HOST_FIELDS <= set(sampler.sample())


def test_sampling_imports_neither_torch_nor_a_ui_library():
    probe = (
        "import json, sys\n"
        "from core.system_metrics import SystemSampler\n"
        "sample = SystemSampler().sample()\n"
        "loaded = sorted(m for m in ('torch', 'numpy', 'textual', 'rich') if m in sys.modules)\n"
        "print(json.dumps({'loaded': loaded, 'sample': sample}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert HOST_FIELDS <= set(result["sample"])
    assert not any(key.startswith("torch_") for key in result["sample"])


# ---- NVML, faked ----------------------------------------------------------------------------


class FakeNVMLError(Exception):
    pass


class FakeNotSupported(FakeNVMLError):
    def __str__(self) -> str:
        return "Not Supported"


KEYS = ("name", "util", "used", "total", "temp", "power_mw", "limit_mw")
DEVICES = [
    dict(
        zip(KEYS, ("NVIDIA H100 80GB HBM3", 98, 72_909 * MIB, 81_920 * MIB, 68, 310_000, 700_000))
    ),
    # older bindings give names as bytes
    dict(zip(KEYS, (b"NVIDIA A100-SXM4-40GB", 12, 1_024 * MIB, 40_960 * MIB, 41, 85_300, 400_000))),
]


def fake_nvml(devices=DEVICES, init_error=None, failing=()):
    """A pynvml stand-in: ``failing`` holds (device index, function name) pairs that raise
    NotSupported; ``calls`` counts nvmlInit and nvmlShutdown."""
    m = types.ModuleType("pynvml")
    m.calls = {"init": 0, "shutdown": 0}
    m.NVMLError = FakeNVMLError
    m.NVML_TEMPERATURE_GPU = 0

    def init():
        m.calls["init"] += 1
        if init_error is not None:
            raise init_error

    def shutdown():
        m.calls["shutdown"] += 1

    def device_call(name, read):
        def call(handle, *args):
            if (handle, name) in failing:
                raise FakeNotSupported()
            return read(devices[handle], *args)

        return call

    m.nvmlInit = init
    m.nvmlShutdown = shutdown
    m.nvmlDeviceGetCount = lambda: len(devices)
    m.nvmlDeviceGetHandleByIndex = device_call("handle", lambda d: devices.index(d))
    m.nvmlDeviceGetName = device_call("name", lambda d: d["name"])
    m.nvmlDeviceGetUtilizationRates = device_call(
        "util", lambda d: types.SimpleNamespace(gpu=d["util"], memory=0)
    )
    m.nvmlDeviceGetMemoryInfo = device_call(
        "memory",
        lambda d: types.SimpleNamespace(used=d["used"], total=d["total"], free=0),
    )

    def temperature(d, sensor):
        assert sensor == m.NVML_TEMPERATURE_GPU
        return d["temp"]

    m.nvmlDeviceGetTemperature = device_call("temp", temperature)
    m.nvmlDeviceGetPowerUsage = device_call("power", lambda d: d["power_mw"])
    m.nvmlDeviceGetEnforcedPowerLimit = device_call("limit", lambda d: d["limit_mw"])
    return m


def test_two_devices_give_exact_figures(monkeypatch):
    nvml = fake_nvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    sampler = SystemSampler()
    sample = sampler.sample()
    names = ("index", "name", "util_pct", "mem_used_mb", "mem_total_mb", "temp_c", "power_w")
    assert sample["gpus"] == [
        dict(zip(names + ("power_limit_w",), figures))
        for figures in [
            (0, "NVIDIA H100 80GB HBM3", 98.0, 72909.0, 81920.0, 68.0, 310.0, 700.0),
            (1, "NVIDIA A100-SXM4-40GB", 12.0, 1024.0, 40960.0, 41.0, 85.3, 400.0),
        ]
    ]
    assert {k: v for k, v in sample.items() if k.startswith("gpu_")} == {
        "gpu_util_pct": 98.0,
        "gpu_mem_used_mb": 72909.0,
        "gpu_mem_total_mb": 81920.0,
        "gpu_mem_pct": 89.0,
        "gpu_temp_c": 68.0,
        "gpu_power_w": 310.0,
    }
    assert "gpu_note" not in sample and HOST_FIELDS <= set(sample)
    assert json.loads(json.dumps(sample)) == sample
    sampler.sample()
    assert nvml.calls == {"init": 1, "shutdown": 0}  # initialised once, not per sample
    sampler.close()
    sampler.close()
    assert nvml.calls == {"init": 1, "shutdown": 1}
    after = sampler.sample()
    assert "gpus" not in after and "gpu_util_pct" not in after


def test_device_index_picks_the_flat_fields(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    sample = SystemSampler(device_index=1).sample()
    assert len(sample["gpus"]) == 2
    assert sample["gpu_util_pct"] == 12.0
    assert sample["gpu_mem_pct"] == 2.5
    assert sample["gpu_power_w"] == 85.3


def test_missing_library_says_so_without_gpu_fields(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    sample = SystemSampler().sample()
    assert sample["gpu_note"] == NOTE_NO_LIBRARY
    assert NOTE_NO_LIBRARY == "no NVIDIA library (pip install nvidia-ml-py to see GPU figures)"
    assert not any(key.startswith("gpu_") and key != "gpu_note" for key in sample)
    assert "gpus" not in sample and HOST_FIELDS <= set(sample)


def test_init_failure_gives_the_driver_note(monkeypatch):
    nvml = fake_nvml(init_error=FakeNVMLError("Driver Not Loaded"))
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    sampler = SystemSampler()
    sample = sampler.sample()
    assert sample["gpu_note"] == "no NVIDIA driver: Driver Not Loaded"
    assert "gpus" not in sample
    sampler.close()
    assert nvml.calls == {"init": 1, "shutdown": 0}  # never initialised, so never shut down


def test_no_device_gives_the_no_gpu_note(monkeypatch):
    nvml = fake_nvml(devices=[])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    sample = SystemSampler().sample()
    assert sample["gpu_note"] == NOTE_NO_GPU == "no NVIDIA GPU"
    assert nvml.calls == {"init": 1, "shutdown": 1}


def test_an_unsupported_field_is_left_out(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(failing={(0, "power"), (1, "memory")}))
    sample = SystemSampler().sample()
    first, second = sample["gpus"]
    assert "power_w" not in first and "gpu_power_w" not in sample
    assert first["power_limit_w"] == 700.0 and sample["gpu_temp_c"] == 68.0
    assert sample["gpu_mem_pct"] == 89.0
    assert "mem_used_mb" not in second and "mem_total_mb" not in second
    assert second["power_w"] == 85.3


def test_a_device_nvml_cannot_open_is_skipped(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(failing={(0, "handle"), (1, "name")}))
    sample = SystemSampler().sample()
    assert [g["index"] for g in sample["gpus"]] == [1]
    assert sample["gpus"][0]["name"] == "GPU 1"
    assert "gpu_util_pct" not in sample  # the engine's device 0 is not there


# ---- torch's figures ------------------------------------------------------------------------


def test_torch_figures_when_cuda_is_initialised(monkeypatch):
    stats = {
        "allocated_bytes.all.current": 1536 * MIB,
        "reserved_bytes.all.current": 2048 * MIB,
        "allocated_bytes.all.peak": 3072 * MIB,
    }
    asked = []

    def memory_stats(device):
        asked.append(device)
        return stats

    cuda = types.SimpleNamespace(is_initialized=lambda: True, memory_stats=memory_stats)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    monkeypatch.setitem(sys.modules, "pynvml", None)
    sample = SystemSampler(device_index=3, torch_device=1).sample()
    assert sample["torch_alloc_mb"] == 1536.0
    assert sample["torch_reserved_mb"] == 2048.0
    assert sample["torch_peak_mb"] == 3072.0
    assert asked == [1]


def test_no_torch_figures_while_cuda_is_not_initialised(monkeypatch):
    cuda = types.SimpleNamespace(is_initialized=lambda: False, memory_stats=None)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    assert not any(key.startswith("torch_") for key in SystemSampler().sample())


# ---- the Train pane's line ------------------------------------------------------------------

HOST = {
    "cpu_pct": 37.2,
    "cpu_count": 2,
    "mem_used_mb": 5222.4,  # 5.1 GiB
    "mem_total_mb": 23961.6,  # 23.4 GiB
    "proc_rss_mb": 1228.8,  # 1.2 GiB
}
GPU_SAMPLE = {
    **HOST,
    "gpu_util_pct": 98.0,
    "gpu_mem_used_mb": 72908.8,
    "gpu_mem_total_mb": 81920.0,
    "gpu_temp_c": 68.0,
    "gpu_power_w": 310.2,
}
CPU_SAMPLE = {**HOST, "gpu_note": NOTE_NO_LIBRARY}


@pytest.mark.parametrize(
    "sample, width, line",
    [
        (
            GPU_SAMPLE,
            100,
            "cpu 37% · ram 5.1/23.4 GiB · engine 1.2 GiB · gpu 98% · vram 71.2/80.0 GiB 68°C 310 W",
        ),
        (
            GPU_SAMPLE,
            80,
            "cpu 37% · ram 5.1/23.4 GiB · engine 1.2 GiB · gpu 98% · vram 71.2/80.0 GiB 68°C",
        ),
        (GPU_SAMPLE, 40, "cpu 37% · gpu 98% · vram 71.2/80.0 GiB"),
        (CPU_SAMPLE, 80, "cpu 37% · ram 5.1/23.4 GiB · engine 1.2 GiB · gpu: no NVIDIA library"),
        (CPU_SAMPLE, 40, "cpu 37% · ram 5.1/23.4 GiB"),
        (
            {**HOST, "proc_rss_mb": 312.4, "gpu_note": "no NVIDIA driver: Driver Not Loaded"},
            80,
            "cpu 37% · ram 5.1/23.4 GiB · engine 312 MiB · gpu: no NVIDIA driver",
        ),
        (GPU_SAMPLE, 10, "gpu 98%"),
        (GPU_SAMPLE, 6, ""),
        ({}, 80, ""),
    ],
)
def test_summary_line(sample, width, line):
    assert summary_line(sample, width) == line


@pytest.mark.parametrize("sample", [GPU_SAMPLE, CPU_SAMPLE])
def test_summary_line_always_fits(sample):
    for width in range(0, 120):
        assert len(summary_line(sample, width)) <= width


# ---- the hints ------------------------------------------------------------------------------

MEM_HINT = (
    "GPU memory 90% full: a larger batch or model will run out; "
    "lower --batch-size or use --grad-accum"
)
UTIL_HINT = (
    "GPU busy 31% while training: the input pipeline or a host sync is the bottleneck "
    "(a .item() per step, a small batch)"
)


def test_memory_warning_threshold():
    assert warnings({"gpu_mem_pct": 89.9}, training=True, low_util_for_s=0.0) == []
    assert warnings({"gpu_mem_pct": 90.0}, training=True, low_util_for_s=0.0) == []
    assert warnings({"gpu_mem_pct": 90.1}, training=False, low_util_for_s=0.0) == [MEM_HINT]
    assert warnings(CPU_SAMPLE, training=True, low_util_for_s=60.0) == []


@pytest.mark.parametrize(
    "util, training, low_for, warned",
    [
        (31.0, True, 9.9, False),
        (31.0, True, 10.0, True),
        (31.0, False, 60.0, False),
        (50.0, True, 60.0, False),
        (49.9, True, 60.0, True),
    ],
)
def test_low_util_warning(util, training, low_for, warned):
    hints = warnings({"gpu_util_pct": util}, training=training, low_util_for_s=low_for)
    assert bool(hints) == warned
    if warned:
        assert hints == [UTIL_HINT.replace("31%", f"{util:.0f}%")]


def test_both_warnings_together():
    sample = {"gpu_mem_pct": 95.0, "gpu_util_pct": 31.0}
    assert warnings(sample, training=True, low_util_for_s=12.0) == [
        MEM_HINT.replace("90%", "95%"),
        UTIL_HINT,
    ]


def test_low_util_timer():
    timer = LowUtilTimer()
    low, busy = {"gpu_util_pct": 31.0}, {"gpu_util_pct": 80.0}
    assert timer.update(low, training=True, now=100.0) == 0.0
    assert timer.update(low, training=True, now=105.0) == 5.0
    assert timer.update(low, training=True, now=110.5) == 10.5
    assert timer.update(busy, training=True, now=111.0) == 0.0  # busy again: restarts
    assert timer.update(low, training=True, now=112.0) == 0.0
    assert timer.update(low, training=True, now=120.0) == 8.0
    assert timer.update(low, training=False, now=121.0) == 0.0  # not training: restarts
    assert timer.update(low, training=True, now=122.0) == 0.0
    assert timer.update(CPU_SAMPLE, training=True, now=130.0) == 0.0  # no GPU figure
    assert isinstance(timer.update(low, training=True), float)  # the monotonic clock
