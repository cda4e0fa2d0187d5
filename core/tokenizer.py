"""Character-level tokenizer: one id per Unicode character of the training corpus.

Works without a UI. Text is normalised to NFC first, so a Vietnamese letter typed as a base
letter plus combining marks maps to the same id as the precomposed letter. Characters the
vocabulary lacks are reported (with their positions), never silently dropped.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from core.errors import TorchdeckError, UnknownCharactersError


def normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class Encoded:
    """Ids for the known characters, and the (position, char) of every unknown one."""

    ids: list[int]
    unknown: list[tuple[int, str]]
    text: str  # the NFC-normalised text the positions refer to


class CharTokenizer:
    def __init__(self, chars: list[str]) -> None:
        if not chars:
            raise TorchdeckError("empty vocabulary", "build the tokenizer from a non-empty text")
        if len(set(chars)) != len(chars):
            raise TorchdeckError("vocabulary has repeated characters", "list each character once")
        for ch in chars:
            if len(ch) != 1:
                raise TorchdeckError(
                    f"vocabulary entry {ch!r} is not one character",
                    "a char tokenizer maps single characters",
                )
        self.chars = list(chars)
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(normalize(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode_report(self, text: str) -> Encoded:
        """Encode what is known and report the rest, for panes that show unknown characters."""
        text = normalize(text)
        ids: list[int] = []
        unknown: list[tuple[int, str]] = []
        stoi = self.stoi
        for pos, ch in enumerate(text):
            i = stoi.get(ch)
            if i is None:
                unknown.append((pos, ch))
            else:
                ids.append(i)
        return Encoded(ids, unknown, text)

    def encode(self, text: str) -> list[int]:
        """Ids for every character; UnknownCharactersError if any is outside the vocabulary."""
        enc = self.encode_report(text)
        if enc.unknown:
            raise UnknownCharactersError(enc.unknown)
        return enc.ids

    def decode(self, ids: list[int]) -> str:
        n = len(self.chars)
        bad = [i for i in ids if not 0 <= i < n]
        if bad:
            raise TorchdeckError(
                f"token id(s) {bad[:5]} outside the vocabulary of {n}", f"ids run from 0 to {n - 1}"
            )
        return "".join(self.chars[i] for i in ids)

    def to_dict(self) -> dict:
        return {"kind": "char", "chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, data: dict) -> CharTokenizer:
        if (
            not isinstance(data, dict)
            or data.get("kind") != "char"
            or not isinstance(data.get("chars"), str)
        ):
            raise TorchdeckError(
                "not a saved char tokenizer", "expected {'kind': 'char', 'chars': '...'}"
            )
        return cls(list(data["chars"]))

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
