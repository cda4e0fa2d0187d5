"""Shared fixtures for the core tests: tiny corpora, tiny model sizes, sessions on the CPU.

Helpers are handed out as fixtures (never imported from this file), so that this conftest can
sit beside others without ``import conftest`` picking the wrong one.
"""

from __future__ import annotations

import pytest
import torch

from core.session import RunSpec, Session

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
        return Session.create(RunSpec(preset=preset,
                                      corpus=None if corpus is None else str(corpus),
                                      device="cpu", model=model_settings,
                                      train=train_settings))

    return make
