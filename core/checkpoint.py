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
import os
import pickle
import re
import shutil
import stat
import zipfile
from pathlib import Path

import torch

from core.errors import CheckpointError

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
            f"cannot create the folder {target.parent}: {exc.strerror}",
            "choose a writable location",
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
    except (OSError, RuntimeError) as exc:  # RuntimeError: torch's zip writer failed a write
        _remove(tmp)
        raise _write_error(exc, target, payload) from None
    except BaseException:  # e.g. a pickling error or Ctrl-C: still leave no temporary file
        _remove(tmp)
        raise
    return target


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
    keep = "the previous checkpoint is untouched" if target.exists() else "nothing was written"
    if full:
        room = f", {_mb(free)} free" if free is not None else ""
        return CheckpointError(
            f"cannot write the checkpoint {target}: the disk is full "
            f"(it needs about {_mb(needed)}{room})",
            f"free some space there or save somewhere else; {keep}",
        )
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
    else:  # torch's writer: keep its first line without the C++ location
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        reason = (
            re.sub(r"^\[enforce fail at [^\]]*\]\s*", "", lines[0]).strip(" .") or "write failed"
        )
    return CheckpointError(
        f"cannot write the checkpoint {target}: {reason[:160]}",
        f"check free disk space and permissions; {keep}",
    )


def load(path: str | os.PathLike) -> dict:
    target = resolve_path(path)
    if not target.exists():
        raise CheckpointError(
            f"no checkpoint at {target}",
            "give a checkpoint file or a run folder holding checkpoint.pt",
        )
    if target.is_dir():
        raise CheckpointError(
            f"{target} is a folder, not a checkpoint file",
            f"a run folder holds its checkpoint as the file {FILENAME}; give a checkpoint file "
            "or a run folder that holds one",
        )
    if not stat.S_ISREG(target.stat().st_mode):  # a FIFO would block the open for ever
        raise CheckpointError(
            f"{target} is not a regular file (a pipe, a device or a socket)",
            "give a checkpoint file that torchdeck saved",
        )
    try:
        state = torch.load(target, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
        detail = text.split("WeightsUnpickler error:", 1)[-1].strip()
        first = detail.splitlines()[0].strip() if detail else "unpickling failed"
        if "global" not in text.lower():  # not a refused object: the bytes themselves are bad
            raise CheckpointError(
                f"{target} is not a readable checkpoint (truncated or corrupt: {first[:160]})",
                "use another checkpoint, or train again",
            ) from None
        name = re.search(r"GLOBAL ([\w.]+)", text)
        what = f" ({name.group(1)})" if name else ""
        raise CheckpointError(
            f"refused to load {target}: it holds objects other than tensors and plain data{what}",
            "torchdeck loads only weights-only checkpoints; re-save it with torchdeck",
        ) from None
    except (RuntimeError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{target} is not a readable checkpoint (truncated or corrupt: "
            f"{str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__})",
            "use another checkpoint, or train again; a file cut short by a crash or a full "
            "disk cannot be repaired",
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{target} is a torch file but not a torchdeck checkpoint",
            "load a checkpoint written by torchdeck train or save",
        )
    if state.get("version") != VERSION:
        raise CheckpointError(
            f"{target} has checkpoint version {state.get('version')}; this "
            f"torchdeck reads version {VERSION}",
            "use the torchdeck version that wrote it",
        )
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise CheckpointError(
            f"{target} lacks {', '.join(missing)}", "the file is incomplete; use another checkpoint"
        )
    return state
