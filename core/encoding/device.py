"""Where and in which precision the model runs: device and dtype choice, and ZeroGPU support."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TypeVar

import torch

F = TypeVar("F", bound=Callable)

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
          "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


def pick_device(device: str | None = None) -> str:
    """"auto"/None picks CUDA, then Apple MPS, then CPU; anything else is checked and returned."""
    if device in (None, "", "auto"):
        if torch.cuda.is_available() or on_zero_gpu():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = device.split(":")[0]
    if kind == "cuda" and not (torch.cuda.is_available() or on_zero_gpu()):
        raise ValueError(f"device {device!r} was asked for, but no CUDA GPU is available")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} was asked for, but Apple MPS is not available")
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps")
    return device


def cpu_supports_bf16() -> bool:
    """True on CPUs with AMX or AVX512-BF16, where bf16 matrix products beat fp32 by a wide margin."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("amx_bf16", "avx512_bf16"))


def pick_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    """"auto"/None: bf16 on CUDA (fp16 on pre-Ampere GPUs) and on CPUs with AMX/AVX512-BF16; fp32 otherwise."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "", "auto"):
        kind = device.split(":")[0]
        if kind == "cuda":
            if on_zero_gpu() and not torch.cuda.is_available():
                return torch.bfloat16
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if kind == "cpu" and cpu_supports_bf16():
            return torch.bfloat16
        return torch.float32
    try:
        return DTYPES[str(dtype).lower()]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}: use auto, float32, float16 or bfloat16") from None


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def on_zero_gpu() -> bool:
    """A Hugging Face ZeroGPU Space: the GPU is attached only inside functions decorated by spaces.GPU."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")


def gpu_task(fn: F | None = None, *, duration: int = 60) -> F:
    """Run ``fn`` under ``spaces.GPU`` on a ZeroGPU Space; unchanged where the package is absent."""
    if fn is None:
        return functools.partial(gpu_task, duration=duration)  # type: ignore[return-value]
    if not on_zero_gpu():
        return fn
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(duration=duration)(fn)
