"""The explain op (core/explain.py, issue 17): attention maps recomputed from the model's own
tensors, the logit lens, gradient × input attribution, embedding neighbours, the notes for
models a part does not apply to, and the op through a real engine (alone and inside predict)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from core.contract import ExplainArgs, ExplainResult, PredictResult
from core.errors import ConfigError, EngineError
from core.explain import LENS_NOTE
from core.predict import predict
from tests.core.engine_helpers import EVENT_TIMEOUT
from tests.core.explain_helpers import TEXT, _explain, _trained

pytestmark = pytest.mark.usefixtures("single_thread")

CPU = torch.device("cpu")


def _predict(session, text=TEXT, k=3):
    return predict(session.model, session.tokenizer, text, session.block_size, CPU, k=k)


# -- attention -----------------------------------------------------------------------------------


def test_attention_has_one_map_per_layer_and_head_or_the_one_asked(gpt):
    T = len(TEXT)
    out = _explain(gpt)
    assert out["chars"] == list(TEXT) and out["ids"] == gpt.tokenizer.encode(TEXT)
    assert (out["n_layer"], out["n_head"]) == (2, 2)
    assert out["layers"] == [0, 1] and out["heads"] == [0, 1]
    assert np.array(out["attention"]).shape == (2, 2, T, T)
    one = _explain(gpt, layer=1, head=0)
    assert (one["layers"], one["heads"]) == ([1], [0])
    assert np.array(one["attention"]).shape == (1, 1, T, T)
    assert one["attention"][0][0] == out["attention"][1][0]
    assert np.array(_explain(gpt, head=1)["attention"]).shape == (2, 1, T, T)
    assert out["attention_note"] == ""
    ExplainResult.parse({**out, "step": 0})  # fits its contract


def test_attention_rows_are_causal_distributions(gpt):
    att = np.array(_explain(gpt)["attention"], dtype=np.float64)  # (L, H, T, T)
    T = att.shape[-1]
    assert np.abs(att.sum(-1) - 1).max() < 1e-5
    above = np.triu(np.ones((T, T), dtype=bool), 1)
    assert (att[..., above] == 0.0).all()  # exact zeros: the causal mask
    assert (att[..., ~above] > 0).all()
    assert (att[:, :, 0, 0] == 1.0).all()  # the first character sees only itself


def test_attention_times_v_is_the_modules_own_output(gpt):
    """The maps are the weights the model used: att @ v equals the attention's output before
    its projection, captured from the model's own forward pass."""
    seen: dict = {}
    hooks = []
    for i, block in enumerate(gpt.model.blocks):
        hooks.append(
            block.attn.register_forward_hook(lambda m, a, o, i=i: seen.__setitem__(("x", i), a[0]))
        )
        hooks.append(
            block.attn.proj.register_forward_hook(
                lambda m, a, o, i=i: seen.__setitem__(("y", i), a[0])
            )
        )
    try:
        out = _explain(gpt)
    finally:
        for h in hooks:
            h.remove()
    att = torch.tensor(out["attention"])  # (L, H, T, T)
    C = gpt.model.config.n_embd
    hs = C // 2
    for i, block in enumerate(gpt.model.blocks):
        with torch.no_grad():
            v = block.attn.qkv(seen[("x", i)])[0].split(C, dim=1)[2]  # (T, C)
        y = seen[("y", i)][0]  # (T, C): the heads side by side
        for h in range(2):
            mine = att[i, h] @ v[:, h * hs : (h + 1) * hs]
            torch.testing.assert_close(mine, y[:, h * hs : (h + 1) * hs], atol=1e-5, rtol=1e-4)


# -- logit lens ----------------------------------------------------------------------------------


def test_the_lens_ends_at_the_models_own_prediction(gpt):
    out = _explain(gpt, lens_k=3)
    assert [row["name"] for row in out["lens"]] == ["embed", "block 0", "block 1"]
    assert all(len(row["top"]) == 3 for row in out["lens"])
    last = out["lens"][-1]["top"]
    top = _predict(gpt, k=3)["top"]
    assert [t["char"] for t in last] == [t["char"] for t in top]
    for mine, theirs in zip(last, top):
        assert mine["id"] == theirs["id"]
        assert mine["prob"] == pytest.approx(theirs["prob"], abs=1e-5)
    for row in out["lens"]:
        probs = [t["prob"] for t in row["top"]]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    assert out["lens_note"] == ""


# -- attribution ---------------------------------------------------------------------------------


def _scaled_logp(model, ids, target, scale_at, alpha):
    """log p(target) at the last position with the token embedding of the positions in
    ``scale_at`` (or of every position: None) multiplied by ``alpha``."""
    emb = model.embedding if hasattr(model, "embedding") else model.wte

    def hook(module, inputs, output):
        factor = torch.ones(output.shape[:2] + (1,) * (output.dim() - 2), dtype=output.dtype)
        if scale_at is None:
            factor[:] = alpha
        else:
            factor[0, scale_at] = alpha
        return output * factor

    handle = emb.register_forward_hook(hook)
    try:
        with torch.no_grad():
            logits, _ = model(torch.tensor([ids]))
        return float(torch.log_softmax(logits[0, -1].double(), -1)[target])
    finally:
        handle.remove()


def test_attribution_is_gradient_times_input_of_the_top_prediction(gpt):
    """Each character's score is d/dα log p(top) with its token embedding scaled by α, at α = 1
    (checked by a central difference in float64): gradient × input, exactly."""
    out = _explain(gpt)
    top = _predict(gpt, k=1)["top"][0]
    assert out["target"]["char"] == top["char"] and out["target"]["id"] == top["id"]
    assert out["target"]["prob"] == pytest.approx(top["prob"], abs=1e-6)
    scores = out["attribution"]
    assert len(scores) == len(TEXT) and all(math.isfinite(s) for s in scores)
    assert any(s != 0 for s in scores)
    double = copy.deepcopy(gpt.model).double()
    ids, h = gpt.tokenizer.encode(TEXT), 1e-4
    for t in (0, 5, len(TEXT) - 1):
        up = _scaled_logp(double, ids, top["id"], [t], 1 + h)
        down = _scaled_logp(double, ids, top["id"], [t], 1 - h)
        assert scores[t] == pytest.approx((up - down) / (2 * h), abs=2e-5, rel=1e-3)


def test_attribution_is_zero_where_the_model_cannot_see(corpus_file, make_session):
    """mini predicts from the last character alone; mlp from the last ``context`` characters:
    every other character's score is exactly 0, and the scores sum to the derivative for
    scaling every embedding at once."""
    mini = _trained(make_session, corpus_file, "mini")
    out = _explain(mini)
    assert out["attribution"][:-1] == [0.0] * (len(TEXT) - 1) and out["attribution"][-1] != 0
    mlp = _trained(make_session, corpus_file, "mlp")  # context 4
    out = _explain(mlp)
    assert out["attribution"][:-4] == [0.0] * (len(TEXT) - 4)
    assert all(s != 0 for s in out["attribution"][-4:])
    double = copy.deepcopy(mlp.model).double()
    ids, target, h = mlp.tokenizer.encode(TEXT), out["target"]["id"], 1e-4
    up = _scaled_logp(double, ids, target, None, 1 + h)
    down = _scaled_logp(double, ids, target, None, 1 - h)
    assert sum(out["attribution"]) == pytest.approx((up - down) / (2 * h), abs=2e-5, rel=1e-3)
    short = _explain(mlp, text="th")  # shorter than the window: padding gets no score
    assert len(short["attribution"]) == 2


# -- neighbours ----------------------------------------------------------------------------------


def test_neighbours_are_the_nearest_rows_by_cosine(gpt):
    out = _explain(gpt, neighbours=5)
    last = gpt.tokenizer.encode(TEXT)[-1]
    assert out["neighbours_of"] == {"char": TEXT[-1], "id": last, "prob": 0.0}
    near = out["neighbours"]
    assert len(near) == 5 and last not in [n["id"] for n in near]
    cosines = [n["cosine"] for n in near]
    assert cosines == sorted(cosines, reverse=True)
    assert all(-1.0 <= c <= 1.0 for c in cosines)
    w = gpt.model.wte.weight.detach().double().numpy()
    direct = w @ w[last] / (np.linalg.norm(w, axis=1) * np.linalg.norm(w[last]))
    direct[last] = -np.inf
    assert [n["id"] for n in near] == list(np.argsort(-direct)[:5])
    for n in near:
        assert n["cosine"] == pytest.approx(direct[n["id"]], abs=1e-5)
        assert n["char"] == gpt.tokenizer.chars[n["id"]]
    at = _explain(gpt, position=0, neighbours=64)  # more than the vocabulary: all the others
    assert at["neighbours_of"]["char"] == "t"
    assert len(at["neighbours"]) == gpt.tokenizer.vocab_size - 1


# -- models a part does not apply to ---------------------------------------------------------------


def test_mini_has_no_attention_or_lens_but_attribution_and_neighbours(corpus_file, make_session):
    mini = _trained(make_session, corpus_file, "mini")
    out = _explain(mini, layer=3, head=7)  # no attention: layer and head are not checked
    assert (out["n_layer"], out["n_head"], out["layers"], out["heads"]) == (0, 0, [], [])
    assert out["attention"] == [] and out["lens"] == []
    assert out["attention_note"] == "the mini preset has no attention: only gpt does"
    assert out["lens_note"] == LENS_NOTE
    assert len(out["attribution"]) == len(TEXT) and out["attribution_note"] == ""
    assert out["target"]["char"] == _predict(mini, k=1)["top"][0]["char"]
    assert len(out["neighbours"]) == 8 and out["neighbours_note"] == ""


class _OwnModel(nn.Module):
    """A person's own model (core.user_model): ids → logits, no loss."""

    def __init__(self, vocab: int, embed: bool = True) -> None:
        super().__init__()
        self.vocab = vocab
        self.embed = nn.Embedding(vocab, 8) if embed else None
        self.out = nn.Linear(8 if embed else vocab, vocab)

    def forward(self, idx):
        x = self.embed(idx) if self.embed is not None else nn.functional.one_hot(idx, self.vocab)
        return self.out(x.float())


def test_a_persons_own_model(gpt):
    vocab = gpt.tokenizer.vocab_size
    own = _OwnModel(vocab)
    out = _explain(gpt, model=own)
    assert out["attention_note"] == "this model has no attention: only gpt does"
    assert len(out["attribution"]) == len(TEXT) and len(out["neighbours"]) == 8
    bare = _explain(gpt, model=_OwnModel(vocab, embed=False))
    assert bare["attribution"] == [] and bare["neighbours"] == [] and bare["target"] is None
    assert bare["attribution_note"] == "this model has no nn.Embedding to attribute through"
    assert bare["neighbours_note"] == (
        "this model has no nn.Embedding: no character vectors to compare"
    )


def test_an_empty_text_is_predicted_from_the_fallback_start(gpt):
    out = _explain(gpt, text="")
    assert "\n" not in gpt.tokenizer.stoi  # the corpus has none: id 0 is fed, as predict does
    assert out["chars"] == [gpt.tokenizer.chars[0]] and out["ids"] == [0]
    assert out["attention"] == [[[[1.0]], [[1.0]]], [[[1.0]], [[1.0]]]]
    assert [t["id"] for t in out["lens"][-1]["top"]] == [t["id"] for t in _predict(gpt, "")["top"]]
    assert out["attribution"] == [] and out["target"] is None and out["neighbours"] == []
    assert out["attribution_note"] == "no text is fed: nothing to attribute the prediction to"
    assert out["neighbours_note"] == "no text is fed: type a character to see its neighbours"


def test_text_is_fed_as_predict_feeds_it(gpt):
    text = "ñthe cat sat on the mat. the cat"  # an unknown character; longer than block_size 16
    out = _explain(gpt, text=text)
    assert out["chars"] == _predict(gpt, text)["tokens"] == list(text[-16:])
    assert len(out["attribution"]) == 16 and np.array(out["attention"]).shape[-1] == 16


# -- refusals and side effects -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message, hint",
    [
        ({"layer": 2}, "layer 2 is out of range: this model has n_layer = 2", "from 0 to 1"),
        ({"head": 5}, "head 5 is out of range: this model has n_head = 2", "from 0 to 1"),
        ({"position": 14}, "position 14 is out of range: the text has 14 character(s)", "0 to 13"),
    ],
)
def test_out_of_range_is_a_config_error(gpt, args, message, hint):
    with pytest.raises(ConfigError) as info:
        _explain(gpt, **args)
    assert info.value.message == message and hint in info.value.hint
    with pytest.raises(ConfigError, match="0 character"):
        _explain(gpt, text="", position=0)


@pytest.mark.parametrize("training", [True, False])
def test_no_grad_is_touched_and_the_mode_is_restored(gpt, training):
    model = gpt.model
    model.train(training)
    params = list(model.parameters())
    before = [None if p.grad is None else p.grad.clone() for p in params]
    assert any(g is not None for g in before)  # training left gradients
    params[0].grad = None  # and one without
    before[0] = None
    _explain(gpt)
    for p, g in zip(params, before):
        assert (p.grad is None) if g is None else torch.equal(p.grad, g)
    assert all(m.training is training for m in model.modules())
    assert not any(m._forward_hooks for m in model.modules())  # every hook removed


# -- through a real engine -----------------------------------------------------------------------


def _gpt(corpus: str) -> dict:
    return {
        "preset": "gpt",
        "corpus": corpus,
        "device": "cpu",
        "block_size": 16,
        "batch_size": 8,
        "model": {"n_layer": 1, "n_head": 2, "n_embd": 32},
    }


@pytest.mark.asyncio(loop_scope="module")
async def test_explain_and_predict_with_explain_through_the_engine(engine, corpus):
    await engine.request("configure", _gpt(corpus), timeout=EVENT_TIMEOUT)
    typed = await engine.call(ExplainArgs(text="the lazy d", layer=0), timeout=EVENT_TIMEOUT)
    assert isinstance(typed, ExplainResult) and typed.step == 0
    assert typed.chars == list("the lazy d") and (typed.layers, typed.heads) == ([0], [0, 1])
    assert np.array(typed.attention).shape == (1, 2, 10, 10)
    assert typed.lens[-1].name == "block 0" and typed.target is not None
    r = await engine.request("predict", text="the lazy d", k=3, explain={"layer": 0, "head": 1})
    result = PredictResult.parse(r)
    inside = ExplainResult.parse(result.explain)
    assert (inside.layers, inside.heads) == ([0], [1])
    assert inside.attention[0][0] == typed.attention[0][1]
    assert [t.char for t in inside.lens[-1].top] == [t.char for t in result.top]
    assert inside.target.char == result.top[0].char
    # the prediction read the explanation's forward pass: the same as a pass of its own
    plain = PredictResult.parse(await engine.request("predict", text="the lazy d", k=3))
    assert [(t.char, t.prob) for t in plain.top] == [(t.char, t.prob) for t in result.top]
    assert plain.loss == result.loss
    assert "explain" not in await engine.request("predict", text="the")
    with pytest.raises(EngineError) as info:
        await engine.request("explain", text="the", head=2)
    assert info.value.type == "ConfigError" and "n_head = 2" in info.value.message
    with pytest.raises(EngineError) as info:
        await engine.request("predict", text="the", explain={"layer": -1})
    assert info.value.type == "RequestError"
    assert info.value.message == "predict explain: 'layer' = -1 is out of range"
    with pytest.raises(EngineError) as info:
        await engine.request("predict", text="the", explain={"head": 9})
    assert info.value.type == "ConfigError" and "n_head = 2" in info.value.message
    with pytest.raises(EngineError) as info:
        await engine.request("predict", text="the", explain={"colour": 1})
    assert "unknown argument(s) colour" in info.value.message
