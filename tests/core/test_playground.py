"""The playground: recipes give the seeds' numbers, the namespace persists and follows the
session, output is captured and bounded, errors carry hints, the memory guard refuses huge
tensors; and over a real engine: exec, interrupt, a cell that kills the engine, restart."""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_asyncio
import torch

from core.client import EngineClient
from core.errors import EngineDied, EngineError
from core.playground import MAX_TEXT, Playground, describe, tensor_header
from core.playground_recipes import RECIPES, is_complete, recipe


@pytest.fixture
def pg(single_thread):
    return Playground()


def run_ok(pg: Playground, code: str) -> dict:
    res = pg.run(code)
    assert res["error"] is None, res["error"]
    return res


# -- recipes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("r", RECIPES, ids=[r.key for r in RECIPES])
def test_every_recipe_runs_as_expected(pg, r):
    res = pg.run(r.code)
    if r.raises:
        assert res["error"]["type"] == r.raises
        assert res["error"]["hint"]
    else:
        assert res["error"] is None, res["error"]
        assert res["value"] is not None  # each recipe ends on something to look at


def test_autograd_recipe_gives_18(pg):
    res = run_ok(pg, recipe("autograd").code)
    assert res["value"]["text"] == "tensor([18.])"
    assert res["value"]["stats"]["min"] == res["value"]["stats"]["max"] == 18.0
    assert "AddBackward0" in res["stdout"]
    assert pg.namespace["x"].grad.item() == 18.0


def test_second_backward_raises_with_retain_graph_hint(pg):
    res = pg.run(recipe("backward_twice").code)
    err = res["error"]
    assert err["type"] == "RuntimeError"
    assert "second time" in err["message"]
    assert "retain_graph=True" in err["hint"]
    assert err["lineno"] == 5 and err["line"].startswith("z.backward()")
    assert "tensor([18.])" in res["stdout"]  # what ran before the error is kept


def test_linear_recipe_shape_and_grad_fn(pg):
    value = run_ok(pg, recipe("linear").code)["value"]
    assert value["shape"] == [3, 2]
    assert value["grad_fn"] == "AddmmBackward0"
    assert value["requires_grad"] is True
    assert "grad_fn=AddmmBackward0" in value["header"]


def test_embedding_and_one_hot_lookup(pg):
    assert run_ok(pg, recipe("embedding").code)["value"]["shape"] == [4, 3]
    res = run_ok(pg, recipe("one_hot_lookup").code)
    assert res["value"]["text"] == "True"
    assert "max abs difference: 0.0" in res["stdout"]
    e = pg.namespace["e"]
    assert torch.equal(pg.namespace["lookup"], e.weight[14:15])


def test_my_first_model_output_shape(pg):
    res = run_ok(pg, recipe("my_first_model").code)
    assert pg.namespace["my_out"].shape == (1, 4, 2)
    assert "torch.Size([1, 4, 2])" in res["stdout"]
    assert res["value"]["kind"] == "module"
    assert res["value"]["params"] == 100 * 16 + (16 * 8 + 8) + (8 * 2 + 2)


def test_l3_recipes_numbers(pg):
    assert "torch.Size([5000, 70]) | Linear weight torch.Size([5000, 70])" in run_ok(
        pg, recipe("embedding_vs_linear").code)["stdout"]
    out = run_ok(pg, recipe("init").code)["stdout"]
    assert "(theory 0, 0.0690)" in out and "<= 0.1195" in out
    res = run_ok(pg, recipe("weight_tying").code)
    assert res["value"]["params"] == 350_000
    assert "153.6 MB" in res["stdout"]
    err = pg.run(recipe("linear_with_int").code)["error"]
    assert err["line"].startswith("l(14)") and "l.weight[i]" in err["hint"]


def test_is_complete_follows_ipython():
    assert is_complete("x = 1")
    assert not is_complete("")
    assert not is_complete("for i in range(3):")
    assert not is_complete("x = (1,")
    assert not is_complete("for i in range(3):\n    print(i)")  # still typing the body
    assert is_complete("for i in range(3):\n    print(i)\n")
    assert is_complete("def f():\n    return 1\nf()")
    assert is_complete("x = $")  # a syntax error runs, and shows the error
    assert all(is_complete(r.code) for r in RECIPES)  # one Enter runs a loaded recipe


# -- namespace, output, values ---------------------------------------------------------------------

def test_namespace_persists_and_starts_with_the_usual_names(pg):
    for name in ("torch", "nn", "F", "np", "model", "tokenizer", "data"):
        assert name in pg.namespace
    run_ok(pg, "a = torch.arange(4)")
    assert run_ok(pg, "a.sum().item()")["value"]["text"] == "6"
    assert run_ok(pg, "_ + 1")["value"]["text"] == "7"  # _ is the last value, as in Python


def test_stdout_is_captured_and_bounded(pg):
    res = run_ok(pg, "print('hello'); import sys; print('warn', file=sys.stderr)")
    assert res["stdout"] == "hello\nwarn\n"
    assert res["value"] is None
    res = run_ok(pg, "print('x' * 10_000_000)")
    assert len(res["stdout"]) < MAX_TEXT + 100
    assert "more characters not shown" in res["stdout"]


def test_session_names_follow_the_session_but_keep_the_persons_own(pg, make_session,
                                                                   corpus_file):
    s1 = make_session("mini", corpus_file)
    pg.bind(s1)
    assert pg.namespace["model"] is s1.model and pg.namespace["tokenizer"] is s1.tokenizer
    run_ok(pg, "model = 'mine'\nmy_var = 1")
    pg.bind(s1)  # same session: the person's `model` stays
    assert pg.namespace["model"] == "mine"
    s2 = make_session("mini", corpus_file)
    pg.bind(s2)  # a configure/load: the live model again, other names untouched
    assert pg.namespace["model"] is s2.model and pg.namespace["my_var"] == 1


def test_tensor_header_flags_nan_and_inf_and_big_tensors_are_cut():
    t = torch.tensor([1.0, float("nan"), float("inf"), 3.0])
    header = tensor_header(t)
    assert "NaN!×1" in header and "Inf!×1" in header and "x∈[1.0, 3.0]" in header
    big = describe(torch.zeros(1000, 1000))
    assert big["shape"] == [1000, 1000] and "..." in big["text"] and len(big["text"]) < 2000
    assert "all=0.0" in big["header"] and "n=1,000,000" in big["header"]


def test_values_that_are_huge_or_unprintable_are_still_shown(pg):
    res = run_ok(pg, "list(range(10**7))")
    assert res["value"]["text"].startswith("[0, 1, 2") and res["value"]["text"].endswith("...]")
    assert len(res["value"]["text"]) < 2000
    res = run_ok(pg, "class Odd:\n    def __repr__(self):\n        raise ValueError('no')\nOdd()")
    assert res["value"]["text"] == "<Odd: cannot be shown: no>"


@pytest.mark.parametrize("code, type_, hint_part", [
    ("nn.Linear(3, 2)(torch.ones(4, 5))", "RuntimeError", "5 ≠ 3"),
    ("a = torch.ones(2, 3)\nw = torch.ones(4, 2)\na @ w", "RuntimeError",
     "(here: a is [2, 3], w is [4, 2])"),
    ("v = torch.ones(3)\ntorch.dot(v, torch.ones(4))", "RuntimeError", "(here: v is [3])"),
    ("torch.tensor([1, 2]) @ torch.ones(2)", "RuntimeError", ".float()"),
    ("nn.Embedding(10, 3)(torch.tensor([12]))", "IndexError", "num_embeddings"),
    ("nn.Linear(70, 5)(14)", "TypeError", "l.weight[i]"),
    ("exit(3)", "SystemExit", "keeps running"),
    ("x = (1,\ny = 2", "SyntaxError", "brackets"),
])
def test_common_mistakes_get_hints(pg, code, type_, hint_part):
    err = pg.run(code)["error"]
    assert err["type"] == type_
    assert hint_part in err["hint"], err


def test_memory_guard_refuses_huge_tensors(pg):
    err = pg.run("t = torch.empty(10**13)")["error"]
    assert err["type"] == "MemoryGuardError"
    assert "40.0 TB" in err["message"] and err["hint"]
    assert "t" not in pg.namespace
    err = pg.run("torch.ones(10**5)[:, None] * torch.ones(10**5)")["error"]  # 40 GB outer
    assert err["type"] == "MemoryGuardError"
    assert run_ok(pg, "torch.ones(2000, 2000).sum().item()")["value"]["text"] == "4000000.0"
    for code in ("torch.ones(1).expand(10**11).contiguous()",
                 "torch.cat([torch.ones(1).expand(10**11)] * 2)",
                 "torch.zeros(3).repeat(10**11)", "torch.randint(0, 5, (10**6, 10**6))"):
        assert pg.run(code)["error"]["type"] == "MemoryGuardError", code
    # a share of (almost) nothing refuses even a modest tensor
    assert pg.run("torch.zeros(4_000_000)", memory_share=1e-9)["error"]["type"] == \
        "MemoryGuardError"


@pytest.mark.skipif(torch.cuda.is_available(), reason="the address-space cap is CPU-only")
def test_address_space_cap_catches_what_the_guard_cannot_size(pg):
    # 4 GB of zeros costs nothing without the cap (pages are lazy); with a share of ~0 the cap
    # leaves only the slack, so the allocation fails cleanly and the engine's state is intact
    err = pg.run("buf = bytearray(4 * 10**9)", memory_share=1e-9)["error"]
    assert err["type"] == "MemoryError" and "out of memory" in err["message"]
    assert run_ok(pg, "len(bytearray(10**6))")["value"]["text"] == "1000000"


def test_complete_names_and_attributes(pg):
    run_ok(pg, "x_data = torch.ones(2)")
    res = pg.complete("x_da")
    assert res["candidates"] == ["x_data"] and res["start"] == 0
    res = pg.complete("y = torch.zer")
    assert {"zeros", "zeros_like"} <= set(res["candidates"]) and res["start"] == 10
    assert pg.complete("nn.Linear(2, 2).wei")["candidates"] == []  # calls are never made
    assert pg.complete("x_data.sha")["candidates"] == ["shape", "share_memory_"]


# -- over a real engine ------------------------------------------------------------------------------

@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def engine():
    client = EngineClient(nice=0, threads=1)
    await client.start(timeout=120)
    yield client
    await client.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_exec_op_persists_and_binds_the_model(engine, corpus_file):
    res = await engine.request("exec", {"code": "a = 2 + 3\nprint('hi')\na * 2"})
    assert res["stdout"] == "hi\n" and res["value"]["text"] == "10" and res["error"] is None
    assert (await engine.request("exec", {"code": "a"}))["value"]["text"] == "5"
    await engine.request("configure", {"preset": "mini", "corpus": str(corpus_file),
                                       "device": "cpu", "model": {"n_embd": 8,
                                                                  "n_hidden": 8}})
    res = await engine.request("exec", {"code": "type(model).__name__, tokenizer.vocab_size"})
    assert res["value"]["text"].startswith("(") and res["error"] is None
    res = await engine.request("exec", {"code": "z = torch.ones(1, requires_grad=True) * 2\n"
                                                "z.backward(); z.backward()"})
    assert res["error"]["type"] == "RuntimeError" and "retain_graph" in res["error"]["hint"]
    res = await engine.request("exec", {"code": "torch.empty(10**13)"})
    assert res["error"]["type"] == "MemoryGuardError" and "40.0 TB" in res["error"]["message"]
    comp = await engine.request("complete", {"code": "torch.ara", "cursor": 9})
    assert "arange" in comp["candidates"]
    with pytest.raises(EngineError, match="code"):
        await engine.request("exec", {})
    with pytest.raises(EngineError, match="memory_share"):
        await engine.request("exec", {"code": "1", "memory_share": 2})


@pytest.mark.asyncio(loop_scope="module")
async def test_interrupt_ends_an_endless_cell(engine):
    task = asyncio.create_task(engine.request("exec", {"code": "n = 0\nwhile True: n += 1"}))
    await asyncio.sleep(0.5)
    started = time.monotonic()
    engine.interrupt()
    with pytest.raises(EngineError) as info:
        await asyncio.wait_for(task, 10)
    assert info.value.type == "Interrupted"
    assert time.monotonic() - started < 2
    res = await engine.request("exec", {"code": "n > 0"})  # the engine lives, n is kept
    assert res["value"]["text"] == "True"


@pytest.mark.asyncio(loop_scope="module")
async def test_a_cell_sent_while_training_runs_between_steps(engine, corpus_file):
    await engine.request("configure", {"preset": "mini", "corpus": str(corpus_file),
                                       "device": "cpu", "steps": 1_000_000, "batch_size": 4,
                                       "model": {"n_embd": 8, "n_hidden": 8}})
    await engine.request("train_start", {})
    try:
        first = await engine.request("exec", {"code": "model.training"})
        second = await engine.request("exec", {"code": "1"})
        assert first["state"] == second["state"] == "running"
        assert first["value"]["text"] == "True" and first["error"] is None
        assert 0 < first["step"] <= second["step"]  # training goes on between cells
    finally:
        await engine.request("train_stop", {})


@pytest.mark.asyncio(loop_scope="module")
async def test_a_cell_that_kills_the_engine_is_reported_and_restart_is_fresh(engine):
    await engine.request("exec", {"code": "kept = 1"})
    with pytest.raises(EngineDied) as info:
        await engine.request("exec", {"code": "import os; os._exit(1)"})
    assert info.value.returncode == 1
    await engine.restart()
    res = await engine.request("exec", {"code": "kept"})
    assert res["error"]["type"] == "NameError"
    res = await engine.request("exec", {"code": "torch.ones(2, 2).sum()"})
    assert res["value"]["text"] == "tensor(4.)"
    reset = await engine.request("playground_reset", {})
    assert {"torch", "nn", "F", "np", "model", "tokenizer", "data"} <= set(reset["names"])
