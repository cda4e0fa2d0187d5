"""One job, seen and changed from outside: a playground cell that changes rank 0's weights
changes every rank's; a second ``train`` into the same folder is refused while the job lives;
a checkpoint trained with --grad-accum resumes on another number of processes."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import time

import pytest

from core import checkpoint, runtime
from core.client import EngineClient
from core.contract import TrainStartArgs
from core.contract.lab import ExecArgs

pytestmark = pytest.mark.slow


def start_job(base, train_argv, dist_env, *extra):
    env = {**dist_env(), "TORCHDECK_RUNTIME_DIR": str(base / "rt")}
    argv = train_argv(base, base / "run", "--nproc-per-node", "2", "--steps", "1000000", *extra)
    proc = subprocess.Popen(
        argv, cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 90
    metrics = base / "run" / "metrics.jsonl"
    while not (metrics.exists() and metrics.stat().st_size):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the job did not start training"
        time.sleep(0.1)
    return proc, env


def stop(proc) -> str:
    if proc.poll() is None:
        proc.send_signal(2)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return out


def test_a_cell_that_changes_the_weights_changes_them_on_every_rank(
    tmp_path, train_argv, dist_env, monkeypatch
):
    proc, env = start_job(tmp_path, train_argv, dist_env)
    monkeypatch.setenv("TORCHDECK_RUNTIME_DIR", env["TORCHDECK_RUNTIME_DIR"])

    async def drive():
        client = EngineClient(socket_path=str(runtime.resolve(None)))
        await client.start()
        try:
            vocab = (await client.call("status")).session.vocab_size
            await client.call("train_pause")
            client.drain_events()
            cell = "for p in model.parameters():\n    p.data.zero_()"
            result = await client.call(ExecArgs(cell))
            assert result.error is None, result
            await client.call("train_step")  # a step every rank takes: its loss is their mean
            for _ in range(50):
                ev = await client.next_event(timeout=10)
                if ev.event == "train_progress":
                    return vocab, ev.data["losses"][-1]
            raise AssertionError("no report after the step")
        finally:
            await client.close()

    try:
        vocab, loss = asyncio.run(drive())
    finally:
        stop(proc)
    # zero weights predict the uniform distribution on every rank: the mean loss is ln(V)
    # (rank 1 untouched would give (ln V + its trained loss) / 2)
    assert loss == pytest.approx(math.log(vocab), rel=1e-5)


def test_a_second_train_into_the_folder_of_a_live_job_is_refused(
    tmp_path, train_argv, dist_env, run_cli, monkeypatch
):
    proc, env = start_job(tmp_path, train_argv, dist_env)
    try:
        monkeypatch.setenv("TORCHDECK_RUNTIME_DIR", env["TORCHDECK_RUNTIME_DIR"])
        second = subprocess.run(
            train_argv(tmp_path, tmp_path / "run", "--steps", "10"),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        out = stop(proc)
    assert second.returncode == 2, second.stdout + second.stderr
    assert "is training in" in second.stderr and "torchdeck attach" in second.stderr
    assert "interrupted: checkpoint saved" in out


def test_a_grad_accum_run_resumes_on_another_number_of_processes(tmp_path, run_train):
    first = run_train(tmp_path, tmp_path / "a", "--steps", "4", "--grad-accum", "2")
    assert first.returncode == 0, first.stdout + first.stderr
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    # the saved grad_accum 2 does not split over 4 processes: the new one goes with the load
    four = run_train(
        tmp_path, tmp_path / "b", "--resume", "--steps", "6", "--nproc-per-node", "4",
        "--grad-accum", "4", "--batch-size", "16",
    )
    assert four.returncode == 0, four.stdout + four.stderr
    assert "resuming mini from step 4 to 6" in four.stdout
    assert "cpu × 4 processes" in four.stdout
    assert checkpoint.load(tmp_path / "b" / "checkpoint.pt")["trainer"]["step"] == 6
    assert os.path.exists(tmp_path / "b" / "metrics.jsonl")


def test_machines_that_read_different_texts_are_told_so_not_left_hanging(
    tmp_path, dist_env
):
    """Two "machines" (one process each, on this host), each in its own folder, given the
    same relative corpus path that names two different files there."""
    import socket
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for node, text in ((0, "the cat sat on the mat. " * 80), (1, "a dog, a log; a frog! " * 90)):
        folder = tmp_path / f"node{node}"
        folder.mkdir()
        (folder / "corpus.txt").write_text(text, encoding="utf-8")
        argv = [
            sys.executable, "-m", "cli.main", "train", "--preset", "mini", "--device", "cpu",
            "--threads", "1", "--corpus", "corpus.txt", "--out", "run", "--steps", "20",
            "--nproc-per-node", "1", "--nnodes", "2", "--node-rank", str(node),
            "--rdzv-endpoint", f"127.0.0.1:{port}",
        ]
        procs.append(subprocess.Popen(argv, cwd=folder, env=dist_env(), text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    started = time.monotonic()
    outs = [p.communicate(timeout=100) for p in procs]
    assert time.monotonic() - started < 60  # not the 120 s collective timeout
    said = outs[0][1]
    assert procs[0].returncode == 2, outs
    assert "error: configure failed on rank 1: it holds " in said
    assert "where rank 0 holds " in said and "the same corpus file on every machine?" in said
    assert "Traceback" not in said and "frame #" not in outs[1][1]
    assert not (tmp_path / "node0" / "run" / "checkpoint.pt").exists()


def test_an_attached_app_starting_the_run_again_keeps_its_checkpoint_in_the_run_folder(
    tmp_path, train_argv, dist_env, monkeypatch
):
    proc, env = start_job(tmp_path, train_argv, dist_env)
    monkeypatch.setenv("TORCHDECK_RUNTIME_DIR", env["TORCHDECK_RUNTIME_DIR"])
    elsewhere = tmp_path / "app" / "autosave.pt"

    async def drive():
        client = EngineClient(socket_path=str(runtime.resolve(None)))
        await client.start()
        try:
            await client.call("train_pause")
            # what the app's Train pane sends: its own default place for the autosave
            await client.call(TrainStartArgs(autosave_path=str(elsewhere), autosave_minutes=5))
            await asyncio.sleep(0.5)
            await client.call("train_stop")
            for _ in range(100):
                ev = await client.next_event(timeout=10)
                if ev.event == "autosaved":
                    return ev.data["path"]
            raise AssertionError("no autosave after the stop")
        finally:
            await client.close()

    try:
        path = asyncio.run(drive())
    finally:
        stop(proc)
    assert path == str(tmp_path / "run" / "checkpoint.pt")
    assert not elsewhere.exists()


def test_the_plain_torchrun_line_of_the_readme_trains_the_same_job(tmp_path, dist_env):
    import sys

    (tmp_path / "corpus.txt").write_text("the cat sat on the mat. " * 100, encoding="utf-8")
    argv = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "cli.train", "--preset", "mini", "--device", "cpu", "--threads", "1",
        "--corpus", "corpus.txt", "--steps", "5", "--out", "run",
    ]
    done = subprocess.run(argv, cwd=tmp_path, env=dist_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cpu × 2 processes" in done.stdout and "done: step 5" in done.stdout
    assert checkpoint.load(tmp_path / "run" / "checkpoint.pt")["trainer"]["step"] == 5
