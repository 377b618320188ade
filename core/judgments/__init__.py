"""Human judgments: the ``Judgment`` record, its validation, the SQLite store, training exports, a CLI.

Only the standard library and SQLAlchemy are imported at module level, so a crash-test child or the CLI
starts in about a second; pandas and pyarrow are imported inside the functions that need them.

    model.py   Judgment, JudgmentValidator, kinds and limits
    store.py   JudgmentStore: SQLite (WAL) or PostgreSQL (core/storage), ownership on every change
    export.py  pairs / triplets / scores / labels for sentence-transformers
    paths.py   where the data lives
    cli.py     python -m core.judgments export | stats | count
"""

from core.judgments.export import (
    EXPORT_COLUMNS,
    EXPORT_FORMATS,
    EXPORT_KINDS,
    PASSAGE_PREFIX_COLUMN,
    PREFIX_MODES,
    PROMPT_COLUMNS,
    QUERY_PREFIX_COLUMN,
    TrainingRows,
    csv_safe,
    export,
    training_prompts,
)
from core.judgments.model import (
    ANONYMOUS,
    APP_TABS,
    COLUMNS,
    KINDS,
    PREFER_LABELS,
    TWO_TEXT_KINDS,
    Judgment,
    JudgmentValidator,
    content_hash,
    record_id,
)
from core.judgments.paths import default_data_dir, default_store_location, default_store_path, utc_now
from core.judgments.store import ImportResult, JudgmentStore, JudgmentStoreError, NotOwnerError

__all__ = [
    "ANONYMOUS", "APP_TABS", "COLUMNS", "EXPORT_COLUMNS", "EXPORT_FORMATS", "EXPORT_KINDS", "KINDS", "PASSAGE_PREFIX_COLUMN",
    "PREFER_LABELS", "PREFIX_MODES", "PROMPT_COLUMNS", "QUERY_PREFIX_COLUMN", "TWO_TEXT_KINDS", "ImportResult",
    "Judgment", "JudgmentStore", "JudgmentStoreError", "JudgmentValidator", "NotOwnerError", "TrainingRows",
    "content_hash", "csv_safe", "default_data_dir", "default_store_location", "default_store_path", "export", "record_id",
    "training_prompts", "utc_now",
]
