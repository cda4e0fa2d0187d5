"""The engine and trainer changes ``torchdeck bench`` led to: a waiting request ends the training
slice, and AdamW runs as one fused update."""

from __future__ import annotations

import io

import pytest


def test_a_waiting_request_ends_the_training_slice(tmp_path):
    """A prediction typed during training must not wait for the rest of a ~50 ms slice: the
    engine's slice stops before the next step when a request is queued."""
    import torch

    from core.engine import Engine
    from core.protocol import Request

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 60, encoding="utf-8")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        engine = Engine(io.StringIO())
        handler, args = engine.ops["configure"]
        handler(
            args.from_args(
                "configure",
                {
                    "preset": "mini",
                    "corpus": str(corpus),
                    "device": "cpu",
                    "model": {"n_embd": 8, "n_hidden": 16, "block_size": 8},
                    "train": {"batch_size": 4, "eval_interval": 0},
                    "steps": 100_000,
                },
            )
        )
        engine.begin_running()
        engine.train_slice()
        alone = engine.session.trainer.step
        assert alone > 3  # ~50 ms of millisecond steps with nothing waiting
        engine.requests.put(("req", Request(1, "status", {}), None))
        engine.train_slice()
        assert engine.session.trainer.step == alone  # the request goes first
        engine._drain(block=False)
        assert engine.requests.empty()
        engine.train_slice()
        assert engine.session.trainer.step > alone + 3
    finally:
        torch.set_num_threads(threads)


def test_adamw_uses_the_fused_kernel_on_the_cpu(make_session_cpu):
    """The optimizer change the profile led to: one fused AdamW update for all parameters."""
    import torch

    from core.training import fused_ok

    trainer = make_session_cpu.trainer
    assert isinstance(trainer.optimizer, torch.optim.AdamW)
    assert all(group["fused"] is True for group in trainer.optimizer.param_groups)
    assert fused_ok([torch.zeros(2)]) is True
    assert fused_ok([torch.zeros(2, dtype=torch.int64)]) is False
    assert fused_ok([torch.zeros(2, device="meta")]) is False
    assert fused_ok([]) is False
    before = [p.detach().clone() for p in trainer.params]
    trainer.train_step()
    assert any(not torch.equal(b, p) for b, p in zip(before, trainer.params))


def test_fused_adamw_matches_the_per_tensor_update():
    """Same update rule: ten steps of fused and plain AdamW end at the same weights."""
    import torch

    torch.manual_seed(0)
    start = [torch.randn(8, 4), torch.randn(4)]
    results = []
    for fused in (None, True):
        params = [p.clone().requires_grad_() for p in start]
        opt = torch.optim.AdamW(
            [
                {"params": params[:1], "weight_decay": 0.1},
                {"params": params[1:], "weight_decay": 0.0},
            ],
            lr=1e-2,
            betas=(0.9, 0.99),
            fused=fused,
        )
        for i in range(10):
            opt.zero_grad()
            ((params[0] @ params[1]).sin().sum() * (i + 1)).backward()
            opt.step()
        results.append(params)
    for plain, fused in zip(*results):
        torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-6)


@pytest.fixture
def make_session_cpu(tmp_path):
    from core.session import RunSpec, Session

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 60, encoding="utf-8")
    return Session.create(
        RunSpec(
            preset="gpt",
            corpus=str(corpus),
            device="cpu",
            model={"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 8},
            train={"batch_size": 2, "eval_interval": 0},
        )
    )
