"""What a person sees when a job of several processes goes wrong: a rank killed mid-run is
named and the job ends (rank 0 saves its last whole step) instead of hanging; settings that
cannot work are refused in one sentence before anything starts; an attached client's pause,
resume and stop reach every rank."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from core import checkpoint, runtime
from core.client import EngineClient

pytestmark = pytest.mark.slow


def ranks_of(mark: str) -> dict[str, int]:
    """The job's engines, found by the mark in their environment: {"leader"|"follower": pid}."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"TORCHDECK_TEST_MARK={mark}".encode() not in environ:
            continue
        if b"core.engine_main" in argv or b"core.engine" in argv:
            found["leader" if b"--serve" in argv else "follower"] = int(entry.name)
    return found


def start(base: Path, train_argv, dist_env, *extra: str) -> tuple[subprocess.Popen, str]:
    mark = uuid.uuid4().hex
    env = {**dist_env(), "TORCHDECK_TEST_MARK": mark, "TORCHDECK_RUNTIME_DIR": str(base / "rt")}
    argv = train_argv(base, base / "run", "--nproc-per-node", "2", *extra)
    proc = subprocess.Popen(
        argv, cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return proc, mark


def wait_training(base: Path, proc: subprocess.Popen, mark: str) -> dict[str, int]:
    deadline = time.monotonic() + 90
    while True:
        ranks = ranks_of(mark)
        metrics = base / "run" / "metrics.jsonl"
        if len(ranks) == 2 and metrics.exists() and metrics.stat().st_size > 0:
            return ranks
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the job did not start training"
        time.sleep(0.1)


def test_a_killed_rank_ends_the_job_and_is_named(tmp_path, train_argv, dist_env):
    proc, mark = start(tmp_path, train_argv, dist_env, "--steps", "1000000")
    try:
        follower = wait_training(tmp_path, proc, mark)["follower"]
        os.kill(follower, signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)  # not a hang: well inside the job's timeout
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out
    assert f"rank 1 (pid {follower}) died" in out
    assert f"rank 1 (local rank 1, pid {follower}) was killed by SIGKILL" in out
    assert "checkpoint saved to" in out  # its last whole step (it may be SIGTERM that saves)
    saved = checkpoint.load(tmp_path / "run" / "checkpoint.pt")["trainer"]["step"]
    assert saved > 0
    assert ranks_of(mark) == {}  # nothing left behind


def test_pause_resume_and_stop_from_an_attached_client_reach_every_rank(
    tmp_path, train_argv, dist_env
):
    proc, mark = start(tmp_path, train_argv, dist_env, "--steps", "1000000")
    try:
        ranks = wait_training(tmp_path, proc, mark)

        async def drive() -> tuple[int, int, int]:
            os.environ["TORCHDECK_RUNTIME_DIR"] = str(tmp_path / "rt")
            client = EngineClient(socket_path=str(runtime.resolve(None)))
            await client.start()
            try:
                status = await client.call("status")
                assert status.session.world_size == 2
                paused = await client.call("train_pause")
                await asyncio.sleep(0.5)
                still = (await client.call("status")).session.step
                assert still == paused.step  # every rank stopped: no step while paused
                await client.call("train_resume")
                await asyncio.sleep(1.0)
                moved = (await client.call("status")).session.step
                stopped = await client.call("train_stop")
                return paused.step, moved, stopped.step
            finally:
                await client.close()

        paused, moved, stopped = asyncio.run(drive())
        assert moved > paused  # resumed on every rank: a step needs them all
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert f"paused by an attached client at step {paused}" in out
    assert f"stopped by another client at step {stopped}" in out
    assert checkpoint.load(tmp_path / "run" / "checkpoint.pt")["trainer"]["step"] == stopped
    deadline = time.monotonic() + 20
    while ranks_of(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ranks_of(mark) == {}, ranks  # the follower ended with rank 0


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (("--nproc-per-node", "0"), "--nproc-per-node: 0"),
        (
            ("--nproc-per-node", "2", "--device", "mps"),
            "error: --device mps has one device per machine, so it cannot take 2 processes",
        ),
        (
            ("--nproc-per-node", "2", "--nnodes", "2"),
            "error: --nnodes 2 needs --rdzv-endpoint HOST:PORT",
        ),
        (
            (
                "--nproc-per-node",
                "2",
                "--nnodes",
                "2",
                "--node-rank",
                "2",
                "--rdzv-endpoint",
                "127.0.0.1:1",
            ),
            "error: --node-rank 2 is not below --nnodes 2",
        ),
        (
            ("--nproc", "2", "--grad-accum", "3"),
            "error: --grad-accum 3 does not split evenly over 2 processes",
        ),
    ],
)
def test_settings_that_cannot_work_are_refused_in_a_sentence(tmp_path, run_train, extra, words):
    result = run_train(tmp_path, tmp_path / "run", "--steps", "5", *extra)
    assert result.returncode == 2
    assert words in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "torchrun" not in result.stdout + result.stderr  # refused before it starts
    assert not (tmp_path / "run").exists()


def test_the_parabola_is_refused_on_two_ranks(tmp_path, run_cli):
    result = run_cli(
        "train",
        "--preset",
        "parabola",
        "--nproc-per-node",
        "2",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "run"),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "error: the parabola preset has no data to split over processes" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_two_machines_meet_at_the_rendezvous_and_node_0_holds_the_run(
    tmp_path, train_argv, dist_env
):
    """Two "machines" (one process each, on this host): --nnodes, --node-rank and
    --rdzv-endpoint go to torchrun; node 0 prints the run and writes it, node 1 says it
    follows."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for node in (0, 1):
        flags = ("--nnodes", "2", "--node-rank", str(node), "--rdzv-endpoint", f"127.0.0.1:{port}")
        argv = train_argv(tmp_path, tmp_path / "run", "--steps", "20", "--nproc-per-node", "1",
                          *flags)
        procs.append(subprocess.Popen(argv, cwd=tmp_path, env=dist_env(), text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert "cpu × 2 processes" in outs[0][0] and "done: step 20" in outs[0][0]
    assert outs[1][0] == ""
    assert "rank 1 of 2 follow rank 0" in outs[1][1]
    assert checkpoint.load(tmp_path / "run" / "checkpoint.pt")["trainer"]["step"] == 20


def test_a_rank_that_hangs_ends_the_job_after_the_timeout_and_is_named(
    tmp_path, train_argv, dist_env
):
    proc, mark = start(
        tmp_path, train_argv, dist_env, "--steps", "1000000", "--dist-timeout", "3"
    )
    follower = None
    try:
        follower = wait_training(tmp_path, proc, mark)["follower"]
        os.kill(follower, signal.SIGSTOP)  # alive, holding its connections, answering nothing
        lines = []
        deadline = time.monotonic() + 60
        while not any("stopped answering" in line for line in lines):
            assert time.monotonic() < deadline, "".join(lines)
            lines.append(proc.stdout.readline())
        os.kill(follower, signal.SIGCONT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if follower is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(follower, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
    said = "".join(lines)
    assert f"rank 1 (pid {follower} on " in said
    assert "stopped answering (no heartbeat for 3 s; stopped, or stuck); the job waited 3 s" in said
    assert proc.returncode == 1
    assert "checkpoint saved to" in said + out


def test_ctrl_c_pressed_three_times_saves_once_and_leaves_nothing_behind(
    tmp_path, train_argv, dist_env
):
    """The terminal's Ctrl-C reaches the launcher's process group only: the first goes to
    torchrun, which passes it on; quick repeats (a double press) must not cut torchrun's
    clean-up short, which would leave the ranks running with no one to stop them."""
    mark = uuid.uuid4().hex
    env = {**dist_env(), "TORCHDECK_TEST_MARK": mark, "TORCHDECK_RUNTIME_DIR": str(tmp_path / "rt")}
    argv = train_argv(tmp_path, tmp_path / "run", "--nproc-per-node", "2", "--steps", "1000000")
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,  # its own group, as a terminal's foreground job
    )
    try:
        wait_training(tmp_path, proc, mark)
        for _ in range(3):
            os.killpg(proc.pid, signal.SIGINT)
            time.sleep(0.2)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert out.count("interrupted: checkpoint saved to") == 1
    assert "stopping: rank 0 saves the run" in out
    assert "ended at once" not in out
    deadline = time.monotonic() + 20
    while ranks_of(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ranks_of(mark) == {}
