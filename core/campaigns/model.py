"""What a campaign is: its settings, its items, and how a table of items is read and checked.

A campaign hands the same items to several people: pairs (``query`` / ``passage`` or ``sentence1`` /
``sentence2``) judged relevant / not relevant or scored 0-5, or single texts (``text``) given a label
from a fixed list. Every problem with the settings or the table is a ``ValueError`` saying what to fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import Message, UserError, check_choice
from core.inputs.text import clean_text
from core.judgments.model import DEFAULT_MAX_TEXT_CHARS, MAX_LABEL_CHARS, SCORE_MAX, SCORE_MIN

RELEVANCE, SCORE, LABEL = "relevance", "score", "label"
JUDGMENTS: tuple[str, ...] = (RELEVANCE, SCORE, LABEL)
# The Judgment kinds each campaign judgment accepts.
KINDS_OF: dict[str, tuple[str, ...]] = {RELEVANCE: ("relevant", "not_relevant"), SCORE: ("score",),
                                        LABEL: ("label",)}
# The prefixes the model sees for each judgment: relevance is asymmetric (query vs passage); scores judge
# symmetric similarity and labels judge one text, both of which USER-base encodes with "query: ".
PREFIXES_OF: dict[str, tuple[str, str]] = {RELEVANCE: ("query", "passage"), SCORE: ("query", "query"),
                                           LABEL: ("query", "query")}
# Krippendorff level per judgment: verdicts and labels are categories, scores are on an interval scale.
LEVEL_OF: dict[str, str] = {RELEVANCE: "nominal", SCORE: "interval", LABEL: "nominal"}
# The training datasets (core.judgments.export kinds) a campaign's consensus fills, the default first: a
# relevance consensus holds verdicts (pairs from the relevant ones; triplets where a query has both), a
# score consensus mean scores, a label consensus labels. Any other kind would export nothing.
EXPORT_KINDS_OF: dict[str, tuple[str, ...]] = {RELEVANCE: ("pairs", "triplets"), SCORE: ("scores",),
                                               LABEL: ("labels",)}
PAIR, SINGLE = "pair", "single"
LAYOUT_OF: dict[str, str] = {RELEVANCE: PAIR, SCORE: PAIR, LABEL: SINGLE}
# The column names a table may use, per layout, in the order they are looked for.
PAIR_COLUMNS: tuple[tuple[str, str], ...] = (("query", "passage"), ("sentence1", "sentence2"))
SINGLE_COLUMNS: tuple[str, ...] = ("text",)

# As many items as the app embeds in one request (Limits.max_corpus): a model-chosen campaign scores
# every item, and a bigger table is better split into several campaigns.
MAX_ITEMS = 5_000
# More than 10 people per item adds little to the agreement estimate but multiplies the cost.
MAX_OVERLAP = 10
# One digit key per label keeps labelling keyboard-only (keys 1-9).
MAX_LABELS = 9
MAX_INSTRUCTIONS_CHARS = 5_000
MAX_NAME_CHARS = 200
# Campaign ids are the invitation: 64 random bits, so nobody finds a campaign by guessing.
ID_BYTES = 8


@dataclass(frozen=True)
class Campaign:
    """A campaign's settings and where its items came from; ``rule`` says how a model chose them."""

    id: str
    name: str
    creator: str
    judgment: str
    overlap: int
    columns: tuple[str, ...]
    instructions: str = ""
    labels: tuple[str, ...] = ()
    show_model_score: bool = False
    rule: str | None = None
    created_at: str | None = None
    n_items: int = 0
    query_prefix: str | None = None
    passage_prefix: str | None = None
    model_id: str | None = None

    @property
    def layout(self) -> str:
        return LAYOUT_OF[self.judgment]

    @property
    def level(self) -> str:
        return LEVEL_OF[self.judgment]

    def public(self) -> dict[str, Any]:
        """What anyone holding the campaign's id may see (no creator, no model path)."""
        return {"campaign": self.id, "name": self.name, "judgment": self.judgment, "overlap": self.overlap,
                "instructions": self.instructions, "labels": list(self.labels), "columns": list(self.columns),
                "show_model_score": self.show_model_score, "rule": self.rule, "items": self.n_items}

    @classmethod
    def from_row(cls, row: Any) -> Campaign:
        return cls(id=row["id"], name=row["name"], creator=row["creator"], judgment=row["judgment"],
                   overlap=int(row["overlap"]), columns=tuple(json.loads(row["columns"])),
                   instructions=row["instructions"] or "", labels=tuple(json.loads(row["labels"] or "[]")),
                   show_model_score=bool(row["show_model_score"]), rule=row["rule"], created_at=row["created_at"],
                   n_items=int(row["n_items"]), query_prefix=row["query_prefix"],
                   passage_prefix=row["passage_prefix"], model_id=row["model_id"])


@dataclass(frozen=True)
class Item:
    """One thing to judge: one text (``text2`` None) or a pair, with the model's score and why it was chosen."""

    item_id: int
    text1: str
    text2: str | None = None
    model_score: float | None = None
    reason: str | None = None

    def as_dict(self, campaign: Campaign, *, with_score: bool | None = None) -> dict[str, Any]:
        """The item under the table's column names, as /next_item returns it."""
        out: dict[str, Any] = {"item_id": self.item_id, campaign.columns[0]: self.text1}
        if campaign.layout == PAIR:
            out[campaign.columns[1]] = self.text2
        if self.reason:
            out["reason"] = self.reason
        show = campaign.show_model_score if with_score is None else with_score
        if show and self.model_score is not None:
            out["model_score"] = round(self.model_score, 2)
        return out


@dataclass
class ItemTable:
    """Items read from a table: column names, the items, and what was dropped on the way."""

    columns: tuple[str, ...]
    items: list[Item]
    notes: list[str] = field(default_factory=list)


def check_settings(judgment: str, overlap: Any, labels: Sequence[str] | str | None, instructions: str | None,
                   name: str | None) -> tuple[str, int, tuple[str, ...], str, str]:
    """The settings cleaned, or a ValueError naming the one to fix."""
    if judgment not in JUDGMENTS:
        check_choice("the judgment", judgment, JUDGMENTS)
    try:
        number = float(overlap)
    except (TypeError, ValueError):
        raise UserError("whole_number", name=Message("field_overlap"), value=overlap) from None
    if not number.is_integer() or not 1 <= number <= MAX_OVERLAP:
        raise UserError("whole_number_range", name=Message("field_overlap"), low=1, high=MAX_OVERLAP, value=overlap)
    clean_labels = parse_labels(labels)
    if judgment == LABEL and len(clean_labels) < 2:
        raise UserError("campaign_needs_labels")
    if judgment != LABEL and clean_labels:
        raise UserError("campaign_labels_unwanted", judgment=judgment)
    text = clean_text(instructions or "")
    if len(text) > MAX_INSTRUCTIONS_CHARS:
        raise UserError("campaign_instructions_too_long", length=len(text), limit=MAX_INSTRUCTIONS_CHARS)
    title = clean_text(name or "")
    if len(title) > MAX_NAME_CHARS:
        raise UserError("campaign_name_too_long", length=len(title), limit=MAX_NAME_CHARS)
    return judgment, int(number), clean_labels, text, title


def parse_labels(labels: Sequence[str] | str | None) -> tuple[str, ...]:
    """Labels from a list or from text (one per line, or comma-separated), cleaned and checked."""
    if labels is None:
        return ()
    if isinstance(labels, str):
        parts = labels.splitlines() if "\n" in labels else labels.split(",")
    else:
        parts = [str(x) for x in labels]
    out: list[str] = []
    for part in parts:
        label = clean_text(part)
        if not label:
            continue
        if len(label) > MAX_LABEL_CHARS:
            raise UserError("campaign_label_too_long", label=label[:40], limit=MAX_LABEL_CHARS)
        if label in out:
            raise UserError("campaign_label_twice", label=label)
        out.append(label)
    if len(out) > MAX_LABELS:
        raise UserError("campaign_too_many_labels", count=len(out), limit=MAX_LABELS)
    return tuple(out)


def check_score(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserError("campaign_needs_score", low=SCORE_MIN, high=SCORE_MAX, value=value)
    if not SCORE_MIN <= float(value) <= SCORE_MAX:
        raise UserError("campaign_score_range", low=SCORE_MIN, high=SCORE_MAX, value=value)
    return float(value)


def _find(columns: Sequence[str], name: str) -> str | None:
    by_lower = {str(c).strip().lower(): str(c) for c in columns}
    return by_lower.get(name)


def item_columns(frame_columns: Sequence[str], judgment: str) -> tuple[str, ...]:
    """The table's columns that hold the items for this judgment, or a ValueError naming what is missing."""
    if LAYOUT_OF[judgment] == PAIR:
        for first, second in PAIR_COLUMNS:
            a, b = _find(frame_columns, first), _find(frame_columns, second)
            if a and b:
                return (a, b)
        wanted = " or ".join(f"'{a}' and '{b}'" for a, b in PAIR_COLUMNS)
    else:
        for name in SINGLE_COLUMNS:
            found = _find(frame_columns, name)
            if found:
                return (found,)
        wanted = " or ".join(f"'{n}'" for n in SINGLE_COLUMNS)
    have = ", ".join(str(c) for c in frame_columns) or "none"
    raise UserError("campaign_needs_columns", judgment=judgment, wanted=wanted, columns=have)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    try:
        import pandas as pd

        if value is pd.NA:
            return ""
    except ImportError:  # pragma: no cover - pandas is a requirement
        pass
    return clean_text(str(value))


def items_from_rows(rows: Iterable[Sequence[Any]], columns: Sequence[str], *,
                    max_items: int = MAX_ITEMS, max_chars: int = DEFAULT_MAX_TEXT_CHARS) -> ItemTable:
    """Items from rows of one or two texts: empty rows and repeated items are dropped (and counted)."""
    items: list[Item] = []
    seen: set[tuple[str, str | None]] = set()
    empty = duplicates = 0
    pair = len(columns) == 2
    for number, row in enumerate(rows, start=1):
        texts = [_cell(v) for v in row[:len(columns)]]
        for name, text in zip(columns, texts, strict=True):
            if len(text) > max_chars:
                raise UserError("campaign_cell_too_long", row=number, column=name, length=len(text), limit=max_chars)
        if not all(texts):
            empty += 1
            continue
        key = (texts[0], texts[1] if pair else None)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        items.append(Item(len(items) + 1, key[0], key[1]))
    if not items:
        raise UserError("campaign_no_items", columns=" or ".join(columns))
    if len(items) > max_items:
        raise UserError("campaign_too_many_items", count=len(items), limit=max_items)
    notes: list[str] = []
    if empty:
        notes.append(Message("campaign_empty_rows_left_out", count=empty))
    if duplicates:
        notes.append(Message("campaign_repeats_left_out", count=duplicates))
    return ItemTable(columns=tuple(columns), items=items, notes=notes)


def items_from_table(path: str, judgment: str, *, max_bytes: int, max_items: int = MAX_ITEMS,
                     max_chars: int = DEFAULT_MAX_TEXT_CHARS) -> ItemTable:
    """Items from an uploaded table (CSV, TSV, TXT, XLSX, Parquet), read with the corpus loader's caps."""
    from core.inputs.corpus import load_table

    # One row past the cap tells "too many" from "exactly at the cap": the loader would cut silently.
    loaded = load_table(path, max_bytes=max_bytes, max_rows=max_items + 1)
    frame = loaded.frame
    if len(frame) > max_items:
        raise UserError("campaign_too_many_rows", limit=max_items)
    columns = item_columns([str(c) for c in frame.columns], judgment)
    table = items_from_rows(frame[list(columns)].itertuples(index=False, name=None), columns,
                            max_items=max_items, max_chars=max_chars)
    cut = ("file_rows_cut", "file_rows_cut_of")  # past the cap the table was refused above
    table.notes[:0] = [w for w in loaded.warnings if getattr(w, "key", None) not in cut]
    return table


def check_export_kind(judgment: str, kind: str) -> None:
    """Refuse an export kind the consensus of a ``judgment`` campaign cannot fill, naming the ones it can."""
    fits = EXPORT_KINDS_OF.get(judgment, ())
    if kind not in fits:
        raise UserError("campaign_export_kind", judgment=judgment, kind=kind, fits=", ".join(fits))
