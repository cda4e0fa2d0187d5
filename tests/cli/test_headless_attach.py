"""A headless ``torchdeck train`` serves its engine's socket: a client attaches to the live run,
sees its history, pauses it, steps it by hand, predicts and samples on the live weights, resumes
it and stops it; the run's own output stays plain one-line text and names what the attached
client did; ``torchdeck ls`` lists it and ``torchdeck stop`` ends it with its checkpoint."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time

import pytest

from core import runtime
from core.client import EngineClient
from core.contract import AttachArgs, GenerateArgs, PredictArgs

pytestmark = pytest.mark.slow


@pytest.fixture
def headless(tmp_path, monkeypatch, cli_command, cli_env):
    """A long ``mini`` run under ``torchdeck train``, its socket in a folder of its own."""
    monkeypatch.setenv("TORCHDECK_RUNTIME_DIR", str(tmp_path / "rt"))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 200, encoding="utf-8")
    env = {**cli_env(), "TORCHDECK_RUNTIME_DIR": str(tmp_path / "rt")}
    proc = subprocess.Popen(
        [
            *cli_command,
            "train",
            "--preset",
            "mini",
            "--steps",
            "1000000",
            "--corpus",
            str(corpus),
            "--out",
            str(tmp_path / "run"),
            "--threads",
            "1",
            "--report-every",
            "0.2",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "rt").exists() or not runtime.live_sockets():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the headless engine opened no socket"
            time.sleep(0.1)
        yield proc, env
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def _drive(path: str) -> dict:
    client = EngineClient(socket_path=path)
    await client.start(timeout=60)
    seen: dict = {"engine": client.info}
    try:
        deadline = time.monotonic() + 60
        while (await client.request("status"))["engine"]["step"] < 30:
            assert time.monotonic() < deadline, "the run did not train"
            await asyncio.sleep(0.1)
        attached = await client.call(AttachArgs(points=0))
        seen["state"] = attached.state
        seen["first_step"] = attached.session.history["train"]["steps"][0]
        seen["paused"] = await client.request("train_pause")
        seen["stepped"] = await client.request("train_step")
        seen["predict"] = await client.call(PredictArgs(text="the c"))
        seen["sample"] = await client.call(GenerateArgs(prompt="the ", max_new=20, seed=1))
        seen["resumed"] = await client.request("train_resume")
        await asyncio.sleep(0.5)
        seen["stopped"] = await client.request("train_stop")
    finally:
        await client.close()
    return seen


def test_a_headless_run_is_attached_paused_stepped_predicted_and_stopped(headless):
    proc, env = headless
    path = runtime.resolve(None)
    seen = asyncio.run(_drive(str(path)))
    assert seen["engine"]["detached"] is False  # owned by its train process
    assert seen["state"] == "running" and seen["first_step"] == 1
    paused_at = seen["paused"]["step"]
    assert seen["paused"]["state"] == "paused"
    assert seen["stepped"]["step"] == paused_at + 1  # one step by hand, on the live run
    assert seen["predict"].step == paused_at + 1
    assert abs(sum(t.prob for t in seen["predict"].top) - 1) < 0.5  # the top of a softmax
    assert len(seen["sample"].text) == 20
    assert seen["resumed"]["state"] == "running"
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "\x1b" not in out and "\r" not in out  # plain text for a log file
    lines = out.splitlines()
    assert f"paused by an attached client at step {paused_at}" in lines
    assert any(line.startswith("resumed by an attached client at step") for line in lines)
    assert any(line.startswith("stopped by another client at step") for line in lines)
    assert lines[-1].startswith("done: step ") and "checkpoint" in lines[-1]
    assert runtime.live_sockets() == []  # the engine ended with its run


def test_ls_lists_a_headless_run_and_stop_ends_it(headless, tmp_path, cli_command):
    proc, env = headless
    deadline = time.monotonic() + 60
    while True:  # its socket opens before its model is built: wait for the run itself
        ls = subprocess.run(
            [*cli_command, "ls", "--json"], env=env, capture_output=True, text=True, timeout=60
        )
        assert ls.returncode == 0, ls.stderr
        (engine,) = json.loads(ls.stdout)
        if engine["state"] == "running" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert engine["preset"] == "mini" and engine["state"] == "running"
    assert engine["run_dir"] == str((tmp_path / "run").resolve())
    assert engine["clients"] == 1  # its train process; ls itself is not counted
    table = subprocess.run(
        [*cli_command, "ls"], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    assert table.splitlines()[0].split() == [
        "ID", "MODEL", "DEVICE", "STATE", "STEP", "TRAIN", "VAL", "TOK/S", "VRAM",
        "STARTED",
    ]  # fmt: skip
    assert f"headless (owned by its train process) · run {engine['run_dir']}" in table
    stop = subprocess.run(
        [*cli_command, "stop", engine["id"]], env=env, capture_output=True, text=True, timeout=120
    )
    assert stop.returncode == 0, stop.stderr
    assert f"engine {engine['id']}: run stopped at step" in stop.stdout
    assert f"checkpoint saved to {tmp_path / 'run' / 'checkpoint.pt'}" in stop.stdout
    assert proc.wait(timeout=120) == 0
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert os.path.exists(tmp_path / "run" / "metrics.jsonl")


def test_stop_and_attach_with_no_engine_say_so(tmp_path, monkeypatch, cli_command, cli_env):
    env = {**cli_env(), "TORCHDECK_RUNTIME_DIR": str(tmp_path / "rt")}
    for command in (["stop"], ["attach"], ["stop", "123"]):
        out = subprocess.run(
            [*cli_command, *command], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 3
        assert out.stderr.startswith("error: no torchdeck engine is running here\nhint: ")


async def _stop_then_reset(path: str) -> int:
    client = EngineClient(socket_path=path)
    await client.start(timeout=60)
    try:
        deadline = time.monotonic() + 60
        while (await client.request("status"))["engine"]["step"] < 20:
            assert time.monotonic() < deadline, "the run did not train"
            await asyncio.sleep(0.1)
        stopped = client.call_now("train_stop")  # both written at once, as a script would
        reset = client.call_now("reset")
        step = (await stopped).step
        await reset
    finally:
        await client.close()
    return step


def test_a_reset_sent_right_after_a_stop_does_not_replace_the_runs_checkpoint(headless, tmp_path):
    """The run's own save came after the other client's reset and wrote the fresh model over
    the stopped run's checkpoint: the engine's save at the stop is the run's checkpoint."""
    proc, _env = headless
    (path,) = runtime.live_sockets()
    step = asyncio.run(_stop_then_reset(str(path)))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"stopped by another client at step {step}" in out
    from core import checkpoint

    assert checkpoint.load(tmp_path / "run" / "checkpoint.pt")["trainer"]["step"] == step > 0
