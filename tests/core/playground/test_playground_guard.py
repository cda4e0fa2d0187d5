"""The memory guard (core/playground/guard.py) refuses huge tensors before they are allocated,
and the address-space cap catches what the guard cannot size."""

from __future__ import annotations

import pytest
import torch


def test_memory_guard_refuses_huge_tensors(pg, run_ok):
    err = pg.run("t = torch.empty(10**13)")["error"]
    assert err["type"] == "MemoryGuardError"
    assert "40.0 TB" in err["message"] and err["hint"]
    assert "t" not in pg.namespace
    err = pg.run("torch.ones(10**5)[:, None] * torch.ones(10**5)")["error"]  # 40 GB outer
    assert err["type"] == "MemoryGuardError"
    assert run_ok(pg, "torch.ones(2000, 2000).sum().item()")["value"]["text"] == "4000000.0"
    for code in (
        "torch.ones(1).expand(10**11).contiguous()",
        "torch.cat([torch.ones(1).expand(10**11)] * 2)",
        "torch.zeros(3).repeat(10**11)",
        "torch.randint(0, 5, (10**6, 10**6))",
    ):
        assert pg.run(code)["error"]["type"] == "MemoryGuardError", code
    # a share of (almost) nothing refuses even a modest tensor
    assert (
        pg.run("torch.zeros(4_000_000)", memory_share=1e-9)["error"]["type"] == "MemoryGuardError"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="the address-space cap is CPU-only")
def test_address_space_cap_catches_what_the_guard_cannot_size(pg, run_ok):
    # 4 GB of zeros costs nothing without the cap (pages are lazy); with a share of ~0 the cap
    # leaves only the slack, so the allocation fails cleanly and the engine's state is intact
    err = pg.run("buf = bytearray(4 * 10**9)", memory_share=1e-9)["error"]
    assert err["type"] == "MemoryError" and "out of memory" in err["message"]
    assert run_ok(pg, "len(bytearray(10**6))")["value"]["text"] == "1000000"
