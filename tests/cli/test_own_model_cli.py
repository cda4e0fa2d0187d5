"""``--model FILE.py:FACTORY`` on the command line: train (headless, with its config.toml), resume,
sample and inspect; and inspect's table against torchinfo's for the same three models (issue 18,
items 3–5)."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest
import torch

from cli.inspect import main as inspect_main
from cli.settings_args import tomllib

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "my_first_model.py"
TEXT = "the quick brown fox jumps over the lazy dog. " * 100

TIED = """\
import torch.nn as nn


class TiedLM(nn.Module):
    def __init__(self, vocab_size, width=16):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, width)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size, bias=False)
        self.head.weight = self.wte.weight  # one matrix, read in and written out

    def forward(self, ids):
        return self.head(self.norm(self.wte(ids)))


def build(vocab_size, block_size):
    return TiedLM(vocab_size)
"""

CONV_LSTM = """\
import torch.nn as nn


class ConvLSTM(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 12)
        self.conv = nn.Conv1d(12, 10, kernel_size=3, padding=1)
        self.rnn = nn.LSTM(10, 14, batch_first=True)
        self.head = nn.Sequential(nn.Linear(14, 20), nn.Tanh(), nn.Linear(20, vocab_size))

    def forward(self, ids):
        x = self.conv(self.embedding(ids).transpose(1, 2)).transpose(1, 2)
        x, _ = self.rnn(x)
        return self.head(x)


def build(vocab_size, block_size):
    return ConvLSTM(vocab_size)
"""


@pytest.fixture
def fox(tmp_path) -> Path:
    path = tmp_path / "fox.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def losses(folder: Path) -> list[float]:
    rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    return [r["train_loss"] for r in rows if r["kind"] == "train"]


def test_train_resume_and_sample_ones_own_model(tmp_path, fox, run_cli):
    shutil.copy(EXAMPLE, tmp_path / "first.py")
    run = tmp_path / "run"
    common = ("--device", "cpu", "--log-every", "1")
    proc = run_cli(
        "train", "--model", "first.py:build", "--preset", "mini", "--corpus", str(fox),
        "--steps", "5", "--batch-size", "4", "--block-size", "8", "--out", str(run), *common,
        "--eval-interval", "0",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    V = len(set(TEXT))
    params = V * 16 + (16 * 8 + 8) + (8 * V + V)
    assert proc.stdout.splitlines()[0].startswith(
        f"torchdeck train: first.py:build · {params:,} parameters · cpu"
    )
    config = tomllib.loads((run / "config.toml").read_text(encoding="utf-8"))
    assert config["model"] == f"{tmp_path / 'first.py'}:build"  # absolute: from any folder
    assert config["preset"] == "mini" and config["block_size"] == 8

    # the config repeats the run exactly, from another folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = tmp_path / "again"
    proc = run_cli(
        "train", "--config", str(run / "config.toml"), "--log-every", "1", "--out", str(again),
        cwd=elsewhere,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert losses(again) == losses(run) and len(losses(run)) == 5

    # resume: the checkpoint names its factory, but only the person's --model imports it
    proc = run_cli("train", "--out", str(run), "--resume", "--steps", "7", *common, cwd=tmp_path)
    assert proc.returncode == 2
    assert f"holds a model built by {tmp_path / 'first.py'}:build" in proc.stderr
    assert f"--model {tmp_path / 'first.py'}:build" in proc.stderr
    proc = run_cli(
        "train", "--out", str(run), "--resume", "--steps", "7", "--model", "first.py:build",
        *common, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "resuming first.py:build from step 5 to 7" in proc.stdout
    assert len(losses(run)) == 7

    # sample with the factory named; without it, one sentence saying how
    sample = ("sample", "--checkpoint", str(run), "--max-new", "30", "--seed", "3")
    proc = run_cli(*sample, "--prompt", "the ", cwd=tmp_path)
    assert proc.returncode != 0 and "torchdeck never imports code" in proc.stderr
    one = run_cli(*sample, "--prompt", "the ", "--model", "first.py:build", cwd=tmp_path)
    two = run_cli(*sample, "--prompt", "the ", "--model", "first.py:build", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert one.stdout == two.stdout and one.stdout.startswith("the ")
    assert len(one.stdout.rstrip("\n")) == 34 and set(one.stdout[4:].strip()) <= set(TEXT)

    # the file changed since: loading says so, and goes on
    (tmp_path / "first.py").write_text(EXAMPLE.read_text() + "\n# edited\n")
    proc = run_cli(*sample, "--model", "first.py:build", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"note: {tmp_path / 'first.py'} has changed since this checkpoint" in proc.stderr


def test_a_bad_model_file_is_one_sentence_and_exit_2(tmp_path, run_cli):
    (tmp_path / "bad.py").write_text("import torch.nn as nn\n\ndef build(v, b):\n    return 7\n")
    proc = run_cli("train", "--model", "bad.py:build", "--steps", "1", "--device", "cpu",
                   "--out", str(tmp_path / "x"), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2
    assert "bad.py:build(vocab_size=" in proc.stderr
    assert "returned an int, not an nn.Module" in proc.stderr
    proc = run_cli("train", "--model", "bad.py", "--steps", "1", cwd=tmp_path)
    assert proc.returncode == 2
    assert (
        "argument --model: 'bad.py' does not name a factory: write FILE.py:FACTORY or "
        "package.module:FACTORY, e.g. my_model.py:build"
    ) in proc.stderr


# -- inspect against torchinfo ---------------------------------------------------------------


def torchinfo_rows(model, B: int, T: int):
    torchinfo = pytest.importorskip("torchinfo")
    ids = torch.zeros(B, T, dtype=torch.long)
    return torchinfo.summary(model, input_data=ids, depth=10, verbose=0)


@pytest.mark.parametrize(
    "source, tied",
    [(EXAMPLE.read_text(), False), (TIED, True), (CONV_LSTM, False)],
    ids=["my_first_model", "tied", "conv_lstm"],
)
def test_inspect_matches_torchinfo(tmp_path, fox, capsys, source, tied, single_thread):
    from core.contract import RunSettings
    from core.inspection import summarize
    from core.session import Session

    (tmp_path / "m.py").write_text(source)
    ref = f"{tmp_path / 'm.py'}:build"
    B, T = 3, 7
    session = Session.create(
        RunSettings("mini", str(fox), "cpu", {"block_size": T}, {}, factory=ref)
    )
    ours = summarize(session, B)
    theirs = torchinfo_rows(session.model, B, T)
    assert len(ours["rows"]) == len(theirs.summary_list)
    for row, layer in zip(ours["rows"], theirs.summary_list):
        assert (row["name"].rsplit(".", 1)[-1] or layer.class_name) == layer.var_name
        assert (row["type"], row["depth"]) == (layer.class_name, layer.depth)
        assert (row["output_shape"] or []) == layer.output_size
        if not row["has_children"]:  # torchinfo counts a tied matrix in each layer holding it
            assert row["params"] + row["shared_params"] == layer.num_params
            assert row["torchinfo_macs"] == layer.macs
    totals = ours["totals"]
    assert totals["macs_torchinfo"] == theirs.total_mult_adds
    assert totals["naive_params"] == theirs.total_params
    assert totals["params"] == sum(p.numel() for p in session.model.parameters())
    assert (totals["params"] < theirs.total_params) == tied
    # the true multiply-adds: every position of every sequence
    for row in ours["rows"]:
        if row["type"] == "Linear":
            out = row["output_shape"][-1]
            fan_in = next(w["shape"][1] for w in row["weights"] if w["short"] == "weight")
            assert row["macs"] == B * T * fan_in * out
        if row["type"] == "Conv1d":
            assert row["macs"] == B * T * 10 * 12 * 3
        if row["type"] == "LSTM":
            assert row["macs"] == B * T * 4 * 14 * (10 + 14)

    # and the command prints it, with torchinfo's figure and the tied note
    assert inspect_main(["--model", ref, "--input-size", f"{B},{T}", "--corpus", str(fox)]) == 0
    text = capsys.readouterr().out
    assert f"Input: [{B}, {T}] (batch × context)" in text
    assert f"torchinfo's Total mult-adds for this input: {theirs.total_mult_adds:,}" in text
    assert f"Total params: {totals['params']:,}" in text
    if tied:
        assert "Tied (one tensor, counted once): wte.weight = head.weight" in text
        assert f"as torchinfo does, would give {theirs.total_params:,}" in text


def test_inspect_input_size_is_checked(capsys):
    with pytest.raises(SystemExit):
        inspect_main(["--input-size", "2x"])
    assert "'2x' is not B,T: two integers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        inspect_main(["--input-size", "2,8", "--batch-size", "4"])
    assert "--input-size B,T sets the batch and the context" in capsys.readouterr().err


def test_the_readmes_example_runs_as_written(tmp_path, run_cli):
    """The README's "Your own model" commands, run in a copy of the repository's examples/:
    inspect, train, then sample from what it trained (the app's line is the Pilot tests')."""
    readme = (EXAMPLE.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Your own model", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [shlex.split(x)[1:] for x in block.splitlines() if x.startswith("torchdeck ")]
    assert [c[0] for c in commands] == ["inspect", "train", "sample", "--model"]
    shutil.copytree(EXAMPLE.parent, tmp_path / "examples")
    outputs = []
    for argv in commands[:3]:
        proc = run_cli(*argv, *(["--device", "cpu"] if argv[0] == "train" else []), cwd=tmp_path)
        assert proc.returncode == 0, (argv, proc.stderr)
        outputs.append(proc.stdout)
    assert "MyFirstModel" in outputs[0] and "└─output_layer: Linear" in outputs[0]
    assert "done: step 500" in outputs[1]
    assert outputs[2].startswith("def ") and len(outputs[2]) > 100


MHA = """\
import torch.nn as nn


class WithMHA(nn.Module):
    def __init__(self, vocab_size, width=16):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, width)
        self.attention = nn.MultiheadAttention(width, 2, batch_first=True)
        self.mix = nn.Linear(width, width)
        self.head = nn.Linear(width, vocab_size)

    def forward(self, ids):
        h = self.embedding(ids)
        a, _ = self.attention(h, h, h)
        return self.head(self.mix(self.mix(a)))  # one layer called twice


def build(vocab_size, block_size):
    return WithMHA(vocab_size)
"""


def test_multihead_attention_and_a_layer_called_twice_are_counted(tmp_path, fox, single_thread):
    from core.contract import RunSettings
    from core.inspection import summarize
    from core.session import Session

    (tmp_path / "m.py").write_text(MHA)
    B, T, E = 2, 8, 16
    session = Session.create(
        RunSettings(
            "mini", str(fox), "cpu", {"block_size": T}, {}, factory=f"{tmp_path}/m.py:build"
        )
    )
    ours = summarize(session, B)
    rows = {r["name"]: r for r in ours["rows"]}
    # q, k, v and out projections, then QKᵀ and A·V, at every position
    assert rows["attention"]["macs"] == 4 * B * T * E * E + 2 * B * T * T * E
    assert rows["mix"]["macs"] == 2 * B * T * E * E  # twice
    assert ours["totals"]["macs_torchinfo"] == torchinfo_rows(session.model, B, T).total_mult_adds


HANGS = EXAMPLE.read_text().replace(
    "    def forward(self, indices):\n",
    "    calls = 0\n\n    def forward(self, indices):\n"
    "        MyFirstModel.calls += 1\n"
    "        if MyFirstModel.calls > 2:  # after the trial passes: a step that never ends\n"
    "            import time\n\n            time.sleep(3600)\n",
)


def test_a_second_ctrl_c_ends_a_run_whose_model_hangs(tmp_path, fox, cli_command):
    import signal
    import subprocess
    import time

    (tmp_path / "hangs.py").write_text(HANGS)
    proc = subprocess.Popen(
        [*cli_command, "train", "--model", "hangs.py:build", "--corpus", str(fox), "--steps",
         "5", "--batch-size", "2", "--block-size", "8", "--device", "cpu", "--out", "run"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8",
    )  # fmt: skip
    try:
        first = proc.stdout.readline()
        assert first.startswith("torchdeck train: hangs.py:build"), first + proc.stderr.read()
        time.sleep(1.0)  # the first step is in the model's forward, which never returns
        proc.send_signal(signal.SIGINT)
        time.sleep(1.5)
        assert proc.poll() is None  # the first stop waits for the step
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "stopped again: the engine is killed; its last checkpoint is what is kept" in out
