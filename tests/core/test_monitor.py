"""The machine beside the run (core/monitor.py): samples only while wanted, each once to the
engine's loop, the NVML index of a CUDA device; over the real protocol, the ``system`` event,
the engine's memory growing with a 200 MB playground tensor and shrinking after ``del``, the
rows carrying the figures, and attach handing the history over."""

from __future__ import annotations

import time

import pytest

from core.contract import SystemSample
from core.monitor import Monitor, nvml_index
from tests.core.engine_helpers import EVENT_TIMEOUT, collect, mini

ASYNC = pytest.mark.asyncio(loop_scope="module")


def test_samples_only_while_wanted_and_each_sample_is_taken_once():
    wanted = [False]
    m = Monitor(lambda: wanted[0], lambda: True, lambda: None, period=0.01).start()
    try:
        time.sleep(0.1)
        assert m.recent() == [] and m.take() is None
        wanted[0] = True
        deadline = time.monotonic() + 5
        while not m.recent() and time.monotonic() < deadline:
            time.sleep(0.01)
        sample = m.take()
        assert isinstance(sample, SystemSample) and sample.training is True
        assert 0 <= sample.cpu_pct <= 100 and sample.proc_rss_mb > 10
        assert sample.gpu_note  # this box has no NVIDIA GPU: the sample says why
        assert "gpu_util_pct" not in sample.to_dict()
        assert set(m.row_fields()) == {"cpu_pct", "proc_cpu_pct", "proc_rss_mb", "mem_used_mb"}
    finally:
        m.close()


def test_the_nvml_index_follows_cuda_visible_devices(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert nvml_index(1) == 1
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert (nvml_index(0), nvml_index(1)) == (2, 3)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-5f1c,GPU-77aa")  # UUIDs: NVML's order
    assert nvml_index(1) == 1


def system_events(events) -> list[dict]:
    return [e.data for e in events if e.event == "system"]


async def next_sample(engine, after: float) -> dict:
    """The first ``system`` event taken after ``after`` (Unix time)."""
    events = await collect(engine, lambda ev: ev.event == "system" and ev.data["t"] > after)
    return system_events(events)[-1]


@ASYNC
async def test_the_engines_memory_grows_with_a_200_mb_tensor_and_shrinks_after_del(engine):
    before = await next_sample(engine, time.time())
    assert before["proc_rss_mb"] > 50 and "cpu_pct" in before
    await engine.request("exec", {"code": "big = torch.ones(50_000_000)"})  # 200 MB of float32
    grown = await next_sample(engine, time.time())
    assert grown["proc_rss_mb"] - before["proc_rss_mb"] >= 150
    await engine.request("exec", {"code": "del big"})
    shrunk = await next_sample(engine, time.time())
    assert grown["proc_rss_mb"] - shrunk["proc_rss_mb"] >= 150


@ASYNC
async def test_rows_carry_the_machine_and_attach_hands_the_history_over(engine, corpus):
    await engine.request("configure", mini(corpus))
    await engine.request("train_start", {"log_every": 5})
    await next_sample(engine, time.time())  # a sample taken while training
    started = time.time()
    events = await collect(
        engine,
        lambda ev: (
            ev.event == "train_progress"
            and any("cpu_pct" in r for r in ev.data.get("rows") or [])
            and time.time() > started
        ),
        timeout=EVENT_TIMEOUT,
    )
    await engine.request("train_stop")
    rows = [r for e in events if e.event == "train_progress" for r in e.data.get("rows") or []]
    row = next(r for r in rows if "cpu_pct" in r)
    assert row["kind"] == "train" and row["proc_rss_mb"] > 50 and 0 <= row["cpu_pct"] <= 100
    attached = await engine.request("attach", {"points": 10})
    history = attached["system"]
    assert history and [s["t"] for s in history] == sorted(s["t"] for s in history)
    assert any(s["training"] for s in history)
    assert attached["engine"].get("gpu_mem_mb") is None  # no CUDA here: ls shows "-"
