"""One forward pass of predict() (core/predict.py) opened up: show the math, forward hooks that
are always removed, layer activations and the token strip."""

from __future__ import annotations

import gc
import math
import weakref

import pytest
import torch

from core.errors import ConfigError
from core.predict import (
    STRIP_CHARS,
    activation_layers,
    forward_with_hooks,
    next_logits,
    output_layer,
    predict,
)

pytestmark = pytest.mark.usefixtures("single_thread")

CPU = torch.device("cpu")

LM_PRESETS = ("mini", "mlp", "gpt")


def _all_hooks(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.mark.parametrize("preset", LM_PRESETS)
def test_one_pass_loss_equals_the_separate_text_loss(make_session, corpus_file, preset, text_loss):
    s = make_session(preset, corpus_file)
    text = "the cat sat on"
    r = predict(s.model, s.tokenizer, text, s.block_size, CPU)
    ids = s.tokenizer.encode(text)
    assert r["loss"] == pytest.approx(text_loss(s.model, ids, CPU), rel=1e-5)
    assert r["bits_per_char"] == pytest.approx(r["loss"] / math.log(2))
    expected = torch.softmax(next_logits(s.model, ids, CPU), -1)
    assert r["top"][0]["prob"] == pytest.approx(float(expected.max()), rel=1e-5)
    assert r["top"][0]["id"] == int(expected.argmax())


@pytest.mark.parametrize("preset", LM_PRESETS)
def test_show_the_math_by_hand_equals_the_layer(make_session, corpus_file, preset):
    s = make_session(preset, corpus_file)
    r = predict(s.model, s.tokenizer, "the cat s", s.block_size, CPU, math_view=True)
    m = r["math"]
    name, layer, hidden = output_layer(s.model)
    assert m["output"]["layer"] == name
    assert m["hidden"]["layer"] == hidden
    assert m["char"] == "s" and m["id"] == s.tokenizer.stoi["s"]
    # the embedding row of the last character, straight from the weights
    emb = s.model.get_submodule(m["embedding"]["layer"]).weight[m["id"]]
    assert m["embedding"]["values"] == pytest.approx(emb[:8].tolist())
    assert m["embedding"]["dim"] == emb.numel()
    # x·Wᵀ + b by hand equals the layer's own output: shown row by row and as the max diff
    assert m["output"]["allclose"] is True
    assert m["output"]["max_abs_diff"] < 1e-5
    assert m["output"]["has_bias"] is (layer.bias is not None)
    assert m["output"]["weight_shape"] == [s.tokenizer.vocab_size, m["hidden"]["dim"]]
    for row in m["output"]["rows"]:
        assert row["by_hand"] == pytest.approx(row["layer"], abs=1e-5)
    # the rows are the top characters, in order
    assert [row["id"] for row in m["output"]["rows"]] == [t["id"] for t in r["top"][:5]]


def test_show_the_math_names_the_tied_weight(make_session, corpus_file):
    s = make_session("gpt", corpus_file)
    out = predict(s.model, s.tokenizer, "the", s.block_size, CPU, math_view=True)["math"]
    assert out["output"]["layer"] == "lm_head"
    assert out["output"]["weight_name"] == "wte.weight" and out["output"]["tied"] is True
    assert out["output"]["has_bias"] is False
    assert out["hidden"]["layer"] == "ln_f"
    mini = make_session("mini", corpus_file)
    out = predict(mini.model, mini.tokenizer, "the", mini.block_size, CPU, math_view=True)
    assert out["math"]["output"]["tied"] is False
    assert out["math"]["hidden"]["layer"] == "activation"  # ReLU(hidden(x)) feeds the output
    with torch.no_grad():  # mini sees one character: the hidden vector of 'e' alone
        x = torch.relu(mini.model.hidden(mini.model.embedding.weight[mini.tokenizer.stoi["e"]]))
    assert out["math"]["hidden"]["values"] == pytest.approx(x[:8].tolist(), abs=1e-6)
    assert out["math"]["hidden"]["zero_share"] == pytest.approx(float((x == 0).float().mean()))


@pytest.mark.parametrize("preset", LM_PRESETS)
def test_no_hook_is_left_behind_after_1000_predictions(make_session, corpus_file, preset):
    s = make_session(preset, corpus_file)
    layers = activation_layers(s.model, CPU)
    before = _all_hooks(s.model)
    assert before == 0
    for i in range(1000):
        predict(
            s.model,
            s.tokenizer,
            "the cat"[: 1 + i % 7],
            s.block_size,
            CPU,
            math_view=i % 2 == 0,
            layer=layers[i % len(layers)]["name"],
            units=3,
        )
    assert _all_hooks(s.model) == 0
    assert s.model.training  # eval mode was restored too


def test_hooks_are_removed_when_the_forward_pass_fails(make_session, corpus_file):
    s = make_session("mini", corpus_file)
    modules = {"hidden": s.model.hidden, "output": s.model.output}
    with pytest.raises(IndexError):
        forward_with_hooks(s.model, [10_000], CPU, modules)  # id outside the embedding
    assert _all_hooks(s.model) == 0


def test_activation_layers_of_mini(make_session, corpus_file):
    s = make_session("mini", corpus_file)  # n_embd 16, n_hidden 32
    layers = activation_layers(s.model, CPU)
    assert [(x["name"], x["type"], x["dim"]) for x in layers] == [
        ("embedding", "Embedding", 16),
        ("hidden", "Linear", 32),
        ("activation", "ReLU", 32),
        ("output", "Linear", s.tokenizer.vocab_size),
    ]
    gpt = make_session("gpt", corpus_file)
    names = [x["name"] for x in activation_layers(gpt.model, CPU)]
    assert names[0] == "wte" and names[-2:] == ["ln_f", "lm_head"]
    assert "blocks.0.attn" in names and not any("drop" in n for n in names)


def test_layer_activations_are_the_strongest_units(make_session, corpus_file):
    s = make_session("mini", corpus_file)
    text = "the cat sat"
    r = predict(s.model, s.tokenizer, text, s.block_size, CPU, layer="hidden", units=5, positions=4)
    a = r["activations"]
    ids = s.tokenizer.encode(text)
    with torch.no_grad():
        expected = s.model.hidden(s.model.embedding(torch.tensor(ids)))[-4:]  # (4, 32)
    strongest = torch.topk(expected.abs().max(0).values, 5).indices.tolist()
    assert a["units"] == strongest
    assert a["chars"] == list(" sat")
    assert len(a["values"]) == 4 and all(len(row) == 5 for row in a["values"])
    assert torch.allclose(torch.tensor(a["values"]), expected[:, strongest], atol=1e-6)
    assert a["scale"] == pytest.approx(float(expected.abs().max()), rel=1e-6)
    assert a["dim"] == 32 and a["type"] == "Linear"


def test_unknown_layer_names_the_choices(make_session, corpus_file):
    s = make_session("mini", corpus_file)
    with pytest.raises(ConfigError) as info:
        predict(s.model, s.tokenizer, "the", s.block_size, CPU, layer="blocks.9")
    assert "no layer named 'blocks.9'" in info.value.message
    assert "embedding, hidden, activation, output" in info.value.hint


def test_layers_are_found_again_after_a_cell_edits_the_model(make_session, corpus_file):
    """A Playground cell may remove or replace layers of the live model: the list follows, a
    removed layer is refused with the names there are now, and an unchanged model is not run
    again to list them."""
    s = make_session("mini", corpus_file)  # n_embd 16, n_hidden 32
    runs = []
    s.model.register_forward_pre_hook(lambda module, args: runs.append(1))
    first = activation_layers(s.model, CPU)
    assert activation_layers(s.model, CPU) is first and len(runs) == 1  # kept while unchanged
    s.model.hidden = torch.nn.Sequential(torch.nn.Linear(16, 24), torch.nn.Linear(24, 32))
    assert [(x["name"], x["dim"]) for x in activation_layers(s.model, CPU)] == [
        ("embedding", 16),
        ("hidden", 32),
        ("hidden.0", 24),
        ("hidden.1", 32),
        ("activation", 32),
        ("output", s.tokenizer.vocab_size),
    ]
    r = predict(s.model, s.tokenizer, "the", s.block_size, CPU, layer="hidden.0", units=3)
    assert r["activations"]["dim"] == 24
    del s.model.hidden[1]
    s.model.output = torch.nn.Linear(24, s.tokenizer.vocab_size)  # the same name, a new module
    with pytest.raises(ConfigError) as info:
        predict(s.model, s.tokenizer, "the", s.block_size, CPU, layer="hidden.1")
    assert "no layer named 'hidden.1'" in info.value.message
    assert "embedding, hidden, hidden.0, activation, output" in info.value.hint


def test_the_kept_layer_list_does_not_keep_a_model_alive(make_session, corpus_file):
    """Even a model whose layer refers back to it (outside the module tree) is freed."""
    s = make_session("mini", corpus_file)
    model = s.model
    object.__setattr__(model.hidden, "owner", model)  # a plain attribute, not a submodule
    activation_layers(model, CPU)
    gone = weakref.ref(model)
    del model, s
    gc.collect()
    assert gone() is None


def test_strip_marks_unknown_characters_and_long_text_is_cropped(make_session, corpus_file):
    s = make_session("mini", corpus_file)  # block_size 16
    r = predict(s.model, s.tokenizer, "the cät", s.block_size, CPU)
    assert r["strip"] == [[ch, s.tokenizer.stoi.get(ch)] for ch in "the cät"]
    assert r["strip"][5] == ["ä", None]
    assert r["unknown"] == [[5, "ä"]]
    long = "the cat sat on the mat. " * 417  # 10,008 characters
    r = predict(s.model, s.tokenizer, long, s.block_size, CPU)
    assert r["chars"] == len(long)
    assert r["cropped"] == len(long) - 16 and len(r["ids"]) == 16
    assert len(r["strip"]) == STRIP_CHARS
    assert "".join(ch for ch, _ in r["strip"]) == long[-STRIP_CHARS:]
    assert r["block_size"] == 16
