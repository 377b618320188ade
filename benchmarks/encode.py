"""Encoding speed: our Encoder against sentence-transformers' ``encode``, same model folder, same run.

The model is a full-size random DeBERTa-v1 of USER-base's shape (speed does not depend on the
weights), saved in sentence-transformers layout with USER-base's prompts. Texts are real Russian
sentences from ../shared/data, mixed into short, medium and long inputs.

    .venv/bin/python benchmarks/encode.py                 # CPU, writes benchmarks/results/encode.json
    .venv/bin/python benchmarks/encode.py --device cuda   # a GPU: tokens/s and share of bf16 peak
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.encoder import Encoder  # noqa: E402
from tests.model_factory import build_deberta  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
# Dense bf16 tensor-core peaks (TFLOP/s) from the vendors' data sheets.
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0,
                    "A10G": 125.0, "L4": 121.0, "T4": 65.0}


def real_sentences(folder: Path = SHARED) -> list[str]:
    import pandas as pd

    if not folder.is_dir():
        sys.exit(f"{folder} is absent: the benchmark needs the real Russian data (../shared/data)")
    sts = pd.read_csv(folder / "stsb_dev.csv")
    para = pd.read_csv(folder / "para_gold.csv")
    intents = pd.read_csv(folder / "intents_ru.csv")
    pool = list(sts["sentence1"]) + list(sts["sentence2"]) + list(para["text_1"]) + list(intents["text"])
    return [s for s in dict.fromkeys(str(x).strip() for x in pool) if s]


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


def model_flops(config, lengths: list[int]) -> float:
    """Matmul FLOPs of a forward pass: 2 x weights per token plus the attention's two L x L products."""
    d, layers, ffn = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    per_token = 2 * layers * (4 * d * d + 2 * d * ffn)
    return float(sum(per_token * n + 4 * layers * d * n * n for n in lengths))


def timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", type=Path, default=SHARED, help="folder with the shared Russian CSVs")
    parser.add_argument("--texts", type=int, default=480)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per side; the best counts")
    parser.add_argument("--st-batch-size", type=int, default=32)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "encode.json"))
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer

    sentences = real_sentences(args.data_dir)
    texts = mixed_texts(sentences, args.texts)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_deberta(Path(tmp) / "user-base-shape", full_size=True, corpus=sentences[:3000],
                               sentence_transformers_layout=True)
        st = SentenceTransformer(str(folder), device=args.device)
        ours = Encoder(str(folder), device=args.device, dtype="auto", cache_size=0)
        reference = Encoder(str(folder), device=args.device, dtype="float32", attention="eager", cache_size=0)

        info = ours.encode_detailed(texts, prefix="query")
        lengths = [min(n, ours.max_tokens) for n in info.token_counts]
        tokens = sum(lengths)

        def run_st():
            return st.encode(texts, prompt="query: ", batch_size=args.st_batch_size, normalize_embeddings=True,
                             convert_to_numpy=True)

        def run_ours():
            return ours.encode(texts, prefix="query")

        st_vectors, ours_vectors = run_st(), run_ours()  # warm-up, and outputs to compare
        ref_vectors = reference.encode(texts, prefix="query")
        st_s = timed(run_st, args.repeats)
        ours_s = timed(run_ours, args.repeats)

        result = {
            "device": args.device if args.device == "cpu" else torch.cuda.get_device_name(),
            "threads": args.threads,
            "texts": len(texts),
            "tokens": tokens,
            "truncated_texts": info.n_truncated,
            "ours_dtype": ours.dtype,
            "ours_attention": ours.backend.attention,
            "ours_batch_tokens": ours.batch_tokens,
            "ours_tokens_per_s": round(tokens / ours_s, 1),
            "sentence_transformers_tokens_per_s": round(tokens / st_s, 1),
            "speedup": round(st_s / ours_s, 3),
            "min_cosine_ours_vs_fp32_reference": float(np.min(np.sum(ours_vectors * ref_vectors, axis=1))),
            "min_cosine_st_vs_fp32_reference": float(np.min(np.sum(st_vectors * ref_vectors, axis=1))),
        }
        if args.device.startswith("cuda"):
            flops = model_flops(ours.backend.model.config, lengths)
            peak = bf16_peak(result["device"])
            result["ours_tflops"] = round(flops / ours_s / 1e12, 2)
            result["bf16_peak_tflops"] = peak
            result["share_of_bf16_peak"] = round(flops / ours_s / 1e12 / peak, 4) if peak else None

    for key, value in result.items():
        print(f"{key:>38}: {value}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
