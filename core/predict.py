"""Next-character distributions, sampling and generation. Works without a UI.

Only the last ``block_size`` characters of a text are fed to the model (a GPT has no positions
beyond them); the result says when the text was cropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core import device as devices
from core.errors import ConfigError, TorchdeckError
from core.tokenizer import CharTokenizer


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0  # 0 means greedy (always the most likely character)
    top_k: int | None = None  # keep only the k most likely characters
    top_p: float | None = None  # keep the smallest set whose probability reaches p
    greedy: bool = False

    def validate(self) -> None:
        if not (math.isfinite(self.temperature) and (self.temperature == 0
                                                      or 0.01 <= self.temperature <= 100)):
            raise ConfigError(f"temperature {self.temperature} is out of range",
                              "use 0 (greedy) or 0.01 to 100; 1 is the model's own "
                              "distribution")
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"top_k {self.top_k} is out of range", "use 1 or more, or leave "
                              "it out for all characters")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p {self.top_p} is out of range", "use a number in (0, 1]")

    @property
    def is_greedy(self) -> bool:
        return self.greedy or self.temperature == 0


def context_ids(tokenizer: CharTokenizer, text: str, block_size: int) -> dict:
    """Encode ``text``, report unknown characters, and keep the last ``block_size`` ids."""
    enc = tokenizer.encode_report(text)
    ids = enc.ids
    cropped = max(0, len(ids) - block_size)
    return {"all_ids": ids, "ids": ids[cropped:], "unknown": enc.unknown, "cropped": cropped,
            "text": enc.text}


def _fallback_start(tokenizer: CharTokenizer) -> int:
    """The id fed when there is no text: a newline if the vocabulary has one, else id 0."""
    return tokenizer.stoi.get("\n", 0)


def filter_probs(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """Probabilities (V,) after temperature, top-k and top-p; they sum to 1."""
    logits = logits.float()
    if sampling.is_greedy:
        probs = torch.zeros_like(logits)
        probs[int(torch.argmax(logits))] = 1.0
        return probs
    logits = logits / sampling.temperature
    if sampling.top_k is not None and sampling.top_k < logits.numel():
        kth = torch.topk(logits, sampling.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
        # ties at the k-th value could keep more than k; keep exactly the top k
        if int((logits > float("-inf")).sum()) > sampling.top_k:
            keep = torch.topk(logits, sampling.top_k).indices
            mask = torch.full_like(logits, float("-inf"))
            mask[keep] = 0.0
            logits = logits + mask
    probs = F.softmax(logits, dim=-1)
    if sampling.top_p is not None and sampling.top_p < 1:
        sorted_probs, order = torch.sort(probs, descending=True)
        before = torch.cumsum(sorted_probs, 0) - sorted_probs  # mass ranked above each one
        drop = before >= sampling.top_p
        sorted_probs[drop] = 0.0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
        probs = probs / probs.sum()
    return probs


@torch.no_grad()
def next_logits(model: torch.nn.Module, ids: list[int], device: torch.device) -> torch.Tensor:
    """Logits (V,) for the character after ``ids``, in eval mode."""
    was_training = model.training
    model.eval()
    try:
        x = torch.tensor([ids], dtype=torch.long, device=device)
        with devices.autocast(device):
            logits, _ = model(x)
        return logits[0, -1].float()
    finally:
        model.train(was_training)


@torch.no_grad()
def text_loss(model: torch.nn.Module, ids: list[int], device: torch.device) -> float | None:
    """Mean cross-entropy (nats per character) of ``ids`` under the model, or None if < 2."""
    if len(ids) < 2:
        return None
    was_training = model.training
    model.eval()
    try:
        x = torch.tensor([ids[:-1]], dtype=torch.long, device=device)
        y = torch.tensor([ids[1:]], dtype=torch.long, device=device)
        with devices.autocast(device):
            _, loss = model(x, y)
        return float(loss)
    finally:
        model.train(was_training)


def predict(model: torch.nn.Module, tokenizer: CharTokenizer, text: str, block_size: int,
            device: torch.device, sampling: Sampling = Sampling(), k: int = 10) -> dict:
    """The next-character distribution after ``text`` as plain data: the ids fed, unknown
    characters, the top ``k`` characters with probabilities, and the text's own loss."""
    sampling.validate()
    ctx = context_ids(tokenizer, text, block_size)
    ids = ctx["ids"] or [_fallback_start(tokenizer)]
    logits = next_logits(model, ids, device)
    probs = filter_probs(logits, sampling)
    k = max(1, min(k, probs.numel()))
    top = torch.topk(probs, k)
    loss = text_loss(model, ctx["ids"], device)
    return {
        "ids": ctx["ids"],
        "tokens": [tokenizer.chars[i] for i in ctx["ids"]],
        "unknown": [[pos, ch] for pos, ch in ctx["unknown"]],
        "cropped": ctx["cropped"],
        "empty_context": not ctx["ids"],
        "top": [{"char": tokenizer.chars[i], "id": i, "prob": p}
                for p, i in zip(top.values.tolist(), top.indices.tolist())],
        "loss": loss,
        "bits_per_char": None if loss is None else loss / math.log(2),
        "vocab_size": tokenizer.vocab_size,
    }


def generate(model: torch.nn.Module, tokenizer: CharTokenizer, prompt: str, max_new: int,
             block_size: int, device: torch.device, sampling: Sampling = Sampling(),
             seed: int | None = None) -> Iterator[str]:
    """Yield ``max_new`` characters one at a time, each sampled after the ones before."""
    sampling.validate()
    if max_new < 0:
        raise TorchdeckError(f"max_new {max_new} is negative", "ask for 0 or more characters")
    ids = context_ids(tokenizer, prompt, block_size)["ids"] or [_fallback_start(tokenizer)]
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    for _ in range(max_new):
        probs = filter_probs(next_logits(model, ids[-block_size:], device), sampling).cpu()
        if sampling.is_greedy:
            nxt = int(torch.argmax(probs))
        else:
            nxt = int(torch.multinomial(probs, 1, generator=gen))
        ids.append(nxt)
        yield tokenizer.chars[nxt]
