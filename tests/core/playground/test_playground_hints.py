"""Errors in a cell come back with a hint for the mistakes learners make most
(core/playground/hints.py), with the operands' shapes where a matrix product failed."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "code, type_, hint_part",
    [
        ("nn.Linear(3, 2)(torch.ones(4, 5))", "RuntimeError", "5 ≠ 3"),
        (
            "a = torch.ones(2, 3)\nw = torch.ones(4, 2)\na @ w",
            "RuntimeError",
            "(here: a is [2, 3], w is [4, 2])",
        ),
        ("v = torch.ones(3)\ntorch.dot(v, torch.ones(4))", "RuntimeError", "(here: v is [3])"),
        ("torch.tensor([1, 2]) @ torch.ones(2)", "RuntimeError", ".float()"),
        ("nn.Embedding(10, 3)(torch.tensor([12]))", "IndexError", "num_embeddings"),
        ("nn.Linear(70, 5)(14)", "TypeError", "l.weight[i]"),
        ("exit(3)", "SystemExit", "keeps running"),
        ("x = (1,\ny = 2", "SyntaxError", "brackets"),
    ],
)
def test_common_mistakes_get_hints(pg, code, type_, hint_part):
    err = pg.run(code)["error"]
    assert err["type"] == type_
    assert hint_part in err["hint"], err
