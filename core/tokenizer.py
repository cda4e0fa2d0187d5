"""Character-level tokenizer: one id per Unicode character of the training corpus.

Works without a UI. Text is normalised to NFC first, so a Vietnamese letter typed as a base
letter plus combining marks maps to the same id as the precomposed letter. Characters the
vocabulary lacks are reported (with their positions), never silently dropped.

Large texts are encoded with arrays, not Python lists: :func:`code_points` turns a piece of text
into one uint32 per character and :meth:`CharTokenizer.lookup_table` maps those to ids.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from core.errors import TorchdeckError, UnknownCharactersError
from core.i18n import _

UNICODE_SIZE = 0x110000  # code points run from 0 to 0x10FFFF


def normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def code_points(text: str) -> np.ndarray:
    """One uint32 per character of text (4 bytes each; use on pieces of a large text)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest array type that holds every id of a vocabulary this size."""
    if vocab_size <= 1 << 8:
        return np.dtype(np.uint8)
    if vocab_size <= 1 << 15:
        return np.dtype(np.int16)
    return np.dtype(np.int32)


@dataclass(frozen=True)
class Encoded:
    """Ids for the known characters, and the (position, char) of every unknown one."""

    ids: list[int]
    unknown: list[tuple[int, str]]
    text: str  # the NFC-normalised text the positions refer to


class CharTokenizer:
    def __init__(self, chars: list[str]) -> None:
        if not chars:
            raise TorchdeckError(
                _("empty vocabulary"), _("build the tokenizer from a non-empty text")
            )
        if len(set(chars)) != len(chars):
            raise TorchdeckError(
                _("vocabulary has repeated characters"), _("list each character once")
            )
        for ch in chars:
            if len(ch) != 1:
                raise TorchdeckError(
                    _("vocabulary entry {entry!r} is not one character").format(entry=ch),
                    _("a char tokenizer maps single characters"),
                )
        self.chars = list(chars)
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(normalize(text))))

    @classmethod
    def from_seen(cls, seen: np.ndarray) -> CharTokenizer:
        """From a bool array over all code points marking the characters that occur: the same
        vocabulary (sorted by code point) as :meth:`from_text` on that text."""
        return cls([chr(c) for c in np.flatnonzero(seen).tolist()])

    def lookup_table(self) -> np.ndarray:
        """An int32 array over all code points (4.4 MB): the id of each character of the
        vocabulary, -1 for the rest. ``table[code_points(text)]`` encodes a piece of text."""
        table = np.full(UNICODE_SIZE, -1, dtype=np.int32)
        table[code_points("".join(self.chars))] = np.arange(len(self.chars), dtype=np.int32)
        return table

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
                _("token id(s) {ids} outside the vocabulary of {size}").format(ids=bad[:5], size=n),
                _("ids run from 0 to {last}").format(last=n - 1),
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
                _("not a saved char tokenizer"), "expected {'kind': 'char', 'chars': '...'}"
            )
        return cls(list(data["chars"]))

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
