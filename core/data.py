"""Corpus loading, the train/validation split, and random batches.

Works without a UI. The default corpus is the Python documentation text that ships with every
Python (``pydoc_data.topics``), so nothing needs a file or a download. Any UTF-8 text file can
be used instead; files that cannot serve as a corpus are refused with a message that names the
problem and the fix.

Only regular files are read: devices, FIFOs and sockets have no size to check (``/dev/zero`` never
ends, a FIFO blocks until someone writes), so they are refused from ``os.stat`` before any open.
A file is read in pieces, twice: the first pass checks it and finds its characters, the second
writes one compact id per character (uint8 for up to 256 characters, like nanoGPT's train.bin)
into an array of exactly the right size. Peak memory is that array plus a few pieces, never the
whole text as Python objects; Ctrl-C is honoured between pieces.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from core.corpus_file import DEFAULT_CORPUS, MAX_CORPUS_BYTES, open_regular, read_refusal
from core.errors import CorpusError, UnknownCharactersError
from core.i18n import _
from core.tokenizer import UNICODE_SIZE, CharTokenizer, code_points, id_dtype, normalize

VAL_FRACTION = 0.1
CHUNK_BYTES = 1 << 20  # bytes read at a time; the memory used beyond the ids is a few of these

# progress(stage, done, total): stage "reading" (first pass) then "encoding" (second pass); done
# and total count bytes of the file (characters for the built-in corpus). Called once per piece.
Progress = Callable[[str, int, int], None]

_TORCH_DTYPES = {np.uint8: torch.uint8, np.int16: torch.int16, np.int32: torch.int32}
# NFC never changes across a boundary before one of these: ASCII, CJK ideographs, Hangul syllables
# (each is a starter that nothing composes onto from the left), so pieces split there normalise
# exactly as the whole text would.
_BOUNDARY = re.compile("[\x00-\x7f\u4e00-\u9fff\uac00-\ud7a3]")


def default_corpus_text() -> str:
    from pydoc_data import topics

    return "\n\n".join(topics.topics[key] for key in sorted(topics.topics))


def read_corpus(path: str | os.PathLike | None) -> tuple[str, str]:
    """Return (text, source name). ``None`` or ``"pydoc"`` gives the built-in corpus."""
    source = _source_name(path)
    return "".join(_pieces(path)), source


def _source_name(path: str | os.PathLike | None) -> str:
    if path is None or str(path) == DEFAULT_CORPUS:
        return DEFAULT_CORPUS
    return str(Path(path).expanduser())


def _pieces(
    path: str | os.PathLike | None, progress: Progress | None = None, stage: str = "reading"
) -> Iterator[str]:
    """The corpus as NFC-normalised pieces of text whose concatenation is the whole text."""
    if path is None or str(path) == DEFAULT_CORPUS:
        text = normalize(default_corpus_text())
        for start in range(0, len(text), CHUNK_BYTES):
            yield text[start : start + CHUNK_BYTES]
            if progress:
                progress(stage, min(start + CHUNK_BYTES, len(text)), len(text))
        return
    p = Path(path).expanduser()
    try:
        fd = open_regular(p)
        with open(fd, "rb", buffering=0) as f:
            yield from _file_pieces(f, p, os.fstat(fd).st_size, progress, stage)
    except OSError as exc:
        raise read_refusal(p, exc) from None


def _file_pieces(f, p: Path, size: int, progress: Progress | None, stage: str) -> Iterator[str]:
    """Read at most MAX_CORPUS_BYTES + 1 bytes in chunks; decode, check and normalise them."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    done = 0
    has_text = False  # anything but ASCII whitespace: the file is not empty
    bad_utf8: tuple[int, int] | None = None  # (offset, byte) of the first invalid UTF-8 byte
    carry: list[str] = []  # decoded text not yet normalised: it may continue in the next chunk
    first = True
    while True:
        chunk = f.read(min(CHUNK_BYTES, MAX_CORPUS_BYTES + 1 - done))
        if chunk is None:  # a non-blocking read with nothing ready: never for a regular file
            raise CorpusError(
                _("corpus file cannot be read now: {path}").format(path=p),
                _("give a regular file"),
            )
        if done + len(chunk) > MAX_CORPUS_BYTES:
            raise CorpusError(
                _("corpus file grew past 1 GiB while it was read: {path}").format(path=p),
                _("use a text file under 1 GiB that nothing is writing to"),
            )
        nul = chunk.find(b"\x00")
        if nul != -1:
            raise CorpusError(
                _("corpus file looks binary (a NUL byte at offset {offset}): {path}").format(
                    offset=done + nul, path=p
                ),
                _("give a plain UTF-8 text file, not a binary or UTF-16 file"),
            )
        has_text = has_text or bool(chunk.strip())
        done += len(chunk)
        if bad_utf8 is None:
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:  # keep reading: a NUL byte later is named first
                start = done - len(exc.object) + exc.start
                bad_utf8 = (start, exc.object[exc.start])
                text = ""
            if first and text:
                first = False
                if text.startswith("\ufeff"):
                    text = text[1:]
            cut = _last_boundary(text) if chunk else len(text)
            if cut > 0 or (not chunk and carry):
                yield normalize("".join([*carry, text[:cut]]))
                carry = [text[cut:]]
            elif text:
                carry.append(text)
        if progress and chunk:
            progress(stage, done, max(size, done))
        if not chunk:
            break
    if not has_text:
        raise CorpusError(
            _("corpus file is empty: {path}").format(path=p),
            _("give a file with some text in it"),
        )
    if bad_utf8 is not None:
        raise CorpusError(
            _("corpus file is not UTF-8: byte 0x{byte:02x} at offset {offset}: {path}").format(
                byte=bad_utf8[1], offset=bad_utf8[0], path=p
            ),
            _("convert it, e.g. iconv -f LATIN1 -t UTF-8 in.txt > out.txt"),
        )


def _last_boundary(text: str) -> int:
    """The last index where text can be split without changing its NFC form; 0 if none."""
    cut = text.rfind("\n")
    if cut == -1:
        m = _BOUNDARY.search(text[::-1])
        cut = -1 if m is None else len(text) - 1 - m.start()
    return max(cut, 0)


class CorpusData:
    """A tokenized corpus split into train and validation ids (90/10, in order).

    The ids are kept compact (:func:`core.tokenizer.id_dtype`: one byte per character for up to
    256 distinct characters) in ``train_ids`` and ``val_ids``, views of one array; batches are
    widened to int64 one batch at a time. ``train`` and ``val`` give int64 copies."""

    def __init__(
        self,
        tokenizer: CharTokenizer,
        train: torch.Tensor,
        val: torch.Tensor,
        source: str,
        n_chars: int,
    ) -> None:
        dtype = _TORCH_DTYPES[id_dtype(tokenizer.vocab_size).type]
        self.tokenizer = tokenizer
        self.train_ids = train.to(dtype)  # no copy when already compact
        self.val_ids = val.to(dtype)
        self.source = source
        self.n_chars = n_chars

    @property
    def train(self) -> torch.Tensor:
        """The training ids as int64: a new tensor of 8 bytes per id."""
        return self.train_ids.long()

    @property
    def val(self) -> torch.Tensor:
        """The validation ids as int64: a new tensor of 8 bytes per id."""
        return self.val_ids.long()

    @property
    def nbytes(self) -> int:
        """Memory held by the ids."""
        storages = [t.untyped_storage() for t in (self.train_ids, self.val_ids)]
        return sum({s.data_ptr(): s.nbytes() for s in storages}.values())

    def check_block_size(self, block_size: int) -> None:
        """Both splits must hold at least one full window of block_size + 1 characters."""
        need = block_size + 1
        n_train, n_val = len(self.train_ids), len(self.val_ids)
        if n_val < need or n_train < need:
            if n_val < n_train:
                message = _(
                    "corpus too short for context length {block_size}: the validation split has "
                    "{chars} characters and needs at least {need}"
                )
            else:
                message = _(
                    "corpus too short for context length {block_size}: the training split has "
                    "{chars} characters and needs at least {need}"
                )
            raise CorpusError(
                message.format(block_size=block_size, chars=min(n_train, n_val), need=need),
                _(
                    "use a longer text (at least {chars} characters for context {block_size}) or "
                    "a shorter context length"
                ).format(chars=int(need / VAL_FRACTION) + 1, block_size=block_size),
            )

    def get_batch(
        self, split: str, batch_size: int, block_size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Random windows: x (B, T) and y (B, T) as int64, y shifted one character right."""
        starts = self.starts(split, batch_size, block_size, generator)
        return self.windows(split, starts, block_size)

    def starts(
        self, split: str, batch_size: int, block_size: int, generator: torch.Generator
    ) -> torch.Tensor:
        """Where ``batch_size`` random windows start (a rank takes its slice of a global draw)."""
        data = self.train_ids if split == "train" else self.val_ids
        return torch.randint(len(data) - block_size, (batch_size,), generator=generator)

    def windows(
        self, split: str, starts: torch.Tensor, block_size: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        data = self.train_ids if split == "train" else self.val_ids
        offsets = torch.arange(block_size + 1)
        windows = data[starts[:, None] + offsets].long()  # (B, T+1)
        return windows[:, :-1], windows[:, 1:]

    def info(self) -> dict:
        return {
            "source": self.source,
            "chars": self.n_chars,
            "vocab_size": self.tokenizer.vocab_size,
            "train_chars": len(self.train_ids),
            "val_chars": len(self.val_ids),
        }

    def __repr__(self) -> str:
        return (
            f"CorpusData(source={self.source!r}, chars={self.n_chars}, "
            f"vocab_size={self.tokenizer.vocab_size}, dtype={self.train_ids.dtype})"
        )


def load_data(
    path: str | os.PathLike | None = None,
    tokenizer: CharTokenizer | None = None,
    progress: Progress | None = None,
) -> CorpusData:
    """Read, tokenize and split a corpus. With a tokenizer (from a checkpoint), reuse its
    vocabulary; characters outside it are reported as an error. ``progress`` (optional) is
    called after each piece of each pass, see :data:`Progress`."""
    source = _source_name(path)
    n_chars, seen, unknown = _scan(path, tokenizer, progress)
    if n_chars < 20:
        raise CorpusError(
            _("corpus has only {chars} characters: {source}").format(chars=n_chars, source=source),
            _("give a text of at least a few hundred characters"),
        )
    if unknown:
        raise UnknownCharactersError(unknown)
    if tokenizer is None:
        tokenizer = CharTokenizer.from_seen(seen)
    ids = _encode(path, tokenizer, n_chars, progress)
    n_val = max(1, int(n_chars * VAL_FRACTION))
    return CorpusData(tokenizer, ids[:-n_val], ids[-n_val:], source, n_chars)


def _scan(
    path: str | os.PathLike | None, tokenizer: CharTokenizer | None, progress: Progress | None
) -> tuple[int, np.ndarray | None, list[tuple[int, str]]]:
    """First pass: the number of characters, which ones occur (without a tokenizer) or the
    (position, char) of those the tokenizer lacks (with one)."""
    seen = np.zeros(UNICODE_SIZE, dtype=bool) if tokenizer is None else None
    table = None if tokenizer is None else tokenizer.lookup_table()
    unknown: list[tuple[int, str]] = []
    n_chars = 0
    for piece in _pieces(path, progress, "reading"):
        cps = code_points(piece)
        if seen is not None:
            seen[cps] = True
        else:
            missing = np.flatnonzero(table[cps] < 0)
            unknown.extend((n_chars + i, piece[i]) for i in missing.tolist())
        n_chars += len(piece)
    return n_chars, seen, unknown


def _encode(
    path: str | os.PathLike | None,
    tokenizer: CharTokenizer,
    n_chars: int,
    progress: Progress | None,
) -> torch.Tensor:
    """Second pass: one compact id per character, written into an array of n_chars."""
    table = tokenizer.lookup_table()
    ids = np.empty(n_chars, dtype=id_dtype(tokenizer.vocab_size))
    pos = 0
    for piece in _pieces(path, progress, "encoding"):
        piece_ids = table[code_points(piece)]
        if pos + len(piece) > n_chars or (piece_ids < 0).any():
            pos = -1
            break
        ids[pos : pos + len(piece)] = piece_ids
        pos += len(piece)
    if pos != n_chars:
        raise CorpusError(
            _("corpus file changed while it was read: {source}").format(source=_source_name(path)),
            _("wait until nothing is writing to it, or load a copy of it"),
        )
    return torch.from_numpy(ids)
