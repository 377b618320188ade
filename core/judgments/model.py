"""``Judgment``: the one record every tab, the API, the store, the export and hub sync pass around.

A judgment says something about one or two texts as the model saw them: ``relevant`` /
``not_relevant`` / ``similar`` / ``dissimilar`` / ``score`` judge the anchor against a second text
(always kept in ``positive``, whatever the verdict; ``negative`` holds an optional third text judged
worse, a ready-made triplet); ``misplaced``, ``label`` and ``prefer`` say something about the anchor
alone. Texts are cleaned exactly as the encoder cleans them (NFC, no control characters), so a
stored text is the text the model embedded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from core.errors import UserError, check_choice
from core.inputs.text import clean_text

KINDS: tuple[str, ...] = (
    "relevant", "not_relevant", "score", "similar", "dissimilar", "misplaced", "label", "prefer",
)
# Kinds that judge the anchor against a second text, kept in ``positive``.
TWO_TEXT_KINDS = frozenset({"relevant", "not_relevant", "similar", "dissimilar", "score"})
PREFER_LABELS: tuple[str, ...] = ("query", "passage", "none")
# Where the app's own judgments come from (the ``tab`` field); an API caller may send any other name.
APP_TABS: tuple[str, ...] = ("similarity", "clustering", "prefixes", "search", "annotate", "api")
SCORE_MIN, SCORE_MAX = 0.0, 5.0

DEFAULT_MAX_TEXT_CHARS = 20_000
DEFAULT_MAX_COMMENT_CHARS = 2_000
MAX_LABEL_CHARS = 500
MAX_FIELD_CHARS = 200  # user, tab, prefixes, model id and revision
ANONYMOUS = "anonymous"
# SQLite stores integers as signed 64-bit; a larger id cannot name any record.
MAX_RECORD_ID = 2**63 - 1

# The store's columns, in order: the judged fields, then what the store adds.
COLUMNS: tuple[str, ...] = (
    "id", "created_at", "user", "tab", "kind", "anchor", "positive", "negative", "score", "label",
    "comment", "query_prefix", "passage_prefix", "model_id", "model_revision", "app_version", "content_hash",
)
# The fields that make two submissions "the same judgment"; comment, tab, revision and time are not.
HASHED_FIELDS: tuple[str, ...] = (
    "user", "kind", "anchor", "positive", "negative", "score", "label",
    "query_prefix", "passage_prefix", "model_id",
)


@dataclass(frozen=True)
class Judgment:
    """One human judgment; ``id``, ``created_at`` and ``app_version`` are set by the store."""

    kind: str
    anchor: str
    positive: str | None = None
    negative: str | None = None
    score: float | None = None
    label: str | None = None
    comment: str | None = None
    user: str | None = None
    tab: str | None = None
    query_prefix: str | None = None  # None: not recorded; "": no prefix
    passage_prefix: str | None = None
    model_id: str | None = None
    model_revision: str | None = None
    id: int | None = None
    created_at: str | None = None
    app_version: str | None = None

    def replace(self, **changes: Any) -> Judgment:
        return dataclasses.replace(self, **changes)

    @property
    def content_hash(self) -> str:
        return content_hash(dataclasses.asdict(self))

    def to_record(self) -> dict[str, Any]:
        """A plain dict with :data:`COLUMNS` (the store's row, the hub's JSON line)."""
        values = dataclasses.asdict(self)
        values["content_hash"] = self.content_hash
        return {name: values[name] for name in COLUMNS}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Judgment:
        """From a store row, an exported dict or a DataFrame row; unknown keys are ignored.

        Missing values spelled as NaN or pd.NA (DataFrame rows) become None. Types are not checked
        here: :meth:`JudgmentValidator.clean` does that.
        """
        if not isinstance(record, Mapping) or "kind" not in record or "anchor" not in record:
            raise ValueError("each record needs at least 'kind' and 'anchor' (as JudgmentStore.rows() gives)")
        values = {f.name: _none_if_missing(record.get(f.name)) for f in dataclasses.fields(cls)}
        return cls(**values)


def _none_if_missing(value: Any) -> Any:
    if value is None or isinstance(value, str | int):
        return value
    try:
        return None if value != value else value  # NaN and pd.NA
    except (TypeError, ValueError):
        return value


def content_hash(record: Mapping[str, Any]) -> str:
    """sha256 over the identifying fields (:data:`HASHED_FIELDS`) of a cleaned record."""
    values = []
    for name in HASHED_FIELDS:
        value = record.get(name)
        # 3 and 3.0 are the same score; json would spell them differently.
        if name == "score" and value is not None:
            value = float(value)
        values.append(value)
    payload = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record_id(value: Any) -> int:
    """A record id from a form or API value (int, or a whole float from a number box), or ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserError("record_id_whole", value=value)
    # Every numbers.Real compares and converts like a float; typeshed's Real does not say so.
    value = cast(float, value)
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise UserError("record_id_whole", value=value)
    if not 1 <= value <= MAX_RECORD_ID:
        raise UserError("record_id_range", id=f"{value:.0f}", limit=MAX_RECORD_ID)
    return int(value)


class JudgmentValidator:
    """Checks and normalises one judgment; every problem is a ValueError saying what to fix."""

    def __init__(self, max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
                 max_comment_chars: int = DEFAULT_MAX_COMMENT_CHARS) -> None:
        if max_text_chars < 1 or max_comment_chars < 1:
            raise ValueError("max_text_chars and max_comment_chars must be positive")
        self.max_text_chars = max_text_chars
        self.max_comment_chars = max_comment_chars

    def clean(self, judgment: Judgment) -> Judgment:
        """The judgment with every field checked and cleaned; ``id`` and ``created_at`` are kept."""
        kind = judgment.kind
        check_choice("kind", kind, KINDS)
        two_texts = kind in TWO_TEXT_KINDS
        return judgment.replace(
            anchor=self._text("anchor", judgment.anchor, kind, required=True),
            positive=self._text("positive", judgment.positive, kind, required=two_texts),
            negative=self._text("negative", judgment.negative, kind, required=False),
            score=self._score(judgment.score, kind),
            label=self._label(judgment.label, kind),
            comment=self._comment(judgment.comment),
            user=self.field("user", judgment.user) or ANONYMOUS,
            tab=self.field("tab", judgment.tab),
            # An empty prefix is meaningful ("no prefix"), so only None means "not recorded".
            query_prefix=self.field("query_prefix", judgment.query_prefix, keep_empty=True),
            passage_prefix=self.field("passage_prefix", judgment.passage_prefix, keep_empty=True),
            model_id=self.field("model_id", judgment.model_id),
            model_revision=self.field("model_revision", judgment.model_revision),
        )

    def _text(self, name: str, value: Any, kind: str, *, required: bool) -> str | None:
        if value is None:
            if required:
                raise UserError("judgment_needs_text", kind=kind, field=name)
            return None
        if not isinstance(value, str):
            raise UserError("field_not_str", name=name, type=type(value).__name__)
        if len(value) > self.max_text_chars:
            raise UserError("judgment_text_too_long", field=name, length=len(value), limit=self.max_text_chars)
        # The encoder's own cleaning: what is stored is what the model embedded.
        text = clean_text(value)
        if not text:
            raise UserError("judgment_text_empty", field=name)
        return text

    @staticmethod
    def _score(value: Any, kind: str) -> float | None:
        if value is None:
            if kind == "score":
                raise UserError("judgment_needs_score", low=SCORE_MIN, high=SCORE_MAX)
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise UserError("judgment_score_not_number", low=SCORE_MIN, high=SCORE_MAX, value=value)
        score = float(value)
        if not math.isfinite(score):
            raise UserError("judgment_score_not_finite", low=SCORE_MIN, high=SCORE_MAX, value=score)
        if not SCORE_MIN <= score <= SCORE_MAX:
            raise UserError("judgment_score_range", low=SCORE_MIN, high=SCORE_MAX, value=score)
        return score

    @staticmethod
    def _label(value: Any, kind: str) -> str | None:
        if value is not None and not isinstance(value, str):
            raise UserError("field_not_str", name="label", type=type(value).__name__)
        label = clean_text(value) if value is not None else ""
        if kind == "prefer":
            if label not in PREFER_LABELS:
                raise UserError("judgment_prefer_label", labels=", ".join(PREFER_LABELS), value=value)
            return label
        if not label:
            if kind == "label":
                raise UserError("judgment_needs_label")
            return None
        if len(label) > MAX_LABEL_CHARS:
            raise UserError("field_too_long", name="label", length=len(label), limit=MAX_LABEL_CHARS)
        return label

    def _comment(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise UserError("field_not_str", name="comment", type=type(value).__name__)
        if len(value) > self.max_comment_chars:
            raise UserError("field_too_long", name="comment", length=len(value), limit=self.max_comment_chars)
        return clean_text(value) or None

    @staticmethod
    def field(name: str, value: Any, *, keep_empty: bool = False) -> str | None:
        """A short metadata field (user, tab, prefix, model): a string without control characters."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise UserError("field_not_str", name=name, type=type(value).__name__)
        if len(value) > MAX_FIELD_CHARS:
            raise UserError("field_too_long", name=name, length=len(value), limit=MAX_FIELD_CHARS)
        if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
            raise UserError("field_control_character", name=name)
        if keep_empty:
            return value
        return value.strip() or None
