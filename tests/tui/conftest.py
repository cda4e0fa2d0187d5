"""Helpers for the app tests: a real-engine app factory, a fake engine for snapshots, waits."""

from __future__ import annotations

import asyncio
import time

import pytest

from core.client import EngineClient
from tui.app import TorchdeckApp

CORPUS_TEXT = (
    "the quick brown fox jumps over the lazy dog. " * 60
    + "to be or not to be, that is the question. " * 60
)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS_TEXT, encoding="utf-8")
    return str(path)


async def wait_for(pilot, condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def wait_configured(pilot, timeout: float = 60.0) -> None:
    """Until the real engine is ready and the app has configured its first model."""
    from tui.widgets.status_bar import StatusBar

    status = pilot.app.query_one(StatusBar)
    await wait_for(
        pilot,
        lambda: status.state == "ready" and status.steps > 0,
        timeout,
        "engine ready and configured",
    )


class FakeClient(EngineClient):
    """An engine client that starts nothing: snapshot tests feed the app fixed data."""

    async def start(self, wait_ready: bool = True, timeout: float = 120.0):
        return None

    async def events(self):
        while True:
            await asyncio.sleep(3600)
            yield  # pragma: no cover

    async def request(self, op, args=None, timeout=None, **kwargs):
        return {}

    async def close(self, timeout: float = 5.0):
        return 0


def real_app(corpus: str, preset: str = "mini") -> TorchdeckApp:
    return TorchdeckApp(
        preset=preset, corpus=corpus, device="cpu", client=EngineClient(nice=0, threads=1)
    )
