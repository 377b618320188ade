"""Users' tables as evaluation data: which column is the query, the passage, the verdict.

Column names are matched case-insensitively against the names people use (English and Russian);
failing that, of the two longest text columns the shorter one is the query (questions are shorter
than the answers searched), as Clustering picks its text column by itself. An explicit column name
always wins and must exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.errors import UserError, word
from core.inputs.corpus import text_columns
from core.inputs.text import clean_text

__all__ = ["LABEL_NAMES", "PASSAGE_NAMES", "QUERY_NAMES", "cell_texts", "corpus_column", "label_column",
           "pair_columns"]

QUERY_NAMES = ("query", "question", "queries", "questions", "anchor", "sentence1", "text_1", "text1", "q",
               "запрос", "вопрос", "вопросы")
PASSAGE_NAMES = ("passage", "answer", "document", "doc", "positive", "context", "passages", "answers",
                 "sentence2", "text_2", "text2", "p", "ответ", "документ", "текст", "text")
LABEL_NAMES = ("label", "relevant", "is_relevant", "relevance", "verdict", "class", "target", "y", "метка",
               "класс", "релевантность")


def _by_name(frame: pd.DataFrame, names: Sequence[str], exclude: Sequence[str] = ()) -> str | None:
    columns = {str(c).strip().lower(): str(c) for c in frame.columns if str(c) not in exclude}
    return next((columns[n] for n in names if n in columns), None)


def _check_column(frame: pd.DataFrame, name: str, role: str) -> str:
    columns = [str(c) for c in frame.columns]
    if name not in columns:
        raise UserError("column_not_found", role=word("role", role), name=name, columns=", ".join(columns))
    return name


def pair_columns(frame: pd.DataFrame, query_column: str | None = None,
                 passage_column: str | None = None) -> tuple[str, str]:
    """The query and passage columns of a pairs table (given, by name, or by text length)."""
    query = _check_column(frame, query_column, "query") if query_column else None
    passage = _check_column(frame, passage_column, "passage") if passage_column else None
    query = query or _by_name(frame, QUERY_NAMES, exclude=[passage] if passage else [])
    passage = passage or _by_name(frame, PASSAGE_NAMES, exclude=[query] if query else [])
    if query is None or passage is None:
        candidates = [c for c in text_columns(frame) if c not in (query, passage)]
        if query is None and passage is None:
            if len(candidates) < 2:
                raise UserError("table_needs_two_text_columns", columns=", ".join(map(str, frame.columns)))
            longer, shorter = candidates[0], candidates[1]  # text_columns lists the longest first
            query, passage = shorter, longer
        elif not candidates:
            missing, found = ("query", passage) if query is None else ("passage", query)
            other = "passage" if missing == "query" else "query"
            raise UserError("table_needs_second_text_column", missing=word("role", missing),
                            other=word("role", other), found=found, columns=", ".join(map(str, frame.columns)))
        elif query is None:
            query = candidates[-1]  # the shortest remaining text column
        else:
            passage = candidates[0]
    assert passage is not None  # every branch above that left it None named it
    if query == passage:
        raise UserError("columns_must_differ", column=query)
    return query, passage


def label_column(frame: pd.DataFrame, name: str | None = None, exclude: Sequence[str] = ()) -> str:
    """The verdict column of a labelled pairs table (given, or by name)."""
    if name:
        return _check_column(frame, name, "label")
    found = _by_name(frame, LABEL_NAMES, exclude=exclude)
    if found is None:
        raise UserError("table_needs_label_column", columns=", ".join(map(str, frame.columns)))
    return found


def corpus_column(frame: pd.DataFrame, name: str | None = None) -> str:
    """The passages of a corpus table: a given column, a passage-like name, else the longest text column."""
    if name:
        return _check_column(frame, name, "corpus")
    found = _by_name(frame, PASSAGE_NAMES)
    if found is not None:
        return found
    texts = text_columns(frame)
    if not texts:
        raise UserError("corpus_no_text_column", columns=", ".join(map(str, frame.columns)))
    return texts[0]


def cell_texts(values: Sequence[Any]) -> list[str]:
    """Each cell as the encoder will see it (NFC, no control characters, stripped); empty cells as ""."""
    out = []
    for value in values:
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            out.append("")
        else:
            out.append(clean_text(str(value)))
    return out
