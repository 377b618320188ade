"""Which texts go through the model together: tokenisation chunks and batches.

Pure functions over lengths, no model: the encoder (``core.encoding.encoder``) tokenises a request chunk by
chunk (``plan_chunks``), groups each chunk's texts into batches (``plan_batches``) and tells the fair
scheduler how big the request is (``estimate_tokens``, then ``padded_tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence

# The first tokenisation chunk (texts) when a request is tokenised in chunks: small, so the model
# starts early; later chunks double up to ``tokenize_chunk``.
FIRST_CHUNK = 256

# Another forward pass on the CPU costs about as much as this many more tokens (the measurement is in
# core.encoding.encoder.Encoder.__init__, where it becomes the CPU's default ``batch_overhead``).
CPU_BATCH_OVERHEAD_TOKENS = 32


def padded_tokens(ids: Sequence[Sequence[int]], batch: Sequence[int]) -> int:
    """What a batch costs the model: its rows times its longest row (batches pad to it)."""
    return len(batch) * max(len(ids[i]) for i in batch)


def estimate_tokens(text: str) -> int:
    """A text's tokens before tokenising it, for the scheduler: about 4 characters per token plus
    the special tokens (Russian with BPE vocabularies runs 3-5)."""
    return 2 + len(text) // 4


def plan_chunks(texts: Sequence[str], chunk: int | None, first: int | None = None) -> list[list[int]]:
    """Indices grouped for tokenisation. ``None``: one chunk, all texts (the batches are then planned
    on true token lengths across the whole request). Otherwise longest first by characters, a
    first chunk of at most ``first`` texts (so the model starts early), doubling up to ``chunk``."""
    if chunk is not None and chunk < 1:
        raise ValueError(f"tokenize_chunk must be 1 or more, got {chunk}")
    first = FIRST_CHUNK if first is None else first
    if chunk is None or len(texts) <= min(first, chunk):
        return [list(range(len(texts)))] if texts else []
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    chunks, size, start = [], min(first, chunk), 0
    while start < len(order):
        chunks.append(order[start:start + size])
        start += size
        size = min(size * 2, chunk)
    return chunks


def plan_batches(lengths: Sequence[int], batch_tokens: int, max_batch_size: int,
                 batch_overhead: int = 0) -> list[list[int]]:
    """Indices grouped longest first so each batch pads to at most ``batch_tokens`` tokens (a text
    longer than that goes alone) and holds at most ``max_batch_size`` texts.

    With ``batch_overhead`` 0 each batch is filled greedily. Otherwise the grouping is the one with the
    least total cost, counting each batch as its padded tokens plus ``batch_overhead``: a batch is cut
    where the padding it would save is worth more than another forward pass. Sorted by length, the
    best grouping is contiguous, so a dynamic programme over the sorted texts finds it (each step looks
    back only as far as the caps allow: 0.2 s for 50,000 texts of ~46 tokens)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if batch_overhead <= 0:
        return _greedy_batches(order, lengths, batch_tokens, max_batch_size)
    widths = [lengths[i] for i in order]  # non-increasing: a batch's first text sets its width
    n = len(order)
    best = [0] * (n + 1)  # best[k]: least cost of the first k sorted texts
    cut = [0] * (n + 1)  # cut[k]: where the last batch of that grouping starts
    for end in range(1, n + 1):
        best[end], cut[end] = best[end - 1] + batch_overhead + widths[end - 1], end - 1
        for first in range(end - 2, max(-1, end - 1 - max_batch_size), -1):
            padded = (end - first) * widths[first]
            if padded > batch_tokens:
                break  # earlier starts are wider and longer still
            cost = best[first] + batch_overhead + padded
            if cost <= best[end]:  # on a tie, the bigger batch: fewer passes
                best[end], cut[end] = cost, first
    batches: list[list[int]] = []
    end = n
    while end > 0:
        batches.append(order[cut[end]:end])
        end = cut[end]
    batches.reverse()
    return batches


def _greedy_batches(order: list[int], lengths: Sequence[int], batch_tokens: int,
                    max_batch_size: int) -> list[list[int]]:
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted descending, so the batch's first item sets its padded length.
        width = lengths[current[0]] if current else lengths[i]
        if current and ((len(current) + 1) * width > batch_tokens or len(current) >= max_batch_size):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
