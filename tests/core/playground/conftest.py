"""Fixtures for the playground tests (core/playground/ and core/playground_recipes.py): a fresh
Playground on one thread, and ``run_ok`` to run a cell that must not fail. The tiny corpora and
sessions come from tests/core/conftest.py."""

from __future__ import annotations

import pytest

from core.playground import Playground


@pytest.fixture
def pg(single_thread):
    return Playground()


@pytest.fixture
def run_ok():
    """``run_ok(pg, code)``: run the cell, assert it raised nothing, return its result."""

    def run(pg: Playground, code: str) -> dict:
        res = pg.run(code)
        assert res["error"] is None, res["error"]
        return res

    return run
