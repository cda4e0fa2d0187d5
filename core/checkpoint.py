"""Checkpoints: one file holding everything needed to resume or to predict.

Works without a UI. Contents: model weights, preset and model config, training config,
vocabulary, step, optimizer state, batch-generator state (so the batch order resumes exactly),
and the loss history. Written atomically (temporary file in the same folder, fsync, rename);
read with ``torch.load(weights_only=True)``, which refuses anything but tensors and plain data,
so a checkpoint can never run code.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import pickle
import re
import shutil
import stat
import zipfile
from pathlib import Path

import torch

from core.errors import CheckpointError
from core.i18n import _
from core.transport import process_alive

FORMAT = "torchdeck-checkpoint"
VERSION = 1
FILENAME = "checkpoint.pt"
REQUIRED = ("format", "version", "preset", "model_config", "train_config", "model", "trainer")


def resolve_path(path: str | os.PathLike) -> Path:
    """A run folder means its checkpoint.pt; a file path is taken as it is."""
    p = Path(path).expanduser()
    if p.is_dir() or (not p.suffix and not p.exists()):
        return p / FILENAME
    return p


def save(state: dict, path: str | os.PathLike) -> Path:
    target = resolve_path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(
            _("cannot create the folder {folder}: {reason}").format(
                folder=target.parent, reason=exc.strerror
            ),
            _("choose a writable location"),
        ) from None
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "torch_version": str(torch.__version__),
        **state,
    }
    try:
        with open(tmp, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _sync_folder(target.parent)
    except (OSError, RuntimeError) as exc:  # RuntimeError: torch's zip writer failed a write
        _remove(tmp)
        raise _write_error(exc, target, payload) from None
    except BaseException:  # e.g. a pickling error or Ctrl-C: still leave no temporary file
        _remove(tmp)
        raise
    _sweep(target)
    return target


def _sync_folder(folder: Path) -> None:
    """The rename itself reaches the disk (a crash right after it keeps the new file)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sweep(target: Path) -> None:
    """Remove the temporary files that saves of ``target`` by processes now dead left behind
    (an engine killed while writing): up to a checkpoint's size each."""
    for tmp in target.parent.glob(f".{glob.escape(target.name)}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            _remove(tmp)  # its writer is gone: nobody will rename it


def _remove(tmp: Path) -> None:
    """Remove a temporary file if there is one (on a read-only disk even that may fail)."""
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def estimate_size(obj) -> int:
    """Bytes a checkpoint of ``obj`` needs, about: its tensors' bytes plus 64 KiB of the rest."""

    def tensor_bytes(o) -> int:
        if isinstance(o, torch.Tensor):
            return o.nelement() * o.element_size()
        if isinstance(o, dict):
            return sum(tensor_bytes(v) for v in o.values())
        if isinstance(o, (list, tuple)):
            return sum(tensor_bytes(v) for v in o)
        return 0

    return tensor_bytes(obj) + 64 * 1024


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _write_error(exc: BaseException, target: Path, payload: dict) -> CheckpointError:
    """One sentence for a failed write: the path, and for a full disk the space it needs."""
    needed = estimate_size(payload)
    try:
        free = shutil.disk_usage(target.parent).free
    except OSError:
        free = None
    full = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or (
        free is not None and free < needed
    )
    keep = (
        _("the previous checkpoint is untouched") if target.exists() else _("nothing was written")
    )
    if full:
        if free is not None:
            message = _(
                "cannot write the checkpoint {path}: the disk is full (it needs about {needed}, "
                "{free} free)"
            ).format(path=target, needed=_mb(needed), free=_mb(free))
        else:
            message = _(
                "cannot write the checkpoint {path}: the disk is full (it needs about {needed})"
            ).format(path=target, needed=_mb(needed))
        return CheckpointError(
            message,
            _("free some space there or save somewhere else; {kept}").format(kept=keep),
        )
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
    else:  # torch's writer: keep its first line without the C++ location
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        reason = (
            re.sub(r"^\[enforce fail at [^\]]*\]\s*", "", lines[0]).strip(" .") or "write failed"
        )
    return CheckpointError(
        _("cannot write the checkpoint {path}: {reason}").format(path=target, reason=reason[:160]),
        _("check free disk space and permissions; {kept}").format(kept=keep),
    )


def load(path: str | os.PathLike) -> dict:
    target = resolve_path(path)
    if not target.exists():
        raise CheckpointError(
            _("no checkpoint at {path}").format(path=target),
            _("give a checkpoint file or a run folder holding checkpoint.pt"),
        )
    if target.is_dir():
        raise CheckpointError(
            _("{path} is a folder, not a checkpoint file").format(path=target),
            _(
                "a run folder holds its checkpoint as the file {file}; give a checkpoint file "
                "or a run folder that holds one"
            ).format(file=FILENAME),
        )
    if not stat.S_ISREG(target.stat().st_mode):  # a FIFO would block the open for ever
        raise CheckpointError(
            _("{path} is not a regular file (a pipe, a device or a socket)").format(path=target),
            _("give a checkpoint file that torchdeck saved"),
        )
    _check_sums(target)
    try:
        state = torch.load(target, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
        detail = text.split("WeightsUnpickler error:", 1)[-1].strip()
        first = detail.splitlines()[0].strip() if detail else "unpickling failed"
        if "global" not in text.lower():  # not a refused object: the bytes themselves are bad
            raise CheckpointError(
                _("{path} is not a readable checkpoint (truncated or corrupt: {detail})").format(
                    path=target, detail=first[:160]
                ),
                _("use another checkpoint, or train again"),
            ) from None
        name = re.search(r"GLOBAL ([\w.]+)", text)
        if name:
            message = _(
                "refused to load {path}: it holds objects other than tensors and plain data "
                "({name})"
            ).format(path=target, name=name.group(1))
        else:
            message = _(
                "refused to load {path}: it holds objects other than tensors and plain data"
            ).format(path=target)
        raise CheckpointError(
            message,
            _("torchdeck loads only weights-only checkpoints; re-save it with torchdeck"),
        ) from None
    except (RuntimeError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        said = str(exc).strip()
        raise CheckpointError(
            _("{path} is not a readable checkpoint (truncated or corrupt: {detail})").format(
                path=target, detail=said.splitlines()[0][:160] if said else type(exc).__name__
            ),
            _(
                "use another checkpoint, or train again; a file cut short by a crash or a full "
                "disk cannot be repaired"
            ),
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            _("{path} is a torch file but not a torchdeck checkpoint").format(path=target),
            _("load a checkpoint written by torchdeck train or save"),
        )
    if state.get("version") != VERSION:
        raise CheckpointError(
            _(
                "{path} has checkpoint version {version}; this torchdeck reads version {ours}"
            ).format(path=target, version=state.get("version"), ours=VERSION),
            _("use the torchdeck version that wrote it"),
        )
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise CheckpointError(
            _("{path} lacks {keys}").format(path=target, keys=", ".join(missing)),
            _("the file is incomplete; use another checkpoint"),
        )
    return state


def _check_sums(target: Path) -> None:
    """torch.save writes a zip archive with a CRC-32 for each part, which torch.load does not
    check: a file whose bytes a disk or a copy changed would load, and its damaged weights
    would show up later as a diverged run. Each part is checked here first (Python's zipfile,
    about 2 GB/s); a file that is not a zip archive is left for torch.load to refuse."""
    bad = None
    try:
        with zipfile.ZipFile(target) as archive:
            for part in archive.infolist():
                if part.CRC == 0 and part.file_size:  # written without sums (torch allows it)
                    continue
                try:
                    with archive.open(part) as fh:
                        while fh.read(1 << 22):
                            pass
                except zipfile.BadZipFile:  # "Bad CRC-32 for file ..."
                    bad = part.filename
                    break
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError):
        return
    if bad is not None:
        raise CheckpointError(
            _(
                "{path} is damaged: its part {part} fails its checksum (its bytes changed after "
                "it was written)"
            ).format(path=target, part=bad.split("/", 1)[-1]),
            _(
                "use another checkpoint (the autosave beside it, or an older copy); a changed "
                "file cannot be repaired"
            ),
        )
