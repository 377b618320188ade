"""Training on a CUDA card: bf16 autocast, time per row, and the ZeroGPU duration it implies.

    python benchmarks/train_gpu.py --sts ../shared/data/stsb_dev.csv

Trains a model of USER-base's full shape (random weights from tests/model_factory.py, so no hub is
needed) on STS score judgments through the same ``run_training`` the app uses, once per size, and
writes ``benchmarks/results/train_cuda.json``: rows, seconds (loading, scoring twice and saving
included), training rows per second, and the precision the trainer reported. Random weights say
nothing about quality; tests/test_training_quality.py measures that on real weights.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import pandas as pd
    import torch

    from core.judgments import Judgment
    from core.training.jobs import zero_gpu_duration_s
    from core.training.registry import ModelRegistry
    from core.training.trainer import TrainingConfig, run_training
    from tests.model_factory import build_deberta

    parser = argparse.ArgumentParser()
    parser.add_argument("--sts", default=str(ROOT.parent / "shared" / "data" / "stsb_dev.csv"))
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_cuda.json"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: this benchmark measures GPU training", file=sys.stderr)
        return 2
    frame = pd.read_csv(args.sts)
    judgments = [Judgment(kind="score", anchor=r.sentence1, positive=r.sentence2, score=float(r.similarity_score),
                          user="bench", query_prefix="query: ", passage_prefix="query: ") for r in frame.itertuples()]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        model = build_deberta(Path(tmp) / "full", full_size=True, sentence_transformers_layout=True)
        for size in (int(s) for s in args.sizes.split(",")):
            registry = ModelRegistry(Path(tmp) / f"models-{size}")
            started = time.perf_counter()
            phases: dict[str, float] = {}
            report = run_training(judgments[:size], TrainingConfig(str(model), ("graded",)), registry.save,
                                  use_cpu=False,
                                  progress=lambda p, seen=phases: seen.setdefault(p.phase, time.perf_counter()))
            total = time.perf_counter() - started
            training_s = phases["scoring after"] - phases["training"]  # from step 0 to the last step
            rows = report.train_rows["graded"]
            run = {"judgments": size, "train_rows": rows, "steps": report.steps, "precision": report.precision,
                   "device": report.device, "seconds_total": round(total, 1),
                   "seconds_training": round(training_s, 2),
                   "train_rows_per_s": round(rows / training_s, 1) if training_s > 0 else None,
                   "zero_gpu_duration_asked_s": zero_gpu_duration_s(size, 1),
                   "metrics": [m.to_dict() for m in report.metrics]}
            print(json.dumps(run), flush=True)
            runs.append(run)
    result = {"what": "run_training on CUDA, USER-base's full shape with random weights, STS score judgments",
              "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "python": platform.python_version(),
              "date": time.strftime("%Y-%m-%d"), "runs": runs}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
