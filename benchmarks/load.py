"""Latency under load: many small /similarity calls, alone and beside one big /cluster job; and one
user's burst of the biggest /similarity calls beside another user's smallest.

The real app is started exactly as the tests start it (``tests.app_server.start_app``: the same
``queue_settings`` and ``launch_settings``, CPU, fp32) on a full-size random DeBERTa-v1 of USER-base's
shape, listening on 127.0.0.1 only. Each simulated user is one ``gradio_client.Client`` in its own
thread and sends its calls one after another (a closed loop, no think time). Every call carries
2 queries x 5 passages of distinct real Russian sentences from ../shared/data, so the embedding
cache never answers for the model. Two scenarios, in one run:

- alone: the small calls only;
- heavy: a /cluster job over distinct texts (source="paste") starts first; the small calls start
  once it reports its first encoded batch;
- flood (issue 25): one user sends 10 calls of 100 queries x 1,000 passages at once (the limits'
  maximum; numbered variants of the sentences, so none is cached); another user then sends 1 x 1
  calls one after another until the burst is done. Target: every 1 x 1 call under 5 s, and all the
  big calls finish. The 1 x 1 call alone, measured just before, is the baseline.

    .venv/bin/python benchmarks/load.py                  # writes benchmarks/results/load.json
    .venv/bin/python benchmarks/load.py --users 5 --calls 4 --cluster-texts 500   # a quick look
    .venv/bin/python benchmarks/load.py --before old.json --before-label "commit abc"  # beside an earlier run
    .venv/bin/python benchmarks/load.py --scenarios flood --out /tmp/flood.json      # one scenario

The app, the clients and the model share this process and the machine's cores, as in the tests; the
load average before and after each scenario is recorded, since other work on the machine skews it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.encode import cpu_facts, git_commit  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
QUERIES_PER_CALL, PASSAGES_PER_CALL = 2, 5
CALL_TIMEOUT_S = 300.0  # one small call; far above any latency seen, so a hang ends the run
HEAVY_TIMEOUT_S = 1_200.0
START_TIMEOUT_S = 300.0  # until the heavy job reports its first encoded batch
FLOOD_CALLS, FLOOD_QUERIES, FLOOD_PASSAGES = 10, 100, 1_000
FLOOD_TIMEOUT_S = 1_800.0  # the whole burst
FLOOD_TARGET_S = 5.0
FLOOD_START_S = 3.0  # after the burst is sent, before the first small call: the big calls are working by then
PROBE_PAUSE_S = 1.0


def real_sentences(folder: Path) -> list[str]:
    """Every distinct sentence of the shared Russian CSVs (about 10,000)."""
    import pandas as pd

    if not folder.is_dir():
        sys.exit(f"{folder} is absent: the benchmark needs the real Russian data (../shared/data)")
    sts = pd.read_csv(folder / "stsb_dev.csv")
    para = pd.read_csv(folder / "para_gold.csv")
    intents = pd.read_csv(folder / "intents_ru.csv")
    pool = (list(sts["sentence1"]) + list(sts["sentence2"]) + list(para["text_1"]) + list(para["text_2"])
            + list(intents["text"]))
    # One line each: /similarity and /cluster split their text boxes on newlines.
    return [s for s in dict.fromkeys(" ".join(str(x).split()) for x in pool) if s]


class TextSupply:
    """Hands out distinct sentences, never the same one twice in a run."""

    def __init__(self, sentences: list[str], seed: int = 0):
        self._texts = list(sentences)
        random.Random(seed).shuffle(self._texts)
        self._next = 0

    def variants(self, n: int, tag: str) -> list[str]:
        """``n`` texts no other call sends: the sentences again, each numbered with ``tag``."""
        return [f"{tag}{i}. {self._texts[i % len(self._texts)]}" for i in range(n)]

    def take(self, n: int) -> list[str]:
        if self._next + n > len(self._texts):
            sys.exit(f"only {len(self._texts):,} distinct sentences: ask for fewer users, calls or cluster texts")
        out = self._texts[self._next: self._next + n]
        self._next += n
        return out


@dataclass
class Scenario:
    name: str
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    heavy_s: float | None = None
    heavy_error: str | None = None
    heavy_finished_before_small_calls: bool | None = None
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def summary(self) -> dict[str, object]:
        lat = np.asarray(self.latencies_s)
        figures = {
            "calls": len(self.latencies_s) + len(self.errors),
            "errors": len(self.errors),
            "p50_s": round(float(np.percentile(lat, 50)), 3) if lat.size else None,
            "p95_s": round(float(np.percentile(lat, 95)), 3) if lat.size else None,
            "max_s": round(float(lat.max()), 3) if lat.size else None,
            "small_calls_wall_s": round(self.wall_s, 2),
            "calls_per_s": round(lat.size / self.wall_s, 2) if self.wall_s else None,
            "heavy_job_s": round(self.heavy_s, 2) if self.heavy_s is not None else None,
            "load_average_before": [round(x, 2) for x in self.load_before],
            "load_average_after": [round(x, 2) for x in self.load_after],
        }
        if self.heavy_error:
            figures["heavy_error"] = self.heavy_error
        if self.heavy_finished_before_small_calls is not None:
            figures["heavy_finished_before_small_calls"] = self.heavy_finished_before_small_calls
        if self.errors:
            figures["first_errors"] = self.errors[:3]
        return figures


def run_user(client, calls: list[tuple[list[str], list[str]]], scenario: Scenario, lock: threading.Lock) -> None:
    for queries, passages in calls:
        start = time.perf_counter()
        try:
            job = client.submit("\n".join(queries), "\n".join(passages), "query", "passage",
                                api_name="/similarity")
            job.result(timeout=CALL_TIMEOUT_S)  # the app's errors arrive as exceptions
        except Exception as error:  # counted, not fatal: the run goes on and reports it
            with lock:
                scenario.errors.append(f"{type(error).__name__}: {error}"[:300])
            continue
        elapsed = time.perf_counter() - start
        with lock:
            scenario.latencies_s.append(elapsed)


def run_small_calls(clients, supply: TextSupply, calls_per_user: int, scenario: Scenario) -> None:
    plans = [[(supply.take(QUERIES_PER_CALL), supply.take(PASSAGES_PER_CALL)) for _ in range(calls_per_user)]
             for _ in clients]
    lock = threading.Lock()
    threads = [threading.Thread(target=run_user, args=(c, plan, scenario, lock), daemon=True)
               for c, plan in zip(clients, plans, strict=True)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    deadline = start + CALL_TIMEOUT_S * calls_per_user
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    scenario.wall_s = time.perf_counter() - start
    if any(thread.is_alive() for thread in threads):
        scenario.errors.append("a user thread was still running at the deadline")


def wait_until_encoding(job, timeout_s: float) -> None:
    """Block until the /cluster job reports an encoded batch through its progress bar."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        status = job.status()
        units = status.progress_data or []
        if any((unit.desc or "").startswith("encoding") for unit in units):
            return
        if job.done():
            raise RuntimeError("the heavy job ended before it reported any encoding progress")
        time.sleep(0.05)
    raise TimeoutError(f"the heavy job reported no encoding progress within {timeout_s:g} s")


def run_scenario(name: str, clients, heavy_client, supply: TextSupply, args) -> Scenario:
    scenario = Scenario(name)
    scenario.load_before = os.getloadavg()
    heavy = None
    if heavy_client is not None:
        texts = supply.take(args.cluster_texts)
        heavy_start = time.perf_counter()
        heavy = heavy_client.submit(source="paste", texts="\n".join(texts), k=args.k, api_name="/cluster")
        wait_until_encoding(heavy, START_TIMEOUT_S)
    run_small_calls(clients, supply, args.calls, scenario)
    if heavy is not None:
        scenario.heavy_finished_before_small_calls = heavy.done()
        try:
            heavy.result(timeout=HEAVY_TIMEOUT_S)
            scenario.heavy_s = time.perf_counter() - heavy_start
        except Exception as error:
            scenario.heavy_error = f"{type(error).__name__}: {error}"[:300]
    scenario.load_after = os.getloadavg()
    return scenario


def probe(client, token: str, supply: TextSupply, timeout_s: float = CALL_TIMEOUT_S) -> float:
    """One 1 x 1 /similarity call; its latency in seconds."""
    start = time.perf_counter()
    client.submit(supply.take(1)[0], supply.take(1)[0], "query", "passage", "", 5, token,
                  api_name="/similarity").result(timeout=timeout_s)
    return time.perf_counter() - start


def run_flood(live, make_client, supply: TextSupply) -> dict[str, object]:
    """One user's 10 biggest calls at once; another user's 1 x 1 calls meanwhile (see the module's text)."""
    heavy_token, other_token = live.studio.identities.mint(None), live.studio.identities.mint(None)
    heavy_client, other_client = make_client(), make_client()
    load_before = os.getloadavg()
    alone = [probe(other_client, other_token, supply) for _ in range(5)]
    started = time.perf_counter()
    burst = [heavy_client.submit("\n".join(supply.variants(FLOOD_QUERIES, f"q{n}-")),
                                 "\n".join(supply.variants(FLOOD_PASSAGES, f"p{n}-")), "query", "passage", "", 5,
                                 heavy_token, api_name="/similarity") for n in range(FLOOD_CALLS)]
    time.sleep(FLOOD_START_S)
    latencies, errors = [], []
    while not all(job.done() for job in burst) and time.perf_counter() - started < FLOOD_TIMEOUT_S:
        try:
            latencies.append(probe(other_client, other_token, supply))
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}"[:300])
        time.sleep(PROBE_PAUSE_S)
    big_errors, finished = [], []
    for job in burst:
        try:
            job.result(timeout=max(1.0, FLOOD_TIMEOUT_S - (time.perf_counter() - started)))
            finished.append(time.perf_counter() - started)
        except Exception as error:
            big_errors.append(f"{type(error).__name__}: {error}"[:300])
    lat = np.asarray(latencies)
    base = float(np.median(alone))
    report = {
        "big_calls": FLOOD_CALLS,
        "big_call": f"{FLOOD_QUERIES} queries x {FLOOD_PASSAGES:,} passages, distinct texts",
        "big_calls_finished": len(finished),
        "big_call_errors": big_errors[:3],
        "big_calls_wall_s": round(max(finished), 1) if finished else None,
        "small_calls": len(latencies) + len(errors),
        "small_errors": errors[:3],
        "small_alone_p50_s": round(base, 3),
        "small_during_p50_s": round(float(np.percentile(lat, 50)), 3) if lat.size else None,
        "small_during_max_s": round(float(lat.max()), 3) if lat.size else None,
        "small_max_ratio_vs_alone": round(float(lat.max()) / base, 1) if lat.size and base else None,
        "target": f"every small call under {FLOOD_TARGET_S:g} s, every big call finished",
        "met": bool(lat.size and lat.max() < FLOOD_TARGET_S and not errors and len(finished) == FLOOD_CALLS),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(f"flood: {json.dumps(report, ensure_ascii=False)}", flush=True)
    return report


def print_table(results: dict[str, dict[str, object]]) -> None:
    print(f"\n{'scenario':<8} {'calls':>5} {'errors':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'calls/s':>7} "
          f"{'heavy s':>8} {'load before -> after (1 min)':>30}")
    for name, r in results.items():
        heavy = f"{r['heavy_job_s']:.1f}" if r["heavy_job_s"] is not None else "-"
        load = f"{r['load_average_before'][0]:.2f} -> {r['load_average_after'][0]:.2f}"
        print(f"{name:<8} {r['calls']:>5} {r['errors']:>6} {r['p50_s']:>7} {r['p95_s']:>7} {r['max_s']:>7} "
              f"{r['calls_per_s']:>7} {heavy:>8} {load:>30}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=SHARED, help="folder with the shared Russian CSVs")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--calls", type=int, default=10, help="small /similarity calls per user")
    parser.add_argument("--cluster-texts", type=int, default=2_000)
    parser.add_argument("--k", type=int, default=0, help="clusters for the heavy job (0: chosen by silhouette)")
    parser.add_argument("--engine", default="auto", choices=["auto", "torch", "openvino"],
                        help="the encoder's CPU engine (auto: OpenVINO when installed, as the app)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "load.json"))
    parser.add_argument("--scenarios", default="alone,heavy,flood",
                        help="which to run, comma-separated: alone, heavy, flood")
    parser.add_argument("--before", type=Path, help="an earlier run's JSON (say, on older code) to report beside")
    parser.add_argument("--before-label", default="", help="what the earlier run measured")
    args = parser.parse_args()
    before = json.loads(args.before.read_text()) if args.before else None
    chosen = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    if not chosen or set(chosen) - {"alone", "heavy", "flood"}:
        parser.error(f"--scenarios takes alone, heavy and flood; got {args.scenarios!r}")
    commit = git_commit()  # now: the tree may move on while the run lasts

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gradio_client import Client

    from app import queue_settings
    from tests.app_server import start_app, stop_app
    from tests.model_factory import build_deberta

    sentences = real_sentences(args.data_dir)
    supply = TextSupply(sentences)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_deberta(Path(tmp) / "user-base-shape", full_size=True, corpus=sentences[:3000],
                               sentence_transformers_layout=True)
        live = start_app(folder, Path(tmp) / "data", encoder_options={"engine": args.engine})
        try:
            def client() -> Client:
                return Client(live.url, verbose=False, download_files=False)

            clients = [client() for _ in range(args.users)]
            heavy_client = client()
            # Warm-up, untimed: the first forward pass and first figure pay one-off costs.
            clients[0].predict("\n".join(supply.take(2)), "\n".join(supply.take(5)), "query", "passage",
                               api_name="/similarity")
            encoder = live.studio.encoder
            results = {}
            for name, heavy in (("alone", None), ("heavy", heavy_client)):
                if name in chosen:
                    scenario = run_scenario(name, clients, heavy, supply, args)
                    results[name] = scenario.summary()
                    print(f"{name}: {json.dumps(results[name], ensure_ascii=False)}", flush=True)
            flood = run_flood(live, client, supply) if "flood" in chosen else None
        finally:
            stop_app(live)

    alone = results.get("alone", {}).get("p95_s")
    heavy = results.get("heavy", {}).get("p95_s")
    report = {
        "machine": f"{os.cpu_count()}-core {cpu_facts()['cpu']}, shared; app, clients and model in one process",
        "commit": commit,
        "model": "random DeBERTa-v1 of USER-base's shape (768-d, 12 layers), CPU, float32 as in tests",
        "encoder_batch_tokens": encoder.batch_tokens,
        "engine": encoder.info()["backend"],
        "queue_settings": {k: v for k, v in queue_settings().items()},
        "users": args.users,
        "calls_per_user": args.calls,
        "texts_per_call": f"{QUERIES_PER_CALL} queries x {PASSAGES_PER_CALL} passages, all distinct",
        "heavy_job": f"/cluster, source=paste, {args.cluster_texts} distinct texts, k={args.k or 'by silhouette'}",
        "scenarios": results,
        "p95_ratio_heavy_vs_alone": round(heavy / alone, 2) if alone and heavy else None,
        "target": "p95 <= 2.5 s with the heavy job, 0 errors",
    }
    if flood is not None:
        report["flood"] = flood
    if before is not None:
        report["before"] = {"label": args.before_label, **{k: before.get(k) for k in (
            "encoder_batch_tokens", "engine", "queue_settings", "scenarios", "p95_ratio_heavy_vs_alone")}}
        print("before:" + (f" {args.before_label}" if args.before_label else ""))
        print_table(before["scenarios"])
        print(f"p95 with the heavy job / alone: {before.get('p95_ratio_heavy_vs_alone')}\nnow:")
    if results:
        print_table(results)
        print(f"p95 with the heavy job / alone: {report['p95_ratio_heavy_vs_alone']}")
    if flood is not None:
        print(f"flood: 1 x 1 calls {flood['small_alone_p50_s']} s alone, at most {flood['small_during_max_s']} s "
              f"during the burst ({flood['small_max_ratio_vs_alone']}x); {flood['big_calls_finished']} of "
              f"{flood['big_calls']} big calls finished in {flood['big_calls_wall_s']} s; target met: {flood['met']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
