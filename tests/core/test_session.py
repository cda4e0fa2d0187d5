"""core.session: a model with its data, tokenizer, device and trainer, built from the contract's
RunSettings or from a checkpoint, and described as a typed SessionInfo."""

from __future__ import annotations

import dataclasses

import pytest

from core.contract import RunSettings, SessionInfo
from core.errors import ConfigError
from core.session import RunSpec, Session

pytestmark = pytest.mark.usefixtures("single_thread")

# "the cat sat on the mat. " has 11 distinct characters: t h e ␣ c a s o n m .
VOCAB = 11


def test_run_spec_is_the_contract_run_settings():
    assert RunSpec is RunSettings
    assert RunSettings().model == {} and RunSettings().model is not RunSettings().model


def test_mini_session_is_described_exactly(make_session, corpus_file):
    s = make_session("mini", corpus_file)
    info = s.describe()
    assert isinstance(info, SessionInfo)
    # Embedding V×16, Linear 16→32 with bias, Linear 32→V with bias
    expected = VOCAB * 16 + (16 * 32 + 32) + (32 * VOCAB + VOCAB)
    assert (info.preset, info.params, info.trainable_params) == ("mini", expected, expected)
    assert (info.vocab_size, info.block_size, info.step, info.tied) == (VOCAB, 16, 0, [])
    assert info.steps == 1000 == info.train_config["steps"]  # the mini preset's default
    assert info.train_config["batch_size"] == 8 and info.model_config["n_hidden"] == 32
    assert info.corpus["source"] == str(corpus_file) and info.corpus["chars"] == 24 * 60
    assert (info.device, info.device_type) == ("cpu", "cpu") and info.is_language_model


def test_gpt_session_counts_its_tied_matrix_once(make_session, corpus_file):
    info = make_session("gpt", corpus_file).describe()
    assert info.tied == [["wte.weight", "lm_head.weight"]]
    s = make_session("gpt", corpus_file)
    naive = sum(p.numel() for _, p in s.model.named_parameters(remove_duplicate=False))
    assert naive - info.params == VOCAB * 32  # the lm_head's [V, d] is the wte's


def test_parabola_session_has_no_text(make_session):
    s = make_session("parabola")
    info = s.describe()
    assert (s.tokenizer, s.data, info.vocab_size, info.corpus) == (None, None, None, None)
    assert not info.is_language_model and info.block_size == 1 and info.steps == 80


def test_description_round_trips_through_plain_data(make_session, corpus_file):
    info = make_session("mlp", corpus_file).describe()
    assert SessionInfo.from_dict(info.to_dict()) == info
    assert "history" not in info.to_dict()  # only a loaded checkpoint carries its history


@pytest.mark.parametrize(
    "spec, message",
    [
        (RunSettings("mini", model={"vocab_size": 5}), "vocab_size cannot be set"),
        (RunSettings("mini", model=[1, 2]), "model and train settings must be objects"),
        (RunSettings("gpt", train={"lr": 11.0}), "lr = 11.0 is out of range"),
        (RunSettings("gpt", train={"epochs": 3}), "no training setting epochs"),
        (RunSettings("bert"), "unknown preset 'bert'"),
        (RunSettings("mini", device="tpu"), "unknown device 'tpu'"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(spec, message):
    with pytest.raises(ConfigError) as info:
        Session.create(spec)
    assert message in info.value.message


def test_a_checkpoint_whose_corpus_is_gone_still_predicts(make_session, tmp_path):
    corpus = tmp_path / "gone.txt"
    corpus.write_text("the cat sat on the mat. " * 60, encoding="utf-8")
    s = make_session("mini", corpus)
    path = s.save(tmp_path / "run.pt")
    corpus.unlink()
    loaded = Session.load(path, device="cpu")
    assert loaded.data is None and loaded.tokenizer.vocab_size == VOCAB
    assert loaded.describe().corpus == {"source": str(corpus), "unavailable": True}
    for name, p in s.model.state_dict().items():
        assert loaded.model.state_dict()[name].equal(p)
    assert dataclasses.replace(loaded.describe(), corpus=None) == dataclasses.replace(
        s.describe(), corpus=None
    )
