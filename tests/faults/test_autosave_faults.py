"""Issue 15, item 1 and "Autosave": whatever dies, at most a bounded amount of training is lost.

The engine writes the run's checkpoint every ``autosave_minutes`` of training and when the run
finishes or stops; never a diverged model over a good one; a failing save is an error event and
the run goes on. Driven in-process through the engine's own ops (no subprocess, no sleeps).
"""

from __future__ import annotations

import io
import json
import math
import os

import pytest
import torch

from core import checkpoint
from core.engine import Engine
from core.errors import RequestError
from core.protocol import check_args
from core.run_claim import FolderTaken


def call(engine: Engine, op: str, **args):
    handler, spec = engine.ops[op]
    return handler(
        check_args(op, args, spec) if isinstance(spec, dict) else spec.from_args(op, args)
    )


def events(out: io.StringIO, name: str) -> list[dict]:
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return [m["data"] for m in lines if m.get("event") == name]


@pytest.fixture
def engine(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 60, encoding="utf-8")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = io.StringIO()
    eng = Engine(out)
    call(
        eng,
        "configure",
        preset="mini",
        corpus=str(corpus),
        device="cpu",
        steps=100_000,
        model={"n_embd": 8, "n_hidden": 16, "block_size": 8},
        train={"batch_size": 4, "eval_interval": 0},
    )
    yield eng, out
    torch.set_num_threads(threads)


def train_until(eng: Engine, done, slices: int = 400) -> None:
    for _ in range(slices):
        eng.train_slice()
        if done():
            return
    raise AssertionError("the condition was not reached while training")


def saved_step(path) -> int:
    return checkpoint.load(path)["trainer"]["step"]


def test_a_running_model_is_autosaved_every_interval(engine, tmp_path):
    eng, out = engine
    path = tmp_path / "run" / "checkpoint.pt"
    call(eng, "train_start", autosave_path=str(path), autosave_minutes=0.0005)  # 30 ms
    train_until(eng, lambda: len(events(out, "autosaved")) >= 2)
    first, second = events(out, "autosaved")[:2]
    assert first["path"] == second["path"] == str(path)
    assert 0 < first["step"] < second["step"]
    assert saved_step(path) == events(out, "autosaved")[-1]["step"]
    assert eng.state == "running"


def test_stopping_saves_the_last_step_once(engine, tmp_path):
    eng, out = engine
    path = tmp_path / "checkpoint.pt"
    call(eng, "train_start", autosave_path=str(path), autosave_minutes=60)
    train_until(eng, lambda: eng.session.trainer.step >= 5)
    assert not path.exists()  # an hour has not passed
    call(eng, "train_stop")
    assert saved_step(path) == eng.session.trainer.step
    before = path.stat().st_mtime_ns
    eng.autosave(due=False)  # same step again: nothing written
    assert path.stat().st_mtime_ns == before
    assert len(events(out, "autosaved")) == 1


@pytest.mark.parametrize("how", ["diverged flag", "nan weight"])
def test_a_diverged_model_never_overwrites_the_last_good_checkpoint(engine, tmp_path, how):
    eng, out = engine
    path = tmp_path / "checkpoint.pt"
    call(eng, "train_start", autosave_path=str(path), autosave_minutes=60)
    train_until(eng, lambda: eng.session.trainer.step >= 3)
    call(eng, "train_stop")
    good = path.read_bytes()
    call(eng, "train_start", steps=eng.session.trainer.step + 1000)
    train_until(eng, lambda: eng.session.trainer.step >= 8)
    if how == "diverged flag":
        eng.session.trainer.diverged = "the loss became nan at step 8: training diverged"
    else:
        with torch.no_grad():
            next(eng.session.model.parameters())[0, 0] = math.nan
    eng.autosave(due=False)
    assert path.read_bytes() == good
    assert len(events(out, "autosaved")) == 1


def test_a_failing_autosave_is_reported_and_training_goes_on(engine, tmp_path):
    eng, out = engine
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the run folder should be", encoding="utf-8")
    call(eng, "train_start", autosave_path=str(blocker / "checkpoint.pt"), autosave_minutes=0.0005)
    train_until(eng, lambda: events(out, "error"))
    error = events(out, "error")[0]
    assert error["message"].startswith("autosave failed: cannot create the folder")
    assert str(blocker) in error["message"]
    step = eng.session.trainer.step
    eng.train_slice()
    assert eng.state == "running" and eng.session.trainer.step > step


def test_autosave_off_and_out_of_range(engine, tmp_path):
    eng, out = engine
    path = tmp_path / "checkpoint.pt"
    call(eng, "train_start", autosave_path=str(path), autosave_minutes=0)
    train_until(eng, lambda: eng.session.trainer.step >= 3)
    call(eng, "train_stop")
    assert not path.exists() and not events(out, "autosaved")
    with pytest.raises(RequestError) as info:
        call(eng, "train_start", autosave_minutes=-1)
    assert info.value.message == "train_start: 'autosave_minutes' = -1.0 is out of range"
    assert (
        info.value.hint == "'autosave_minutes' must be minutes in [0, 1440] (0 turns autosave off)"
    )


# -- the engine process: whatever ends it, a run in progress is saved --------------------------

ENGINE_TIMEOUT = 60


async def _training_engine(tmp_path, path):
    from core.client import EngineClient
    from tests.core.engine_helpers import TEXT, collect, is_progress_at, mini

    corpus = tmp_path / "fox.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    client = EngineClient(nice=0, threads=1)
    await client.start(timeout=ENGINE_TIMEOUT)
    await client.request("configure", mini(str(corpus)))
    await client.request(
        "train_start", report_interval=0.05, autosave_path=str(path), autosave_minutes=60
    )
    await collect(client, is_progress_at(20))
    return client


async def _ended(client, timeout: float = 20) -> int:
    import asyncio

    return await asyncio.wait_for(client.proc.wait(), timeout)


@pytest.mark.parametrize("how", ["input closed", "SIGTERM", "SIGHUP"])
async def test_an_engine_that_is_left_or_stopped_saves_its_run(tmp_path, how):
    import signal

    path = tmp_path / "run" / "checkpoint.pt"
    client = await _training_engine(tmp_path, path)
    try:
        assert not path.exists()  # an hour of training has not passed
        if how == "input closed":  # the client died or its terminal closed
            client.proc.stdin.close()
        else:
            client.proc.send_signal(getattr(signal, how))
        assert await _ended(client) == 0
        assert saved_step(path) >= 20
    finally:
        await client.close()


def test_an_engine_busy_in_a_runaway_cell_does_not_outlive_its_client(tmp_path):
    """The client is killed while a cell loops forever: the engine cannot read its end of
    input, so only the kernel's parent-death signal ends it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    parent = (
        "import asyncio, os, signal, sys\n"
        "from core.client import EngineClient\n"
        "async def main():\n"
        "    c = EngineClient(nice=0, threads=1)\n"
        "    await c.start(timeout=60)\n"
        "    await c.proc.stdin.drain()\n"
        '    c.proc.stdin.write(b\'{"id": 1, "op": "exec", "args": {"code": "while True: pass"}}\\n\')\n'
        "    await c.proc.stdin.drain()\n"
        "    await asyncio.sleep(1.0)\n"
        "    print(c.pid, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", parent], capture_output=True, text=True, timeout=ENGINE_TIMEOUT
    )
    engine_pid = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(engine_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(engine_pid, signal.SIGKILL)
    raise AssertionError("the engine outlived its client by 20 s")


# -- the app: autosave beside the saved checkpoint, never over it ---------------------------------


async def test_the_app_autosaves_beside_ctrl_s_and_ctrl_l_restores_the_newer(tmp_path, monkeypatch):
    import os
    from pathlib import Path

    from core.contract import SessionInfo
    from core.errors import EngineError
    from tests.tui.conftest import FakeClient
    from tui.app import TorchdeckApp
    from tui.panes.train_pane import TrainPane

    sent: list[tuple[str, dict]] = []

    class Recording(FakeClient):
        async def send(self, op, args=None, timeout=None, **kwargs):
            sent.append((op, {**(args or {}), **kwargs}))
            if op == "load":  # only the path asked for matters here
                raise EngineError("CheckpointError", "not a real checkpoint")
            return {}

    monkeypatch.chdir(tmp_path)
    info = SessionInfo.from_dict(
        {
            "preset": "mini",
            "device": "cpu",
            "train_config": {"lr": 0.01, "batch_size": 8, "steps": 1000, "seed": 1},
            "model_config": {"block_size": 16},
            "step": 0,
            "steps": 1000,
        }
    )
    app = TorchdeckApp(client=Recording(), autosave_minutes=2.5)
    async with app.run_test(size=(100, 30)) as pilot:
        app.model_configured(info)
        pane = app.query_one(TrainPane)
        pane.focus()
        await pilot.press("s")
        await pilot.pause()
        start = next(args for op, args in sent if op == "train_start")
        assert start["autosave_path"] == str(Path("runs/torchdeck/autosave.pt"))
        assert start["autosave_path"] != pane.checkpoint_path  # ctrl+s's file is never touched
        assert start["autosave_minutes"] == 2.5
        saved, auto = Path(pane.checkpoint_path), Path(pane.autosave_path)
        saved.parent.mkdir(parents=True)
        saved.write_bytes(b"saved")
        auto.write_bytes(b"autosaved")
        for newer, older in ((auto, saved), (saved, auto)):
            os.utime(older, (1_000, 1_000))
            os.utime(newer, (2_000, 2_000))
            await pane.load_latest()
            assert [args for op, args in sent if op == "load"][-1]["path"] == str(newer)


def test_a_second_engine_is_refused_the_folder_another_autosaves_into(engine, tmp_path):
    """Two engines autosaving into one folder would write over each other's checkpoint: the
    second is refused when it starts training, and nothing of its run changes."""
    eng, _out = engine
    path = tmp_path / "run" / "autosave.pt"
    call(eng, "train_start", autosave_path=str(path), autosave_minutes=60)
    train_until(eng, lambda: eng.session.trainer.step >= 3)
    other = Engine(io.StringIO())
    call(other, "configure", preset="mini", corpus=str(tmp_path / "corpus.txt"), device="cpu")
    with pytest.raises(FolderTaken) as info:
        call(other, "train_start", autosave_path=str(path), autosave_minutes=5)
    me = str(os.getpid())  # an engine without a socket is named by its pid
    assert info.value.message == (
        f"engine {me} autosaves its run in {path.parent}; a second run here would write over "
        "its checkpoint"
    )
    assert f"torchdeck attach {me} shows that run" in info.value.hint
    assert other.state == "idle" and other.autosave_path is None
    call(other, "train_start", autosave_path=str(tmp_path / "mine" / "a.pt"), autosave_minutes=5)
    assert other.state == "running"  # another folder is free
    call(other, "train_stop")
    call(eng, "train_stop")  # the first engine's run is its own, saved where it was
    assert saved_step(path) == eng.session.trainer.step
    eng.folder_claim.release()  # as the kernel does when the engine's process ends
    third = Engine(io.StringIO())
    call(third, "configure", preset="mini", corpus=str(tmp_path / "corpus.txt"), device="cpu")
    call(third, "train_start", autosave_path=str(path), autosave_minutes=5)
    assert third.state == "running"
    call(third, "train_stop")
