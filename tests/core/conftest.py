"""Shared fixtures for the core tests: tiny corpora, tiny model sizes, sessions on the CPU, and
real engine processes driven through core.client.EngineClient.

Helpers are handed out as fixtures (never imported from this file), so that this conftest can
sit beside others without ``import conftest`` picking the wrong one. The engine tests' plain
helpers live in tests/core/engine_helpers.py.

The engine fixtures are module-scoped: each test file that uses them starts its own engine
(starting one imports torch, ~1.5 s) and shares it across its tests, on the module's event loop.
"""

from __future__ import annotations

import contextlib
import sys

import pytest
import pytest_asyncio
import torch

from core.client import EngineClient
from core.errors import EngineDied
from core.session import RunSpec, Session
from tests.core.engine_helpers import EVENT_TIMEOUT, TEXT

# A short, very repetitive corpus: the models can learn it within a few hundred steps.
REPETITIVE_TEXT = "the cat sat on the mat. " * 60

# Model sizes small enough that a step takes a millisecond or two on a laptop CPU.
TINY_MODEL: dict[str, dict] = {
    "mini": {"n_embd": 16, "n_hidden": 32, "block_size": 16},
    "mlp": {"context": 4, "n_embd": 8, "n_hidden": 64, "block_size": 16},
    "gpt": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 16},
}


@pytest.fixture(autouse=True)
def _seed_everything():
    """Every test starts from the same global RNG state, whatever ran before it."""
    torch.manual_seed(0)
    yield


@pytest.fixture
def single_thread():
    """One intra-op thread while a test runs: the models are tiny, and on a small, busy machine
    OpenMP threads waiting for each other make every op many times slower. Restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def repetitive_text() -> str:
    return REPETITIVE_TEXT


@pytest.fixture
def tiny_model() -> dict[str, dict]:
    return {k: dict(v) for k, v in TINY_MODEL.items()}


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(REPETITIVE_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def make_session():
    """Factory: a CPU session with the tiny sizes for ``preset`` and small batches.

    ``make_session(preset, corpus, model={...}, **train_settings)``
    """

    def make(preset: str, corpus=None, model: dict | None = None, **train) -> Session:
        train_settings = {"eval_interval": 0, **train}
        if preset != "parabola":
            train_settings = {"batch_size": 8, **train_settings}
        model_settings = {**TINY_MODEL.get(preset, {}), **(model or {})}
        return Session.create(
            RunSpec(
                preset=preset,
                corpus=None if corpus is None else str(corpus),
                device="cpu",
                model=model_settings,
                train=train_settings,
            )
        )

    return make


@pytest.fixture
def text_loss():
    """An oracle for a text's loss: a second, separate forward pass of the model's own
    ``forward(x, targets)`` (nats per character; None under two characters)."""

    def loss_of(model, ids: list[int], device) -> float | None:
        if len(ids) < 2:
            return None
        was_training = model.training
        model.eval()
        try:
            x = torch.tensor([ids[:-1]], dtype=torch.long, device=device)
            y = torch.tensor([ids[1:]], dtype=torch.long, device=device)
            with torch.no_grad():
                return float(model(x, y)[1])
        finally:
            model.train(was_training)

    return loss_of


# -- real engine processes -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("corpus") / "fox.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_engine():
    client = EngineClient(nice=0, threads=1)
    await client.start(timeout=60)
    yield client
    await client.close()


@pytest_asyncio.fixture(loop_scope="module")
async def engine(shared_engine):
    """The shared engine, with old events drained; training is stopped after the test."""
    client = shared_engine
    if not client.running:  # a failed test killed it; do not fail every test after it
        await client.restart(timeout=60)
    client.drain_events()
    yield client
    with contextlib.suppress(EngineDied):  # a test that killed it has failed already
        state = (await client.request("status", timeout=EVENT_TIMEOUT))["state"]
        if state in ("running", "paused"):
            await client.request("train_stop", timeout=EVENT_TIMEOUT)
    client.drain_events()


@pytest_asyncio.fixture(loop_scope="module")
async def fresh_engine():
    """An engine of its own, for tests that close, kill or corrupt it."""
    client = EngineClient(nice=0, threads=1)
    await client.start(timeout=60)
    yield client
    await client.close()


# An engine whose ops print to stdout the way careless library code does: through print(),
# through sys.stdout and straight to file descriptor 1.
NOISY_ENGINE = r"""
import os, sys
from core import engine

def noisy(op, handler):
    def wrapper(args):
        print("LIBRARY NOISE via print in", op)
        sys.stdout.write("LIBRARY NOISE via sys.stdout\n")
        sys.stdout.flush()
        os.write(1, b"LIBRARY NOISE via fd 1\n")
        return handler(args)
    return wrapper

_init = engine.Engine.__init__

def init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    for op in ("status", "configure"):
        handler, spec = self.ops[op]
        self.ops[op] = (noisy("op_" + op, handler), spec)

engine.Engine.__init__ = init
sys.exit(engine.main(["--nice", "0", "--threads", "1"]))
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def noisy_engine_process():
    client = EngineClient([sys.executable, "-c", NOISY_ENGINE])
    await client.start(timeout=60)
    yield client
    await client.close()


@pytest_asyncio.fixture(loop_scope="module")
async def noisy_engine(noisy_engine_process):
    """The noisy engine, started again if a test before killed it."""
    client = noisy_engine_process
    if not client.running:
        await client.restart(timeout=60)
    client.drain_events()
    return client


@pytest.fixture
def gpt(corpus_file, make_session):
    """A gpt session trained 20 steps: 2 layers × 2 heads (the explain tests)."""
    from tests.core.explain_helpers import _trained

    return _trained(make_session, corpus_file, "gpt", n_layer=2)
