"""Metrics rows over the real protocol: reports carry them, the engine writes them to the run's
file as the client asked, a pause or a stop closes the window with a row where the run ended
(also when no step is pending), and attach and load bring the signals' histories back."""

from __future__ import annotations

import json

import pytest

from tests.core.engine_helpers import EVENT_TIMEOUT, collect, is_progress_at, mini

ASYNC = pytest.mark.asyncio(loop_scope="module")


def rows_in(events) -> list[dict]:
    return [r for e in events if e.event == "train_progress" for r in e.data.get("rows") or []]


@ASYNC
async def test_reports_and_the_file_hold_the_same_rows_and_a_stop_closes_the_window(
    engine, corpus, tmp_path
):
    path = tmp_path / "deep" / "run" / "metrics.jsonl"  # its folders are made
    await engine.request("configure", mini(corpus, train={"eval_interval": 50}))
    await engine.request(
        "train_start", {"log_every": 7, "metrics_path": str(path), "report_interval": 0.05}
    )
    events = await collect(engine, is_progress_at(60))
    await engine.request("train_pause")
    step = (await engine.request("status"))["session"]["step"]
    events += engine.drain_events()
    await engine.request("train_stop")  # nothing pending since the pause's report
    events += await collect(engine, lambda ev: ev.event == "train_state")
    sent = rows_in(events)
    written = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert sent == written
    train = [r["step"] for r in written if r["kind"] == "train"]
    assert train == [s for s in range(7, step + 1, 7)] + ([step] if step % 7 else [])
    assert [r["step"] for r in written if r["kind"] == "eval"] == list(range(50, step + 1, 50))


@ASYNC
async def test_attach_and_load_bring_the_signals_back(engine, corpus, tmp_path):
    await engine.request("configure", mini(corpus, steps=40, lr=2e-3, train={"warmup_steps": 10}))
    await engine.request("train_start", {"log_every": 5})
    await collect(engine, lambda ev: ev.event == "train_state" and ev.data["state"] == "finished")
    attached = await engine.request("attach", {"points": 0})
    signals = attached["session"]["history"]["signals"]
    assert sorted(signals) == ["grad_norm", "lr", "tokens_per_s"]  # no CUDA memory on a CPU
    assert signals["lr"]["steps"] == list(range(5, 41, 5))
    assert signals["lr"]["values"][0] == pytest.approx(2e-3 * 5 / 10)  # warm-up: step 5 of 10
    ckpt = str(tmp_path / "c.pt")
    await engine.request("save", {"path": ckpt})
    loaded = await engine.request("load", {"path": ckpt}, timeout=EVENT_TIMEOUT)
    assert loaded["history"]["signals"] == signals


def test_a_final_flush_with_nothing_pending_still_closes_the_window(make_session, corpus_file):
    trainer = make_session("mini", corpus_file, steps=100).trainer
    trainer.log.every = 10
    for _ in range(13):
        trainer.train_step()
    report = trainer.flush()
    assert [r["step"] for r in report["rows"]] == [10]
    closing = trainer.flush(final=True)  # steps 11..13 were reported, not yet logged
    assert closing["losses"] == [] and closing["val_loss"] is None
    (row,) = closing["rows"]
    assert (row["kind"], row["step"]) == ("train", 13)
    assert row["train_loss"] == pytest.approx(sum(report["losses"][10:]) / 3)
    assert trainer.flush(final=True) is None  # closed: nothing more to say


def test_the_parabola_row_carries_x_at_its_step(make_session):
    trainer = make_session("parabola", steps=80).trainer
    for _ in range(20):
        trainer.train_step()
    (*_, last) = trainer.flush()["rows"]
    # x ← 0.94·x + 0.02 from x = −1 (the seed's SGD on 3x² − 2x + 3, lr 0.01)
    assert last["step"] == 20
    assert last["parabola"]["x"] == pytest.approx(1 / 3 - 4 / 3 * 0.94**20, abs=1e-6)
    assert last["tokens_per_s"] is None


def test_cuda_memory_is_reported_in_mib_and_nothing_on_a_cpu(monkeypatch):
    import torch

    from core.report import memory

    assert memory(torch.device("cpu")) == {}
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda d: 3 * 2**20 + 2**19)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda d: 5 * 2**20)
    assert memory(torch.device("cuda", 0)) == {"mem_alloc_mb": 3.5, "mem_peak_mb": 5.0}
