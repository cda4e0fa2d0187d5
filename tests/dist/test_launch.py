"""The launcher's pieces without a job: the torchrun line it runs, what each rank is given,
the rank's device, and the one-line summary of a failed job."""

from __future__ import annotations

import argparse
import signal
from types import SimpleNamespace

import pytest
import torch

from cli.launch import launch_command, rank_argv
from core import distributed
from core.placement import Placement
from core.torchrun import summary


def args(**over) -> argparse.Namespace:
    base = dict(nproc_per_node=4, nnodes=None, node_rank=None, rdzv_endpoint=None)
    base["dist_timeout"] = 120.0
    return argparse.Namespace(**{**base, **over})


def test_one_box_is_standalone_and_the_ranks_lose_the_launcher_options():
    train = ["--preset", "gpt", "--nproc-per-node", "4", "--steps=9", "--nnodes=1"]
    cmd = launch_command(args(nnodes=1), train)
    i = cmd.index("core.torchrun")
    assert cmd[i + 1 :] == [
        "--nproc-per-node=4",
        "--standalone",
        "--nnodes=1",
        "-m",
        "cli.train",
        "--preset",
        "gpt",
        "--steps=9",
    ]


def test_several_machines_pass_their_flags_to_torchrun():
    cmd = launch_command(
        args(nnodes=2, node_rank=1, rdzv_endpoint="10.0.0.1:29500"),
        ["--rdzv-endpoint", "10.0.0.1:29500", "--node-rank", "1", "--out", "runs/big"],
    )
    assert "--standalone" not in cmd
    i = cmd.index("core.torchrun")
    assert cmd[i + 1 : i + 6] == [
        "--nproc-per-node=4",
        "--rdzv-conf=timeout=120",  # the machines wait for each other as long as a collective
        "--nnodes=2",
        "--node-rank=1",
        "--rdzv-endpoint=10.0.0.1:29500",
    ]
    assert cmd[-4:] == ["-m", "cli.train", "--out", "runs/big"]


def test_rank_argv_drops_the_launcher_options_in_both_spellings():
    argv = ["--out", "runs/x", "--nproc-per-node=2", "--nnodes", "2", "--seed", "1"]
    assert rank_argv(argv) == ["--out", "runs/x", "--seed", "1"]
    assert rank_argv(["--corpus", "x.txt"]) == ["--corpus", "x.txt"]
    # argparse takes an abbreviation for the option: so does the launcher
    assert rank_argv(["--nproc", "2", "--nice", "3", "--rdzv=h:1"]) == ["--nice", "3"]


def test_placement_comes_from_torchruns_environment():
    env = {"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4"}
    assert Placement.from_env(env) == Placement(5, 8, 1, 4)
    assert Placement.from_env({"WORLD_SIZE": "1"}) is None  # one process: no job
    assert Placement.from_env({}) is None
    assert Placement.from_env({"WORLD_SIZE": "two"}) is None


def test_cuda_ranks_take_one_gpu_each(monkeypatch):
    chosen = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    dev = distributed.rank_device(torch.device("cuda"), Placement(3, 4, 1, 2))
    assert dev == torch.device("cuda", 1) and chosen == [dev]
    with pytest.raises(distributed.DistributedError) as err:
        distributed.rank_device(torch.device("cuda"), Placement(0, 4, 0, 4))
    assert err.value.message == "4 ranks on this machine but it has 2 CUDA device(s)"
    assert err.value.hint == "use --nproc-per-node 2 or fewer (one rank per GPU)"
    assert distributed.rank_device(torch.device("cpu"), Placement(1, 2, 1, 2)).type == "cpu"
    with pytest.raises(distributed.DistributedError, match="mps has one device per machine"):
        distributed.rank_device(torch.device("mps"), Placement(1, 2, 1, 2))


def failure(local_rank, pid, exitcode, timestamp):
    name = signal.Signals(-exitcode).name if exitcode < 0 else "<N/A>"
    return SimpleNamespace(
        local_rank=local_rank,
        pid=pid,
        exitcode=exitcode,
        timestamp=timestamp,
        signal_name=lambda: name,
    )


def test_a_failed_job_is_one_line_its_cause_first():
    failures = {
        0: failure(0, 100, -15, 1),  # stopped by torchrun itself: not a cause
        1: failure(1, 101, -9, 2),
        2: failure(2, 102, 1, 0),
    }
    assert summary(failures) == (
        "rank 1 (local rank 1, pid 101) was killed by SIGKILL; "
        "rank 2 (local rank 2, pid 102) exited with code 1"
    )
    assert summary({0: failure(0, 100, -15, 1)}) == (
        "rank 0 (local rank 0, pid 100) was killed by SIGTERM"
    )
