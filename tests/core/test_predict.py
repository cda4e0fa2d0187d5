"""Next-character distributions: temperature, top-k, top-p, predict() and generate()."""

from __future__ import annotations

import math

import pytest
import torch

from core.errors import ConfigError, TorchdeckError
from core.predict import (
    Sampling,
    context_ids,
    filter_probs,
    generate,
    next_logits,
    predict,
    text_loss,
)

pytestmark = pytest.mark.usefixtures("single_thread")

CPU = torch.device("cpu")


def _logits(n: int = 20, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(seed)) * 2


# -- filter_probs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sampling", [
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
], ids=repr)
def test_probabilities_sum_to_one(sampling):
    for seed in range(5):
        probs = filter_probs(_logits(seed=seed), sampling)
        assert probs.shape == (20,)
        assert float(probs.sum()) == pytest.approx(1.0, abs=1e-6)
        assert bool((probs >= 0).all())


def test_temperature_one_is_the_softmax_and_temperature_scales_logits():
    logits = _logits()
    assert torch.allclose(filter_probs(logits, Sampling()), torch.softmax(logits, -1), atol=1e-7)
    assert torch.allclose(filter_probs(logits, Sampling(temperature=2.0)),
                          torch.softmax(logits / 2, -1), atol=1e-7)
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


@pytest.mark.parametrize("p, kept", [(0.3, 1), (0.49, 1), (0.6, 2), (0.74, 2), (0.76, 3),
                                     (0.87, 3), (0.9, 4), (1.0, 4)])
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


@pytest.mark.parametrize("sampling, message", [
    (Sampling(temperature=-0.5), "temperature = -0.5 is out of range"),
    (Sampling(temperature=float("nan")), "temperature = nan is out of range"),
    (Sampling(temperature=101), "temperature = 101 is out of range"),
    (Sampling(top_k=0), "top_k = 0 is out of range"),
    (Sampling(top_p=0.0), "top_p = 0.0 is out of range"),
    (Sampling(top_p=1.5), "top_p = 1.5 is out of range"),
])
def test_sampling_validate_refuses_bad_settings(sampling, message):
    with pytest.raises(ConfigError) as info:
        sampling.validate()
    assert info.value.message == message


# -- predict --------------------------------------------------------------------------------------


@pytest.fixture
def gpt_session(corpus_file, make_session):
    session = make_session("gpt", corpus_file, model={"block_size": 8}, steps=30)
    for _ in range(30):
        session.trainer.train_step()
    session.trainer.flush()
    return session


def _predict(session, text, **kw):
    return predict(session.model, session.tokenizer, text, session.block_size, session.device,
                   **kw)


def test_predict_reports_the_distribution_after_the_text(gpt_session):
    s = gpt_session
    out = _predict(s, "the ca")
    ids = s.tokenizer.encode("the ca")
    assert out["ids"] == ids and out["tokens"] == list("the ca")
    assert out["unknown"] == [] and out["cropped"] == 0 and not out["empty_context"]
    assert out["vocab_size"] == s.tokenizer.vocab_size == 11
    assert len(out["top"]) == 10
    probs = [t["prob"] for t in out["top"]]
    assert probs == sorted(probs, reverse=True)
    full = torch.softmax(next_logits(s.model, ids, CPU), -1)
    for t in out["top"]:
        assert t["prob"] == pytest.approx(float(full[t["id"]]), abs=1e-6)
        assert t["char"] == s.tokenizer.chars[t["id"]]
    assert out["loss"] == pytest.approx(text_loss(s.model, ids, CPU))
    assert out["bits_per_char"] == pytest.approx(out["loss"] / math.log(2))
    # every probability of the vocabulary is there when k covers it
    every = _predict(s, "the ca", k=50)
    assert len(every["top"]) == 11
    assert sum(t["prob"] for t in every["top"]) == pytest.approx(1.0, abs=1e-5)


def test_predict_reports_unknown_characters(gpt_session):
    out = _predict(gpt_session, "the Xcat!")
    assert out["unknown"] == [[4, "X"], [8, "!"]]
    assert out["tokens"] == list("the cat")
    assert out["cropped"] == 0


def test_predict_crops_to_block_size(gpt_session):
    s = gpt_session
    text = "the cat sat on the mat"  # 22 characters, context 8
    out = _predict(s, text)
    assert out["cropped"] == 14
    assert out["ids"] == s.tokenizer.encode(text)[-8:]
    assert "".join(out["tokens"]) == " the mat"
    # the prediction is the one for the last 8 characters alone
    assert out["top"] == _predict(s, text[-8:])["top"]
    # unknown characters are dropped before cropping, and their positions kept
    mixed = _predict(s, "Z" + text)
    assert mixed["unknown"] == [[0, "Z"]] and mixed["cropped"] == 14


def test_predict_with_no_text(gpt_session):
    out = _predict(gpt_session, "")
    assert out["empty_context"] and out["ids"] == [] and out["loss"] is None
    assert out["bits_per_char"] is None
    assert sum(t["prob"] for t in _predict(gpt_session, "", k=11)["top"]) == pytest.approx(1.0)


def test_predict_greedy_is_one_hot(gpt_session):
    out = _predict(gpt_session, "the c", sampling=Sampling(temperature=0), k=3)
    assert [t["prob"] for t in out["top"]] == [1.0, 0.0, 0.0]
    ids = gpt_session.tokenizer.encode("the c")
    assert out["top"][0]["id"] == int(torch.argmax(next_logits(gpt_session.model, ids, CPU)))


def test_predict_validates_the_sampling(gpt_session):
    with pytest.raises(ConfigError, match="top_k = 0 is out of range"):
        _predict(gpt_session, "the", sampling=Sampling(top_k=0))


def test_context_ids():
    from core.tokenizer import CharTokenizer

    tok = CharTokenizer.from_text("abcd")
    ctx = context_ids(tok, "abQcdab", 3)
    assert ctx["all_ids"] == [0, 1, 2, 3, 0, 1]
    assert ctx["ids"] == [3, 0, 1] and ctx["cropped"] == 3
    assert ctx["unknown"] == [(2, "Q")]


def test_next_logits_restores_training_mode(gpt_session):
    model = gpt_session.model
    model.train()
    next_logits(model, [0, 1], CPU)
    assert model.training
    model.eval()
    next_logits(model, [0, 1], CPU)
    assert not model.training


# -- generate -------------------------------------------------------------------------------------


def _generate(session, prompt, max_new, **kw):
    return list(generate(session.model, session.tokenizer, prompt, max_new, session.block_size,
                         session.device, **kw))


@pytest.mark.parametrize("max_new", [0, 1, 7, 30])
def test_generate_yields_exactly_max_new_characters(gpt_session, max_new):
    out = _generate(gpt_session, "the ", max_new, seed=0)
    assert len(out) == max_new
    assert all(len(ch) == 1 and ch in gpt_session.tokenizer.stoi for ch in out)


def test_generate_is_repeatable_with_a_seed(gpt_session):
    a = _generate(gpt_session, "the", 40, seed=7)
    b = _generate(gpt_session, "the", 40, seed=7)
    assert a == b
    # a hot distribution, so that different seeds really draw different texts
    hot = Sampling(temperature=3.0)
    c = _generate(gpt_session, "the", 40, sampling=hot, seed=1)
    d = _generate(gpt_session, "the", 40, sampling=hot, seed=2)
    assert c == _generate(gpt_session, "the", 40, sampling=hot, seed=1)
    assert c != d


def test_greedy_generate_equals_repeated_argmax(gpt_session):
    s = gpt_session
    out = _generate(s, "the c", 30, sampling=Sampling(temperature=0))
    ids = s.tokenizer.encode("the c")
    expected = []
    for _ in range(30):
        nxt = int(torch.argmax(next_logits(s.model, ids[-s.block_size:], CPU)))
        ids.append(nxt)
        expected.append(s.tokenizer.chars[nxt])
    assert out == expected
    # no seed needed: greedy is deterministic
    assert _generate(s, "the c", 30, sampling=Sampling(greedy=True)) == expected


def test_generate_with_top_k_one_is_greedy(gpt_session):
    greedy = _generate(gpt_session, "on ", 20, sampling=Sampling(temperature=0))
    assert _generate(gpt_session, "on ", 20, sampling=Sampling(top_k=1), seed=3) == greedy


def test_generate_from_an_empty_or_unknown_prompt(gpt_session):
    assert len(_generate(gpt_session, "", 5, seed=0)) == 5
    assert len(_generate(gpt_session, "QQQ", 5, seed=0)) == 5  # nothing known: starts afresh


def test_generate_refuses_bad_arguments(gpt_session):
    with pytest.raises(TorchdeckError, match="max_new -1 is negative"):
        _generate(gpt_session, "the", -1)
    with pytest.raises(ConfigError, match="temperature = -1 is out of range"):
        _generate(gpt_session, "the", 3, sampling=Sampling(temperature=-1))


@pytest.mark.parametrize("preset", ["mini", "mlp"])
def test_generate_and_predict_work_for_every_language_preset(preset, corpus_file, make_session):
    s = make_session(preset, corpus_file, steps=1)
    out = _generate(s, "the cat sat on the mat. " * 2, 20, seed=0)  # longer than block_size
    assert len(out) == 20
    greedy = _generate(s, "the", 10, sampling=Sampling(temperature=0))
    assert greedy == _generate(s, "the", 10, sampling=Sampling(temperature=0))
    assert _predict(s, "the cat sat on the mat. ")["cropped"] == 24 - 16


@pytest.mark.parametrize("temperature", [1e-40, 0.001, -1.0, 101.0, float("nan")])
def test_temperatures_that_would_break_sampling_are_refused(temperature):
    from core.errors import ConfigError
    from core.predict import Sampling

    with pytest.raises(ConfigError, match="temperature"):
        Sampling(temperature=temperature).validate()


# -- one forward pass, show the math, hooks, layer activations ------------------------------------

from core.predict import (  # noqa: E402
    STRIP_CHARS,
    activation_layers,
    forward_with_hooks,
    output_layer,
)

LM_PRESETS = ("mini", "mlp", "gpt")


def _all_hooks(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.mark.parametrize("preset", LM_PRESETS)
def test_one_pass_loss_equals_the_separate_text_loss(make_session, corpus_file, preset):
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
        predict(s.model, s.tokenizer, "the cat"[: 1 + i % 7], s.block_size, CPU,
                math_view=i % 2 == 0, layer=layers[i % len(layers)]["name"], units=3)
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
        ("embedding", "Embedding", 16), ("hidden", "Linear", 32), ("activation", "ReLU", 32),
        ("output", "Linear", s.tokenizer.vocab_size)]
    gpt = make_session("gpt", corpus_file)
    names = [x["name"] for x in activation_layers(gpt.model, CPU)]
    assert names[0] == "wte" and names[-2:] == ["ln_f", "lm_head"]
    assert "blocks.0.attn" in names and not any("drop" in n for n in names)


def test_layer_activations_are_the_strongest_units(make_session, corpus_file):
    s = make_session("mini", corpus_file)
    text = "the cat sat"
    r = predict(s.model, s.tokenizer, text, s.block_size, CPU, layer="hidden", units=5,
                positions=4)
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
