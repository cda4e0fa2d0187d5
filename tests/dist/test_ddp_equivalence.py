"""Training on two processes (torchrun, DDP, gloo on CPU) is the same maths as on one: 2 ranks
x batch b give the weights, the logged losses and the validation loss of 1 rank x batch 2b on
the same samples, and of 1 rank x batch b x 2 accumulated micro-batches. A checkpoint of either
resumes on the other world size and they stay equal; only rank 0 writes the run's files."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from core import checkpoint

pytestmark = pytest.mark.slow

STEPS = 6
COMMON = ("--preset", "mini", "--device", "cpu", "--threads", "1", "--seed", "7")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, run_train):
    """Four runs of STEPS steps on the same 16 sequences per step, split four ways."""
    base = tmp_path_factory.mktemp("ddp")
    ways = {
        "two_ranks": ("--nproc-per-node", "2", "--batch-size", "8"),
        "one_rank": ("--batch-size", "16"),
        "accumulated": ("--batch-size", "8", "--grad-accum", "2"),
        "two_ranks_accumulated": (
            "--nproc-per-node",
            "2",
            "--batch-size",
            "4",
            "--grad-accum",
            "4",
        ),
    }
    out = {}
    for name, extra in ways.items():
        result = run_train(base, base / name, "--steps", str(STEPS), *extra)
        assert result.returncode == 0, result.stdout + result.stderr
        out[name] = (base / name, result)
    return base, out


def weights(folder) -> dict:
    return checkpoint.load(folder / "checkpoint.pt")["model"]


def metrics(folder, kind: str = "train") -> list[dict]:
    """The run's metrics rows of one kind ("train" or "eval")."""
    lines = (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [row for row in map(json.loads, lines) if row["kind"] == kind]


def losses(folder) -> list[float]:
    """Every step's logged loss, as the checkpoint's history keeps them."""
    return checkpoint.load(folder / "checkpoint.pt")["trainer"]["train_history"]["values"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)


@pytest.mark.parametrize("other", ["one_rank", "accumulated", "two_ranks_accumulated"])
def test_two_ranks_train_the_weights_one_rank_trains(runs, other):
    _, out = runs
    assert_same_weights(weights(out["two_ranks"][0]), weights(out[other][0]))
    logged = losses(out[other][0])
    assert logged[-1] < logged[0]  # it trained: the same update, not no update


def test_the_logged_loss_is_the_mean_over_ranks(runs):
    _, out = runs
    two, one = losses(out["two_ranks"][0]), losses(out["one_rank"][0])
    assert len(two) == len(one) == STEPS
    assert two == pytest.approx(one, rel=1e-5)
    # the validation loss is computed on shards of the same batches and added up
    val_two = [r["val_loss"] for r in metrics(out["two_ranks"][0], "eval")]
    val_one = [r["val_loss"] for r in metrics(out["one_rank"][0], "eval")]
    assert val_two and val_two == pytest.approx(val_one, rel=1e-5)
    assert metrics(out["two_ranks"][0])[-1]["train_loss"] == pytest.approx(
        metrics(out["one_rank"][0])[-1]["train_loss"], rel=1e-5
    )


def test_one_writer_and_the_unwrapped_model(runs):
    _, out = runs
    folder, result = out["two_ranks"]
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.pt", "config.toml", "metrics.jsonl"]
    steps = [r["step"] for r in metrics(folder)]
    assert steps == sorted(set(steps)) and steps[-1] == STEPS  # one writer: no step twice
    assert all(r["world_size"] == 2 and len(r["rank_ms"]) == 2 for r in metrics(folder))
    assert [r["step"] for r in metrics(folder, "eval")] == [STEPS]
    assert not [k for k in weights(folder) if k.startswith("module.")]
    state = checkpoint.load(folder / "checkpoint.pt")
    assert state["trainer"]["step"] == STEPS
    assert "mini · 3,567 parameters · cpu × 2 processes" in result.stdout
    assert result.stdout.count("done: step 6") == 1  # rank 0 alone speaks


def test_a_two_rank_checkpoint_resumes_on_one_and_back(runs, run_train, run_cli):
    base, out = runs
    a, b = base / "resume_a", base / "resume_b"
    shutil.copytree(out["two_ranks"][0], a)
    shutil.copytree(out["one_rank"][0], b)
    # the 2-rank run goes on alone (batch 16), the 1-rank run on 2 ranks (batch 8 each)
    ra = run_train(base, a, "--resume", "--steps", "9", "--batch-size", "16")
    rb = run_train(
        base, b, "--resume", "--steps", "9", "--nproc-per-node", "2", "--batch-size", "8"
    )
    for r in (ra, rb):
        assert r.returncode == 0, r.stdout + r.stderr
        assert "global batch" not in r.stdout  # 16 sequences a step before and after
        assert "resuming mini from step 6 to 9" in r.stdout
        assert "done: step 9" in r.stdout
    assert checkpoint.load(a / "checkpoint.pt")["trainer"]["step"] == 9
    assert_same_weights(weights(a), weights(b))
    sample = run_cli(
        "sample",
        "--checkpoint",
        str(out["two_ranks"][0]),
        "--max-new",
        "20",
        "--seed",
        "1",
        "--device",
        "cpu",
        cwd=base,
    )
    assert sample.returncode == 0, sample.stderr
    assert len(sample.stdout.strip()) > 0


def test_a_resume_that_changes_the_global_batch_says_so(runs, run_train):
    base, out = runs
    c = base / "resume_c"
    shutil.copytree(out["two_ranks"][0], c)
    r = run_train(base, c, "--resume", "--steps", "7")  # one process, batch 8 as saved
    assert r.returncode == 0, r.stdout + r.stderr
    assert (
        "resume: the global batch was 16 sequences (2 processes), now 8 (1); "
        "pass --grad-accum 2 to keep 16"
    ) in r.stdout
