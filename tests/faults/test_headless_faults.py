"""Headless ``torchdeck train`` / ``sample`` faults: a hang-up or SIGTERM mid-run, a diverging
run, a loss that ends far above where it began, a full disk under metrics.jsonl, resume flags
that were dropped without a word, a seed torch cannot take, and the records and saves around
an evaluation. Most run ``python -m cli.main`` as a subprocess with tiny settings (a few
seconds each); the record/save bookkeeping runs in-process against a scripted engine client.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.headless import TrainRun
from core.contract import SaveArgs, SaveResult
from core.protocol import Event

CLI = [sys.executable, "-m", "cli.main"]
TIMEOUT = 120
TEXT = "the cat sat on the mat. " * 60
MINI = ["--preset", "mini", "--batch-size", "8", "--block-size", "16", "--device", "cpu"]


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "CI"}
    e["PYTHONIOENCODING"] = "utf-8"
    e["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return e


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env(), capture_output=True, encoding="utf-8", timeout=TIMEOUT
    )


def assert_no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def checkpoint_step(path: Path) -> int:
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=True)["trainer"]["step"])


@pytest.fixture
def corpus(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def parabola_base(tmp_path_factory) -> Path:
    """A good 10-step parabola run (lr 0.01) that each resume test copies."""
    work = tmp_path_factory.mktemp("parabola")
    proc = cli("train", "--preset", "parabola", "--steps", "10", "--out", "run", cwd=work)
    assert proc.returncode == 0, proc.stderr
    return work / "run"


def copy_run(base: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(base, tmp_path / "run"))


def long_run(corpus: Path, out: Path, cwd: Path, **popen) -> subprocess.Popen:
    """``torchdeck train`` on a mini model that would run for ever, a record every 0.2 s."""
    return subprocess.Popen(
        [*CLI, "train", *MINI, "--corpus", str(corpus), "--steps", "1000000"]
        + ["--report-every", "0.2", "--out", str(out)],
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
        **popen,
    )


# -- item 1: a hang-up (the terminal closed) or SIGTERM saves like Ctrl-C -------------------------


@pytest.mark.parametrize(
    ("signum", "words"),
    [(signal.SIGHUP, "hang-up (SIGHUP)"), (signal.SIGTERM, "terminated (SIGTERM)")],
)
def test_hangup_and_sigterm_save_before_exiting(corpus, tmp_path, signum, words):
    out = tmp_path / "run"
    # its own process group, as a terminal's job is
    proc = long_run(corpus, out, tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("step=") or time.monotonic() > deadline:
                break
        assert seen and seen[-1].startswith("step="), "".join(seen) + proc.stderr.read()
        os.killpg(proc.pid, signum)  # the whole job, as a closing terminal does
        rest, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stdout = "".join(seen) + rest
    assert proc.returncode == 128 + signum, stdout + stderr
    ckpt = out / "checkpoint.pt"
    assert stdout.splitlines()[-1] == f"{words}: checkpoint saved to {ckpt}"
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert checkpoint_step(ckpt) == records[-1]["step"] > 0  # the engine outlived the hang-up


def test_a_killed_front_end_still_leaves_the_run_saved(corpus, tmp_path):
    """SIGKILL cannot be handled by ``torchdeck train`` itself: its engine sees its input end
    and saves the run where autosave points (the run folder's checkpoint)."""
    out = tmp_path / "run"
    proc = long_run(corpus, out, tmp_path)
    try:
        last = None
        for line in proc.stdout:
            if line.startswith("step="):
                last = int(line.split()[0].split("=")[1].split("/")[0])
                break
        assert last is not None, proc.stderr.read()
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 30
    while not (out / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # the rename is atomic; let the engine finish and exit
    assert checkpoint_step(out / "checkpoint.pt") >= last


def test_autosave_minutes_out_of_range_is_refused(tmp_path):
    proc = cli("train", "--autosave-minutes", "-1", cwd=tmp_path)
    assert proc.returncode == 2
    assert (
        "argument --autosave-minutes: -1 is out of range: want minutes in [0, 1440] "
        "(0 turns autosave off)" in proc.stderr
    )


# -- item 3: divergence and a loss that ends above where it began ---------------------------------


def test_a_diverging_parabola_ends_in_a_sentence_not_a_traceback(tmp_path):
    proc = cli("train", "--preset", "parabola", "--lr", "1", "--out", "run", cwd=tmp_path)
    assert_no_traceback(proc)
    assert proc.returncode == 1
    last = proc.stdout.splitlines()[-1]
    assert last.startswith("error: the loss became ") and "training diverged" in last
    assert last.endswith(
        "with learning rate 1; the weights were not saved. Train again with a smaller --lr."
    )
    assert "loss=nan" in proc.stdout or "loss=inf" in proc.stdout  # the records still print
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_a_diverging_resume_leaves_the_good_checkpoint_untouched(parabola_base, tmp_path):
    run = copy_run(parabola_base, tmp_path)
    before = (run / "checkpoint.pt").read_bytes()
    proc = cli("train", "--resume", "--out", "run", "--steps", "80", "--lr", "1", cwd=tmp_path)
    assert_no_traceback(proc)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["resuming parabola from step 10 to 80", "resume: lr 0.01 → 1"]
    assert lines[-1].endswith(
        f"; {Path('run', 'checkpoint.pt')} is untouched. Train again with a smaller --lr."
    )
    assert (run / "checkpoint.pt").read_bytes() == before


def test_a_loss_that_ends_above_a_uniform_guess_is_warned_about(corpus, tmp_path):
    proc = cli(
        "train",
        "--preset",
        "mlp",
        "--lr",
        "10",
        "--steps",
        "40",
        "--corpus",
        str(corpus),
        "--device",
        "cpu",
        "--out",
        "run",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.splitlines()[-1]
    assert last.startswith("warning: the final ")
    assert "worse than at the start" in last and "uniform guess over the 11 characters" in last
    assert last.endswith(
        "the learning rate 10 is probably too high; the checkpoint was saved, "
        "but try a smaller --lr"
    )


# -- item 4: a full disk under metrics.jsonl --------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_under_the_metrics_is_one_sentence(corpus, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").symlink_to("/dev/full")  # every write: ENOSPC
    proc = cli(
        "train",
        *MINI,
        "--corpus",
        str(corpus),
        "--steps",
        "30",
        "--report-every",
        "0.01",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert_no_traceback(proc)
    assert proc.returncode == 0
    warnings = [x for x in proc.stdout.splitlines() if x.startswith("warning:")]
    assert warnings == [
        f"warning: cannot write {out / 'metrics.jsonl'}: the disk is full; "
        "training goes on without metrics rows"
    ]
    assert proc.stdout.splitlines()[-1].startswith("done: step 30 ")
    assert checkpoint_step(out / "checkpoint.pt") == 30


# -- items 4 and 10: one record per report, one save per step (a scripted engine) ------------------


class ScriptedClient:
    """Plays the engine's side: events in order; a save's own report comes before its reply."""

    def __init__(self, events, save_steps):
        self.events = list(events)
        self.save_steps = list(save_steps)
        self.saves = []
        self.last_step = 0

    async def call(self, request, *args, **kwargs):
        if isinstance(request, SaveArgs):
            step = self.save_steps.pop(0)
            self.saves.append(step)
            if step != self.last_step:  # the losses since the last report go out first
                self.events.insert(0, progress(step))
            return SaveResult(request.path, step)
        return None

    async def next_event(self, name=None, timeout=None):
        if not self.events:
            raise TimeoutError
        ev = self.events.pop(0)
        if ev.event == "train_progress":
            self.last_step = ev.data["step"]
        return ev

    def drain_events(self):
        out, self.events = self.events, []
        return out


def progress(step, val=None):
    return Event(
        "train_progress",
        {
            "step": step,
            "steps": 450,
            "losses": [1.0, 2.0],
            "loss": 1.5,
            "lr": 0.01,
            "val_loss": val,
        },
    )


def test_an_evaluation_gives_one_record_and_the_last_step_one_save(tmp_path):
    args = argparse.Namespace(out=str(tmp_path), preset="mini", resume=False)
    out = io.StringIO()
    run = TrainRun(args, out=out)
    run.dir.mkdir(exist_ok=True)
    events = [
        progress(300),
        progress(316, val=0.9),
        progress(330),
        progress(450, val=0.8),
        Event("train_state", {"state": "finished", "step": 450}),
    ]
    client = ScriptedClient(events, save_steps=[318, 450])
    code = asyncio.run(run._follow(client, tmp_path / "checkpoint.pt"))
    assert code == 0
    assert client.saves == [318, 450]  # not 450 twice
    records = [x.split()[0] for x in out.getvalue().splitlines() if x.startswith("step=")]
    assert records == ["step=300/450", "step=316/450", "step=330/450", "step=450/450"]
    assert "loss=1.5000" in [x for x in out.getvalue().splitlines() if "step=330/" in x][0]


# -- item 10: a seed torch cannot take ----------------------------------------------------------------


def test_a_huge_seed_is_refused_by_the_command_line(tmp_path):
    proc = cli(
        "sample", "--checkpoint", "nowhere", "--seed", "1180591620717411303424", cwd=tmp_path
    )
    assert proc.returncode == 2
    assert (
        "argument --seed: 1180591620717411303424 is out of range: want an integer in "
        f"[0, {2**63 - 1}]"
    ) in proc.stderr
    assert "Overflow" not in proc.stderr


# -- item 7: resume flags ------------------------------------------------------------------------------


def test_resume_refuses_a_preset_it_cannot_change(parabola_base, tmp_path):
    copy_run(parabola_base, tmp_path)
    proc = cli(
        "train", "--resume", "--out", "run", "--preset", "mini", "--steps", "20", cwd=tmp_path
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == (
        f"error: --preset mini cannot change on resume: {Path('run', 'checkpoint.pt')} holds a "
        "parabola model"
    )


def test_resume_with_a_corpus_outside_the_vocabulary_says_which_characters(corpus, tmp_path):
    first = cli(
        "train", *MINI, "--corpus", str(corpus), "--steps", "5", "--out", "run", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    other = tmp_path / "other.txt"
    other.write_text("the cat sat on the mat? Qu'est-ce? " * 20, encoding="utf-8")
    proc = cli(
        "train", "--resume", "--out", "run", "--steps", "10", "--corpus", str(other), cwd=tmp_path
    )
    assert_no_traceback(proc)
    assert proc.returncode == 2
    message = proc.stderr.splitlines()[0]
    assert message.startswith(f"error: the corpus {other} does not fit this checkpoint: it has ")
    assert "'?'" in message and "'Q'" in message and "'-'" in message
    assert "no training text" not in proc.stderr
