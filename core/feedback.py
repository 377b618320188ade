"""Human judgments on USER-base's behaviour: a durable SQLite store, exports for training, a CLI.

Everything here imports only the standard library at module level, so a crash-test child or the CLI
starts in milliseconds; pandas and pyarrow are imported inside the functions that need them.

Record columns (every dict from :meth:`FeedbackStore.rows`, every row of :meth:`FeedbackStore.records`):
``id, created_at, user, tab, kind, anchor, positive, negative, score, label, comment, query_prefix,
passage_prefix, model_id, model_revision, app_version, content_hash``.

For the two-text kinds (``relevant``, ``not_relevant``, ``similar``, ``dissimilar``, ``score``) the
second text is always stored in ``positive``, whatever the verdict; ``negative`` holds an optional
third text judged worse than ``positive`` (a ready-made triplet).

CLI::

    python -m core.feedback export --db PATH --kind pairs --format jsonl --out FILE [--prefixes apply|columns]
    python -m core.feedback stats --db PATH
    python -m core.feedback count --db PATH [--kind KIND] [--user USER]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import logging
import math
import numbers
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core import __version__

logger = logging.getLogger(__name__)

KINDS: tuple[str, ...] = (
    "relevant", "not_relevant", "score", "similar", "dissimilar", "misplaced", "label", "prefer",
)
# Kinds that judge the anchor against a second text, kept in ``positive``.
TWO_TEXT_KINDS = frozenset({"relevant", "not_relevant", "similar", "dissimilar", "score"})
PREFER_LABELS: tuple[str, ...] = ("query", "passage", "none")
SCORE_MIN, SCORE_MAX = 0.0, 5.0

DEFAULT_MAX_TEXT_CHARS = 20_000
DEFAULT_MAX_COMMENT_CHARS = 2_000
MAX_LABEL_CHARS = 500
MAX_FIELD_CHARS = 200  # user, tab, prefixes, model id and revision
ANONYMOUS = "anonymous"

COLUMNS: tuple[str, ...] = (
    "id", "created_at", "user", "tab", "kind", "anchor", "positive", "negative", "score", "label",
    "comment", "query_prefix", "passage_prefix", "model_id", "model_revision", "app_version", "content_hash",
)
# The fields that make two submissions "the same judgment"; comment, tab, revision and time are not.
HASHED_FIELDS: tuple[str, ...] = (
    "user", "kind", "anchor", "positive", "negative", "score", "label",
    "query_prefix", "passage_prefix", "model_id",
)

DATA_DIR_ENV = "USER_STUDIO_DATA_DIR"
SPACE_VOLUME = Path("/data")
STORE_FILENAME = "feedback.sqlite"
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    user TEXT NOT NULL,
    tab TEXT,
    kind TEXT NOT NULL,
    anchor TEXT NOT NULL,
    positive TEXT,
    negative TEXT,
    score REAL,
    label TEXT,
    comment TEXT,
    query_prefix TEXT,
    passage_prefix TEXT,
    model_id TEXT,
    model_revision TEXT,
    app_version TEXT,
    content_hash TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS feedback_content_hash ON feedback(content_hash);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback(user);
CREATE INDEX IF NOT EXISTS feedback_kind ON feedback(kind);
"""


class FeedbackStoreError(ValueError):
    """The store file is missing, damaged, foreign or cannot be written; the message names the path."""


class NotOwnerError(ValueError):
    """A user tried to delete a judgment that another user made."""


def default_data_dir(env: dict[str, str] | None = None) -> Path:
    """Where USER Studio keeps its data.

    ``$USER_STUDIO_DATA_DIR`` if set; else ``/data/user-studio`` when ``/data`` exists and is writable
    (the persistent volume of a Hugging Face Space survives restarts, the app folder does not);
    else ``./data``.
    """
    env = os.environ if env is None else env
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV]).expanduser()
    if SPACE_VOLUME.is_dir() and os.access(SPACE_VOLUME, os.W_OK | os.X_OK):
        return SPACE_VOLUME / "user-studio"
    return Path("data")


def default_store_path(env: dict[str, str] | None = None) -> Path:
    """``<default_data_dir()>/feedback.sqlite``."""
    return default_data_dir(env) / STORE_FILENAME


def utc_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds, e.g. ``2025-01-31T12:00:00.123+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def content_hash(record: dict[str, Any]) -> str:
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


class JudgmentValidator:
    """Checks and normalises one judgment; every problem is a ValueError saying what to fix."""

    def __init__(self, max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
                 max_comment_chars: int = DEFAULT_MAX_COMMENT_CHARS) -> None:
        if max_text_chars < 1 or max_comment_chars < 1:
            raise ValueError("max_text_chars and max_comment_chars must be positive")
        self.max_text_chars = max_text_chars
        self.max_comment_chars = max_comment_chars

    def clean(self, kind: Any, anchor: Any, positive: Any = None, negative: Any = None, score: Any = None,
              label: Any = None, user: Any = None, comment: Any = None, *, tab: Any = None,
              query_prefix: Any = None, passage_prefix: Any = None, model_id: Any = None,
              model_revision: Any = None) -> dict[str, Any]:
        """Return the cleaned fields (without id, time, version and hash) or raise ValueError."""
        if not isinstance(kind, str) or kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")
        two_texts = kind in TWO_TEXT_KINDS
        out: dict[str, Any] = {"kind": kind}
        out["anchor"] = self._text("anchor", anchor, kind, required=True)
        out["positive"] = self._text("positive", positive, kind, required=two_texts)
        out["negative"] = self._text("negative", negative, kind, required=False)
        out["score"] = self._score(score, kind)
        out["label"] = self._label(label, kind)
        out["comment"] = self._comment(comment)
        out["user"] = self._field("user", user) or ANONYMOUS
        out["tab"] = self._field("tab", tab)
        # An empty prefix is meaningful ("no prefix"), so only None means "not recorded".
        out["query_prefix"] = self._field("query_prefix", query_prefix, keep_empty=True)
        out["passage_prefix"] = self._field("passage_prefix", passage_prefix, keep_empty=True)
        out["model_id"] = self._field("model_id", model_id)
        out["model_revision"] = self._field("model_revision", model_revision)
        return out

    def _text(self, name: str, value: Any, kind: str, *, required: bool) -> str | None:
        if value is None:
            if required:
                raise ValueError(f"kind {kind!r} needs the {name} text")
            return None
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {type(value).__name__}")
        if len(value) > self.max_text_chars:
            raise ValueError(
                f"{name} text is too long: {len(value):,} characters, the limit is {self.max_text_chars:,}")
        if "\x00" in value:
            raise ValueError(f"{name} text contains a NUL byte (\\x00); remove it")
        if not value.strip():
            raise ValueError(f"{name} text is empty")
        return value

    @staticmethod
    def _score(value: Any, kind: str) -> float | None:
        if value is None:
            if kind == "score":
                raise ValueError(f"kind 'score' needs a score from {SCORE_MIN:g} to {SCORE_MAX:g}")
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"score must be a number from {SCORE_MIN:g} to {SCORE_MAX:g}, got {value!r}")
        score = float(value)
        if not math.isfinite(score):
            raise ValueError(f"score must be a finite number from {SCORE_MIN:g} to {SCORE_MAX:g}, got {score}")
        if not SCORE_MIN <= score <= SCORE_MAX:
            raise ValueError(f"score must be between {SCORE_MIN:g} and {SCORE_MAX:g}, got {score:g}")
        return score

    @staticmethod
    def _label(value: Any, kind: str) -> str | None:
        if value is not None and not isinstance(value, str):
            raise ValueError(f"label must be a string, got {type(value).__name__}")
        label = value.strip() if value is not None else ""
        if kind == "prefer":
            if label not in PREFER_LABELS:
                raise ValueError(
                    f"kind 'prefer' needs label one of {', '.join(PREFER_LABELS)} (which prefix gave "
                    f"better neighbours), got {value!r}")
            return label
        if not label:
            if kind == "label":
                raise ValueError("kind 'label' needs a non-empty label")
            return None
        if "\x00" in label:
            raise ValueError("label contains a NUL byte (\\x00); remove it")
        if len(label) > MAX_LABEL_CHARS:
            raise ValueError(f"label is too long: {len(label):,} characters, the limit is {MAX_LABEL_CHARS:,}")
        return label

    def _comment(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"comment must be a string, got {type(value).__name__}")
        if "\x00" in value:
            raise ValueError("comment contains a NUL byte (\\x00); remove it")
        if len(value) > self.max_comment_chars:
            raise ValueError(
                f"comment is too long: {len(value):,} characters, the limit is {self.max_comment_chars:,}")
        return value if value.strip() else None

    @staticmethod
    def _field(name: str, value: Any, *, keep_empty: bool = False) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {type(value).__name__}")
        if "\x00" in value:
            raise ValueError(f"{name} contains a NUL byte (\\x00); remove it")
        if len(value) > MAX_FIELD_CHARS:
            raise ValueError(f"{name} is too long: {len(value):,} characters, the limit is {MAX_FIELD_CHARS}")
        if keep_empty:
            return value
        return value.strip() or None


@dataclass(frozen=True)
class ImportResult:
    """What :meth:`FeedbackStore.import_records` did with a batch of records."""

    added: int
    duplicates: int
    rejected: int


Listener = Callable[[str, dict[str, Any]], None]


class FeedbackStore:
    """Human judgments in one SQLite file (WAL mode, synchronous=FULL: a returned add survives kill -9).

    Safe to share between threads (one connection per thread) and processes (``BEGIN IMMEDIATE`` plus a
    30 s busy timeout). A file that is not a SQLite database is refused with :class:`FeedbackStoreError`
    and never written to.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True,
                 max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
                 max_comment_chars: int = DEFAULT_MAX_COMMENT_CHARS) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.validator = JudgmentValidator(max_text_chars, max_comment_chars)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._check_file(create)
        self._initialise()

    # -- opening ---------------------------------------------------------------------------------

    def _check_file(self, create: bool) -> None:
        path = self.path
        if path.is_dir():
            raise FeedbackStoreError(f"feedback store {path} is a directory, not a SQLite file")
        if not path.exists():
            if not create:
                raise FeedbackStoreError(f"no feedback store at {path}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise FeedbackStoreError(f"cannot create the folder for feedback store {path}: {exc}") from exc
            return
        try:
            with path.open("rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise FeedbackStoreError(f"cannot read feedback store {path}: {exc}") from exc
        # Check the header ourselves so that nothing (not even a journal-mode change) touches a foreign file.
        if head and head != SQLITE_MAGIC:
            raise FeedbackStoreError(
                f"{path} is not a SQLite database (damaged or foreign file); it was left untouched. "
                f"Move it away or set {DATA_DIR_ENV} to another folder.")

    def _initialise(self) -> None:
        try:
            conn = self._conn()
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise FeedbackStoreError(f"feedback store {self.path} is damaged (quick_check: {check})")
            # Refuse someone else's 'feedback' table before writing anything to the file.
            columns = {row[1] for row in conn.execute("PRAGMA table_info(feedback)")}
            missing = set(COLUMNS) - columns
            if columns and missing:
                raise FeedbackStoreError(f"{self.path} has a 'feedback' table without columns "
                                         f"{sorted(missing)}; not a USER Studio store, left untouched")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise FeedbackStoreError(f"feedback store {self.path} could not switch to WAL mode ({mode})")
            with self._write() as tx:
                tx.executescript_in_tx(_SCHEMA)
                tx.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            self.close()
            raise FeedbackStoreError(f"cannot open feedback store {self.path}: {exc}") from exc
        except FeedbackStoreError:
            self.close()
            raise

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        # A connection must not cross a fork, so key it by pid as well as by thread.
        if getattr(local, "conn", None) is None or local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA synchronous = FULL")
            local.conn, local.pid = conn, os.getpid()
            with self._lock:
                self._connections.append(conn)
        return local.conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[_Tx]:
        conn = self._conn()
        # IMMEDIATE takes the write lock up front, so the busy timeout applies instead of a
        # mid-transaction "database is locked" when two writers upgrade at once.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield _Tx(conn)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FeedbackStore({str(self.path)!r})"

    # -- listeners -------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event, record)`` after each committed change; returns an unsubscribe function.

        ``event`` is ``"add"`` (a new record, not a deduplicated resubmission) or ``"delete"``. A failing
        listener is logged and never undoes or fails the change, which is already durable.
        """
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, event: str, record: dict[str, Any]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event, dict(record))
            except Exception:
                logger.exception("feedback listener %r failed on %s of record %s", listener, event,
                                 record.get("id"))

    # -- writing ---------------------------------------------------------------------------------

    def add(self, kind: str, anchor: str, positive: str | None = None, negative: str | None = None,
            score: float | None = None, label: str | None = None, user: str | None = None,
            comment: str | None = None, *, tab: str | None = None, query_prefix: str | None = None,
            passage_prefix: str | None = None, model_id: str | None = None,
            model_revision: str | None = None) -> int:
        """Store one judgment and return its id; the same judgment by the same user returns the first id."""
        record = self.validator.clean(
            kind, anchor, positive, negative, score, label, user, comment, tab=tab,
            query_prefix=query_prefix, passage_prefix=passage_prefix, model_id=model_id,
            model_revision=model_revision)
        record["created_at"] = utc_now()
        record["app_version"] = __version__
        record["content_hash"] = content_hash(record)
        record_id, created = self._insert(record)
        if created:
            self._notify("add", {"id": record_id, **record})
        return record_id

    def _insert(self, record: dict[str, Any]) -> tuple[int, bool]:
        names = [c for c in COLUMNS if c != "id"]
        sql = (f"INSERT INTO feedback ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
               "ON CONFLICT(content_hash) DO NOTHING")
        try:
            with self._write() as tx:
                cur = tx.conn.execute(sql, [record[c] for c in names])
                if cur.rowcount == 1:
                    return int(cur.lastrowid), True
                row = tx.conn.execute("SELECT id FROM feedback WHERE content_hash = ?",
                                      (record["content_hash"],)).fetchone()
                return int(row[0]), False
        except sqlite3.Error as exc:
            raise FeedbackStoreError(f"could not write to feedback store {self.path}: {exc}") from exc

    def import_records(self, records: Iterable[dict[str, Any]], *, notify: bool = False) -> ImportResult:
        """Insert records exported elsewhere (another replica, a backup), deduplicated by content hash.

        Each record is validated like :meth:`add` (invalid ones are counted as rejected and skipped);
        its ``created_at``, ``app_version`` and ``model_revision`` are kept; the hash is recomputed.
        """
        cleaned = []
        rejected = 0
        for raw in records:
            try:
                record = self.validator.clean(
                    raw.get("kind"), raw.get("anchor"), raw.get("positive"), raw.get("negative"),
                    raw.get("score"), raw.get("label"), raw.get("user"), raw.get("comment"),
                    tab=raw.get("tab"), query_prefix=raw.get("query_prefix"),
                    passage_prefix=raw.get("passage_prefix"), model_id=raw.get("model_id"),
                    model_revision=raw.get("model_revision"))
            except (ValueError, AttributeError) as exc:
                rejected += 1
                logger.warning("skipping an invalid imported record: %s", exc)
                continue
            created_at = raw.get("created_at")
            record["created_at"] = created_at if isinstance(created_at, str) and created_at else utc_now()
            version = raw.get("app_version")
            record["app_version"] = version if isinstance(version, str) else None
            record["content_hash"] = content_hash(record)
            cleaned.append(record)
        added: list[dict[str, Any]] = []
        names = [c for c in COLUMNS if c != "id"]
        sql = (f"INSERT INTO feedback ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
               "ON CONFLICT(content_hash) DO NOTHING")
        try:
            with self._write() as tx:
                for record in cleaned:
                    cur = tx.conn.execute(sql, [record[c] for c in names])
                    if cur.rowcount == 1:
                        added.append({"id": int(cur.lastrowid), **record})
        except sqlite3.Error as exc:
            raise FeedbackStoreError(f"could not write to feedback store {self.path}: {exc}") from exc
        if notify:
            for record in added:
                self._notify("add", record)
        return ImportResult(added=len(added), duplicates=len(cleaned) - len(added), rejected=rejected)

    def delete(self, record_id: int, user: str | None) -> bool:
        """Delete one judgment of ``user`` (the UI's undo). False if there is no such record.

        Raises :class:`NotOwnerError` when the record belongs to someone else.
        """
        owner = JudgmentValidator._field("user", user) or ANONYMOUS
        try:
            with self._write() as tx:
                row = tx.conn.execute("SELECT * FROM feedback WHERE id = ?", (int(record_id),)).fetchone()
                if row is None:
                    return False
                if row["user"] != owner:
                    raise NotOwnerError(f"record {record_id} belongs to another user; {owner!r} cannot delete it")
                tx.conn.execute("DELETE FROM feedback WHERE id = ?", (int(record_id),))
        except sqlite3.Error as exc:
            raise FeedbackStoreError(f"could not delete from feedback store {self.path}: {exc}") from exc
        self._notify("delete", dict(row))
        return True

    def delete_user(self, user: str | None) -> int:
        """Delete every judgment of ``user`` (a "forget me" request); returns how many went."""
        owner = JudgmentValidator._field("user", user) or ANONYMOUS
        try:
            with self._write() as tx:
                rows = tx.conn.execute("SELECT * FROM feedback WHERE user = ?", (owner,)).fetchall()
                tx.conn.execute("DELETE FROM feedback WHERE user = ?", (owner,))
        except sqlite3.Error as exc:
            raise FeedbackStoreError(f"could not delete from feedback store {self.path}: {exc}") from exc
        for row in rows:
            self._notify("delete", dict(row))
        return len(rows)

    # -- reading ---------------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise FeedbackStoreError(f"could not read feedback store {self.path}: {exc}") from exc

    def count(self, kind: str | None = None, user: str | None = None) -> int:
        """Number of records, optionally of one kind and/or one user."""
        where, params = _filters(kind=kind, user=user)
        return int(self._query(f"SELECT COUNT(*) FROM feedback{where}", params)[0][0])

    def get(self, record_id: int) -> dict[str, Any] | None:
        """One record as a dict, or None."""
        rows = self._query("SELECT * FROM feedback WHERE id = ?", (int(record_id),))
        return dict(rows[0]) if rows else None

    def rows(self, kind: str | Sequence[str] | None = None, user: str | None = None, tab: str | None = None,
             limit: int | None = None, *, newest_first: bool = False) -> list[dict[str, Any]]:
        """Records as dicts in id order (newest first if asked); ``limit`` keeps the first N of that order."""
        where, params = _filters(kind=kind, user=user, tab=tab)
        sql = f"SELECT * FROM feedback{where} ORDER BY id {'DESC' if newest_first else 'ASC'}"
        if limit is not None:
            if int(limit) < 0:
                raise ValueError(f"limit must be >= 0, got {limit}")
            sql += f" LIMIT {int(limit)}"
        return [dict(row) for row in self._query(sql, params)]

    def records(self, kind: str | Sequence[str] | None = None, user: str | None = None,
                tab: str | None = None, limit: int | None = None, *, newest_first: bool = False):
        """Records as a pandas DataFrame with :data:`COLUMNS` (see :meth:`rows`)."""
        return records_frame(self.rows(kind, user, tab, limit, newest_first=newest_first))

    def counts(self) -> dict[str, Any]:
        """``{"total": n, "by_kind": {...}, "by_user": {...}, "by_tab": {...}}``; a missing tab counts as ''."""
        out: dict[str, Any] = {"total": self.count()}
        for column in ("kind", "user", "tab"):
            rows = self._query(
                f"SELECT COALESCE({column}, ''), COUNT(*) FROM feedback GROUP BY 1 ORDER BY 2 DESC, 1")
            out[f"by_{column}"] = {row[0]: int(row[1]) for row in rows}
        return out

    def integrity_check(self) -> str:
        """SQLite's full ``PRAGMA integrity_check``: ``"ok"`` for a sound file."""
        return "; ".join(str(row[0]) for row in self._query("PRAGMA integrity_check"))


class _Tx:
    """The connection inside a write transaction (``executescript`` would commit it, so split statements)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def executescript_in_tx(self, script: str) -> None:
        for statement in script.split(";"):
            if statement.strip():
                self.conn.execute(statement)


def _filters(**filters: Any) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, value in filters.items():
        if value is None:
            continue
        if column == "kind":
            kinds = [value] if isinstance(value, str) else list(value)
            unknown = [k for k in kinds if k not in KINDS]
            if unknown:
                raise ValueError(f"unknown kind {unknown[0]!r}; valid kinds: {', '.join(KINDS)}")
            clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        else:
            clauses.append(f"{column} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def records_frame(rows: Iterable[dict[str, Any]]):
    """A pandas DataFrame of record dicts, with :data:`COLUMNS` even when empty."""
    import pandas as pd

    return pd.DataFrame(list(rows), columns=list(COLUMNS))


# -- export ----------------------------------------------------------------------------------------

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
_NEEDS = {
    "pairs": "relevant or similar judgments",
    "triplets": "a relevant/similar and a not_relevant/dissimilar judgment on the same anchor",
    "scores": "score, similar or dissimilar judgments",
    "labels": "label judgments",
}
# Spreadsheets run a cell starting with these as a formula (CSV injection).
CSV_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\x00")


def with_prefix(text: str, prefix: str | None) -> str:
    """``prefix + text``, unless there is no prefix or the text already starts with it."""
    if not prefix or text.startswith(prefix):
        return text
    return prefix + text


def csv_safe(value: Any) -> Any:
    """Quote a string cell that a spreadsheet would run as a formula by prefixing ``'``."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_TRIGGERS):
        return "'" + value
    return value


class TrainingRows:
    """Turns judgment records into training rows of one dataset kind (see :func:`export`)."""

    def __init__(self, kind: str, prefixes: str = "apply") -> None:
        if kind not in EXPORT_KINDS:
            raise ValueError(f"unknown export kind {kind!r}; valid kinds: {', '.join(EXPORT_KINDS)}")
        if prefixes not in PREFIX_MODES:
            raise ValueError(f"unknown prefixes mode {prefixes!r}; use one of {', '.join(PREFIX_MODES)}")
        self.kind = kind
        self.prefixes = prefixes

    @property
    def columns(self) -> tuple[str, ...]:
        extra = (QUERY_PREFIX_COLUMN, PASSAGE_PREFIX_COLUMN) if self.prefixes == "columns" else ()
        return EXPORT_COLUMNS[self.kind] + extra

    def build(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        records = [_plain_record(r) for r in records]
        build = getattr(self, f"_{self.kind}")
        return build(records)

    def _row(self, texts: dict[str, str], qp: str | None, pp: str | None, **values: Any) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for column, text in texts.items():
            if self.prefixes == "apply":
                prefix = qp if PROMPT_COLUMNS[self.kind][column] == QUERY_PREFIX_COLUMN else pp
                text = with_prefix(text, prefix)
            row[column] = text
        row.update(values)
        if self.prefixes == "columns":
            row[QUERY_PREFIX_COLUMN] = qp or ""
            row[PASSAGE_PREFIX_COLUMN] = pp or ""
        return row

    def _pairs(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows, seen = [], set()
        for r in records:
            if r["kind"] not in ("relevant", "similar") or not r.get("positive"):
                continue
            key = (r["anchor"], r["positive"], r.get("query_prefix"), r.get("passage_prefix"))
            if key not in seen:
                seen.add(key)
                rows.append(self._row({"anchor": r["anchor"], "positive": r["positive"]}, *key[2:]))
        return rows

    def _triplets(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Group by anchor and prefixes so a triplet never mixes texts judged under different prompts.
        groups: dict[tuple, tuple[dict[str, None], dict[str, None]]] = {}
        for r in records:
            key = (r["anchor"], r.get("query_prefix"), r.get("passage_prefix"))
            positives, negatives = groups.setdefault(key, ({}, {}))
            if r["kind"] in ("relevant", "similar"):
                if r.get("positive"):
                    positives[r["positive"]] = None
                if r.get("negative"):
                    negatives[r["negative"]] = None
            elif r["kind"] in ("not_relevant", "dissimilar") and r.get("positive"):
                negatives[r["positive"]] = None
        rows = []
        for (anchor, qp, pp), (positives, negatives) in groups.items():
            # Judges disagreeing on a text make it neither a positive nor a negative.
            conflicted = positives.keys() & negatives.keys()
            for pos in positives:
                for neg in negatives:
                    if pos not in conflicted and neg not in conflicted:
                        rows.append(self._row({"anchor": anchor, "positive": pos, "negative": neg}, qp, pp))
        return rows

    def _scores(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = []
        for r in records:
            if r["kind"] == "score" and r.get("score") is not None:
                value = float(r["score"]) / SCORE_MAX
            elif r["kind"] == "similar":
                value = 1.0
            elif r["kind"] == "dissimilar":
                value = 0.0
            else:
                continue
            if r.get("positive"):
                rows.append(self._row({"sentence1": r["anchor"], "sentence2": r["positive"]},
                                      r.get("query_prefix"), r.get("passage_prefix"), score=value))
        return rows

    def _labels(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows, seen = [], set()
        for r in records:
            if r["kind"] != "label" or not r.get("label"):
                continue
            key = (r["anchor"], r["label"], r.get("query_prefix"), r.get("passage_prefix"))
            if key not in seen:
                seen.add(key)
                rows.append(self._row({"text": r["anchor"]}, key[2], key[3], label=r["label"]))
        return rows


def _plain_record(record: Any) -> dict[str, Any]:
    record = dict(record)
    for key, value in record.items():
        # DataFrame rows spell a missing value as NaN (or pd.NA); treat those as None.
        if value is not None and not isinstance(value, str | int) and _is_missing(value):
            record[key] = None
    if "kind" not in record or "anchor" not in record:
        raise ValueError("each record needs at least 'kind' and 'anchor' (as FeedbackStore.rows() gives)")
    return record


def _is_missing(value: Any) -> bool:
    try:
        return bool(value != value)  # NaN and pd.NA
    except (TypeError, ValueError):
        return False


def _records_of(source: Any) -> list[dict[str, Any]]:
    if isinstance(source, FeedbackStore):
        return source.rows()
    if hasattr(source, "to_dict") and hasattr(source, "columns"):  # a DataFrame, without importing pandas
        return source.to_dict("records")
    if isinstance(source, str | os.PathLike):
        raise ValueError("export() takes a FeedbackStore or records, not a path; open FeedbackStore(path) first")
    return list(source)


def export(store_or_records: FeedbackStore | Iterable[dict[str, Any]] | Any, fmt: str,
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
      text) and the passage prefix to the others, unless a text already starts with it;
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
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    builder = TrainingRows(kind, prefixes)
    rows = builder.build(_records_of(store_or_records))
    if not rows:
        raise ValueError(f"nothing to export as {kind}: it needs {_NEEDS[kind]}")
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
    if kind not in PROMPT_COLUMNS:
        raise ValueError(f"unknown export kind {kind!r}; valid kinds: {', '.join(EXPORT_KINDS)}")
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


# -- CLI -------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.feedback",
                                     description="Inspect and export USER Studio's human judgments.")
    sub = parser.add_subparsers(dest="command", required=True)
    db_help = f"the feedback store (default: {default_store_path()})"
    p_export = sub.add_parser("export", help="write a training dataset")
    p_export.add_argument("--db", type=Path, default=None, help=db_help)
    p_export.add_argument("--kind", choices=EXPORT_KINDS, default="pairs")
    p_export.add_argument("--format", dest="fmt", choices=EXPORT_FORMATS, default="jsonl")
    p_export.add_argument("--out", type=Path, required=True, help="output file")
    p_export.add_argument("--prefixes", choices=PREFIX_MODES, default="apply",
                          help="prepend the recorded prefixes (apply) or keep them in columns")
    p_stats = sub.add_parser("stats", help="counts by kind, user and tab, as JSON")
    p_stats.add_argument("--db", type=Path, default=None, help=db_help)
    p_count = sub.add_parser("count", help="number of records")
    p_count.add_argument("--db", type=Path, default=None, help=db_help)
    p_count.add_argument("--kind", choices=KINDS, default=None)
    p_count.add_argument("--user", default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m core.feedback``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        # Never create a store from the CLI: a typo in --db should be an error, not an empty database.
        store = FeedbackStore(args.db or default_store_path(), create=False)
        with store:
            if args.command == "export":
                n = export(store, args.fmt, args.out, kind=args.kind, prefixes=args.prefixes)
                print(f"wrote {n} {args.kind} rows to {args.out}")
            elif args.command == "stats":
                print(json.dumps(store.counts(), ensure_ascii=False, indent=2))
            else:
                print(store.count(kind=args.kind, user=args.user))
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
