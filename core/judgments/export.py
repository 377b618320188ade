"""Training datasets from judgments: pairs, triplets, scores and labels for sentence-transformers.

Prefixes are applied with the encoder's own :func:`core.inputs.text.add_prefix`, so an exported text is
exactly the input the model saw when the judgment was made ("Query: Москва" stays as it is).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from core.errors import Message, UserError, check_choice
from core.inputs.text import add_prefix
from core.judgments.model import SCORE_MAX, Judgment
from core.judgments.store import JudgmentStore

EXPORT_KINDS: tuple[str, ...] = ("pairs", "triplets", "scores", "labels")
EXPORT_FORMATS: tuple[str, ...] = ("jsonl", "parquet", "csv")
PREFIX_MODES: tuple[str, ...] = ("apply", "columns")
QUERY_PREFIX_COLUMN = "query_prefix"
PASSAGE_PREFIX_COLUMN = "passage_prefix"
# Text column -> the prefix column that holds its prompt in prefixes="columns" exports.
PROMPT_COLUMNS: dict[str, dict[str, str]] = {
    "pairs": {"anchor": QUERY_PREFIX_COLUMN, "positive": PASSAGE_PREFIX_COLUMN},
    "triplets": {"anchor": QUERY_PREFIX_COLUMN, "positive": PASSAGE_PREFIX_COLUMN,
                 "negative": PASSAGE_PREFIX_COLUMN},
    "scores": {"sentence1": QUERY_PREFIX_COLUMN, "sentence2": PASSAGE_PREFIX_COLUMN},
    "labels": {"text": QUERY_PREFIX_COLUMN},
}
EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "pairs": ("anchor", "positive"),
    "triplets": ("anchor", "positive", "negative"),
    "scores": ("sentence1", "sentence2", "score"),
    "labels": ("text", "label"),
}
_NEEDS = {kind: Message(f"export_needs_{kind}") for kind in ("pairs", "triplets", "scores", "labels")}
# Spreadsheets run a cell starting with these as a formula (CSV injection).
CSV_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\x00")


def csv_safe(value: Any) -> Any:
    """Quote a string cell that a spreadsheet would run as a formula by prefixing ``'``."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_TRIGGERS):
        return "'" + value
    return value


class TrainingRows:
    """Turns judgment records into training rows of one dataset kind (see :func:`export`)."""

    def __init__(self, kind: str, prefixes: str = "apply") -> None:
        check_choice("export kind", kind, EXPORT_KINDS)
        check_choice("prefixes mode", prefixes, PREFIX_MODES)
        self.kind = kind
        self.prefixes = prefixes

    @property
    def columns(self) -> tuple[str, ...]:
        extra = (QUERY_PREFIX_COLUMN, PASSAGE_PREFIX_COLUMN) if self.prefixes == "columns" else ()
        return EXPORT_COLUMNS[self.kind] + extra

    def build(self, judgments: Iterable[Judgment | dict[str, Any]]) -> list[dict[str, Any]]:
        """Training rows from judgments (store rows and DataFrame rows are turned into Judgments)."""
        items = [j if isinstance(j, Judgment) else Judgment.from_record(j) for j in judgments]
        return getattr(self, f"_{self.kind}")(items)

    def _row(self, texts: dict[str, str], qp: str | None, pp: str | None, **values: Any) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for column, text in texts.items():
            if self.prefixes == "apply":
                prefix = qp if PROMPT_COLUMNS[self.kind][column] == QUERY_PREFIX_COLUMN else pp
                text = add_prefix(text, prefix or "")
            row[column] = text
        row.update(values)
        if self.prefixes == "columns":
            row[QUERY_PREFIX_COLUMN] = qp or ""
            row[PASSAGE_PREFIX_COLUMN] = pp or ""
        return row

    def _pairs(self, judgments: list[Judgment]) -> list[dict[str, Any]]:
        rows, seen = [], set()
        for r in judgments:
            if r.kind not in ("relevant", "similar") or not r.positive:
                continue
            key = (r.anchor, r.positive, r.query_prefix, r.passage_prefix)
            if key not in seen:
                seen.add(key)
                rows.append(self._row({"anchor": r.anchor, "positive": r.positive}, *key[2:]))
        return rows

    def _triplets(self, judgments: list[Judgment]) -> list[dict[str, Any]]:
        # Group by anchor and prefixes so a triplet never mixes texts judged under different prompts.
        groups: dict[tuple, tuple[dict[str, None], dict[str, None]]] = {}
        for r in judgments:
            key = (r.anchor, r.query_prefix, r.passage_prefix)
            positives, negatives = groups.setdefault(key, ({}, {}))
            if r.kind in ("relevant", "similar"):
                if r.positive:
                    positives[r.positive] = None
                if r.negative:
                    negatives[r.negative] = None
            elif r.kind in ("not_relevant", "dissimilar") and r.positive:
                negatives[r.positive] = None
        rows = []
        for (anchor, qp, pp), (positives, negatives) in groups.items():
            # Judges disagreeing on a text make it neither a positive nor a negative.
            conflicted = positives.keys() & negatives.keys()
            for pos in positives:
                for neg in negatives:
                    if pos not in conflicted and neg not in conflicted:
                        rows.append(self._row({"anchor": anchor, "positive": pos, "negative": neg}, qp, pp))
        return rows

    def _scores(self, judgments: list[Judgment]) -> list[dict[str, Any]]:
        rows = []
        for r in judgments:
            if r.kind == "score" and r.score is not None:
                value = float(r.score) / SCORE_MAX
            elif r.kind == "similar":
                value = 1.0
            elif r.kind == "dissimilar":
                value = 0.0
            else:
                continue
            if r.positive:
                rows.append(self._row({"sentence1": r.anchor, "sentence2": r.positive},
                                      r.query_prefix, r.passage_prefix, score=value))
        return rows

    def _labels(self, judgments: list[Judgment]) -> list[dict[str, Any]]:
        rows, seen = [], set()
        for r in judgments:
            if r.kind != "label" or not r.label:
                continue
            key = (r.anchor, r.label, r.query_prefix, r.passage_prefix)
            if key not in seen:
                seen.add(key)
                rows.append(self._row({"text": r.anchor}, key[2], key[3], label=r.label))
        return rows


def _is_missing(value: Any) -> bool:
    try:
        return bool(value != value)  # NaN and pd.NA
    except (TypeError, ValueError):
        return False


def _judgments_of(source: Any) -> Sequence[Judgment | dict[str, Any]]:
    if isinstance(source, JudgmentStore):
        return source.judgments()
    if hasattr(source, "to_dict") and hasattr(source, "columns"):  # a DataFrame, without importing pandas
        return source.to_dict("records")
    if isinstance(source, str | os.PathLike):
        raise ValueError("export() takes a JudgmentStore or judgments, not a path; open JudgmentStore(path) first")
    return list(source)


def export(source: JudgmentStore | Iterable[Judgment | dict[str, Any]] | Any, fmt: str,
           out_path: str | os.PathLike[str], *, kind: str = "pairs", prefixes: str = "apply") -> int:
    """Write a training dataset built from judgments; returns the number of rows written.

    ``kind`` (columns, then the loss that fits):

    * ``pairs``: ``anchor, positive`` from relevant and similar judgments (MultipleNegativesRankingLoss);
    * ``triplets``: ``anchor, positive, negative`` from relevant/similar and not_relevant/dissimilar
      judgments on the same anchor (and explicit negatives); texts judged both ways are left out
      (MultipleNegativesRankingLoss);
    * ``scores``: ``sentence1, sentence2, score`` with score/5 in 0..1, similar = 1.0, dissimilar = 0.0
      (CoSENTLoss);
    * ``labels``: ``text, label`` from label judgments.

    ``prefixes``:

    * ``"apply"``: the recorded query prefix is prepended to the first text column (anchor, sentence1,
      text) and the passage prefix to the others with the encoder's own ``add_prefix`` (a text that
      already starts with the prefix, in any case, is left alone);
    * ``"columns"``: texts stay raw and two extra string columns, ``query_prefix`` and
      ``passage_prefix``, hold the prefixes ('' when none was recorded). sentence-transformers
      applies prompts per column, not per row, so drop these two columns before training and pass
      ``SentenceTransformerTrainingArguments(prompts=training_prompts(rows, kind))``, which maps
      anchor/sentence1/text to the query prefix and positive/negative/sentence2 to the passage prefix
      and refuses data whose rows carry several different prefixes.

    ``fmt`` is ``jsonl``, ``parquet`` or ``csv``. CSV cells starting with ``= + - @``, tab, CR or NUL
    get a leading ``'`` against formula injection, so prefer JSONL or Parquet for training. The file
    is written to a temporary name and renamed, so a reader never sees half an export.
    """
    fmt = str(fmt).lower().lstrip(".")
    check_choice("export format", fmt, EXPORT_FORMATS)
    builder = TrainingRows(kind, prefixes)
    rows = builder.build(_judgments_of(source))
    if not rows:
        raise UserError("export_nothing", kind=kind, needs=_NEEDS[kind])
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        {"jsonl": _write_jsonl, "parquet": _write_parquet, "csv": _write_csv}[fmt](rows, builder.columns, tmp)
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return len(rows)


def training_prompts(rows: Any, kind: str) -> dict[str, str]:
    """The ``prompts`` argument for sentence-transformers from a ``prefixes="columns"`` export.

    ``rows`` is a list of dicts, a DataFrame or a ``datasets.Dataset``. Raises ValueError when a prefix
    column holds more than one distinct value, since the trainer takes one prompt per column.
    """
    check_choice("export kind", kind, PROMPT_COLUMNS)
    prompts = {}
    for text_column, prefix_column in PROMPT_COLUMNS[kind].items():
        values = set(_column(rows, prefix_column))
        if len(values) > 1:
            raise ValueError(
                f"column {prefix_column!r} holds {len(values)} different prefixes {sorted(values)!r}; the "
                f"trainer takes one prompt per column, so export with prefixes='apply' instead")
        prefix = values.pop() if values else ""
        if prefix:
            prompts[text_column] = prefix
    return prompts


def _column(rows: Any, name: str) -> list[Any]:
    column_names = getattr(rows, "column_names", None) or getattr(rows, "columns", None)
    if column_names is not None:
        if name not in list(column_names):
            raise ValueError(f"no {name!r} column: was this exported with prefixes='columns'?")
        return ["" if v is None or _is_missing(v) else v for v in list(rows[name])]
    values = []
    for row in rows:
        if name not in row:
            raise ValueError(f"no {name!r} column: was this exported with prefixes='columns'?")
        values.append(row[name] or "")
    return values


def _write_jsonl(rows: list[dict[str, Any]], columns: Sequence[str], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps({c: row[c] for c in columns}, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _write_parquet(rows: list[dict[str, Any]], columns: Sequence[str], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.float64() if c == "score" else pa.string()) for c in columns])
    table = pa.Table.from_pylist([{c: row[c] for c in columns} for row in rows], schema=schema)
    pq.write_table(table, path)


def _write_csv(rows: list[dict[str, Any]], columns: Sequence[str], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_safe(row[c]) for c in columns])
        fh.flush()
        os.fsync(fh.fileno())
