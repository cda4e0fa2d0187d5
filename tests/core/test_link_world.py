"""``EngineInfo.world_size`` (what ``torchdeck ls`` shows of a torchrun job), in process: the
session's trainer's ranks, the engine's ``dist`` before a model, 1 for one process; an older
engine's info, without the field, reads as one process."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.contract import EngineInfo, SessionInfo
from core.engine import Engine


def session(world: int) -> SimpleNamespace:
    info = SessionInfo(preset="mini", device="cpu", steps=300, world_size=world)
    trainer = SimpleNamespace(world=world, step=12, val_history=SimpleNamespace(values=[]))
    return SimpleNamespace(describe=lambda: info, trainer=trainer)


@pytest.fixture
def eng():
    return Engine(None)


def test_one_process_is_a_world_of_one(eng):
    assert eng.engine_info().world_size == 1
    eng.session = session(1)
    assert eng.engine_info().world_size == 1


def test_a_job_says_its_ranks_with_a_model_and_before_one(eng):
    eng.dist = SimpleNamespace(world_size=4)  # rank 0 of a job, no model yet
    assert eng.engine_info().world_size == 4
    eng.session = session(2)
    info = eng.engine_info()
    assert (info.world_size, info.device, info.step) == (2, "cpu", 12)
    assert info.to_dict()["world_size"] == 2


def test_an_older_engines_info_reads_as_one_process():
    old = {k: v for k, v in EngineInfo(id="123", device="cpu").to_dict().items()}
    del old["world_size"]
    assert EngineInfo.parse(old).world_size == 1
