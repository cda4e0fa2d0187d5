"""Every training and model setting on the command line, config files with the same names, and
the resolved config.toml a run leaves behind, which repeats it exactly (issue 18, items 1–2)."""

from __future__ import annotations

import argparse
import json

import pytest

from cli.main import build_parser
from cli.settings_args import (
    apply_config,
    config_refused,
    model_overrides,
    resolved_config,
    toml_text,
    tomllib,
    train_overrides,
)
from core.contract import SessionInfo
from core.errors import ConfigError

TEXT = "the quick brown fox jumps over the lazy dog. " * 100


def parse(*argv: str) -> tuple[argparse.ArgumentParser, argparse.Namespace, list[str]]:
    parser = build_parser()
    args = parser.parse_args(["train", *argv])
    return parser.train_parser, args, list(argv)


def test_each_setting_has_a_flag_checked_by_the_contracts_rule():
    _, args, _ = parse(
        "--weight-decay", "0.05", "--warmup-steps", "0", "--min-lr-ratio", "0.2",
        "--grad-clip", "0.5", "--eval-interval", "50", "--eval-iters", "3", "--beta1", "0.8",
        "--beta2", "0.95", "--optimizer", "sgd", "--schedule", "constant",
        "--n-layer", "2", "--n-head", "2", "--n-embd", "32", "--dropout", "0.1",
    )  # fmt: skip
    assert train_overrides(args) == {
        "weight_decay": 0.05,
        "warmup_steps": 0,
        "min_lr_ratio": 0.2,
        "grad_clip": 0.5,
        "eval_interval": 50,
        "eval_batches": 3,
        "beta1": 0.8,
        "beta2": 0.95,
        "optimizer": "sgd",
        "schedule": "constant",
    }
    assert model_overrides(args) == {"n_layer": 2, "n_head": 2, "n_embd": 32, "dropout": 0.1}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--weight-decay", "1.5"], "argument --weight-decay: 1.5 is out of range: want in [0, 1)"),
        (["--n-layer", "0"], "argument --n-layer: 0 is out of range: want an integer ≥ 1"),
        (["--dropout", "1"], "argument --dropout: 1 is out of range: want a number in [0, 1)"),
        (["--optimizer", "lion"], "argument --optimizer: invalid choice: 'lion'"),
    ],
)
def test_a_value_out_of_range_is_refused_in_the_contracts_words(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse(*argv)
    assert message in capsys.readouterr().err


def write(tmp_path, text: str):
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_config_file_fills_what_the_command_line_leaves_out(tmp_path):
    path = write(
        tmp_path,
        'preset = "gpt"\nlr = 0.01\nsteps = 7\nn-layer = 2\neval_batches = 4\noptimizer = "sgd"\n',
    )
    parser, args, argv = parse("--config", path, "--lr", "0.005")
    apply_config(parser, args, argv)
    assert (args.preset, args.lr, args.steps) == ("gpt", 0.005, 7)  # the flag wins
    assert model_overrides(args) == {"n_layer": 2}
    assert train_overrides(args) == {"eval_batches": 4, "optimizer": "sgd"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n_leyer = 2\n", "unknown setting 'n_leyer'"),
        ("lr = 20\n", "lr: 20 is out of range: want a number in (0, 10], e.g. 0.001"),
        ('optimizer = "lion"\n', "optimizer = 'lion' is not one of adamw, sgd"),
        ("lr = [1, 2]\n", "lr = [1, 2] is not a single value"),
        ("lr = \n", "is not valid TOML"),
        ('out = "elsewhere"\n', "out cannot be set in a config file"),
        ('rdzv_endpoint = "10.0.0.1:29500"\n', "rdzv_endpoint cannot be set in a config file"),
    ],
)
def test_a_bad_config_is_one_clear_error_naming_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    parser, args, argv = parse("--config", path)
    with pytest.raises(ConfigError) as err:
        apply_config(parser, args, argv)
    assert message in err.value.message and path in err.value.message


def test_a_missing_config_file_and_resizing_a_resumed_model_are_refused(tmp_path, capsys):
    parser, args, argv = parse("--config", str(tmp_path / "none.toml"))
    assert config_refused(parser, args, argv) == 2
    assert f"error: no config file {tmp_path / 'none.toml'}" in capsys.readouterr().err
    parser, args, argv = parse("--resume", "--out", str(tmp_path), "--n-layer", "2")
    assert config_refused(parser, args, argv) == 2
    err = capsys.readouterr().err
    assert "--n-layer cannot change on --resume: the run goes on with the checkpoint's" in err
    # a run's own config.toml given again on --resume: its sizes and settings are set aside
    path = write(tmp_path, "n_layer = 1\nweight_decay = 0.5\nlr = 0.01\n")
    parser, args, argv = parse("--resume", "--out", str(tmp_path), "--config", path)
    assert config_refused(parser, args, argv) is None
    assert model_overrides(args) == {} and train_overrides(args) == {} and args.lr == 0.01


def test_the_resolved_config_reads_back_as_the_same_settings(tmp_path):
    info = SessionInfo(
        preset="gpt",
        model_config={"vocab_size": 40, "block_size": 32, "n_layer": 1, "n_head": 2,
                      "n_embd": 16, "dropout": 0.0},
        train_config={"steps": 5, "batch_size": 4, "grad_accum": 0, "lr": 0.003,
                      "min_lr_ratio": 0.1, "warmup_steps": 2, "schedule": "cosine",
                      "optimizer": "adamw", "weight_decay": 0.05, "beta1": 0.9, "beta2": 0.99,
                      "grad_clip": 1.0, "eval_interval": 0, "eval_batches": 2, "seed": 7},
        corpus={"source": "/data/my \"text\"\x7f.txt"},
    )  # fmt: skip
    text = toml_text(resolved_config(info, "cpu"), "a run")
    data = tomllib.loads(text)
    assert "vocab_size" not in data  # it comes from the corpus
    assert data["corpus"] == '/data/my "text"\x7f.txt' and data["eval_iters"] == 2
    path = write(tmp_path, text)
    parser, args, argv = parse("--config", path)
    apply_config(parser, args, argv)
    assert (args.preset, args.corpus, args.device, args.seed) == ("gpt", data["corpus"], "cpu", 7)
    assert (args.lr, args.batch_size, args.block_size, args.steps) == (0.003, 4, 32, 5)
    assert model_overrides(args) == {"n_layer": 1, "n_head": 2, "n_embd": 16, "dropout": 0.0}
    assert train_overrides(args) == {
        k: info.train_config[k]
        for k in ("weight_decay", "warmup_steps", "min_lr_ratio", "grad_clip", "eval_interval",
                  "eval_batches", "beta1", "beta2", "optimizer", "schedule")
    }  # fmt: skip


def test_a_run_leaves_its_config_and_the_config_repeats_it_exactly(tmp_path, run_cli):
    corpus = tmp_path / "fox.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    first = tmp_path / "first"
    proc = run_cli(
        "train", "--preset", "gpt", "--corpus", str(corpus), "--steps", "6",
        "--batch-size", "4", "--block-size", "16", "--n-layer", "1", "--n-head", "2",
        "--n-embd", "16", "--weight-decay", "0.05", "--warmup-steps", "2", "--eval-interval",
        "0", "--log-every", "1", "--device", "cpu", "--out", str(first), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    config = tomllib.loads((first / "config.toml").read_text(encoding="utf-8"))
    assert config["n_layer"] == 1 and config["n_embd"] == 16 and config["weight_decay"] == 0.05
    assert config["seed"] == 1337 and config["corpus"] == str(corpus)
    again = tmp_path / "again"
    proc = run_cli(
        "train", "--config", str(first / "config.toml"), "--log-every", "1", "--out", str(again),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (again / "config.toml").read_text() == (first / "config.toml").read_text()

    def losses(folder):
        rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
        return [r["train_loss"] for r in rows if r["kind"] == "train"]

    assert losses(again) == losses(first) and len(losses(first)) == 6


def test_sizes_that_do_not_fit_the_preset_are_one_clear_sentence(tmp_path, run_cli):
    proc = run_cli(
        "train", "--preset", "gpt", "--n-embd", "30", "--n-head", "4", "--steps", "1",
        "--device", "cpu", "--out", str(tmp_path / "x"), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "n_embd (30) must be divisible by n_head (4)" in proc.stderr
    proc = run_cli(
        "train", "--preset", "mini", "--n-layer", "2", "--steps", "1", "--device", "cpu",
        "--out", str(tmp_path / "y"), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "preset 'mini' has no setting n_layer" in proc.stderr


def test_inspect_takes_the_model_sizes_and_a_config(tmp_path, run_cli):
    # a run's config.toml: inspect reads the model from it and sets the training aside
    path = write(tmp_path, 'device = "cpu"\nsteps = 5\nn_layer = 1\nn_embd = 16\nn_head = 2\n')
    proc = run_cli("inspect", "--preset", "gpt", "--config", path, "--depth", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = proc.stdout.splitlines()
    assert [r.split(":")[0].strip() for r in rows if r.strip().startswith("└─0: Block")] == ["└─0"]
    assert not any("└─1: Block" in r for r in rows)  # one block, not the preset's four
    assert any(r.startswith("└─wte: Embedding       [32, 64, 16]") for r in rows)  # 16 wide


def test_min_lr_is_a_flag_and_an_unset_one_stays_out_of_the_config(tmp_path):
    _, args, _ = parse("--min-lr", "0.0002")
    assert train_overrides(args) == {"min_lr": 0.0002}
    info = SessionInfo(preset="gpt", train_config={"lr": 0.002, "min_lr": None, "steps": 5})
    assert "min_lr" not in resolved_config(info, "cpu")
    info = SessionInfo(preset="gpt", train_config={"lr": 0.002, "min_lr": 0.0002, "steps": 5})
    assert resolved_config(info, "cpu")["min_lr"] == 0.0002


def test_precision_and_compile_are_flags_and_config_keys(tmp_path):
    _, args, _ = parse("--precision", "fp32", "--no-compile")
    assert train_overrides(args) == {"precision": "fp32", "compile": False}
    _, args, _ = parse("--compile")
    assert train_overrides(args) == {"compile": True}
    assert train_overrides(parse()[1]) == {}  # unset: auto, the engine resolves it
    path = write(tmp_path, 'precision = "bf16"\ncompile = true\n')
    parser, args, argv = parse("--config", path, "--no-compile")
    apply_config(parser, args, argv)
    assert train_overrides(args) == {"precision": "bf16", "compile": False}  # the flag wins
    path = write(tmp_path, 'compile = "yes"\n')
    parser, args, argv = parse("--config", path)
    with pytest.raises(ConfigError, match="compile = 'yes' is not true or false"):
        apply_config(parser, args, argv)
    # a run's config.toml keeps the precision asked for (auto stays auto), compile only if set
    info = SessionInfo(preset="gpt", train_config={"precision": "auto", "compile": None})
    assert resolved_config(info, "cpu")["precision"] == "auto"
    assert "compile" not in resolved_config(info, "cpu")


def test_precision_may_change_on_resume_the_model_may_not(tmp_path, capsys):
    parser, args, argv = parse("--resume", "--out", str(tmp_path), "--precision", "fp32")
    assert config_refused(parser, args, argv) is None
    assert train_overrides(args) == {"precision": "fp32"}
    parser, args, argv = parse("--resume", "--out", str(tmp_path), "--compile", "--beta1", "0.8")
    assert config_refused(parser, args, argv) == 2
    err = capsys.readouterr().err
    assert "--beta1 cannot change on --resume" in err and "--compile" not in err


def test_a_bad_precision_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit):
        parse("--precision", "fp16")
    assert "argument --precision: invalid choice: 'fp16'" in capsys.readouterr().err
