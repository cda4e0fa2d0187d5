"""Sampling a next-character distribution (core/predict.py): temperature, top-k and top-p in
filter_probs, and the checks on the Sampling settings."""

from __future__ import annotations

import pytest
import torch

from core.errors import ConfigError
from core.predict import Sampling, filter_probs

pytestmark = pytest.mark.usefixtures("single_thread")


def _logits(n: int = 20, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(seed)) * 2


# -- filter_probs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sampling",
    [
        Sampling(),
        Sampling(temperature=0.3),
        Sampling(temperature=5.0),
        Sampling(top_k=1),
        Sampling(top_k=5),
        Sampling(top_k=100),
        Sampling(top_p=0.1),
        Sampling(top_p=0.9),
        Sampling(top_p=1.0),
        Sampling(temperature=0.7, top_k=8, top_p=0.8),
        Sampling(temperature=0),
        Sampling(greedy=True, temperature=2.0),
    ],
    ids=repr,
)
def test_probabilities_sum_to_one(sampling):
    for seed in range(5):
        probs = filter_probs(_logits(seed=seed), sampling)
        assert probs.shape == (20,)
        assert float(probs.sum()) == pytest.approx(1.0, abs=1e-6)
        assert bool((probs >= 0).all())


def test_temperature_one_is_the_softmax_and_temperature_scales_logits():
    logits = _logits()
    assert torch.allclose(filter_probs(logits, Sampling()), torch.softmax(logits, -1), atol=1e-7)
    assert torch.allclose(
        filter_probs(logits, Sampling(temperature=2.0)), torch.softmax(logits / 2, -1), atol=1e-7
    )
    # lower temperature sharpens: the top probability grows
    top = int(torch.argmax(logits))
    p = [float(filter_probs(logits, Sampling(temperature=t))[top]) for t in (2.0, 1.0, 0.5, 0.1)]
    assert p == sorted(p) and p[-1] > 0.9


@pytest.mark.parametrize("sampling", [Sampling(temperature=0), Sampling(greedy=True)])
def test_temperature_zero_is_greedy_one_hot(sampling):
    logits = _logits(seed=3)
    probs = filter_probs(logits, sampling)
    expected = torch.zeros(20)
    expected[int(torch.argmax(logits))] = 1.0
    assert torch.equal(probs, expected)
    assert sampling.is_greedy


@pytest.mark.parametrize("k", [1, 2, 5, 19])
def test_top_k_keeps_exactly_the_k_largest(k):
    logits = _logits(seed=4)
    probs = filter_probs(logits, Sampling(top_k=k))
    kept = set(torch.nonzero(probs).flatten().tolist())
    assert len(kept) == k
    assert kept == set(torch.topk(logits, k).indices.tolist())
    # renormalised softmax over the kept ones
    idx = sorted(kept)
    assert torch.allclose(probs[idx], torch.softmax(logits[idx], -1), atol=1e-6)


def test_top_k_with_ties_still_keeps_exactly_k():
    logits = torch.tensor([1.0, 3.0, 3.0, 3.0, 3.0, 0.0])
    probs = filter_probs(logits, Sampling(top_k=2))
    assert int((probs > 0).sum()) == 2
    assert float(probs.sum()) == pytest.approx(1.0)
    assert set(torch.nonzero(probs).flatten().tolist()) <= {1, 2, 3, 4}
    flat = filter_probs(torch.zeros(10), Sampling(top_k=3))
    assert int((flat > 0).sum()) == 3
    assert torch.allclose(flat[flat > 0], torch.full((3,), 1 / 3))


def test_top_k_larger_than_the_vocabulary_keeps_all():
    logits = _logits()
    assert torch.allclose(filter_probs(logits, Sampling(top_k=50)), torch.softmax(logits, -1))


@pytest.mark.parametrize(
    "p, kept", [(0.3, 1), (0.49, 1), (0.6, 2), (0.74, 2), (0.76, 3), (0.87, 3), (0.9, 4), (1.0, 4)]
)
def test_top_p_keeps_the_smallest_set_reaching_p(p, kept):
    base = torch.tensor([0.125, 0.5, 0.05, 0.25, 0.075])
    order = [1, 3, 0, 4, 2]  # ranked: 0.5, 0.25, 0.125, 0.075, 0.05; mass above: 0 .5 .75 .875 .95
    probs = filter_probs(base.log(), Sampling(top_p=p))
    nonzero = torch.nonzero(probs).flatten().tolist()
    if p == 1.0:
        assert torch.allclose(probs, base, atol=1e-6)  # p = 1 keeps everything
        return
    assert sorted(nonzero) == sorted(order[:kept])
    mass = float(base[order[:kept]].sum())
    assert torch.allclose(probs[order[:kept]], base[order[:kept]] / mass, atol=1e-6)


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.8, 0.95])
def test_top_p_on_random_logits_is_minimal(p):
    for seed in range(5):
        logits = _logits(seed=seed)
        full = torch.softmax(logits, -1)
        probs = filter_probs(logits, Sampling(top_p=p))
        kept = probs > 0
        mass = float(full[kept].sum())
        assert mass >= p - 1e-6  # reaches p
        # minimal: without its least likely member the kept set would fall short of p
        assert mass - float(full[kept].min()) < p
        # and it is the most likely ones: everything kept outranks everything dropped
        if (~kept).any():
            assert float(full[kept].min()) >= float(full[~kept].max())


@pytest.mark.parametrize(
    "sampling, message",
    [
        (Sampling(temperature=-0.5), "temperature = -0.5 is out of range"),
        (Sampling(temperature=float("nan")), "temperature = nan is out of range"),
        (Sampling(temperature=101), "temperature = 101 is out of range"),
        (Sampling(top_k=0), "top_k = 0 is out of range"),
        (Sampling(top_p=0.0), "top_p = 0.0 is out of range"),
        (Sampling(top_p=1.5), "top_p = 1.5 is out of range"),
    ],
)
def test_sampling_validate_refuses_bad_settings(sampling, message):
    with pytest.raises(ConfigError) as info:
        sampling.validate()
    assert info.value.message == message


@pytest.mark.parametrize("temperature", [1e-40, 0.001, -1.0, 101.0, float("nan")])
def test_temperatures_that_would_break_sampling_are_refused(temperature):
    from core.errors import ConfigError
    from core.predict import Sampling

    with pytest.raises(ConfigError, match="temperature"):
        Sampling(temperature=temperature).validate()
