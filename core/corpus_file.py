"""The corpus path's own checks, before a byte is read: it exists, it is a regular file (not
a directory, a device or a pipe), it is under the size cap, and it opens without blocking.

Imports no torch, so the app's command line can refuse a wrong ``--corpus`` before its screen
starts (core.data reads and checks the text itself).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.errors import CorpusError
from core.i18n import _

DEFAULT_CORPUS = "pydoc"  # the name shown for the built-in corpus
MAX_CORPUS_BYTES = 1 << 30

_KINDS = [
    # what the path is, in the language of the moment the refusal is made
    (stat.S_ISCHR, lambda: _("a character device (like /dev/zero or a terminal)")),
    (stat.S_ISBLK, lambda: _("a block device (a disk)")),
    (stat.S_ISFIFO, lambda: _("a FIFO (named pipe)")),
    (stat.S_ISSOCK, lambda: _("a socket")),
]


def check_corpus_path(path: str | os.PathLike) -> None:
    """CorpusError, with the fix, if ``path`` cannot be a corpus file (as core.data says it)."""
    p = Path(path).expanduser()
    try:
        os.close(open_regular(p))
    except OSError as exc:
        raise read_refusal(p, exc) from None


def read_refusal(p: Path, exc: OSError) -> CorpusError:
    """The corpus file ``p`` could not be opened or read: why, and the fix."""
    if isinstance(exc, PermissionError):
        return CorpusError(
            _("no permission to read the corpus file: {path}").format(path=p),
            _("check the file's permissions"),
        )
    return CorpusError(
        _("cannot read the corpus file {path}: {reason}").format(path=p, reason=exc.strerror),
        _("check that the path is a readable regular file"),
    )


def open_regular(p: Path) -> int:
    """Check with os.stat that p is a regular file under the cap, then open it without ever
    blocking (a FIFO swapped in after the check is caught by fstat on the open descriptor)."""
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        raise CorpusError(
            _("corpus file not found: {path}").format(path=p),
            _("check the path, or leave --corpus out to use the built-in Python docs"),
        ) from None
    _check_regular(p, st)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(p, flags | getattr(os, "O_BINARY", 0))
    try:
        _check_regular(p, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_regular(p: Path, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise CorpusError(
            _("corpus path is a directory: {path}").format(path=p),
            _("give one UTF-8 text file, e.g. --corpus notes/shakespeare.txt"),
        )
    if not stat.S_ISREG(st.st_mode):
        what = next((name() for test, name in _KINDS if test(st.st_mode)), _("something else"))
        raise CorpusError(
            _("corpus path is {what}, not a regular file: {path}").format(what=what, path=p),
            _(
                "give a regular UTF-8 text file; to train on the output of a command or a pipe, "
                "save it to a file first (e.g. command > corpus.txt) and give that file"
            ),
        )
    if st.st_size > MAX_CORPUS_BYTES:
        raise CorpusError(
            _("corpus file is {size:.1f} GiB: {path}").format(size=st.st_size / 2**30, path=p),
            _("use a text file under 1 GiB"),
        )
