"""The Summary pane's lessons (core/inspection/lessons.py), in process: L3 nn.Embedding vs
nn.Linear (initialisations, attributes, the three lookups, tying) and L1 X · Wᵀ + b by hand."""

from __future__ import annotations

import math

import pytest

from core.inspection.lessons import lesson_embedding_linear, lesson_linear_forward

# -- L3: Embedding vs Linear ------------------------------------------------------------------


@pytest.fixture(scope="module")
def lesson():
    return lesson_embedding_linear()  # V = 5000, d = 70, as in the seed


def test_kaiming_bound_and_measured_stds(lesson):
    theory = lesson["linear_init"]["theory"]
    assert round(theory["bound"], 4) == 0.1195 == round(1 / math.sqrt(70), 4)
    assert theory["std"] == pytest.approx(0.069, abs=5e-4)
    assert lesson["linear_init"]["stats"]["std"] == pytest.approx(0.069, rel=0.05)
    assert lesson["embedding_init"]["stats"]["std"] == pytest.approx(1.0, rel=0.05)
    assert lesson["linear_init"]["stats"]["max"] <= theory["bound"]
    assert lesson["linear_init"]["stats"]["min"] >= -theory["bound"]
    for key in ("linear_init", "embedding_init"):  # theory counts add up to the tensor size
        assert sum(lesson[key]["expected_counts"]) == pytest.approx(5000 * 70, rel=1e-3)
        assert sum(lesson[key]["stats"]["counts"]) == 5000 * 70


def test_same_shape_opposite_constructors_and_attributes(lesson):
    assert lesson["shapes"] == {"embedding": [5000, 70], "linear": [5000, 70], "same": True}
    assert lesson["constructors"] == {
        "embedding": "nn.Embedding(5000, 70)",
        "linear": "nn.Linear(70, 5000)",
    }
    assert set(lesson["only_embedding"]) == {
        "num_embeddings",
        "embedding_dim",
        "padding_idx",
        "max_norm",
        "norm_type",
        "scale_grad_by_freq",
        "sparse",
    }
    assert set(lesson["only_linear"]) == {"in_features", "out_features", "bias"}
    assert lesson["only_linear"]["bias"] == "Parameter [5000]"


def test_both_weights_are_parameters(lesson):
    """L3: both layers are thin wrappers over nn.Parameter."""
    assert lesson["weights"] == {
        "embedding": {
            "name": "e.weight",
            "type": "Parameter",
            "is_parameter": True,
            "requires_grad": True,
            "registered": ["weight"],
        },
        "linear": {
            "name": "l.weight",
            "type": "Parameter",
            "is_parameter": True,
            "requires_grad": True,
            "registered": ["weight", "bias"],
        },
    }
    tied = lesson_embedding_linear(V=20, d=4, reinit=True, tie=True)["weights"]
    assert tied["linear"]["type"] == "Parameter"  # normal_ changes the values in place


def test_the_three_lookups_agree(lesson):
    lk = lesson["lookup"]
    assert lk["allclose"] and lk["max_abs_diff"] == 0.0
    assert lk["module"] == lk["index"] == lk["one_hot"] and len(lk["module"]) == 6
    assert lk["linear_allclose"] and lk["linear_row"] == lk["linear_one_hot"]
    assert lk["linear_call_int"]["type"] == "TypeError"
    assert "must be Tensor, not int" in lk["linear_call_int"]["message"]
    assert lk["linear_call_one_hot"]["type"] == "RuntimeError"  # [1, 5000] into in_features 70
    assert (lk["cost_lookup"], lk["cost_one_hot"]) == (70, 350_000)


def test_tying_counts_the_shared_matrix_once(lesson):
    ty = lesson["tying"]
    assert ty["before"] == 2 * 5000 * 70 + 5000
    assert ty["after"] == 5000 * 70 + 5000 and ty["naive_after"] == ty["before"]
    assert ty["same_tensor"] and ty["row_equals_lookup"]
    assert ty["saved_bytes"] == 5000 * 70 * 4
    assert round(ty["gpt2_matrix_bytes"] / 1e6) == 154  # 50,257 × 768 × 4 bytes


def test_reinit_makes_the_linear_look_like_the_embedding():
    out = lesson_embedding_linear(V=2000, d=70, reinit=True)
    assert out["linear_init"]["stats"]["std"] == pytest.approx(1.0, rel=0.05)
    assert out["linear_init"]["theory"]["kind"] == "normal"


# -- L1: X · Wᵀ + b ---------------------------------------------------------------------------


def test_linear_forward_by_hand_matches_the_layer(make_session, corpus_file, single_thread):
    s = make_session("gpt", corpus_file)
    out = lesson_linear_forward(s, "blocks.0.attn.qkv", seed=3, rows=2)
    assert out["layers"][0] == "blocks.0.attn.qkv" and out["layers"][-1] == "lm_head"
    assert out["shapes"] == {
        "X": [2, 32],
        "W": [96, 32],
        "W.T": [32, 96],
        "b": [96],
        "out": [2, 96],
    }
    assert out["allclose"] and out["max_abs_diff"] < 1e-5
    assert out["by_hand"] == pytest.approx(out["layer_out"], abs=1e-5)
    assert out["neuron0_by_row"] == pytest.approx(out["neuron0_from_layer"], abs=1e-5)
    head = lesson_linear_forward(s, "lm_head")
    assert head["has_bias"] is False and head["shapes"]["b"] is None


def test_parabola_has_no_linear(make_session):
    s = make_session("parabola")
    with pytest.raises(Exception, match="has no Linear layer"):
        lesson_linear_forward(s)
