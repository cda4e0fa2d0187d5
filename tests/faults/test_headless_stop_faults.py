"""Headless ``torchdeck train`` faults found when the fixes of issue 15 were attacked again:
Ctrl-C while a large corpus loads (it used to finish loading, train a step and save it), and an
``--out`` that is a file (a traceback)."""

from __future__ import annotations

import argparse
import asyncio
import io
import signal

import pytest

from cli.headless import TrainRun
from tests.faults.test_headless_faults import MINI, TEXT, assert_no_traceback, cli


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


# -- re-attack: Ctrl-C while the corpus loads, an --out that is a file ---------------------------


class LoadingClient:
    """An engine that is loading a huge corpus: configure returns only when interrupted."""

    running = True

    def __init__(self):
        self.interrupted = 0
        self._stop = asyncio.Event()

    def interrupt(self):
        self.interrupted += 1
        self._stop.set()

    async def call(self, request, *args, **kwargs):
        await self._stop.wait()
        from core.errors import EngineError

        raise EngineError("Interrupted", "interrupted by the user", "the engine is fine")


def test_ctrl_c_while_the_corpus_loads_stops_the_load_and_saves_nothing(tmp_path):
    fields = dict(out=str(tmp_path / "run"), preset="mini", resume=False, corpus="huge.txt")
    fields.update(device="cpu", seed=None, lr=None, batch_size=None, block_size=None, steps=None)
    out = io.StringIO()
    run = TrainRun(argparse.Namespace(**fields), out=out)
    client = LoadingClient()
    run.client = client

    async def scenario():
        asyncio.get_running_loop().call_later(0.05, run._on_signal, signal.SIGINT)
        return await run._train(client, tmp_path / "run" / "checkpoint.pt")

    assert asyncio.run(scenario()) == 130
    assert client.interrupted == 1  # the engine was told to stop loading
    assert out.getvalue().strip() == (
        "interrupted before training began: nothing was trained or saved"
    )
    assert not (tmp_path / "run").exists()


def test_an_out_that_is_a_file_is_one_sentence(corpus, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder", encoding="utf-8")
    proc = cli(
        "train", *MINI, "--corpus", str(corpus), "--steps", "3", "--out", str(afile), cwd=tmp_path
    )
    assert_no_traceback(proc)
    assert proc.returncode == 2
    assert f"error: cannot create the run folder {afile}: File exists" in proc.stderr
