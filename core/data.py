"""Corpus loading, the train/validation split, and random batches.

Works without a UI. The default corpus is the Python documentation text that ships with every
Python (``pydoc_data.topics``), so nothing needs a file or a download. Any UTF-8 text file can
be used instead; files that cannot serve as a corpus are refused with a message that names the
problem and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from core.errors import CorpusError
from core.tokenizer import CharTokenizer, normalize

DEFAULT_CORPUS = "pydoc"  # the name shown for the built-in corpus
VAL_FRACTION = 0.1
MAX_CORPUS_BYTES = 1 << 30


def default_corpus_text() -> str:
    from pydoc_data import topics

    return "\n\n".join(topics.topics[key] for key in sorted(topics.topics))


def read_corpus(path: str | os.PathLike | None) -> tuple[str, str]:
    """Return (text, source name). ``None`` or ``"pydoc"`` gives the built-in corpus."""
    if path is None or str(path) == DEFAULT_CORPUS:
        return normalize(default_corpus_text()), DEFAULT_CORPUS
    p = Path(path).expanduser()
    if not p.exists():
        raise CorpusError(
            f"corpus file not found: {p}",
            "check the path, or leave --corpus out to use the built-in Python docs",
        )
    if p.is_dir():
        raise CorpusError(
            f"corpus path is a directory: {p}",
            "give one UTF-8 text file, e.g. --corpus notes/shakespeare.txt",
        )
    try:
        size = p.stat().st_size
        if size > MAX_CORPUS_BYTES:
            raise CorpusError(
                f"corpus file is {size / 2**30:.1f} GiB: {p}", "use a text file under 1 GiB"
            )
        raw = p.read_bytes()
    except PermissionError:
        raise CorpusError(
            f"no permission to read the corpus file: {p}", "check the file's permissions"
        ) from None
    except OSError as exc:
        raise CorpusError(
            f"cannot read the corpus file {p}: {exc.strerror}",
            "check that the path is a readable regular file",
        ) from None
    if not raw.strip():
        raise CorpusError(f"corpus file is empty: {p}", "give a file with some text in it")
    nul = raw.find(b"\x00")
    if nul != -1:
        raise CorpusError(
            f"corpus file looks binary (a NUL byte at offset {nul}): {p}",
            "give a plain UTF-8 text file, not a binary or UTF-16 file",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"corpus file is not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}: {p}",
            "convert it, e.g. iconv -f LATIN1 -t UTF-8 in.txt > out.txt",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return normalize(text), str(p)


@dataclass
class CorpusData:
    """A tokenized corpus split into train and validation ids (90/10, in order)."""

    tokenizer: CharTokenizer
    train: torch.Tensor  # (N_train,) int64
    val: torch.Tensor  # (N_val,) int64
    source: str
    n_chars: int

    def check_block_size(self, block_size: int) -> None:
        """Both splits must hold at least one full window of block_size + 1 characters."""
        need = block_size + 1
        if len(self.val) < need or len(self.train) < need:
            shortest = min(len(self.train), len(self.val))
            raise CorpusError(
                f"corpus too short for context length {block_size}: the "
                f"{'validation' if len(self.val) < len(self.train) else 'training'} split has "
                f"{shortest} characters and needs at least {need}",
                f"use a longer text (at least {int(need / VAL_FRACTION) + 1} characters for "
                f"context {block_size}) or a shorter context length",
            )

    def get_batch(
        self, split: str, batch_size: int, block_size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Random windows: x (B, T) and y (B, T), y shifted one character to the right."""
        data = self.train if split == "train" else self.val
        starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
        offsets = torch.arange(block_size + 1)
        windows = data[starts[:, None] + offsets]  # (B, T+1)
        return windows[:, :-1], windows[:, 1:]

    def info(self) -> dict:
        return {
            "source": self.source,
            "chars": self.n_chars,
            "vocab_size": self.tokenizer.vocab_size,
            "train_chars": len(self.train),
            "val_chars": len(self.val),
        }


def load_data(
    path: str | os.PathLike | None = None, tokenizer: CharTokenizer | None = None
) -> CorpusData:
    """Read, tokenize and split a corpus. With a tokenizer (from a checkpoint), reuse its
    vocabulary; characters outside it are reported as an error."""
    text, source = read_corpus(path)
    if len(text) < 20:
        raise CorpusError(
            f"corpus has only {len(text)} characters: {source}",
            "give a text of at least a few hundred characters",
        )
    if tokenizer is None:
        tokenizer = CharTokenizer.from_text(text)
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    n_val = max(1, int(len(ids) * VAL_FRACTION))
    return CorpusData(tokenizer, ids[:-n_val], ids[-n_val:], source, len(text))
