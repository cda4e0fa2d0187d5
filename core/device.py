"""Device choice and the per-device speed settings (autocast, TF32). Works without a UI."""

from __future__ import annotations

import contextlib
import re

import torch

from core.contract.settings import DEVICE_CHOICES
from core.errors import ConfigError
from core.i18n import _


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an unavailable device is a ConfigError."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise ConfigError(
                _("device 'mps' is not available here"),
                _("MPS needs Apple silicon and a torch build with MPS; use cpu"),
            )
        return torch.device("mps")
    m = re.fullmatch(r"cuda(?::(\d+))?", name)
    if m:
        if not torch.cuda.is_available():
            raise ConfigError(
                _(
                    "device 'cuda' is not available: this torch sees no CUDA GPU (torch {version})"
                ).format(version=torch.__version__),
                _("use --device cpu, or install a CUDA build of torch on a GPU machine"),
            )
        index = int(m.group(1) or 0)
        count = torch.cuda.device_count()
        if index >= count:
            raise ConfigError(
                _("device {name!r} does not exist: {count} CUDA device(s) found").format(
                    name=name, count=count
                ),
                _("use cuda:0 to cuda:{last}").format(last=count - 1),
            )
        return torch.device("cuda", index)
    raise ConfigError(
        _("unknown device {name!r}").format(name=name),
        _("use one of: {choices}").format(choices=DEVICE_CHOICES),
    )


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def prepare(device: torch.device) -> None:
    """Turn on the fast paths a device offers: TF32 matmuls on CUDA."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None = None):
    """Autocast to ``dtype``; by default the inference path's: bf16 on CUDA where supported,
    nothing elsewhere (a prediction of one line gains nothing from bf16 on a CPU)."""
    dtype = autocast_dtype(device) if dtype is None else dtype
    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def cpu_bf16_native() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX-512 BF16 or AMX); without it, bf16
    autocast is emulated and slower than float32."""
    cpu = getattr(torch, "cpu", None)
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(cpu, name, None)
        try:
            if check is not None and check():
                return True
        except Exception:  # a build without the check: say no
            pass
    return False


# auto keeps float32 for a step smaller than this (6 x parameters x tokens, the step's FLOPs):
# there the casts cost more than the products gain. Measured on 2 cores (AVX-512 BF16): tiny
# models at 4-13 MFLOP a step ran 1.3-1.7x slower in bf16; mini at its defaults (150 MFLOP)
# 1.2-1.5x faster, mlp (960 MFLOP) 1.6x, gpt (10 GFLOP) 1.4-1.6x.
BF16_MIN_STEP_FLOPS = 5e7


def train_dtype(
    device: torch.device, precision: str, step_flops: float | None = None
) -> torch.dtype:
    """The dtype a training step computes in, for a run's ``precision`` (auto, fp32, bf16);
    ``step_flops``: the step's size (auto keeps float32 below ``BF16_MIN_STEP_FLOPS``).

    auto: bf16 where the device computes it natively — a CUDA GPU that supports it, a CPU with
    AVX-512 BF16 or AMX — float32 elsewhere. On the project's 2-core Zen 4 (AVX-512 BF16), the
    gpt preset's 300 steps took 23.0 s instead of 37.3 s in one process, validation loss
    1.8137 both ways (``torchdeck bench`` measures it through the engine: speedup_vs_eager)."""
    if precision == "fp32":
        return torch.float32
    small = precision == "auto" and step_flops is not None and step_flops < BF16_MIN_STEP_FLOPS
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.float32 if small else torch.bfloat16
        if precision == "bf16":
            raise ConfigError(
                _("precision bf16 is not supported by this GPU ({device})").format(device=device),
                _("use --precision fp32 (or auto)"),
            )
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cpu" and cpu_bf16_native() and not small:
        return torch.bfloat16
    return torch.float32


def train_speed(
    device: torch.device, precision: str, compile: bool | None, model, tokens: int
) -> tuple[torch.dtype, bool]:
    """How a run's steps compute, its settings resolved: the dtype (:func:`train_dtype`, the
    step's size 6 x parameters x ``tokens``) and whether it compiles (unset: on CUDA only).
    The engine's trainer and the bench's bare loop both ask here."""
    flops = 6 * sum(p.numel() for p in model.parameters()) * tokens
    wanted = device.type == "cuda" if compile is None else compile
    return train_dtype(device, precision, flops), wanted


def dtype_name(dtype: torch.dtype) -> str:
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)
