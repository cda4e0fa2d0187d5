"""The recipes (core/playground_recipes.py) run in the playground and give the seeds' numbers;
``is_complete`` decides when Enter runs a cell."""

from __future__ import annotations

import pytest
import torch

from core.playground_recipes import RECIPES, is_complete, recipe


@pytest.mark.parametrize("r", RECIPES, ids=[r.key for r in RECIPES])
def test_every_recipe_runs_as_expected(pg, r):
    res = pg.run(r.code)
    if r.raises:
        assert res["error"]["type"] == r.raises
        assert res["error"]["hint"]
    else:
        assert res["error"] is None, res["error"]
        assert res["value"] is not None  # each recipe ends on something to look at


def test_autograd_recipe_gives_18(pg, run_ok):
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


def test_linear_recipe_shape_and_grad_fn(pg, run_ok):
    value = run_ok(pg, recipe("linear").code)["value"]
    assert value["shape"] == [3, 2]
    assert value["grad_fn"] == "AddmmBackward0"
    assert value["requires_grad"] is True
    assert "grad_fn=AddmmBackward0" in value["header"]


def test_embedding_and_one_hot_lookup(pg, run_ok):
    assert run_ok(pg, recipe("embedding").code)["value"]["shape"] == [4, 3]
    res = run_ok(pg, recipe("one_hot_lookup").code)
    assert res["value"]["text"] == "True"
    assert "max abs difference: 0.0" in res["stdout"]
    e = pg.namespace["e"]
    assert torch.equal(pg.namespace["lookup"], e.weight[14:15])


def test_my_first_model_output_shape(pg, run_ok):
    res = run_ok(pg, recipe("my_first_model").code)
    assert pg.namespace["my_out"].shape == (1, 4, 2)
    assert "torch.Size([1, 4, 2])" in res["stdout"]
    assert res["value"]["kind"] == "module"
    assert res["value"]["params"] == 100 * 16 + (16 * 8 + 8) + (8 * 2 + 2)


def test_l3_recipes_numbers(pg, run_ok):
    assert (
        "torch.Size([5000, 70]) | Linear weight torch.Size([5000, 70])"
        in run_ok(pg, recipe("embedding_vs_linear").code)["stdout"]
    )
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
