"""The CPU engine on OpenVINO: the same Transformer -> Pooling -> Normalize, compiled by OpenVINO.

The project's own torch model (SDPA-patched DeBERTa, or any transformers encoder) is traced once with
dynamic ``[batch, tokens]`` inputs, pooling and L2 normalisation included in the graph, optionally
with int8 weights (``nncf.compress_weights``, INT8_ASYM, per channel), and saved as OpenVINO IR in
the user cache, so later starts read the IR and compile it without loading torch weights:

    <cache>/openvino/<model>-<revision or "local">-<full|int8>-<first 16 hex of the key's sha256>/

``<cache>`` is the same root the multilingual-e5-small conversion uses (``core.encoding.e5.cache.cache_root``:
``$USER_STUDIO_CACHE_DIR``, else ``$XDG_CACHE_HOME/user-studio``, else ``~/.cache/user-studio``). The
key holds the model id, its revision (a hub commit; for a plain folder, a fingerprint of its config
and weight files), the weight mode, pooling, attention, OpenVINO's version and this converter's
version. A conversion is written to a temporary sibling folder and renamed into place last, so an
interrupted one is never used; deleting the folder is safe.

Tokenisation and truncation are the torch backend's (``core.encoding.backends``), so both engines see the
same ids. bf16 runs where OpenVINO's CPU plugin supports it (AMX/AVX512-BF16); elsewhere fp32.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from core.encoding.device import dtype_name
from core.encoding.loading import ModelFiles, ModelLoadError
from core.errors import check_choice

if TYPE_CHECKING:
    from core.encoding.backends import Finished

WEIGHT_MODES = ("full", "int8")
# Bump when the saved graph changes (inputs, pooling, patches), so old caches are converted again.
CONVERTER_VERSION = 2  # 2: DeBERTa's q/v biases ride in the QKV product
RECORD = "conversion.json"
XML = "model.xml"


def openvino_available() -> bool:
    """True when the ``openvino`` package imports (it is in requirements.txt, but optional to the code)."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def openvino_version() -> str:
    import openvino as ov

    return ov.get_version()


def cache_folder(files: ModelFiles, weights: str, attention: str, cache_dir: Path | None = None) -> Path:
    """Where the IR for this model, revision and weight mode lives (see the module docstring)."""
    from core.encoding.e5.cache import cache_root

    key = conversion_key(files, weights, attention)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(files.model_id).name if Path(files.model_id).is_absolute()
                  else files.model_id).strip("_")[:60] or "model"
    revision = (files.revision or "local")[:12]
    root = cache_dir if cache_dir is not None else cache_root()
    return root / "openvino" / f"{slug}-{revision}-{weights}-{digest}"


def conversion_key(files: ModelFiles, weights: str, attention: str) -> dict[str, object]:
    """Everything the saved IR depends on; a change in any of it means a fresh conversion."""
    return {
        "model": files.model_id,
        "revision": files.revision or folder_fingerprint(files.path),
        "weights": weights,
        "pooling": files.pooling,
        "attention": attention,
        "openvino": openvino_version(),
        "converter_version": CONVERTER_VERSION,
    }


def folder_fingerprint(folder: Path) -> str:
    """A plain folder has no commit: hash its config and the size and mtime of its weight files.

    Hashing the weights themselves would cost about a second per start for USER-base's 440 MB; a
    retrained model rewrites its files, which changes their mtime.
    """
    digest = hashlib.sha256()
    config = folder / "config.json"
    digest.update(config.read_bytes() if config.is_file() else b"")
    for path in sorted(folder.iterdir()):
        if path.suffix in (".safetensors", ".bin", ".pt") and path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return "folder-" + digest.hexdigest()[:16]


class _Pooled(torch.nn.Module):
    """The transformer plus pooling and L2 normalisation, so the IR returns finished embeddings."""

    def __init__(self, model: torch.nn.Module, pooling: str):
        super().__init__()
        self.model = model
        self.pooling = pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        from core.encoding.backends import pool

        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = pool(hidden, attention_mask, self.pooling)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)


def _quiet_telemetry() -> None:
    """No usage data leaves the machine (as GRADIO_ANALYTICS_ENABLED=False in app.py): ovc's
    convert_model and nncf send telemetry unless a consent file in the user's home says no."""
    # NNCF reads NNCF_CI once, at import; its only effect is the telemetry stub.
    os.environ.setdefault("NNCF_CI", "1")
    with contextlib.suppress(ImportError, AttributeError):
        from openvino.tools.ovc import convert_impl, telemetry_stub

        convert_impl.tm = telemetry_stub
        convert_impl.init_ovc_telemetry = lambda *args, **kwargs: telemetry_stub.Telemetry()
    import sys

    if "nncf" in sys.modules:  # imported before us without NNCF_CI
        with contextlib.suppress(ImportError, AttributeError):
            from nncf.telemetry import decorator, wrapper

            decorator.telemetry = wrapper.telemetry = wrapper.NNCFTelemetryStub()


def convert(torch_backend, folder: Path, weights: str) -> None:
    """Trace ``torch_backend``'s fp32 model (with pooling) into OpenVINO IR in ``folder``."""
    _quiet_telemetry()
    import openvino as ov

    wrapped = _Pooled(torch_backend.model, torch_backend.pooling).eval()
    example = {"input_ids": torch.ones((2, 8), dtype=torch.long),
               "attention_mask": torch.ones((2, 8), dtype=torch.long)}
    dynamic = [("input_ids", ov.PartialShape([-1, -1]), ov.Type.i64),
               ("attention_mask", ov.PartialShape([-1, -1]), ov.Type.i64)]
    with torch.inference_mode():
        model = ov.convert_model(wrapped, example_input=example, input=dynamic)
    if weights == "int8":
        import nncf

        model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    # compress_to_fp16=False: save_model's default would round every weight to fp16.
    ov.save_model(model, folder / XML, compress_to_fp16=False)


def ensure_converted(files: ModelFiles, weights: str, attention: str, cache_dir: Path | None = None) -> tuple[Path, bool]:
    """The IR folder for this model (converting it first when no finished one exists), and whether it
    was converted now."""
    final = cache_folder(files, weights, attention, cache_dir)
    key = conversion_key(files, weights, attention)
    if _is_complete(final, key):
        return final, False
    from core.encoding.backends import TransformerBackend

    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.parent / f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    temporary.mkdir()
    try:
        torch_backend = TransformerBackend(files, "cpu", torch.float32, attention)
        convert(torch_backend, temporary, weights)
        traced_attention = torch_backend.attention
        del torch_backend
        sizes = {p.name: p.stat().st_size for p in temporary.iterdir()}
        record = dict(key, files=sizes, traced_attention=traced_attention, converted_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        (temporary / RECORD).write_text(json.dumps(record, indent=2) + "\n")
        if final.exists():  # damaged or stale: move it aside in one step, then delete it
            aside = final.parent / f".{final.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
            with contextlib.suppress(FileNotFoundError):
                os.rename(final, aside)
            shutil.rmtree(aside, ignore_errors=True)
        try:
            os.rename(temporary, final)
        except OSError:
            if not _is_complete(final, key):  # not another process that finished first
                raise
            shutil.rmtree(temporary, ignore_errors=True)
            return final, False
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return final, True


def _is_complete(folder: Path, key: dict[str, object]) -> bool:
    try:
        record = json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return False
    if any(record.get(name) != value for name, value in key.items()):
        return False
    files = record.get("files")
    if not isinstance(files, dict) or XML not in files:
        return False
    try:
        return all((folder / name).stat().st_size == size for name, size in files.items())
    except OSError:
        return False


class OpenVINOBackend:
    """A transformers encoder compiled by OpenVINO for the CPU; same interface as TransformerBackend.

    ``weights`` is "full" (fp32 weights) or "int8" (int8 weights, computed in ``dtype``); ``dtype`` is
    torch.float32 or torch.bfloat16 (bf16 runs only where OpenVINO's CPU plugin has it: the
    reported dtype is what the compiled model really uses). ``threads`` defaults to torch's.
    """

    uses_prefixes = True
    device = "cpu"

    def __init__(self, files: ModelFiles, dtype: torch.dtype, weights: str = "full", attention: str = "auto",
                 threads: int | None = None, cache_dir: Path | None = None):
        check_choice("weights", weights, WEIGHT_MODES)
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"the OpenVINO engine runs float32 or bfloat16 on the CPU, not {dtype_name(dtype)}")
        check_choice("attention", attention, ("auto", "sdpa", "eager"))
        import openvino as ov

        from core.encoding.backends import load_tokenizer

        self.weights = weights
        self.pooling = files.pooling
        started = time.perf_counter()
        try:
            self.folder, self.converted_now = ensure_converted(files, weights, attention, cache_dir)
        except (ModelLoadError, ValueError):
            raise
        except Exception as error:
            raise ModelLoadError(f"could not convert {files.model_id!r} for OpenVINO: {error}") from error
        self.tokenizer, self.max_tokens, self.pad_id, config = load_tokenizer(files)
        self.dim = int(config.hidden_size)
        self.model_type = type(config).__name__.removesuffix("Config")
        record = json.loads((self.folder / RECORD).read_text())
        self.attention = record.get("traced_attention") or ("sdpa" if attention in ("auto", "sdpa") else "eager")
        core = ov.Core()
        threads = threads or torch.get_num_threads()
        # One request at a time (the encoder's scheduler hands out the model batch by batch), so the
        # latency hint: one stream using every thread, no batching across requests.
        settings = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": int(threads),
                    "INFERENCE_PRECISION_HINT": "bf16" if dtype == torch.bfloat16 else "f32"}
        self.compiled = core.compile_model(core.read_model(self.folder / XML), "CPU", settings)
        precision = str(self.compiled.get_property("INFERENCE_PRECISION_HINT")).lower()
        self.dtype = torch.bfloat16 if "bf16" in precision else torch.float32
        self.load_seconds = time.perf_counter() - started
        self._request = self.compiled.create_infer_request()
        self._lock = threading.Lock()  # an InferRequest serves one caller at a time

    @property
    def description(self) -> str:
        weights = ", int8 weights" if self.weights == "int8" else ""
        return (f"{self.model_type}Model on OpenVINO {openvino_version().split('-')[0]}, "
                f"{self.attention} attention, {dtype_name(self.dtype)}{weights}")

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        from core.encoding.backends import token_ids

        return token_ids(self.tokenizer, texts)

    def truncate(self, ids: list[int]) -> list[int]:
        return ids[: self.max_tokens - 1] + ids[-1:]

    def prepare(self, batch: list[list[int]], texts: list[str]) -> dict[str, np.ndarray]:
        from core.encoding.backends import pad_batch

        ids, mask = pad_batch(batch, self.pad_id)
        return {"input_ids": ids, "attention_mask": mask}

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        with self._lock:
            result = self._request.infer(inputs)
            return np.array(result[0], dtype=np.float32)  # a copy: the request reuses its buffers

    def launch(self, inputs: dict[str, np.ndarray]) -> Finished:
        from core.encoding.backends import Finished

        return Finished(self.run(inputs))

    def embed(self, batch: list[list[int]], texts: list[str]) -> np.ndarray:
        return self.run(self.prepare(batch, texts))
