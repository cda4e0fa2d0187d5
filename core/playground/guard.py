"""The playground's memory guard: a cell that asks for a tensor larger than its share of the free
memory is refused before anything is allocated, and on a machine without CUDA the engine's
address space is capped for the cell, so an allocation the guard cannot size fails with
MemoryError instead of waking the OOM killer."""

from __future__ import annotations

import contextlib
import math
import os

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from core.contract.lab import DEFAULT_MEMORY_SHARE  # noqa: F401 - declared with its range
from core.errors import TorchdeckError
from core.fmt import fmt_bytes
from core.i18n import _


class MemoryGuardError(TorchdeckError, MemoryError):
    """A cell asked for a tensor larger than its share of the free memory."""


def available_bytes(device: torch.device | None = None) -> int:
    """Free memory a new tensor on ``device`` can take: the GPU's free memory (plus what torch's
    cache holds unused), or the machine's available RAM."""
    if device is not None and device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + max(cached, 0))
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: no limit rather than a wrong one


_SIZE_FIRST = {"empty", "zeros", "ones", "full", "rand", "randn", "empty_strided"}
_SIZE_AFTER_SELF = {"new_empty", "new_zeros", "new_ones", "new_full", "new_empty_strided"}


_SIZED = (
    _SIZE_FIRST
    | _SIZE_AFTER_SELF
    | {
        "randint",
        "randperm",
        "eye",
        "arange",
        "linspace",
        "logspace",
        "repeat",
        "mm",
        "addmm",
        "bmm",
        "baddbmm",
        "cat",
        "stack",
        "clone",
        "_to_copy",
    }
)
_KINDS: dict = {}  # aten op -> its name if the guard sizes it, "pointwise", or ""


def _kind(func) -> str:
    name = func.overloadpacket.__name__
    if name in _SIZED:
        return name
    return "pointwise" if torch.Tag.pointwise in func.tags else ""


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


class MemoryGuard(TorchDispatchMode):
    """Refuses, before anything is allocated, an op whose new tensor would exceed ``share`` of
    the free memory: factory ops (their size is an argument), ``repeat``, ``cat``/``stack``,
    copies (of an expanded view too), matrix products and broadcasting element-wise ops (their
    size follows from the inputs' shapes). Other ops run unchecked."""

    def __init__(self, share: float) -> None:
        super().__init__()
        self.share = share

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch would otherwise wrap __torch_dispatch__ in a Dynamo guard: that imports
        # torch._dynamo on the first cell (1.4 s here) and costs a few µs on every op
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        kind = _KINDS.get(func)
        if kind is None:
            kind = _KINDS[func] = _kind(func)
        if kind:
            try:
                numel, dtype, device = self._estimate(func, kind, args, kwargs)
            except Exception:  # an op we cannot size: let it run
                numel = 0
            if numel > 1 << 20:  # under a million elements nothing is worth a system call
                self._check(numel, dtype, device)
        return func(*args, **kwargs)

    def _estimate(self, func, name, args, kwargs):
        dtype = kwargs.get("dtype")
        device = kwargs.get("device")
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if tensors:
            dtype = dtype or tensors[0].dtype
            device = device or tensors[0].device
        if name in _SIZE_FIRST:
            numel = _numel(args[0])
        elif name in _SIZE_AFTER_SELF:
            numel = _numel(args[1])
        elif name == "randint":
            numel = _numel(args[-1] if isinstance(args[-1], (list, tuple)) else kwargs["size"])
            dtype = dtype or torch.int64
        elif name == "randperm":
            numel, dtype = int(args[0]), dtype or torch.int64
        elif name == "eye":
            numel = int(args[0]) * int(args[1] if len(args) > 1 else args[0])
        elif name in ("arange", "linspace", "logspace"):
            if name == "arange":
                nums = [float(a) for a in args if isinstance(a, (int, float))]
                start, end, step = (
                    (0.0, nums[0], 1.0)
                    if len(nums) == 1
                    else (nums + [1.0])[:3]
                    if len(nums) == 2
                    else nums[:3]
                )
                numel = max(0, math.ceil((end - start) / step))
                if all(isinstance(a, int) for a in args if isinstance(a, (int, float))):
                    dtype = dtype or torch.int64
            else:
                numel = int(args[2])
        elif name == "repeat":
            reps = list(args[1])
            shape = [1] * (len(reps) - tensors[0].dim()) + list(tensors[0].shape)
            numel = _numel(s * r for s, r in zip(shape, reps))
        elif name in ("cat", "stack"):
            parts = [t for t in args[0] if isinstance(t, torch.Tensor)]
            numel = sum(t.numel() for t in parts)
            dtype, device = dtype or parts[0].dtype, device or parts[0].device
        elif name in ("clone", "_to_copy"):  # a copy of an expanded view is as big as the view
            numel = tensors[0].numel()
        elif name in ("mm", "addmm", "bmm", "baddbmm"):
            a, b = tensors[-2], tensors[-1]
            numel = _numel(a.shape[:-1]) * int(b.shape[-1])
        elif name == "pointwise" and len(tensors) > 1:
            sizes = sorted(t.numel() for t in tensors)
            if sizes[-1] * sizes[-2] <= 1 << 20:  # the output cannot be bigger than this
                return 0, dtype, device
            numel = _numel(torch.broadcast_shapes(*(t.shape for t in tensors)))
        else:
            numel = 0
        return numel, dtype or torch.get_default_dtype(), torch.device(device or "cpu")

    def _check(self, numel: int, dtype: torch.dtype, device: torch.device) -> None:
        wanted = numel * dtype.itemsize
        free = available_bytes(device)
        if wanted > self.share * free:
            raise MemoryGuardError(
                _(
                    "this cell asked for a {size} tensor ({numel} × {dtype}) on {device}; "
                    "the limit is {share} of the {free} free"
                ).format(
                    size=fmt_bytes(wanted, digits=1),
                    numel=f"{numel:,}",
                    dtype=dtype,
                    device=device,
                    share=f"{self.share:.0%}",
                    free=fmt_bytes(free, digits=1),
                ),
                _(
                    "use a smaller size; the guard keeps one cell from taking the machine down "
                    "(raise the share with the exec argument memory_share if you really mean it)"
                ),
            )


@contextlib.contextmanager
def address_space_limit(share: float):
    """On a machine without CUDA, cap the engine's address space for the cell at its current
    size plus ``share`` of the available RAM, so that an allocation the guard cannot size (a
    huge Python list, a NumPy array) fails with MemoryError instead of waking the OOM killer.
    Skipped where CUDA exists: its driver reserves vast address ranges and must not be capped."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Linux/macOS
        yield
        return
    if torch.cuda.is_available() or not os.path.exists("/proc/self/statm"):
        yield
        return
    with open("/proc/self/statm", encoding="ascii") as fh:
        current = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = current + int(share * available_bytes()) + (256 << 20)  # slack: thread stacks
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= limit:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
