"""Does a long-running server stay healthy? File descriptors, SQLite connections, temp files and memory.

Runs the real app in this process (as the tests do, on the tiny random DeBERTa: what is measured
here is what the server keeps, not how fast the model is) and talks to it over HTTP with
gradio_client, like API users:

1. 10 bursts of 30 concurrent requests (judgments, similarity, deletions), 12 s apart, so that
   Gradio's worker threads (about 10 s idle) die and new ones take over between bursts: open file
   descriptors and SQLite connections after each burst.
2. 30 exports (clustering with embeddings, and judgment exports): bytes under the app's export
   folder and Gradio's cache before, right after, and once the exports' TTL has passed.
3. 5 sessions of maximum-size similarity requests (100 queries x 1,000 passages, distinct real
   Russian texts each), then 2 minutes idle: the process's RSS before, after the requests, and after.

    .venv/bin/python benchmarks/health.py [--data-dir ../shared/data] [--quick]

Writes benchmarks/results/health.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

from benchmarks.encode import SHARED, real_sentences  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "health.json"
EXPORT_TTL_S = 20  # short, so the benchmark sees the sweep; the app's default is 600 s


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def folder_bytes(*folders: Path) -> int:
    total = 0
    for folder in folders:
        if folder.is_dir():
            total += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return total


def bursts(live, sentences: list[str], n_bursts: int, per_burst: int, gap_s: float) -> list[dict]:
    from gradio_client import Client

    clients = [Client(live.url, verbose=False) for _ in range(per_burst)]
    tokens = [""] * per_burst
    figures = []
    for burst in range(n_bursts):
        errors = []

        def user(i: int, burst: int = burst, errors: list = errors) -> None:
            try:
                text = sentences[(burst * per_burst + i) % len(sentences)]
                answer = clients[i].predict("relevant", text, sentences[i], "", None, "", "", "", "", "api",
                                            tokens[i], api_name="/flag")
                tokens[i] = answer["token"]
                clients[i].predict(text, sentences[i + 1], "query", "passage", api_name="/similarity")
                if i % 3 == 0:
                    clients[i].predict(answer["id"], tokens[i], api_name="/delete_judgment")
            except Exception as error:  # counted, not fatal: the figures say how many
                errors.append(repr(error))

        threads = [threading.Thread(target=user, args=(i,)) for i in range(per_burst)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        figures.append({"burst": burst + 1, "open_fds": open_fds(), "sqlite_connections": live.store.open_connections,
                        "threads": threading.active_count(), "errors": len(errors)})
        print(f"  burst {burst + 1:2d}: {figures[-1]}", flush=True)
        if burst + 1 < n_bursts:
            time.sleep(gap_s)
    return figures


def exports(live, n: int, gradio_cache: Path) -> dict:
    from gradio_client import Client

    client = Client(live.url, verbose=False, download_files=False)
    ours = live.studio.files.root
    before = folder_bytes(ours, gradio_cache)
    texts = "\n".join(f"текст номер {i} о разном" for i in range(200))
    for i in range(n):
        client.predict("paste", texts, None, "text", "(none)", "k-means", 3, 5, 15, 0.1, "cosine", 42, "cluster",
                       True, api_name="/cluster")
        if i % 10 == 0:
            print(f"  export {i + 1}/{n}", flush=True)
    right_after = folder_bytes(ours, gradio_cache)
    wait_s = EXPORT_TTL_S * 2 + 5  # past the TTL and one more sweep of each kind
    time.sleep(wait_s)
    later = folder_bytes(ours, gradio_cache)
    return {"exports": n, "bytes_before": before, "bytes_right_after": right_after,
            f"bytes_after_{wait_s}s": later, "ttl_s": EXPORT_TTL_S}


# The big requests come from a child process, so that the client's own memory (it parses a
# 100,000-row answer) does not count in the server's RSS.
CLIENT = """
import json, sys
from gradio_client import Client
url, path = sys.argv[1], sys.argv[2]
queries, passages = json.load(open(path, encoding="utf-8"))
Client(url, verbose=False).predict(queries, passages, "query", "passage", api_name="/similarity")
"""


def big_sessions(live, sentences: list[str], n_sessions: int, n_queries: int, n_passages: int,
                 idle_s: float, work: Path) -> dict:
    import gc
    import subprocess

    gc.collect()
    before = rss_mb()
    need = n_queries + n_passages
    for s in range(n_sessions):
        chunk = sentences[s * need:(s + 1) * need]
        payload = work / f"session-{s}.json"
        payload.write_text(json.dumps(["\n".join(chunk[:n_queries]), "\n".join(chunk[n_queries:])],
                                      ensure_ascii=False), encoding="utf-8")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", CLIENT, live.url, str(payload)], check=True, timeout=600)
        print(f"  session {s + 1}: {n_queries} x {n_passages} in {time.perf_counter() - started:.1f} s, "
              f"server RSS {rss_mb():.0f} MB", flush=True)
    gc.collect()
    after_requests = rss_mb()
    time.sleep(idle_s)
    gc.collect()
    after_idle = rss_mb()
    return {"sessions": n_sessions, "queries": n_queries, "passages": n_passages, "rss_mb_before": round(before),
            "rss_mb_after_requests": round(after_requests), f"rss_mb_after_{int(idle_s)}s_idle": round(after_idle),
            "growth_mb_after_idle": round(after_idle - before)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=SHARED)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter steps (a smoke run; not saved)")
    args = parser.parse_args()

    from tests.app_server import start_app, stop_app
    from tests.model_factory import build_deberta

    sentences = real_sentences(args.data_dir)
    work = Path(tempfile.mkdtemp(prefix="user-studio-health-"))
    os.environ["GRADIO_TEMP_DIR"] = str(work / "gradio-cache")
    model = build_deberta(work / "model", sentence_transformers_layout=True)
    load_start = os.getloadavg()
    live = start_app(model, work / "data", files_ttl_s=EXPORT_TTL_S)
    try:
        n_bursts, gap = (3, 12.0) if args.quick else (10, 12.0)
        print(f"1. {n_bursts} bursts of 30 requests, {gap:g} s apart", flush=True)
        burst_figures = bursts(live, sentences, n_bursts, 30, gap)
        print("2. exports", flush=True)
        export_figures = exports(live, 5 if args.quick else 30, work / "gradio-cache")
        print(f"   {export_figures}", flush=True)
        print("3. big sessions, then idle", flush=True)
        session_figures = big_sessions(live, sentences, 2 if args.quick else 5, 100, 1_000,
                                       30 if args.quick else 120, work)
        print(f"   {session_figures}", flush=True)
    finally:
        stop_app(live)
    growth = burst_figures[-1]["open_fds"] - burst_figures[0]["open_fds"]
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": load_start, "load_average_at_end": os.getloadavg()},
        "model": "tiny random DeBERTa-v1 (tests/model_factory.py): the figures are about what the server keeps",
        "bursts": burst_figures,
        "fd_growth_first_to_last_burst": growth,
        "exports": export_figures,
        "big_sessions": session_figures,
    }
    print(json.dumps({k: report[k] for k in ("fd_growth_first_to_last_burst", "exports", "big_sessions")}, indent=1))
    if args.quick:
        print("(quick run: not saved)")
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
