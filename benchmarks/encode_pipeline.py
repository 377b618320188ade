"""Where a big encode's time goes, and which pipeline settings keep the model busy (issue 12, point 5).

On the short set (default 4,000 texts of 1-4 real Russian sentences, the full-size random DeBERTa-v1
of USER-base's shape, the encoder's dtype), in one run:

- parts alone: tokenising every text (each way the tokenizer can be called), and the model alone on
  batches already tokenised and on the device (one sync at the end): the floor a pipeline can reach
  is about max(tokenising, model);
- pipelines: the whole ``Encoder.encode`` with the helper thread on or off, tokenising at once or in
  chunks of several sizes, several first-chunk and batch sizes. Each is timed warm, best of
  ``--repeats`` rounds with the order rotated, and checked against the plain sequential loop (min
  cosine), so a fast but wrong pipeline shows;
- ``best``: the fastest pipeline's settings, as ``benchmarks/encode.py`` arguments.

    .venv/bin/python benchmarks/encode_pipeline.py --device cuda   # -> results/encode_pipeline_cuda.json

On a 2-core CPU the pipeline cannot help (the helper thread competes with the model for the same
cores), so the CPU default stays one chunk without the thread; this script says by how much.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import core.encoding.batching as batching  # noqa: E402
from benchmarks.encode import (  # noqa: E402
    SHARED,
    bf16_peak,
    cpu_facts,
    git_commit,
    linear_ceiling,
    min_cosine,
    model_flops,
    real_sentences,
    short_texts,
    sync,
)
from core.encoding.batching import padded_tokens, plan_batches  # noqa: E402
from core.encoding.encoder import Encoder  # noqa: E402
from tests.model_factory import build_deberta  # noqa: E402

# (label, overlap, tokenize_chunk, first chunk, max_batch_size, packed)
PIPELINES = [
    ("sequential, padded, tokenise all first", False, None, None, 1024, False),
    ("thread, padded, chunks 1024 from 512", True, 1024, 512, 1024, False),
    ("sequential, packed, tokenise all first", False, None, None, 1024, True),
    ("thread, packed, chunks 1024 from 512", True, 1024, 512, 1024, True),
    ("thread, packed, chunks 1024 from 256", True, 1024, 256, 1024, True),
    ("thread, packed, chunks 1024 from 128", True, 1024, 128, 1024, True),
    ("thread, padded, chunks 512 from 256", True, 512, 256, 512, False),
    ("thread, packed, chunks 512 from 256", True, 512, 256, 512, True),
    ("thread, packed, chunks 2048 from 512", True, 2048, 512, 2048, True),
]


def time_best(fn, repeats: int, device: str) -> float:
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def tokenizer_ways(encoder: Encoder, inputs: list[str], repeats: int, device: str) -> dict[str, float]:
    tokenizer = encoder.backend.tokenizer
    ways = {"backend.tokenize (the encoder's)": lambda: encoder.backend.tokenize(inputs),
            "tokenizer(..., no attention mask)": lambda: tokenizer(inputs, add_special_tokens=True, truncation=False,
                                                                  return_attention_mask=False)["input_ids"]}
    fast = getattr(tokenizer, "_tokenizer", None)
    if fast is not None and hasattr(fast, "encode_batch_fast"):
        ways["tokenizers encode_batch_fast"] = lambda: [e.ids for e in fast.encode_batch_fast(inputs)]
    return {label: round(time_best(fn, repeats, device), 4) for label, fn in ways.items()}


def model_alone(
    encoder: Encoder, inputs: list[str], max_batch_size: int, repeats: int, device: str
) -> tuple[float, int, int]:
    """The model (pooling included) on every batch, inputs already on the device, one sync at the end."""
    backend = encoder.backend
    ids = [backend.truncate(t) if len(t) > encoder.max_tokens else t for t in backend.tokenize(inputs)]
    batches = plan_batches([len(t) for t in ids], encoder.batch_tokens, max_batch_size)
    ready = [backend.prepare([ids[i] for i in b], [inputs[i] for i in b]) for b in batches]
    sync(device)

    def run():
        for x in ready:
            backend.launch(x)

    run()
    return time_best(run, repeats, device), sum(padded_tokens(ids, b) for b in batches), len(batches)


def timeline(encoder: Encoder, texts: list[str], settings: dict) -> dict[str, object]:
    """One encode with every step timed, per thread: where the wall time goes."""
    import core.encoding.backends

    encoder.overlap, encoder.tokenize_chunk = settings["overlap"], settings["tokenize_chunk"]
    encoder.max_batch_size, encoder.backend.packed = settings["max_batch_size"], settings["packed"]
    batching.FIRST_CHUNK = settings["first_chunk"] or batching.FIRST_CHUNK
    spent: dict[str, float] = {}
    backend = encoder.backend
    originals = {name: getattr(backend, name) for name in ("tokenize", "prepare", "launch")}
    original_result = core.encoding.backends.InFlight.result
    original_uncached = encoder._encode_uncached

    def timed(name, fn):
        def wrapper(*a, **k):
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                key = f"{name} ({'main' if threading.current_thread() is threading.main_thread() else 'helper'})"
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - start
        return wrapper

    for name, fn in originals.items():
        setattr(backend, name, timed(name, fn))
    core.encoding.backends.InFlight.result = timed("wait for a batch's rows", original_result)
    encoder._encode_uncached = timed("pipeline in all", original_uncached)
    try:
        sync(encoder.device)
        start = time.perf_counter()
        encoder.encode(texts)
        sync(encoder.device)
        total = time.perf_counter() - start
    finally:
        for name in originals:
            delattr(backend, name)
        core.encoding.backends.InFlight.result = original_result
        del encoder._encode_uncached
    result = {"encode_seconds": round(total, 4), **{k: round(v, 4) for k, v in sorted(spent.items())}}
    result["outside the pipeline (cleaning, cache, stacking)"] = round(total - spent.get("pipeline in all (main)", 0), 4)
    print("timeline:", result, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", type=Path, default=SHARED)
    parser.add_argument("--texts", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="reuse (or build and keep) the random full-size model here")
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    on_gpu = args.device.startswith("cuda")
    out = args.out or ROOT / "benchmarks" / "results" / f"encode_pipeline_{'cuda' if on_gpu else 'cpu'}.json"

    sentences = real_sentences(args.data_dir)
    texts = short_texts(sentences, args.texts)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.model_dir or Path(tmp) / "user-base-shape"
        if not (folder / "config.json").exists():
            build_deberta(folder, full_size=True, corpus=sentences[:3000], sentence_transformers_layout=True)
        encoder = Encoder(str(folder), device=args.device, dtype="auto", engine="torch", cache_size=0)
        dtype = encoder.backend.dtype
        config = encoder.backend.model.config
        inputs = encoder.encode_detailed(texts).inputs  # as the model sees them (also a warm-up)
        lengths = [min(len(t), encoder.max_tokens) for t in encoder.backend.tokenize(inputs)]
        flops = model_flops(config, lengths)
        tokens = sum(lengths)
        facts = cpu_facts()
        device_name = torch.cuda.get_device_name() if on_gpu else facts["cpu"]
        peak = bf16_peak(device_name) if on_gpu else None
        print(f"{device_name}, {dtype}, {len(texts)} texts, {tokens} tokens, {flops / 1e12:.1f} TFLOP", flush=True)

        ceiling = linear_ceiling(config, 65_536 if on_gpu else 512, dtype, args.device, seconds=2.0)
        report: dict[str, object] = {
            "machine": {**facts, "device": device_name}, "commit": git_commit(), "dtype": str(dtype),
            "texts": len(texts), "tokens": tokens, "tflop": round(flops / 1e12, 2),
            "linear_ceiling_tflop_per_s": round(ceiling["flop_per_s"] / 1e12, 1), "bf16_peak_tflop_per_s": peak,
        }

        def shares(seconds: float) -> dict[str, float | None]:
            rate = flops / seconds
            return {"seconds": round(seconds, 4), "tokens_per_s": round(tokens / seconds),
                    "tflop_per_s": round(rate / 1e12, 1),
                    "share_of_linear_ceiling": round(rate / ceiling["flop_per_s"], 3),
                    "share_of_bf16_peak": round(rate / 1e12 / peak, 3) if peak else None}

        report["tokenising"] = tokenizer_ways(encoder, inputs, args.repeats, args.device)
        print("tokenising:", report["tokenising"], flush=True)
        alone = {}
        for packed in (False, True):
            encoder.backend.packed = packed
            for size in sorted({p[4] for p in PIPELINES}):
                seconds, padded, n_batches = model_alone(encoder, inputs, size, args.repeats, args.device)
                key = f"{'packed' if packed else 'padded'}, batches of <= {size} texts"
                alone[key] = {**shares(seconds), "padded_tokens": padded if not packed else tokens,
                              "batches": n_batches}
                print(f"model alone, {key}: {alone[key]}", flush=True)
        report["model_alone"] = alone

        reference = None
        runs: dict[str, dict] = {}
        for label, overlap, chunk, first, size, packed in PIPELINES:
            try:
                encoder.overlap, encoder.tokenize_chunk, encoder.max_batch_size = overlap, chunk, size
                encoder.backend.packed = packed
                batching.FIRST_CHUNK = first or batching.FIRST_CHUNK

                def run():
                    return encoder.encode(texts)

                run()  # warm: this pipeline's shapes
                seconds = time_best(run, args.repeats, args.device)
                vectors = run()
                reference = vectors if reference is None else reference
                runs[label] = {"overlap": overlap, "tokenize_chunk": chunk, "first_chunk": first,
                               "max_batch_size": size, "packed": packed, **shares(seconds),
                               "min_cosine_to_sequential": round(min_cosine(vectors, reference), 6)}
            except Exception as error:  # a broken variant is a finding, not the end of the run
                traceback.print_exc()
                runs[label] = {"error": repr(error)}
            print(f"{label:<34} {runs[label]}", flush=True)
        report["pipelines"] = runs
        good = {k: v for k, v in runs.items() if "seconds" in v and v["min_cosine_to_sequential"] > 0.9999}
        if good:
            label = min(good, key=lambda k: good[k]["seconds"])
            best = good[label]
            report["timeline_of_best"] = timeline(encoder, texts, best)
            report["best"] = {"label": label, "encode_args": [
                "--max-batch-size", str(best["max_batch_size"]),
                "--tokenize-chunk", str(best["tokenize_chunk"] or "none"),
                "--first-chunk", str(best["first_chunk"] or batching.FIRST_CHUNK),
                "--packed" if best["packed"] else "--no-packed"]}
            print("best:", report["best"], flush=True)
    report["note"] = args.note
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    if "best" in report:
        (out.parent / "best_encode_args.txt").write_text(" ".join(report["best"]["encode_args"]) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
