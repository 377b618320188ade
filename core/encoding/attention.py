"""Fused attention for DeBERTa-v1 when its relative attention is off (deepvk/USER-base's case).

transformers implements DeBERTa with eager attention only: a (B, H, L, L) score tensor, a masked
fill and a softmax in separate kernels. With ``relative_attention=False`` and no talking heads the
layer is plain scaled dot-product attention with a q/v bias, so it can run through
``torch.nn.functional.scaled_dot_product_attention``, which fuses those steps (flash or
memory-efficient kernels on GPU, a fused kernel on CPU).
"""

from __future__ import annotations

import math
import types
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Packing:
    """A batch laid end to end in one row of ``tokens`` (no padding), for the SDPA path.

    Everything but attention works per token, so it runs on the real tokens only; attention alone
    needs the texts apart, so the queries, keys and values go into a (rows x width) grid for it and
    come back out. ``slots`` is each token's place in that grid (row * width + position)."""

    slots: torch.Tensor  # (tokens,) int64
    rows: int
    width: int
    key_mask: torch.Tensor  # (rows, 1, 1, width) bool: True where a real token is

    def to_grid(self, values: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """(tokens, C) -> (rows, width, C); empty places hold ``fill``."""
        grid = values.new_full((self.rows * self.width, values.shape[-1]), fill)
        return grid.index_copy_(0, self.slots, values).view(self.rows, self.width, -1)

    def from_grid(self, grid: torch.Tensor) -> torch.Tensor:
        """(rows, width, C) -> (tokens, C)."""
        return grid.reshape(self.rows * self.width, -1).index_select(0, self.slots)


_PACKING: ContextVar[Packing | None] = ContextVar("deberta_packing", default=None)


@contextmanager
def packed(packing: Packing) -> Iterator[None]:
    """Run the model's SDPA attention on a packed batch (input ids of shape (1, tokens))."""
    token = _PACKING.set(packing)
    try:
        yield
    finally:
        _PACKING.reset(token)


def can_use_sdpa(model: nn.Module) -> bool:
    """SDPA is exact only for DeBERTa layers without relative attention and talking heads."""
    attentions = list(_deberta_attentions(model))
    return bool(attentions) and all(
        not a.relative_attention and a.head_logits_proj is None and a.head_weights_proj is None
        for a in attentions
    )


def enable_sdpa(model: nn.Module) -> int:
    """Route every eligible DeBERTa attention through SDPA; return how many layers were switched."""
    if not can_use_sdpa(model):
        return 0
    count = 0
    for attention in _deberta_attentions(model):
        attention.forward = types.MethodType(_sdpa_forward, attention)
        count += 1
    encoder = getattr(model, "encoder", None)
    if encoder is not None and hasattr(encoder, "get_attention_mask"):
        encoder.get_attention_mask = types.MethodType(_key_padding_mask, encoder)
    layer_norms_to_fused(model)
    return count


def layer_norms_to_fused(model: nn.Module) -> None:
    """DebertaLayerNorm computes LayerNorm in five kernels; F.layer_norm is the same formula in one."""
    for module in model.modules():
        if type(module).__name__ == "DebertaLayerNorm":
            module.forward = types.MethodType(_fused_layer_norm, module)


def _deberta_attentions(model: nn.Module):
    for module in model.modules():
        if type(module).__name__ == "DisentangledSelfAttention":
            yield module


def _key_padding_mask(self, attention_mask: torch.Tensor) -> torch.Tensor:
    # The eager code builds an L x L mask whose padded query rows are fully masked; SDPA would
    # turn those rows into NaN that then leaks through later layers' values. Masking keys only
    # leaves every real token's result unchanged, and padded rows are never pooled.
    if attention_mask.dim() <= 2:
        return attention_mask[:, None, None, :].bool()
    if attention_mask.dim() == 3:
        return attention_mask[:, None, :, :].bool()
    return attention_mask.bool()


def _sdpa_forward(
    self,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor,
    output_attentions: bool = False,
    query_states: torch.Tensor | None = None,
    relative_pos: torch.Tensor | None = None,
    rel_embeddings: torch.Tensor | None = None,
) -> tuple[torch.Tensor, None]:
    if output_attentions or query_states is not None:
        raise NotImplementedError("the SDPA path serves inference and training without attention maps or z-steps")
    heads = self.num_attention_heads
    # The q and v biases go into the QKV product's own bias (its output is per head [q | k | v]), so
    # the GEMM adds them instead of two extra passes over the queries and values. Built every call
    # (a 2,304-element vector) so fine-tuning still trains q_bias and v_bias.
    head_size = self.attention_head_size
    qkv_bias = torch.stack([self.q_bias.view(heads, head_size), torch.zeros_like(self.q_bias).view(heads, head_size),
                            self.v_bias.view(heads, head_size)], dim=1).reshape(-1)
    projected = F.linear(hidden_states, self.in_proj.weight, qkv_bias.to(hidden_states.dtype))
    packing = _PACKING.get()
    if packing is not None:
        projected = packing.to_grid(projected.view(-1, projected.shape[-1]))
        attention_mask = packing.key_mask
    batch, length, _ = projected.shape
    query, key, value = projected.view(batch, length, heads, -1).transpose(1, 2).chunk(3, dim=-1)
    scale_factor = 1 + len(self.pos_att_type)
    mask = attention_mask if attention_mask.dtype == torch.bool else attention_mask.bool()
    # Training keeps DeBERTa's attention dropout (StableDropout's drop_prob); inference has none.
    dropout = float(getattr(self.dropout, "drop_prob", getattr(self.dropout, "p", 0.0))) if self.training else 0.0
    context = F.scaled_dot_product_attention(
        query, key, value, attn_mask=mask, dropout_p=dropout, scale=1.0 / math.sqrt(head_size * scale_factor)
    )
    context = context.transpose(1, 2).reshape(batch, length, heads * head_size)
    if packing is not None:
        context = packing.from_grid(context).unsqueeze(0)
    return context, None


def _fused_layer_norm(self, hidden_states: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(
        hidden_states, hidden_states.shape[-1:], self.weight.to(hidden_states.dtype),
        self.bias.to(hidden_states.dtype), self.variance_epsilon,
    )
