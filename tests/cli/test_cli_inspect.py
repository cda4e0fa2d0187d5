"""``torchdeck inspect`` (cli/inspect.py), in process: the plain-text layer table and its
argument checks."""

from __future__ import annotations

import pytest

from cli import inspect


def test_inspect_cli_prints_the_corrected_table(capsys, corpus_file, single_thread):
    sizes = ["--depth", "1", "--batch-size", "1", "--block-size", "8"]
    code = inspect.main(["--preset", "gpt", *sizes, "--corpus", str(corpus_file)])
    out = capsys.readouterr().out
    assert code == 0
    assert "\x1b" not in out  # plain text
    lines = out.splitlines()
    assert any(line.startswith("└─lm_head: Linear") and "0 (tied)" in line for line in lines)
    assert "Tied (one tensor, counted once): wte.weight = lm_head.weight" in out
    assert "Input: [1, 8] (batch × context)" in out
    assert not any("└─0: Block" in line for line in lines)  # depth 1 only


def test_inspect_cli_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        inspect.main(["--preset", "parabola", "--block-size", "4"])
    assert exc.value.code == 2
    assert "no context length" in capsys.readouterr().err
    assert inspect.main(["--preset", "mini", "--corpus", "/nonexistent/x.txt"]) == 2
    assert "torchdeck inspect:" in capsys.readouterr().err
