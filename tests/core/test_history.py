"""The loss history with bounded memory (core/history.py): every point below capacity, bucket
means past it, and a round trip through a dict."""

from __future__ import annotations

import pytest
import torch

from core.history import LossHistory, decimated


def test_loss_history_keeps_every_point_below_capacity():
    h = LossHistory(capacity=100)
    for s in range(1, 51):
        h.append(s, s * 0.5)
    assert h.steps == list(range(1, 51))
    assert h.values == [s * 0.5 for s in range(1, 51)]
    assert h.stride == 1 and len(h) == 50


def test_loss_history_stays_bounded_and_averages_buckets():
    cap = 8
    h = LossHistory(capacity=cap)
    n = 1000
    for s in range(1, n + 1):
        h.append(s, float(s))
        assert len(h) < cap
    # halved at 8, 16, 32, ..., 512 appends: buckets of 128 steps, the partial one pending
    assert h.stride == 128
    assert h.steps == [128, 256, 384, 512, 640, 768, 896]
    # each point is the mean of the steps in its bucket: (first + last) / 2
    assert h.values == [(s - h.stride + 1 + s) / 2 for s in h.steps]
    assert h.values[:2] == [64.5, 192.5]


def test_loss_history_bucket_means_survive_many_compactions():
    h = LossHistory(capacity=16)
    gen = torch.Generator().manual_seed(0)
    values = torch.rand(5000, generator=gen, dtype=torch.float64).tolist()
    for s, v in enumerate(values, start=1):
        h.append(s, v)
    assert len(h) < 16
    assert all(b - a == h.stride for a, b in zip(h.steps, h.steps[1:]))
    for step, value in zip(h.steps, h.values):
        bucket = values[step - h.stride : step]
        assert value == pytest.approx(sum(bucket) / h.stride, rel=1e-12)


def test_loss_history_constant_values_stay_constant():
    h = LossHistory(capacity=4)
    for s in range(1, 301):
        h.append(s, 2.5)
    assert set(h.values) == {2.5}


def test_loss_history_round_trips_through_a_dict():
    h = LossHistory(capacity=8)
    for s in range(1, 30):
        h.append(s, s / 3)
    back = LossHistory.from_dict(h.to_dict())
    assert (back.steps, back.values, back.stride, back.capacity) == (
        h.steps,
        h.values,
        h.stride,
        h.capacity,
    )
    with pytest.raises(ValueError, match="differ in length"):
        LossHistory.from_dict({"steps": [1, 2], "values": [0.5]})


def test_decimated_keeps_each_runs_low_and_high_in_step_order():
    steps = list(range(1, 101))
    values = [1.0 - i / 200 for i in range(100)]
    values[57] = 9.0  # a spike
    thin = decimated({"steps": steps, "values": values, "stride": 1, "capacity": 4096}, 10)
    assert len(thin["steps"]) == 10 and thin["stride"] == 1 and thin["capacity"] == 4096
    assert thin["steps"] == [1, 20, 21, 40, 58, 60, 61, 80, 81, 100]
    assert 9.0 in thin["values"] and thin["values"][thin["steps"].index(58)] == 9.0
    short = {"steps": [1, 2], "values": [1.0, 2.0]}
    assert decimated(short, 10) is short and decimated(short, 0) is short


def test_decimated_always_keeps_the_first_and_last_points():
    steps = list(range(1, 101))
    values = [5.0] + [9.0, 1.0] * 49 + [5.0]  # neither end is its run's low or high
    thin = decimated({"steps": steps, "values": values}, 10)
    assert thin["steps"][0] == 1 and thin["steps"][-1] == 100
    assert thin["steps"] == [1, 2, 3, 21, 22, 41, 42, 61, 62, 81, 82, 100]
