"""The playground's namespace (core/playground/namespace.py): it persists and follows the
session, printed text is captured and bounded, and tab completion never calls anything."""

from __future__ import annotations

from core.playground import MAX_TEXT


def test_namespace_persists_and_starts_with_the_usual_names(pg, run_ok):
    for name in ("torch", "nn", "F", "np", "model", "tokenizer", "data"):
        assert name in pg.namespace
    run_ok(pg, "a = torch.arange(4)")
    assert run_ok(pg, "a.sum().item()")["value"]["text"] == "6"
    assert run_ok(pg, "_ + 1")["value"]["text"] == "7"  # _ is the last value, as in Python


def test_stdout_is_captured_and_bounded(pg, run_ok):
    res = run_ok(pg, "print('hello'); import sys; print('warn', file=sys.stderr)")
    assert res["stdout"] == "hello\nwarn\n"
    assert res["value"] is None
    res = run_ok(pg, "print('x' * 10_000_000)")
    assert len(res["stdout"]) < MAX_TEXT + 100
    assert "more characters not shown" in res["stdout"]


def test_session_names_follow_the_session_but_keep_the_persons_own(
    pg, run_ok, make_session, corpus_file
):
    s1 = make_session("mini", corpus_file)
    pg.bind(s1)
    assert pg.namespace["model"] is s1.model and pg.namespace["tokenizer"] is s1.tokenizer
    run_ok(pg, "model = 'mine'\nmy_var = 1")
    pg.bind(s1)  # same session: the person's `model` stays
    assert pg.namespace["model"] == "mine"
    s2 = make_session("mini", corpus_file)
    pg.bind(s2)  # a configure/load: the live model again, other names untouched
    assert pg.namespace["model"] is s2.model and pg.namespace["my_var"] == 1


def test_complete_names_and_attributes(pg, run_ok):
    run_ok(pg, "x_data = torch.ones(2)")
    res = pg.complete("x_da")
    assert res["candidates"] == ["x_data"] and res["start"] == 0
    res = pg.complete("y = torch.zer")
    assert {"zeros", "zeros_like"} <= set(res["candidates"]) and res["start"] == 10
    assert pg.complete("nn.Linear(2, 2).wei")["candidates"] == []  # calls are never made
    assert pg.complete("x_data.sha")["candidates"] == ["shape", "share_memory_"]
