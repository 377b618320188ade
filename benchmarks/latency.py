"""What one person feels: ``/similarity`` latency through gradio_client on the full-size model.

The real app (tests/app_server.py: the same queue and launch settings as app.py) is served on a local
port with a full-size random DeBERTa-v1 of USER-base's shape; one gradio_client calls ``/similarity``
with 1 query x 10 passages of real Russian text from ../shared/data, one call at a time:

- uncached: every call's query and passages are texts the app has not seen;
- ahead: a new query, its passages already encoded (the page encodes them when their box loses
  focus, usually while the query is typed; here ``Studio.encode_ahead`` does it, outside the timing);
- cached: the same call again (every embedding comes from the cache).

For each CPU engine (torch is the baseline, measured in the same run) it reports p50 and p90 of the
client's wall time and where the time goes, per call: encode (the encoder's ``encode_groups``
call), figure (the plotly heatmap), the rest of the handler (ranking and token tables), and queue
(everything outside the handler: HTTP, Gradio's queue, serialisation, the client). The load average
before and after is recorded, since other work on the machine slows every figure. First, the floor: the
same client calling an endpoint that does nothing, on a one-component app with the same settings.

    .venv/bin/python benchmarks/latency.py     # -> benchmarks/results/latency.json
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

from benchmarks.encode import ENGINES, cpu_facts, git_commit, real_sentences  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


class Timers:
    """Seconds spent in each instrumented part during the current call (calls run one at a time)."""

    def __init__(self):
        self.parts: dict[str, float] = {}

    def reset(self) -> None:
        self.parts = {"handler": 0.0, "encode": 0.0, "figure": 0.0}

    def wrap(self, part: str, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.parts[part] += time.perf_counter() - start
        return timed


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 1)


def run_engine(label: str, folder: Path, data_dir: Path, calls: int, supply: random.Random, sentences: list[str],
               warmup: int) -> dict[str, object]:
    from gradio_client import Client

    import ui.similarity_tab as similarity_tab
    from core.inputs.text import split_lines
    from tests.app_server import start_app, stop_app

    engine, weights = ENGINES[label]
    live = start_app(folder, data_dir / label, warm_projection=False,
                     encoder_options={"engine": engine, "cpu_weights": weights})
    timers = Timers()
    timers.reset()
    encoder = live.studio.encoder
    saved = (similarity_tab.run_similarity, similarity_tab.similarity_heatmap, encoder.encode_groups)
    # Module globals are looked up at call time, so the endpoint picks the timed versions up.
    similarity_tab.run_similarity = timers.wrap("handler", saved[0])
    similarity_tab.similarity_heatmap = timers.wrap("figure", saved[1])
    encoder.encode_groups = timers.wrap("encode", saved[2])  # encode_detailed goes through it too

    def fresh_call() -> tuple[str, str]:
        texts = [" ".join(supply.sample(sentences, supply.randint(1, 2))) for _ in range(11)]
        return texts[0], "\n".join(texts[1:])

    try:
        client = Client(live.url, verbose=False, download_files=False)
        for _ in range(warmup):  # the first passes pay one-off costs (kernels, figure templates)
            client.predict(*fresh_call(), "query", "passage", api_name="/similarity")
        result: dict[str, object] = {"backend": encoder.info()["backend"], "engine": encoder.engine}
        for mode in ("uncached", "ahead", "cached"):
            repeat = fresh_call()
            client.predict(*repeat, "query", "passage", api_name="/similarity")  # fills the cache for "cached"
            load_before = os.getloadavg()
            rows = []
            for _ in range(calls):
                query, passages = fresh_call() if mode != "cached" else repeat
                if mode == "ahead":  # what the page does when the passages box loses focus, untimed
                    live.studio.encode_ahead(split_lines(passages), "passage")
                timers.reset()
                start = time.perf_counter()
                client.predict(query, passages, "query", "passage", api_name="/similarity")
                total = time.perf_counter() - start
                parts = dict(timers.parts)
                rows.append({"total": total, "encode": parts["encode"], "figure": parts["figure"],
                             "rest_of_handler": parts["handler"] - parts["encode"] - parts["figure"],
                             "queue": total - parts["handler"]})
            result[mode] = {
                "calls": calls,
                "p50_ms": percentile([r["total"] for r in rows], 50),
                "p90_ms": percentile([r["total"] for r in rows], 90),
                "median_ms": {part: percentile([r[part] for r in rows], 50)
                              for part in ("queue", "encode", "figure", "rest_of_handler")},
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
            }
            print(f"{label:<14} {mode:<8} p50 {result[mode]['p50_ms']:>7.1f} ms  p90 {result[mode]['p90_ms']:>7.1f} ms"
                  f"  parts {result[mode]['median_ms']}  load {load_before[0]:.2f}", flush=True)
        return result
    finally:
        similarity_tab.run_similarity, similarity_tab.similarity_heatmap = saved[0], saved[1]
        stop_app(live)


def client_floor(calls: int, warmup: int) -> dict[str, object]:
    """What gradio_client and Gradio's queue cost by themselves: the same client calling an endpoint that
    returns its input at once, on a one-component app launched with the app's queue and launch settings.
    No handler of ours can make a call through this client faster than this."""
    import gradio as gr
    from gradio_client import Client

    from app import launch_settings, queue_settings
    from core.studio import Limits
    from tests.app_server import free_port

    with gr.Blocks() as demo:
        box = gr.Textbox()
        gr.Button().click(lambda text: text, box, box, api_name="echo")
    demo.queue(**queue_settings()).launch(**launch_settings(Limits().upload_bytes), server_name="127.0.0.1",
                                          server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False, download_files=False)
        for _ in range(warmup):
            client.predict("ok", api_name="/echo")
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            client.predict("ok", api_name="/echo")
            times.append(time.perf_counter() - start)
        result = {"calls": calls, "p50_ms": percentile(times, 50), "p90_ms": percentile(times, 90)}
        print(f"{'client floor':<14} {'echo':<8} p50 {result['p50_ms']:>7.1f} ms  p90 {result['p90_ms']:>7.1f} ms",
              flush=True)
        return result
    finally:
        demo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=SHARED, help="folder with the shared Russian CSVs")
    parser.add_argument("--calls", type=int, default=20, help="timed calls per engine and mode")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated from torch, openvino, openvino-int8; the first is the baseline")
    parser.add_argument("--note", default="", help="what else ran on the machine, for the record")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latency.json"))
    args = parser.parse_args()
    labels = args.engines.split(",")
    if any(label not in ENGINES for label in labels):
        parser.error(f"engines must come from {', '.join(ENGINES)}")
    commit = git_commit()

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from tests.model_factory import build_deberta

    sentences = real_sentences(args.data_dir)
    supply = random.Random(0)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["USER_STUDIO_CACHE_DIR"] = str(Path(tmp) / "cache")  # this throwaway model's conversions
        folder = build_deberta(Path(tmp) / "user-base-shape", full_size=True, corpus=sentences[:3000],
                               sentence_transformers_layout=True)
        floor = client_floor(args.calls, args.warmup)
        for label in labels:
            results[label] = run_engine(label, folder, Path(tmp) / "data", args.calls, supply, sentences,
                                        args.warmup)
    base = results[labels[0]]
    for label in labels[1:]:
        for mode in ("uncached", "ahead", "cached"):
            results[label][mode]["p50_speedup_vs_" + labels[0]] = round(base[mode]["p50_ms"]
                                                                         / results[label][mode]["p50_ms"], 3)
    report = {
        "machine": cpu_facts(),
        "commit": commit,
        "model": "random full-size DeBERTa-v1 of USER-base's shape, fp32 on this CPU unless it has bf16",
        "request": "/similarity, 1 query x 10 passages of 1-2 real Russian sentences, gradio_client, one at a time",
        "targets_ms": {"uncached_p50": 150, "cached_p50": 80},
        "baseline": labels[0],
        "gradio_client_floor": floor,
        "engines": results,
        "note": args.note,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
