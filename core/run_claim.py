"""One training engine per run folder: an engine that autosaves into a folder holds an exclusive
``flock`` on the folder's lock file for as long as it may write there, so a second engine that
would autosave over the first one's checkpoint is refused when it starts training, whichever
way it came (a second app, a browser tab, an engine restarted in the same folder, a headless
run with the same ``--out``). The kernel lets go of the lock when the engine's process ends, so
a crashed engine never leaves its folder claimed; an engine that ends cleanly removes the
file (``<folder>/.torchdeck.lock``) too.

Works without a UI and never imports torch.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from core.errors import TorchdeckError
from core.i18n import _

LOCK_NAME = ".torchdeck.lock"


class FolderTaken(TorchdeckError):
    """Another live engine autosaves into the folder."""


class FolderClaim:
    """The folder this engine autosaves into, claimed; at most one at a time."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self._fd: int | None = None

    def claim(self, folder: str | os.PathLike, holder: dict) -> None:
        """Claim ``folder`` (made if missing) for this process, letting go of the one claimed
        before. ``holder`` (the engine's id, pid, host) is written in the lock file for the
        message another engine gets. Raises FolderTaken if another process holds it. A folder
        that cannot be made or written is left unclaimed: the autosave itself says why."""
        path = Path(folder).resolve()
        if path == self.folder:
            return
        for _try in range(5):
            try:
                path.mkdir(parents=True, exist_ok=True)
                fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = _read(fd)
                os.close(fd)
                raise _taken(path, other) from None
            except OSError:  # a file system without locks: nothing to guard with
                os.close(fd)
                return
            if _same_file(fd, path / LOCK_NAME):
                break
            os.close(fd)  # its holder removed it as it let go: the new file is the lock
        else:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
        self.release()
        self.folder, self._fd = path, fd

    def release(self) -> None:
        """Let go of the folder: the lock file is removed while still locked, so an engine that
        opened it meanwhile finds it gone and makes a new one (``claim`` checks)."""
        fd, folder = self._fd, self.folder
        self._fd = self.folder = None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            if _same_file(fd, folder / LOCK_NAME):
                os.unlink(folder / LOCK_NAME)
        with contextlib.suppress(OSError):
            os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        mine, named = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (named.st_dev, named.st_ino)


def _read(fd: int) -> dict:
    try:
        found = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _taken(folder: Path, other: dict) -> FolderTaken:
    ident = str(other.get("id") or other.get("pid") or "?")
    return FolderTaken(
        _(
            "engine {id} autosaves its run in {folder}; a second run here would write over its "
            "checkpoint"
        ).format(id=ident, folder=folder),
        _(
            "torchdeck attach {id} shows that run, torchdeck stop {id} saves and ends it; or "
            "train this one in another folder: start torchdeck elsewhere, or give --out"
        ).format(id=ident),
    )
