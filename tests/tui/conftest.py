"""Helpers for the app tests: a real-engine app factory, detached engines that never outlive
their test, a fake engine for snapshots, waits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import pytest

from core.client import EngineClient
from tui.app import TorchdeckApp

CORPUS_TEXT = (
    "the quick brown fox jumps over the lazy dog. " * 60
    + "to be or not to be, that is the question. " * 60
)


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path, monkeypatch):
    """Every app test works in its own folder: what a run writes (runs/PRESET-TIME/metrics.jsonl,
    runs/torchdeck/autosave.pt) lands there, never in the checkout; the lessons' saved progress
    too, never in the user's state folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCHDECK_STATE_DIR", str(tmp_path / "state"))


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

    async def send(self, op, args=None, timeout=None, **kwargs):
        return {}

    async def close(self, timeout: float = 5.0, shutdown: bool | None = None):
        return 0


def real_app(corpus: str, preset: str = "mini", settings: dict | None = None) -> TorchdeckApp:
    return TorchdeckApp(
        preset=preset,
        corpus=corpus,
        device="cpu",
        settings=settings,
        client=EngineClient(nice=0, threads=1),
    )


def _gone(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # a child of this process, reaped
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def detached(tmp_path, monkeypatch):
    """``await detached()`` starts a detached engine (sockets in tmp_path/rt, its log and every
    relative path it writes under tmp_path, which becomes the working folder) and returns its
    socket path; ``detached.spawn`` is the same, for ``EngineClient(spawn=...)``. Every engine
    a test started, by either, is ended when the test ends: SIGTERM, then SIGKILL. Engines exit
    on their own after 120 s with no client and no run, should this process itself be killed."""
    from core.runtime import engine_id_of
    from core.transport import spawn_detached

    monkeypatch.setenv("TORCHDECK_RUNTIME_DIR", str(tmp_path / "rt"))
    monkeypatch.chdir(tmp_path)
    pids: list[int] = []

    async def spawn():
        path = await spawn_detached(0, 1, run_dir=str(tmp_path / "run"), idle_timeout=120)
        pids.append(int(engine_id_of(path)))
        return path

    async def start() -> str:
        return str(await spawn())

    start.spawn = spawn
    start.pids = pids
    try:
        yield start
    finally:
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        for pid in pids:
            if not wait_gone(pid, 10):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                wait_gone(pid, 5)


def screen_lines(app) -> list[str]:
    """The screen's rows of text as a person sees them (what the compositor draws)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]
