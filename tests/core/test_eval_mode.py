"""core.models.eval_mode: eval mode within the block for every module, each module back in its
own mode after (a part a person froze in eval mode stays so), a module's own ``train()`` asked,
and the modes restored when the block raises."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from core.model_configs import GPTConfig
from core.models import GPT, eval_mode
from core.predict import next_logits


class Counting(nn.Module):
    """A module with its own train(): it records each call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[bool] = []
        self.inner = nn.Dropout(0.5)

    def train(self, mode: bool = True):
        self.calls.append(mode)
        return super().train(mode)


def test_every_module_is_in_eval_mode_inside_and_in_its_own_mode_after():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), Counting())
    model.train()
    model[1].eval()  # frozen statistics, as a person may leave a BatchNorm
    model[3].calls.clear()
    with eval_mode(model):
        assert [m.training for m in model.modules()] == [False] * 6
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True]
    assert model[3].calls == [False, True]  # its own train() was asked, both ways


def test_the_modes_come_back_when_the_block_raises():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.train()
    with pytest.raises(RuntimeError, match="boom"):
        with eval_mode(model):
            raise RuntimeError("boom")
    assert all(m.training for m in model.modules())
    model.eval()
    with eval_mode(model):
        pass
    assert not any(m.training for m in model.modules())


def test_dropout_is_off_inside_so_a_prediction_does_not_depend_on_the_mode():
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.5)
    model = GPT(cfg)
    model.train()
    first = next_logits(model, [1, 2, 3], torch.device("cpu"))
    again = next_logits(model, [1, 2, 3], torch.device("cpu"))
    assert torch.equal(first, again)  # no dropout mask drawn: eval mode
    assert model.training and all(m.training for m in model.modules())
    with torch.no_grad():
        model.eval()
        plain = model(torch.tensor([[1, 2, 3]]))[0][0, -1]
    assert torch.equal(first, plain)
