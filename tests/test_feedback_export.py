"""Exports of judgments (pairs, triplets, scores, labels; JSONL, Parquet, CSV), the CLI, and training on them."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from core.inputs.text import add_prefix
from core.judgments import (
    Judgment,
    JudgmentStore,
    csv_safe,
    export,
    training_prompts,
)
from core.judgments.cli import main
from tests.conftest import ROOT

QP, PP = "query: ", "passage: "
Q1 = "Есть ли нефть в Удмуртии?"
Q2 = "Когда был спущен на воду первый миноносец «Спокойный»?"
OIL = "Нефтепоисковые работы в Удмуртии были начаты сразу после Второй мировой войны в 1945 году."
OIL2 = "Добыча нефти началась в 1967 году и продолжается по сей день."
CAT = "Кошка спит на подоконнике, пока собака гуляет во дворе."
SHIP = "Спокойный (эсминец)\nЗачислен в списки ВМФ СССР 19 августа 1952 года."
RAIN = "Сегодня в Санкт-Петербурге идёт дождь, а завтра обещают солнце."
MOSCOW = "Москва — столица России, крупнейший по численности населения город страны."


def fill(store: JudgmentStore) -> None:
    meta = dict(query_prefix=QP, passage_prefix=PP, model_id="deepvk/USER-base", tab="search")
    store.add(Judgment("relevant", Q1, OIL, user="alice", **meta))
    store.add(Judgment("relevant", Q1, OIL2, user="alice", **meta))
    store.add(Judgment("not_relevant", Q1, CAT, user="alice", **meta))
    store.add(Judgment("relevant", Q1, OIL, user="bob", **meta))  # same pair, another judge
    store.add(Judgment("relevant", Q2, SHIP, user="bob", **meta))
    store.add(Judgment("not_relevant", Q2, RAIN, user="bob", **meta))
    store.add(Judgment("relevant", Q2, MOSCOW, user="bob", **meta))
    store.add(Judgment("not_relevant", Q2, MOSCOW, user="carol", **meta))  # judges disagree on MOSCOW
    sim = dict(query_prefix=QP, passage_prefix=QP, tab="similarity")
    store.add(Judgment("score", OIL, OIL2, score=4, **sim))
    store.add(Judgment("score", CAT, RAIN, score=0.5, **sim))
    store.add(Judgment("similar", Q1, "Добывают ли нефть в Удмуртии?", **sim))
    store.add(Judgment("dissimilar", CAT, SHIP, **sim))
    store.add(Judgment("label", OIL, label="нефть", query_prefix=QP))
    store.add(Judgment("label", CAT, label="животные", query_prefix=QP))
    store.add(Judgment("misplaced", RAIN, label="нефть"))
    store.add(Judgment("prefer", Q1, label="query"))


@pytest.fixture
def store(tmp_path):
    with JudgmentStore(tmp_path / "feedback.sqlite") as s:
        fill(s)
        yield s


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_add_prefix_never_doubles():
    assert add_prefix("текст", QP) == "query: текст"
    assert add_prefix("query: текст", QP) == "query: текст"
    assert add_prefix("текст", "") == "текст"


def test_pairs(store, tmp_path):
    out = tmp_path / "pairs.jsonl"
    assert export(store, "jsonl", out, kind="pairs") == 5
    rows = read_jsonl(out)
    assert rows[0] == {"anchor": QP + Q1, "positive": PP + OIL}
    assert {"anchor": QP + Q1, "positive": QP + "Добывают ли нефть в Удмуртии?"} in rows  # similar
    assert len({(r["anchor"], r["positive"]) for r in rows}) == len(rows)  # alice's and bob's OIL: once


def test_triplets_group_by_anchor_and_skip_disputed_texts(store, tmp_path):
    out = tmp_path / "triplets.jsonl"
    export(store, "jsonl", out, kind="triplets")
    rows = read_jsonl(out)
    assert rows == [
        {"anchor": QP + Q1, "positive": PP + OIL, "negative": PP + CAT},
        {"anchor": QP + Q1, "positive": PP + OIL2, "negative": PP + CAT},
        {"anchor": QP + Q2, "positive": PP + SHIP, "negative": PP + RAIN},
    ]
    assert all(MOSCOW not in r.values() for r in rows)


def test_explicit_negative_and_similar_dissimilar_make_triplets(tmp_path):
    with JudgmentStore(tmp_path / "f.sqlite") as s:
        s.add(Judgment("relevant", "a", "b", negative="c"))
        s.add(Judgment("similar", "x", "y"))
        s.add(Judgment("dissimilar", "x", "z"))
        export(s, "jsonl", tmp_path / "t.jsonl", kind="triplets")
    assert read_jsonl(tmp_path / "t.jsonl") == [
        {"anchor": "a", "positive": "b", "negative": "c"},
        {"anchor": "x", "positive": "y", "negative": "z"},
    ]


def test_scores_scaled_to_unit_interval(store, tmp_path):
    out = tmp_path / "scores.jsonl"
    export(store, "jsonl", out, kind="scores")
    rows = read_jsonl(out)
    assert rows == [
        {"sentence1": QP + OIL, "sentence2": QP + OIL2, "score": 0.8},
        {"sentence1": QP + CAT, "sentence2": QP + RAIN, "score": 0.1},
        {"sentence1": QP + Q1, "sentence2": QP + "Добывают ли нефть в Удмуртии?", "score": 1.0},
        {"sentence1": QP + CAT, "sentence2": QP + SHIP, "score": 0.0},
    ]


def test_labels(store, tmp_path):
    out = tmp_path / "labels.jsonl"
    export(store, "jsonl", out, kind="labels")
    assert read_jsonl(out) == [{"text": QP + OIL, "label": "нефть"}, {"text": QP + CAT, "label": "животные"}]


def test_prefixes_as_columns_keep_texts_raw(store, tmp_path):
    out = tmp_path / "pairs.jsonl"
    export(store, "jsonl", out, kind="pairs", prefixes="columns")
    rows = read_jsonl(out)
    assert rows[0] == {"anchor": Q1, "positive": OIL, "query_prefix": QP, "passage_prefix": PP}
    assert training_prompts(rows[:4], "pairs") == {"anchor": QP, "positive": PP}
    with pytest.raises(ValueError, match="different prefixes"):
        training_prompts(rows, "pairs")  # the similar pair was judged with query: on both sides


def test_already_prefixed_text_is_not_prefixed_again(tmp_path):
    with JudgmentStore(tmp_path / "f.sqlite") as s:
        s.add(Judgment("relevant", QP + "вопрос", PP + "ответ", query_prefix=QP, passage_prefix=PP))
        export(s, "jsonl", tmp_path / "p.jsonl")
    assert read_jsonl(tmp_path / "p.jsonl") == [{"anchor": QP + "вопрос", "positive": PP + "ответ"}]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
def test_formats_round_trip(store, tmp_path, fmt):
    import pandas as pd

    expected = read_jsonl(_export(store, tmp_path, "jsonl", "scores"))
    path = _export(store, tmp_path, fmt, "scores")
    frame = {"jsonl": lambda p: pd.read_json(p, lines=True), "parquet": pd.read_parquet,
             "csv": pd.read_csv}[fmt](path)
    assert frame.to_dict("records") == expected
    assert not list(tmp_path.glob(".*.tmp"))  # written to a temporary name, then renamed


def _export(store, tmp_path, fmt, kind, prefixes="apply") -> Path:
    path = tmp_path / f"{kind}-{prefixes}.{fmt}"
    export(store, fmt, path, kind=kind, prefixes=prefixes)
    return path


def test_export_accepts_records_and_dataframes(store, tmp_path):
    base = read_jsonl(_export(store, tmp_path, "jsonl", "triplets"))
    for i, source in enumerate((store.rows(), store.records())):
        export(source, "jsonl", tmp_path / f"{i}.jsonl", kind="triplets")
        assert read_jsonl(tmp_path / f"{i}.jsonl") == base


def test_csv_formula_injection_is_escaped(tmp_path):
    # (A leading tab or CR is stripped when a judgment is stored, like any outer whitespace.)
    nasty = ["=SUM(A1:A9)", "+7 999 123-45-67", "-1", "@cmd|' /C calc'!A0"]
    with JudgmentStore(tmp_path / "f.sqlite") as s:
        for text in nasty:
            s.add(Judgment("relevant", text, "безопасный текст"))
        s.add(Judgment("label", "обычный текст", label="=HYPERLINK(\"http://evil\")"))
        export(s, "csv", tmp_path / "p.csv", kind="pairs", prefixes="columns")
        export(s, "csv", tmp_path / "l.csv", kind="labels")
        export(s, "jsonl", tmp_path / "p.jsonl", kind="pairs", prefixes="columns")
    with (tmp_path / "p.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["anchor"] for r in rows] == ["'" + t for t in nasty]
    assert all(r["positive"] == "безопасный текст" for r in rows)
    with (tmp_path / "l.csv").open(encoding="utf-8", newline="") as fh:
        assert next(csv.DictReader(fh))["label"] == "'=HYPERLINK(\"http://evil\")"
    assert [r["anchor"] for r in read_jsonl(tmp_path / "p.jsonl")] == nasty  # only CSV is escaped
    assert csv_safe("\x00x") == "'\x00x" and csv_safe(0.5) == 0.5 and csv_safe("текст") == "текст"


def test_bad_export_requests(store, tmp_path):
    with JudgmentStore(tmp_path / "empty.sqlite") as empty:
        for kind in ("pairs", "triplets", "scores", "labels"):
            with pytest.raises(ValueError, match=f"nothing to export as {kind}"):
                export(empty, "jsonl", tmp_path / "x.jsonl", kind=kind)
    assert not (tmp_path / "x.jsonl").exists()
    with pytest.raises(ValueError, match="export format must be one of jsonl, parquet, csv; got 'xlsx'"):
        export(store, "xlsx", tmp_path / "x.xlsx")
    with pytest.raises(ValueError, match="export kind must be one of .*; got 'quads'"):
        export(store, "jsonl", tmp_path / "x.jsonl", kind="quads")
    with pytest.raises(ValueError, match="prefixes mode must be one of"):
        export(store, "jsonl", tmp_path / "x.jsonl", prefixes="strip")
    with pytest.raises(ValueError, match="not a path"):
        export(str(store.path), "jsonl", tmp_path / "x.jsonl")


def test_cli(store, tmp_path, capsys):
    db = str(store.path)
    out = tmp_path / "cli.parquet"
    assert main(["export", "--db", db, "--kind", "triplets", "--format", "parquet", "--out", str(out)]) == 0
    assert "wrote 3 triplets rows" in capsys.readouterr().out
    import pandas as pd

    assert len(pd.read_parquet(out)) == 3
    assert main(["stats", "--db", db]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["total"] == store.count() and stats["by_user"]["bob"] == 4
    assert main(["count", "--db", db, "--kind", "relevant"]) == 0
    assert capsys.readouterr().out.strip() == "5"

    missing = tmp_path / "nope.sqlite"
    assert main(["stats", "--db", str(missing)]) == 1
    assert f"no feedback store at {missing}" in capsys.readouterr().err
    assert not missing.exists()
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"\x89PNG not a database at all")
    assert main(["count", "--db", str(garbage)]) == 1
    assert "is not a SQLite database" in capsys.readouterr().err
    with JudgmentStore(tmp_path / "only-labels.sqlite") as s:
        s.add(Judgment("label", "текст", label="x"))
    assert main(["export", "--db", str(s.path), "--kind", "pairs", "--out", str(tmp_path / "e.jsonl")]) == 1
    assert "nothing to export as pairs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--db", db, "--format", "xlsx", "--out", "x"])


def test_cli_as_module(store, tmp_path):
    out = tmp_path / "m.csv"
    done = subprocess.run(
        [sys.executable, "-m", "core.judgments", "export", "--db", str(store.path), "--kind", "scores",
         "--format", "csv", "--out", str(out), "--prefixes", "columns"],
        cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header == "sentence1,sentence2,score,query_prefix,passage_prefix"


# -- training on the exports ------------------------------------------------------------------------

LOSS_FOR = {"pairs": "MultipleNegativesRankingLoss", "triplets": "MultipleNegativesRankingLoss",
            "scores": "CoSENTLoss"}


def _one_step(model, dataset, kind, tmp_path, prompts=None):
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer import losses

    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "trainer"), max_steps=1, per_device_train_batch_size=4, report_to=[],
        save_strategy="no", use_cpu=True, disable_tqdm=True, prompts=prompts)
    loss = getattr(losses, LOSS_FOR[kind])(model)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss)
    return trainer, trainer.train()


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(tiny_model_dir), device="cpu")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pairs", "triplets", "scores"])
@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
def test_one_training_step_on_each_export(store, tmp_path, tiny_model, kind, fmt):
    from datasets import load_dataset

    path = _export(store, tmp_path, fmt, kind)
    dataset = load_dataset({"jsonl": "json"}.get(fmt, fmt), data_files=str(path), split="train")
    assert dataset.column_names == {"pairs": ["anchor", "positive"],
                                    "triplets": ["anchor", "positive", "negative"],
                                    "scores": ["sentence1", "sentence2", "score"]}[kind]
    _, output = _one_step(tiny_model, dataset, kind, tmp_path)
    assert output.global_step == 1 and math.isfinite(output.training_loss)


@pytest.mark.slow
def test_prompts_route_matches_applied_prefixes(store, tmp_path, tiny_model):
    from datasets import load_dataset

    applied = load_dataset("json", data_files=str(_export(store, tmp_path, "jsonl", "triplets")), split="train")
    columns = load_dataset("parquet", data_files=str(_export(store, tmp_path, "parquet", "triplets", "columns")),
                           split="train")
    prompts = training_prompts(columns, "triplets")
    assert prompts == {"anchor": QP, "positive": PP, "negative": PP}
    raw = columns.remove_columns(["query_prefix", "passage_prefix"])
    trainer, output = _one_step(tiny_model, raw, "triplets", tmp_path, prompts=prompts)
    assert output.global_step == 1
    # The trainer prepends the prompts itself: the tokens equal those of the prefix-applied export.
    with_prompts = trainer.data_collator([raw[0]])
    trainer.data_collator.prompts = {}
    baked_in = trainer.data_collator([applied[0]])
    for column in ("anchor", "positive", "negative"):
        assert with_prompts[f"{column}_input_ids"].tolist() == baked_in[f"{column}_input_ids"].tolist()

