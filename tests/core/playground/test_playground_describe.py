"""How the playground shows values (core/playground/describe.py): the tensor header flags NaN
and Inf, and big or unprintable values are still shown, cut short."""

from __future__ import annotations

import torch

from core.playground import describe, tensor_header


def test_tensor_header_flags_nan_and_inf_and_big_tensors_are_cut():
    t = torch.tensor([1.0, float("nan"), float("inf"), 3.0])
    header = tensor_header(t)
    assert "NaN!×1" in header and "Inf!×1" in header and "x∈[1.0, 3.0]" in header
    big = describe(torch.zeros(1000, 1000))
    assert big["shape"] == [1000, 1000] and "..." in big["text"] and len(big["text"]) < 2000
    assert "all=0.0" in big["header"] and "n=1,000,000" in big["header"]


def test_values_that_are_huge_or_unprintable_are_still_shown(pg, run_ok):
    res = run_ok(pg, "list(range(10**7))")
    assert res["value"]["text"].startswith("[0, 1, 2") and res["value"]["text"].endswith("...]")
    assert len(res["value"]["text"]) < 2000
    res = run_ok(pg, "class Odd:\n    def __repr__(self):\n        raise ValueError('no')\nOdd()")
    assert res["value"]["text"] == "<Odd: cannot be shown: no>"
