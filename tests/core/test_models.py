"""Model presets: shapes, initial loss, learning, tied weights, context, causality, configs,
and the parabola (the backprop lesson)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from core.errors import ConfigError
from core.models import (
    LANGUAGE_PRESETS,
    GPTConfig,
    MiniConfig,
    MLPConfig,
    build_model,
    count_parameters,
    make_config,
    tied_parameters,
)

pytestmark = pytest.mark.usefixtures("single_thread")

V = 37  # a vocabulary size no preset uses by default


def _model(preset: str, **values) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(preset, make_config(preset, vocab_size=V, **values))
    model.eval()
    return model


# -- shapes and the initial loss ------------------------------------------------------------------


@pytest.mark.parametrize("preset", LANGUAGE_PRESETS)
def test_logits_are_batch_time_vocab(preset, tiny_model):
    model = _model(preset, **tiny_model[preset])
    idx = torch.randint(V, (3, 11), generator=torch.Generator().manual_seed(0))
    logits, loss = model(idx)
    assert logits.shape == (3, 11, V)
    assert loss is None
    logits2, loss2 = model(idx, torch.zeros_like(idx))
    assert torch.equal(logits, logits2)
    assert loss2.shape == () and loss2.dtype == torch.float32


def test_language_presets_are_the_three_models():
    assert LANGUAGE_PRESETS == ("mini", "mlp", "gpt")


@pytest.mark.parametrize("preset", LANGUAGE_PRESETS)
@pytest.mark.parametrize("sizes", ["tiny", "default"])
def test_initial_loss_is_about_ln_vocab(preset, sizes, tiny_model):
    model = _model(preset, **(tiny_model[preset] if sizes == "tiny" else {}))
    gen = torch.Generator().manual_seed(1)
    idx = torch.randint(V, (8, 16), generator=gen)
    targets = torch.randint(V, (8, 16), generator=gen)  # random: nothing to predict yet
    _, loss = model(idx, targets)
    assert abs(loss.item() - math.log(V)) < 0.3


@pytest.mark.parametrize("preset", LANGUAGE_PRESETS)
def test_loss_is_the_mean_cross_entropy(preset, tiny_model):
    model = _model(preset, **tiny_model[preset])
    gen = torch.Generator().manual_seed(2)
    idx, targets = torch.randint(V, (2, 5), generator=gen), torch.randint(V, (2, 5), generator=gen)
    logits, loss = model(idx, targets)
    logp = torch.log_softmax(logits, dim=-1)
    by_hand = -logp.gather(-1, targets[..., None]).mean()
    assert torch.allclose(loss, by_hand, atol=1e-6)


@pytest.mark.parametrize("preset", LANGUAGE_PRESETS)
def test_loss_falls_on_a_repetitive_corpus_within_200_steps(preset, corpus_file, make_session):
    session = make_session(preset, corpus_file, steps=200, warmup_steps=20)
    vocab = session.tokenizer.vocab_size
    assert vocab == 11  # "the cat sat on the mat. "
    for _ in range(200):
        session.trainer.train_step()
    report = session.trainer.flush()
    losses = report["losses"]
    assert len(losses) == 200 and report["first_step"] == 1 and report["step"] == 200
    assert abs(losses[0] - math.log(vocab)) < 0.3
    final = sum(losses[-20:]) / 20
    assert final < 1.0  # from ln 11 ≈ 2.40
    assert final < losses[0] - 1.3
    assert session.trainer.evaluate() < 1.0  # and it generalises to the held-out tail
    assert session.trainer.done and session.trainer.diverged is None


# -- parameters and tied weights ------------------------------------------------------------------


def test_gpt_tied_parameters_are_counted_once():
    d, L, T = 32, 2, 16
    model = _model("gpt", n_layer=L, n_head=4, n_embd=d, block_size=T)
    assert model.lm_head.weight is model.wte.weight
    assert tied_parameters(model) == [["wte.weight", "lm_head.weight"]]
    n = count_parameters(model)
    assert n == sum(p.numel() for p in model.parameters())
    per_block = (
        (2 * d)
        + (d * 3 * d + 3 * d)
        + (d * d + d)
        + (2 * d)
        + (d * 4 * d + 4 * d)
        + (4 * d * d + d)
    )
    hand = V * d + T * d + L * per_block + 2 * d  # wte, wpe, blocks, ln_f; lm_head is wte
    assert n == hand == 27_168
    # counting every name separately would count the shared [V, d] matrix twice
    every_name = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    assert every_name == n + V * d


def test_gpt_tied_weight_stays_shared_through_training(corpus_file, make_session):
    session = make_session("gpt", corpus_file, steps=3)
    for _ in range(3):
        session.trainer.train_step()
    model = session.model
    assert model.lm_head.weight is model.wte.weight
    assert tied_parameters(model) == [["wte.weight", "lm_head.weight"]]


def test_mini_and_mlp_have_no_tied_weights_and_count_by_hand():
    mini = _model("mini", n_embd=16, n_hidden=32)
    assert tied_parameters(mini) == []
    assert count_parameters(mini) == V * 16 + (16 * 32 + 32) + (32 * V + V)
    mlp = _model("mlp", context=3, n_embd=8, n_hidden=20)
    assert tied_parameters(mlp) == []
    # one extra embedding row pads the window before the start of the text
    assert count_parameters(mlp) == (V + 1) * 8 + (3 * 8 * 20 + 20) + (20 * V + V)


def test_count_trainable_only_skips_frozen_parameters():
    model = _model("mini", n_embd=16, n_hidden=32)
    model.embedding.weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == count_parameters(model) - V * 16


# -- what each position sees ----------------------------------------------------------------------


def _changed_positions(model: torch.nn.Module, idx: torch.Tensor, j: int) -> list[bool]:
    """For each position, whether its logits change when the character at ``j`` changes."""
    other = idx.clone()
    other[0, j] = (idx[0, j] + 1) % V
    with torch.no_grad():
        a, _ = model(idx)
        b, _ = model(other)
    diff = (a - b).abs().amax(dim=-1)[0]  # (T,)
    unchanged = diff <= 1e-6
    changed = diff > 1e-4
    assert bool((unchanged | changed).all()), "a change is neither clear nor absent"
    return changed.tolist()


def test_mlp_context_window_decides_what_matters():
    C, T = 4, 12
    model = _model("mlp", context=C, n_embd=8, n_hidden=32, block_size=T)
    idx = torch.randint(V, (1, T), generator=torch.Generator().manual_seed(3))
    for j in range(T):
        changed = _changed_positions(model, idx, j)
        # position t sees characters t-C+1 .. t: a change at j reaches j .. j+C-1, nothing else
        assert changed == [j <= t <= j + C - 1 for t in range(T)], f"changed character {j}"


def test_mlp_prediction_depends_on_the_window_only():
    C = 3
    model = _model("mlp", context=C, n_embd=8, n_hidden=32)
    base = torch.tensor([[5, 6, 7, 8, 9, 10]])
    with torch.no_grad():
        last = model(base)[0][0, -1]
        outside = base.clone()
        outside[0, 2] = 30  # 4 characters back: outside the window of 3
        inside = base.clone()
        inside[0, 3] = 30  # 3 characters back: inside the window
        assert torch.equal(model(outside)[0][0, -1], last)
        assert not torch.allclose(model(inside)[0][0, -1], last)


def test_mini_sees_only_the_current_character():
    T = 8
    model = _model("mini", n_embd=16, n_hidden=32)
    idx = torch.randint(V, (1, T), generator=torch.Generator().manual_seed(4))
    for j in range(T):
        assert _changed_positions(model, idx, j) == [t == j for t in range(T)]


def test_gpt_is_causal():
    T = 10
    model = _model("gpt", n_layer=2, n_head=2, n_embd=16, block_size=T)
    idx = torch.randint(V, (1, T), generator=torch.Generator().manual_seed(5))
    for j in range(T):
        changed = _changed_positions(model, idx, j)
        assert changed[:j] == [False] * j, f"a change at {j} reached earlier positions"
        assert all(changed[j:]), f"a change at {j} did not reach every later position"


def test_gpt_refuses_inputs_longer_than_its_context():
    model = _model("gpt", n_layer=1, n_head=2, n_embd=16, block_size=8)
    model(torch.zeros(1, 8, dtype=torch.long))
    with pytest.raises(ConfigError) as info:
        model(torch.zeros(1, 9, dtype=torch.long))
    assert info.value.message == "input of 9 characters exceeds the context length 8"
    assert "last 8 characters" in info.value.hint


# -- configs --------------------------------------------------------------------------------------


def test_make_config_fills_defaults():
    assert make_config("gpt") == GPTConfig()
    assert make_config("mini", n_embd=16) == MiniConfig(n_embd=16)
    assert make_config("mlp", context=3).context == 3
    assert [f.name for f in dataclasses.fields(MLPConfig)] == [
        "vocab_size",
        "context",
        "n_embd",
        "n_hidden",
        "block_size",
    ]
    assert isinstance(make_config("mlp"), MLPConfig)


def test_make_config_refuses_unknown_settings():
    with pytest.raises(ConfigError) as info:
        make_config("gpt", n_layers=2, width=3)
    assert info.value.message == "preset 'gpt' has no setting n_layers, width"
    assert info.value.hint == (
        "its settings are: bias, block_size, dropout, n_embd, n_head, n_layer, tie_weights, vocab_size"
    )


def test_make_config_refuses_unknown_presets():
    with pytest.raises(ConfigError) as info:
        make_config("transformer")
    assert info.value.message == "unknown preset 'transformer'"
    assert info.value.hint == "choose one of: mini, mlp, gpt, parabola"


@pytest.mark.parametrize(
    "preset, values, message",
    [
        ("gpt", {"n_embd": 30, "n_head": 4}, "n_embd (30) must be divisible by n_head (4)"),
        ("gpt", {"n_layer": 0}, "n_layer must be a positive integer, got 0"),
        ("gpt", {"n_head": -2}, "n_head must be a positive integer, got -2"),
        ("gpt", {"block_size": 2.5}, "block_size must be a positive integer, got 2.5"),
        ("gpt", {"n_embd": True}, "n_embd must be a positive integer, got True"),
        ("gpt", {"dropout": 1.0}, "dropout must be in [0, 1), got 1.0"),
        ("gpt", {"dropout": -0.1}, "dropout must be in [0, 1), got -0.1"),
        ("mini", {"n_hidden": 0}, "n_hidden must be a positive integer, got 0"),
        ("mlp", {"context": 0}, "context must be a positive integer, got 0"),
        ("mlp", {"vocab_size": "65"}, "vocab_size must be a positive integer, got '65'"),
        ("parabola", {"a": 0.0}, "a must be > 0 for the parabola to have a minimum, got 0.0"),
        ("parabola", {"a": -3.0}, "a must be > 0 for the parabola to have a minimum, got -3.0"),
    ],
)
def test_make_config_refuses_bad_values(preset, values, message):
    with pytest.raises(ConfigError) as info:
        make_config(preset, **values)
    assert info.value.message == message


# -- parabola: f(x) = 3x² − 2x + 3 from x = −1 --------------------------------------------------


def test_parabola_reaches_the_seed_value_after_80_steps(make_session):
    session = make_session("parabola")
    tc = session.train_config
    assert (tc.lr, tc.steps, tc.optimizer, tc.schedule, tc.grad_clip) == (
        0.01,
        80,
        "sgd",
        "constant",
        0.0,
    )
    assert session.model.x.item() == -1.0
    while not session.trainer.done:
        session.trainer.train_step()
    report = session.trainer.flush()
    x = session.model.x.item()
    closed_form = 1 / 3 - (4 / 3) * 0.94**80  # x_n = 1/3 + 0.94^n (x_0 − 1/3)
    assert abs(closed_form - 0.3239) < 1e-4
    assert abs(x - 0.3239) < 1e-3
    assert abs(x - closed_form) < 1e-5  # float32 precision, not just the seed's rounding
    assert session.trainer.step == 80
    assert report["parabola"]["x"] == x
    assert report["parabola"]["optimum"] == 1 / 3
    assert report["parabola"]["distance"] == pytest.approx(abs(x - 1 / 3))
    # the loss is f(x): 8 at x = −1, falling towards f(1/3) = 8/3
    assert report["losses"][0] == 8.0
    assert all(a > b for a, b in zip(report["losses"], report["losses"][1:]))
    assert report["losses"][-1] == pytest.approx(8 / 3, abs=1e-3)


def test_parabola_detailed_steps_report_the_gradient_where_it_was_taken(make_session):
    session = make_session("parabola")
    trainer = session.trainer
    for n in range(80):
        x_before = session.model.x.item()
        detail = trainer.train_step_detailed()
        p = detail.parabola
        assert p["grad_at"] == x_before
        assert p["x"] == x_before  # reported after backward, before the step moves x
        assert p["grad"] == pytest.approx(6 * p["grad_at"] - 2, rel=1e-6, abs=1e-6)
        assert detail.loss == pytest.approx(3 * x_before**2 - 2 * x_before + 3, rel=1e-6)
        assert p["optimum"] == 1 / 3
        assert detail.grad_norm == pytest.approx(abs(p["grad"]), rel=1e-6)
        # SGD: x moves by lr · grad, against the gradient
        x_after = session.model.x.item()
        assert x_after - x_before == pytest.approx(-0.01 * p["grad"], rel=1e-4, abs=1e-7)
        assert detail.update_norm == pytest.approx(abs(x_after - x_before), rel=1e-6)
        assert detail.step == n + 1 and detail.lr == 0.01 and not detail.clipped
    assert session.model.x.item() == pytest.approx(1 / 3 - (4 / 3) * 0.94**80, abs=1e-5)
    # the report after the step: x has moved on, grad is the one taken at the x before
    state = session.model.state_report()
    assert state["grad"] == pytest.approx(6 * state["grad_at"] - 2, abs=1e-6)
    assert state["x"] != state["grad_at"]


def test_parabola_first_step_negative_gradient_pushes_x_up(make_session):
    session = make_session("parabola")
    detail = session.trainer.train_step_detailed()
    assert detail.parabola["grad"] == -8.0  # 6·(−1) − 2
    assert detail.loss == 8.0  # 3 + 2 + 3
    assert session.model.x.item() == pytest.approx(-0.92)  # −1 − 0.01·(−8)


def test_parabola_optimum_follows_the_coefficients(make_session):
    session = make_session("parabola", model={"a": 2.0, "b": 4.0, "x0": 0.0}, steps=500, lr=0.1)
    assert session.model.state_report()["optimum"] == -1.0  # −b / 2a
    while not session.trainer.done:
        session.trainer.train_step()
    assert session.model.x.item() == pytest.approx(-1.0, abs=1e-5)


def test_vocab_size_cannot_be_overridden(corpus_file):
    from core.errors import ConfigError
    from core.session import RunSpec, Session

    with pytest.raises(ConfigError, match="vocab_size cannot be set"):
        Session.create(
            RunSpec(preset="mini", corpus=str(corpus_file), device="cpu", model={"vocab_size": 7})
        )


def test_gpt_without_bias_or_tying_has_exactly_the_parameters_it_says():
    from core.models import GPTConfig, build_model, count_parameters, tied_parameters

    V, T, C, L = 11, 8, 16, 2
    base = build_model("gpt", GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=2, n_embd=C))
    plain = GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=2, n_embd=C, bias=False)
    no_bias = build_model("gpt", plain)
    assert not [n for n, _ in no_bias.named_parameters() if n.endswith(".bias")]
    # per block: qkv 3C, proj C, fc 4C, proj C, two LayerNorms C each; and ln_f's C
    assert count_parameters(base) - count_parameters(no_bias) == L * (3 + 1 + 4 + 1 + 2) * C + C
    untied = GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=2, n_embd=C, tie_weights=False)
    separate = build_model("gpt", untied)
    assert tied_parameters(base) == [["wte.weight", "lm_head.weight"]]
    assert tied_parameters(separate) == []
    assert count_parameters(separate) - count_parameters(base) == V * C


def test_bias_and_tying_are_true_or_false():
    from core.models import make_config

    with pytest.raises(ConfigError, match="bias must be true or false, got 'no'"):
        make_config("gpt", bias="no")
