"""What the explain tests share: a trained two-layer gpt session and the op called directly."""

from __future__ import annotations

from core.contract import ExplainArgs
from core.explain import explain

TEXT = "the cat sat on"  # 14 characters, all in the corpus


def _trained(make_session, corpus, preset: str, steps: int = 20, **model):
    session = make_session(preset, corpus, model=model, steps=steps)
    for _ in range(steps):
        session.trainer.train_step()
    session.trainer.flush()
    return session


def _explain(session, text=TEXT, model=None, **args):
    return explain(
        session.model if model is None else model,
        session.tokenizer,
        text,
        session.block_size,
        session.device,
        ExplainArgs(text=text, **args),
    )
