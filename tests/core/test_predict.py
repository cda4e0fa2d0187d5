"""predict() and generate() (core/predict.py): the distribution after a text, unknown characters
and cropping, and generation with a seed, greedy, or filtered."""

from __future__ import annotations

import math

import pytest
import torch

from core.errors import ConfigError, TorchdeckError
from core.predict import (
    Sampling,
    context_ids,
    generate,
    next_logits,
    predict,
)

pytestmark = pytest.mark.usefixtures("single_thread")

CPU = torch.device("cpu")


# -- predict --------------------------------------------------------------------------------------


@pytest.fixture
def gpt_session(corpus_file, make_session):
    session = make_session("gpt", corpus_file, model={"block_size": 8}, steps=30)
    for _ in range(30):
        session.trainer.train_step()
    session.trainer.flush()
    return session


def _predict(session, text, **kw):
    return predict(session.model, session.tokenizer, text, session.block_size, session.device, **kw)


def test_predict_reports_the_distribution_after_the_text(gpt_session, text_loss):
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
    return list(
        generate(
            session.model,
            session.tokenizer,
            prompt,
            max_new,
            session.block_size,
            session.device,
            **kw,
        )
    )


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
        nxt = int(torch.argmax(next_logits(s.model, ids[-s.block_size :], CPU)))
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
