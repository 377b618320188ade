"""The OpenVINO CPU engine: choice rules, the on-disk conversion cache, int8 weights, and the
tokenise-ahead overlap giving the same rows in the same order (the parity tests themselves run on
both engines in test_encoder.py and test_e5_model.py)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch

from core.encoding import openvino_engine
from core.encoding.encoder import Encoder, pick_engine
from tests.test_encoder import TEXTS

pytest.importorskip("openvino", reason="the openvino package (requirements.txt) is not installed")

MIXED = TEXTS + ["Длинный текст про нефть и Удмуртию. " * 30, "слово " * 700, "да"] + [
    f"Предложение номер {i}, чуть длиннее предыдущего{' ещё' * i}." for i in range(20)]


def test_auto_engine_is_openvino_on_cpu_and_torch_elsewhere(monkeypatch):
    monkeypatch.setattr("core.encoding.device.cpu_supports_bf16", lambda: False)
    assert pick_engine("auto", "cpu", torch.float32) == "openvino"
    assert pick_engine("auto", "cuda", torch.bfloat16) == "torch"
    assert pick_engine("auto", "mps", torch.float32) == "torch"
    # bf16 asked for on a CPU without it: torch runs it as asked, OpenVINO would silently run fp32.
    assert pick_engine("auto", "cpu", torch.bfloat16) == "torch"
    monkeypatch.setattr("core.encoding.device.cpu_supports_bf16", lambda: True)
    assert pick_engine("auto", "cpu", torch.bfloat16) == "openvino"
    monkeypatch.setattr(openvino_engine, "openvino_available", lambda: False)
    assert pick_engine("auto", "cpu", torch.float32) == "torch"
    with pytest.raises(ValueError, match="needs the openvino package"):
        pick_engine("openvino", "cpu", torch.float32)


def test_bad_engine_choices_are_clear_errors(tiny_model_dir):
    with pytest.raises(ValueError, match="CPU only"):
        pick_engine("openvino", "cuda", torch.bfloat16)
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        pick_engine("openvino", "cpu", torch.float16)
    with pytest.raises(ValueError, match="needs the openvino engine"):
        pick_engine("torch", "cpu", torch.float32, cpu_weights="int8")
    with pytest.raises(ValueError, match="engine must be one of"):
        Encoder(str(tiny_model_dir), device="cpu", engine="onnx")
    with pytest.raises(ValueError, match="cpu_weights must be one of"):
        Encoder(str(tiny_model_dir), device="cpu", cpu_weights="int4")


def test_conversion_is_cached_per_model_revision_and_weights(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("USER_STUDIO_CACHE_DIR", str(tmp_path))
    first = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", engine="openvino")
    assert first.backend.converted_now and first.info()["engine"] == "openvino"
    folder = first.backend.folder
    assert folder.parent == tmp_path / "openvino" and folder.name.endswith(folder.name.split("-")[-1])
    assert "-local-full-" in folder.name  # a plain folder has no commit: keyed by its fingerprint
    calls = []
    monkeypatch.setattr(openvino_engine, "convert", lambda *args: calls.append(args))
    started = time.perf_counter()
    second = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", engine="openvino")
    assert not second.backend.converted_now and not calls and second.backend.folder == folder
    assert time.perf_counter() - started < 10
    np.testing.assert_array_equal(first.encode(TEXTS), second.encode(TEXTS))
    # Another revision of the same model id is another conversion.
    files = openvino_engine.ModelFiles(model_id="deepvk/USER-base", path=tiny_model_dir, revision="a" * 40)
    other = openvino_engine.ModelFiles(model_id="deepvk/USER-base", path=tiny_model_dir, revision="b" * 40)
    assert openvino_engine.cache_folder(files, "full", "auto") != openvino_engine.cache_folder(other, "full", "auto")
    assert openvino_engine.cache_folder(files, "full", "auto").name.startswith("deepvk_USER-base-aaaaaaaaaaaa-full-")
    assert openvino_engine.cache_folder(files, "int8", "auto") != openvino_engine.cache_folder(files, "full", "auto")


def test_an_interrupted_conversion_leaves_nothing_behind(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("USER_STUDIO_CACHE_DIR", str(tmp_path))

    def broken(backend, folder, weights):
        (folder / "model.xml").write_text("<half")
        raise KeyboardInterrupt

    monkeypatch.setattr(openvino_engine, "convert", broken)
    with pytest.raises(KeyboardInterrupt):
        Encoder(str(tiny_model_dir), device="cpu", dtype="float32", engine="openvino")
    assert os.listdir(tmp_path / "openvino") == []


def test_a_damaged_cache_is_converted_again(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("USER_STUDIO_CACHE_DIR", str(tmp_path))
    first = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", engine="openvino")
    # A new file, not a rewrite in place: the running model maps the old one's pages.
    weights = first.backend.folder / "model.bin"
    weights.unlink()
    weights.write_bytes(b"truncated")
    again = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", engine="openvino")
    assert again.backend.converted_now
    np.testing.assert_allclose(again.encode(TEXTS), first.encode(TEXTS), atol=1e-6)


def test_int8_weights_stay_close_to_fp32(tiny_model_dir):
    tiny = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", engine="openvino")
    int8 = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", cpu_weights="int8")
    assert int8.engine == "openvino" and int8.cpu_weights == "int8" and "int8 weights" in int8.info()["backend"]
    assert int8.backend.folder.name.split("-")[-2] == "int8"
    cosines = np.sum(int8.encode(MIXED) * tiny.encode(MIXED), axis=1)
    assert cosines.min() > 0.995, cosines.min()
    assert not np.array_equal(int8.encode(TEXTS), tiny.encode(TEXTS)), "int8 must really change the weights"


@pytest.mark.parametrize("engine", ["torch", "openvino"])
def test_overlap_gives_the_same_rows_in_the_same_order(tiny_model_dir, engine):
    """The CPU half of issue 12's point 5: preparing batch k+1 in a thread while batch k runs (the
    CUDA default) returns exactly what the plain loop returns, row for row."""
    # Chunked tokenisation as on CUDA, the same chunks for both (chunks decide which texts share a batch).
    options = dict(device="cpu", dtype="float32", engine=engine, batch_tokens=64, max_batch_size=3, cache_size=0,
                   tokenize_chunk=3)
    plain = Encoder(str(tiny_model_dir), overlap=False, **options)
    ahead = Encoder(str(tiny_model_dir), overlap=True, **options)
    assert ahead.overlap and not plain.overlap
    seen: list[tuple[int, int]] = []
    expected = plain.encode_detailed(MIXED)
    got = ahead.encode_detailed(MIXED, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) > 5 and [t for _, t in seen] == [len(MIXED)] * len(seen) and seen[-1][0] == len(MIXED)
    assert [d for d, _ in seen] == sorted({d for d, _ in seen})  # one report per batch, always forward
    np.testing.assert_array_equal(got.embeddings, expected.embeddings)
    assert got.token_counts == expected.token_counts and got.truncated == expected.truncated
    # Order is the caller's, not the length-sorted batch order.
    singles = np.stack([plain.encode([text])[0] for text in MIXED[:6]])
    np.testing.assert_allclose(got.embeddings[:6], singles, atol=1e-5)


def test_overlap_is_on_for_cuda_only_by_default(tiny_model_dir):
    assert Encoder(str(tiny_model_dir), device="cpu", dtype="float32").overlap is False


def test_overlap_surfaces_a_failing_batch(tiny_model_dir):
    encoder = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", engine="torch", overlap=True,
                      batch_tokens=64, max_batch_size=2, cache_size=0)

    def broken(*args):
        raise RuntimeError("device lost")

    encoder.backend.prepare = broken
    with pytest.raises(RuntimeError, match="device lost"):
        encoder.encode(TEXTS)
    del encoder.backend.prepare
    assert encoder.encode(TEXTS).shape == (len(TEXTS), encoder.dim)  # the model is free again


def test_app_takes_engine_and_cpu_weights(monkeypatch, tiny_model_dir):
    import app

    monkeypatch.delenv("USER_STUDIO_ENGINE", raising=False)
    monkeypatch.delenv("USER_STUDIO_CPU_WEIGHTS", raising=False)
    args = app.parse_args([])
    assert (args.engine, args.cpu_weights) == ("auto", "full")
    args = app.parse_args(["--engine", "openvino", "--cpu-weights", "int8"])
    assert (args.engine, args.cpu_weights) == ("openvino", "int8")
    monkeypatch.setenv("USER_STUDIO_ENGINE", "torch")
    assert app.parse_args([]).engine == "torch"
    encoder, _ = app.load_encoder(str(tiny_model_dir), "cpu", "float32", engine="openvino", cpu_weights="int8")
    assert (encoder.engine, encoder.cpu_weights) == ("openvino", "int8")
    with pytest.raises(ValueError, match="needs the openvino engine"):
        app.load_encoder(str(tiny_model_dir), "cpu", "float32", engine="torch", cpu_weights="int8")
