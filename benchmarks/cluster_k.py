"""How the Clustering tab's automatic k does on real Russian topics (issue 26, point 5).

Encodes ``../shared/data/intents_ru.csv`` with the offline default (multilingual-e5-small, ``query:`` prefix, as
the tab does) and, for sets of 25 texts from each of N random scenarios (N = 2, 3, 4, 8, 12; 6 sets each,
seeds fixed), clusters them with k-means at the k each rule picks, scoring ARI against the scenarios:

* ``labels``: the label column's number of classes (``core.exploration.clustering.choose_k``);
* ``silhouette``: the app's search, cosine silhouette on the vectors less their mean, k = 2-12;
* ``raw silhouette``: the same on the raw vectors (the rule before issue 26);
* ``k >= 3``: raw silhouette with k = 2 left out.

It also prints the issue's case: 200 texts, 25 from each of the 8 largest scenarios. Run:
``.venv/bin/python benchmarks/cluster_k.py`` (about 2 minutes on 2 cores, most of it encoding 5,000 texts);
the figures go to ``benchmarks/results/cluster_k.json``.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, silhouette_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.encoding.encoder import Encoder  # noqa: E402
from core.exploration.clustering import KMeansClusterer, choose_k  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "intents_ru.csv"
PER_TOPIC = 25
RESULTS = ROOT / "benchmarks" / "results" / "cluster_k.json"


def rules(vectors: np.ndarray, scenarios: np.ndarray) -> dict[str, tuple[int, float]]:
    """(k, ARI) for each rule on one set."""
    fits = {k: KMeansClusterer(k=k, seed=0).fit_predict(vectors) for k in range(2, 13)}
    raw = {k: silhouette_score(vectors, labels, metric="cosine") for k, labels in fits.items()}
    searched = KMeansClusterer(seed=0)
    searched.fit_predict(vectors)
    picks = {"labels": choose_k("k-means", None, list(scenarios), len(vectors)).k,
             "silhouette": searched.k_, "raw silhouette": max(raw, key=raw.get),
             "k >= 3": max((k for k in raw if k >= 3), key=raw.get)}
    return {rule: (k, adjusted_rand_score(scenarios, fits[k] if k in fits else
                                          KMeansClusterer(k=k, seed=0).fit_predict(vectors)))
            for rule, k in picks.items()}


def main() -> None:
    frame = pd.read_csv(DATA)
    vectors = Encoder("multilingual-e5-small").encode(list(frame["text"]), "query")
    scenarios = frame["scenario"].to_numpy()

    def pick(chosen) -> np.ndarray:
        return np.concatenate([np.flatnonzero(scenarios == c)[:PER_TOPIC] for c in chosen])

    largest = frame["scenario"].value_counts().index[:8]
    rows = pick(largest)
    issue_case = rules(vectors[rows], scenarios[rows])
    print("issue's case, 200 texts of the 8 largest scenarios:",
          {rule: f"k={k} ARI {ari:.3f}" for rule, (k, ari) in issue_case.items()})
    names = sorted(set(scenarios))
    results = []
    for n in (2, 3, 4, 8, 12):
        for seed in range(6):
            rows = pick(np.random.default_rng(100 * n + seed).choice(names, n, replace=False))
            for rule, (k, ari) in rules(vectors[rows], scenarios[rows]).items():
                results.append({"topics": n, "rule": rule, "k": k, "ari": ari})
    table = pd.DataFrame(results).pivot_table(index="topics", columns="rule", values=["ari", "k"],
                                              aggfunc={"ari": "mean", "k": "median"})
    print(table.round(3).to_string())
    means = pd.DataFrame(results).groupby(["topics", "rule"]).agg(ari=("ari", "mean"), k=("k", "median"))
    report = {
        "benchmark": "cluster_k", "model": "multilingual-e5-small", "per_topic": PER_TOPIC, "sets_per_size": 6,
        "issue_case_200_texts_8_scenarios": {rule: {"k": int(k), "ari": round(float(ari), 4)}
                                             for rule, (k, ari) in issue_case.items()},
        "mean_ari_by_topics": {str(n): {rule: {"ari": round(float(row.ari), 4), "median_k": float(row.k)}
                                        for (_, rule), row in group.iterrows()}
                               for n, group in means.groupby(level="topics")},
        "platform": platform.platform(), "python": platform.python_version(),
    }
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
