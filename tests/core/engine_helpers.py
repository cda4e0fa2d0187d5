"""Helpers for the tests that drive a real engine process through core.client.EngineClient
(test_engine.py, test_train_ops.py, test_predict_ops.py, test_client.py). The engines themselves
are fixtures in tests/core/conftest.py."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest

from core.client import EngineClient
from core.protocol import Event

TEXT = "the quick brown fox jumps over the lazy dog. " * 100  # 4,500 chars, 28 distinct
EVENT_TIMEOUT = 30.0  # generous: the box has 2 cores and the engine runs beside pytest


def mini(corpus: str, **overrides) -> dict:
    conf = {
        "preset": "mini",
        "corpus": corpus,
        "device": "cpu",
        "block_size": 16,
        "batch_size": 8,
        "model": {"n_embd": 8, "n_hidden": 16},
        "steps": 1_000_000,
    }
    conf.update(overrides)
    return conf


async def collect(client: EngineClient, until, timeout: float = EVENT_TIMEOUT) -> list[Event]:
    """Every event up to and including the first one for which ``until(event)`` is true."""
    events: list[Event] = []

    async def run():
        while True:
            ev = await client.next_event()
            events.append(ev)
            if until(ev):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except (asyncio.TimeoutError, TimeoutError):
        pytest.fail(
            f"no matching event within {timeout} s; got {[e.event for e in events]}; "
            f"engine stderr:\n{client.stderr_text()}"
        )
    return events


def is_progress_at(step: int):
    return lambda ev: ev.event == "train_progress" and ev.data["step"] >= step


def is_state(state: str):
    return lambda ev: ev.event == "train_state" and ev.data["state"] == state


async def stderr_with(client: EngineClient, text: str) -> str:
    """The client's stderr tail once it holds ``text`` (the stderr reader runs on its own)."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    while text not in client.stderr_text():
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} never reached stderr:\n{client.stderr_text()}")
        await asyncio.sleep(0.02)
    return client.stderr_text()


def read_as_nobody(path: str, timeout: float = 30.0) -> bytes:
    """Connect to ``path`` from a child running as nobody (uid 65534; the caller must be root);
    what it read up to end of input."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nothing but system calls, then _exit
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(path)
            while chunk := sock.recv(65536):
                os.write(w, chunk)
        except BaseException as exc:  # reported to the parent
            os.write(w, f"child failed: {exc!r}".encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return data


def wait_for(check, timeout: float, what: str, every: float = 0.1):
    """``check()``'s first true value, polled every ``every`` seconds; AssertionError naming
    ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


# what a connection from another user reads before the engine closes it
REFUSAL = {
    "event": "error",
    "data": {
        "type": "PermissionError",
        "message": "this engine belongs to another user",
        "hint": "",
    },
}
