"""Two engines in one run folder (found by attacking the detachable engine): a second app, a
browser tab or a restarted engine in the folder where another engine autosaves was let train,
and the two wrote over each other's autosave. Now the engine that starts training second is
refused, and a folder whose engine died (even by SIGKILL) is free again at once.

Real engine processes, driven through core.client.EngineClient.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from core.client import EngineClient
from core.errors import EngineDied, EngineError

pytestmark = pytest.mark.asyncio


async def _engine(corpus) -> EngineClient:
    client = EngineClient(nice=0, threads=1)
    await client.start(timeout=120)
    await client.request(
        "configure",
        {
            "preset": "mini",
            "corpus": str(corpus),
            "device": "cpu",
            "steps": 1_000_000,
            "batch_size": 4,
            "model": {"n_embd": 8, "n_hidden": 8},
        },
    )
    return client


async def test_the_second_engine_to_train_in_a_folder_is_refused_until_the_first_dies(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 60, encoding="utf-8")
    autosave = tmp_path / "runs" / "torchdeck" / "autosave.pt"
    start = {"autosave_path": str(autosave), "autosave_minutes": 5, "report_interval": 0.05}
    first, second = await _engine(corpus), await _engine(corpus)
    try:
        await first.request("train_start", start)
        with pytest.raises(EngineError) as info:
            await second.request("train_start", start)
        assert info.value.type == "FolderTaken"
        assert info.value.message.startswith(f"engine {first.pid} autosaves its run in ")
        assert f"torchdeck stop {first.pid} saves and ends it" in info.value.hint
        assert (await second.request("status"))["state"] == "idle"
        first.proc.send_signal(signal.SIGKILL)  # no clean exit: the kernel lets go of the lock
        with pytest.raises(EngineDied):
            await first.request("status", timeout=30)
        await second.request("train_start", start)
        assert (await second.request("status"))["state"] == "running"
        await second.request("train_stop")
        assert autosave.exists()
    finally:
        for client in (first, second):
            await asyncio.wait_for(client.close(), 60)
