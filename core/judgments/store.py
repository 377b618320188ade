"""``JudgmentStore``: judgments in one SQLite file, durable, shared by threads and processes.

Connections are pooled, not kept per thread: Gradio's worker threads come and go (about 10 s idle),
and a connection per thread leaked a file descriptor each time (27 -> 154 over 300 requests).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import __version__
from core.errors import Message, check_choice
from core.judgments.model import (
    ANONYMOUS,
    COLUMNS,
    DEFAULT_MAX_COMMENT_CHARS,
    DEFAULT_MAX_TEXT_CHARS,
    KINDS,
    Judgment,
    JudgmentValidator,
    record_id,
)
from core.judgments.paths import DATA_DIR_ENV, default_store_path, utc_now

if TYPE_CHECKING:  # pandas is imported when a frame is asked for
    import pandas as pd

logger = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1
# Idle connections kept for reuse; more are opened under load and closed when handed back. The app
# runs a handful of handlers at once (queue concurrency 2 per event), so 4 covers it.
POOL_SIZE = 4

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
_INSERT_COLUMNS = [c for c in COLUMNS if c != "id"]
_INSERT = (f"INSERT INTO feedback ({', '.join(_INSERT_COLUMNS)}) VALUES ({', '.join('?' * len(_INSERT_COLUMNS))}) "
           "ON CONFLICT(content_hash) DO NOTHING")


class JudgmentStoreError(ValueError):
    """The store file is missing, damaged, foreign or cannot be written; the message names the path."""


class NotOwnerError(PermissionError):
    """A user tried to change a judgment that another user made."""


@dataclass(frozen=True)
class ImportResult:
    """What :meth:`JudgmentStore.import_records` did with a batch of records."""

    added: int
    duplicates: int
    rejected: int


Listener = Callable[[str, Judgment], None]
# Work that must commit together with a judgment (see JudgmentStore.add).
Within = Callable[[sqlite3.Connection, int, Judgment], None]


class JudgmentStore:
    """Human judgments in one SQLite file (WAL mode, synchronous=FULL: a returned add survives kill -9).

    Safe to share between threads (a small pool of connections) and processes (``BEGIN IMMEDIATE``
    plus a 30 s busy timeout). A file that is not a SQLite database is refused with
    :class:`JudgmentStoreError` and never written to.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True,
                 max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
                 max_comment_chars: int = DEFAULT_MAX_COMMENT_CHARS, pool_size: int = POOL_SIZE) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.validator = JudgmentValidator(max_text_chars, max_comment_chars)
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._pool_size = pool_size
        self._pool_pid = os.getpid()
        self._lock = threading.Lock()
        self._open = 0  # connections open now, idle or in use
        self._generation = 0  # close() bumps it: connections in use then are closed when handed back
        self._listeners: list[Listener] = []
        self._check_file(create)
        self._initialise()

    # -- opening ---------------------------------------------------------------------------------

    def _check_file(self, create: bool) -> None:
        path = self.path
        if path.is_dir():
            raise JudgmentStoreError(f"feedback store {path} is a directory, not a SQLite file")
        if not path.exists():
            if not create:
                raise JudgmentStoreError(f"no feedback store at {path}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise JudgmentStoreError(f"cannot create the folder for feedback store {path}: {exc}") from exc
            return
        try:
            with path.open("rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise JudgmentStoreError(f"cannot read feedback store {path}: {exc}") from exc
        # Check the header ourselves so that nothing (not even a journal-mode change) touches a foreign file.
        if head and head != SQLITE_MAGIC:
            raise JudgmentStoreError(
                f"{path} is not a SQLite database (damaged or foreign file); it was left untouched. "
                f"Move it away or set {DATA_DIR_ENV} to another folder.")

    def _initialise(self) -> None:
        try:
            with self._connection() as conn:
                check = conn.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise JudgmentStoreError(f"feedback store {self.path} is damaged (quick_check: {check})")
                # Refuse someone else's 'feedback' table before writing anything to the file.
                columns = {row[1] for row in conn.execute("PRAGMA table_info(feedback)")}
                missing = set(COLUMNS) - columns
                if columns and missing:
                    raise JudgmentStoreError(f"{self.path} has a 'feedback' table without columns "
                                             f"{sorted(missing)}; not a USER Studio store, left untouched")
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise JudgmentStoreError(f"feedback store {self.path} could not switch to WAL mode ({mode})")
            with self._write() as conn:
                for statement in _SCHEMA.split(";"):  # executescript would commit the transaction
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            self.close()
            raise JudgmentStoreError(f"cannot open feedback store {self.path}: {exc}") from exc
        except JudgmentStoreError:
            self.close()
            raise

    def _new_connection(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow a pooled connection for one operation; it goes back (or is closed) afterwards."""
        if self._pool_pid != os.getpid():
            # A connection must not cross a fork: the child starts with an empty pool of its own.
            self._pool, self._pool_pid, self._open = queue.LifoQueue(), os.getpid(), 0
        generation = self._generation
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._new_connection()
            with self._lock:
                self._open += 1
        try:
            yield conn
        finally:
            if conn.in_transaction:  # an interrupted operation must not leave its lock behind
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if generation != self._generation or self._pool.qsize() >= self._pool_size:
                self._discard(conn)
            else:
                self._pool.put(conn)

    def _discard(self, conn: sqlite3.Connection) -> None:
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        with self._lock:
            self._open -= 1

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or in use (a long-running server must keep this flat)."""
        return self._open

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn:
            # IMMEDIATE takes the write lock up front, so the busy timeout applies instead of a
            # mid-transaction "database is locked" when two writers upgrade at once.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A write transaction on this store's file (``BEGIN IMMEDIATE``), for stores that live beside
        the judgments in the same file (campaigns): committed when the block ends, rolled back on error."""
        return self._write()

    def reading(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A pooled connection for reads, for stores that live beside the judgments in the same file."""
        return self._connection()

    def close(self) -> None:
        """Close every connection: idle ones now, ones in use when their operation ends.

        The store stays usable: a later operation opens a fresh connection.
        """
        self._generation += 1
        while True:
            try:
                self._discard(self._pool.get_nowait())
            except queue.Empty:
                break

    def __enter__(self) -> JudgmentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JudgmentStore({str(self.path)!r})"

    # -- listeners -------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event, judgment)`` after each committed change; returns an unsubscribe function.

        ``event`` is ``"add"`` (a new record, not a deduplicated resubmission) or ``"delete"``. A failing
        listener is logged and never undoes or fails the change, which is already durable.
        """
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, event: str, judgment: Judgment) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event, judgment)
            except Exception:
                logger.exception("feedback listener %r failed on %s of record %s", listener, event, judgment.id)

    # -- writing ---------------------------------------------------------------------------------

    def add(self, judgment: Judgment, *, within: Within | None = None) -> int:
        """Store one judgment and return its id; the same judgment by the same user returns the first id.

        ``within(conn, id, judgment)`` runs inside the same write transaction, after the insert: a
        campaign records which item the judgment answers there, so both commit or neither does. If
        it raises, nothing is stored and the error reaches the caller.
        """
        if not isinstance(judgment, Judgment):
            raise TypeError(f"add() takes a Judgment, got {type(judgment).__name__}")
        stored = self.validator.clean(judgment).replace(id=None, created_at=utc_now(), app_version=__version__)
        record = stored.to_record()
        try:
            with self._write() as conn:
                cur = conn.execute(_INSERT, [record[c] for c in _INSERT_COLUMNS])
                if cur.rowcount == 1:
                    assert cur.lastrowid is not None  # an insert that added a row has its id
                    new_id, created = int(cur.lastrowid), True
                else:
                    row = conn.execute("SELECT id FROM feedback WHERE content_hash = ?",
                                       (record["content_hash"],)).fetchone()
                    new_id, created = int(row[0]), False
                if within is not None:
                    within(conn, new_id, stored.replace(id=new_id))
        except sqlite3.Error as exc:
            raise JudgmentStoreError(f"could not write to feedback store {self.path}: {exc}") from exc
        if created:
            self._notify("add", stored.replace(id=new_id))
        return new_id

    def import_records(self, records: Iterable[dict[str, Any] | Judgment], *,
                       notify: bool = False) -> ImportResult:
        """Insert judgments exported elsewhere (another replica, a backup), deduplicated by content hash.

        Each is validated like :meth:`add` (invalid ones are counted as rejected and skipped); its
        ``created_at``, ``app_version`` and ``model_revision`` are kept; the hash is recomputed.
        """
        cleaned: list[Judgment] = []
        rejected = 0
        for raw in records:
            try:
                judgment = raw if isinstance(raw, Judgment) else Judgment.from_record(raw)
                judgment = self.validator.clean(judgment)
            except (ValueError, TypeError) as exc:
                rejected += 1
                logger.warning("skipping an invalid imported record: %s", exc)
                continue
            created_at = judgment.created_at if isinstance(judgment.created_at, str) and judgment.created_at \
                else utc_now()
            version = judgment.app_version if isinstance(judgment.app_version, str) else None
            cleaned.append(judgment.replace(id=None, created_at=created_at, app_version=version))
        added: list[Judgment] = []
        try:
            with self._write() as conn:
                for judgment in cleaned:
                    record = judgment.to_record()
                    cur = conn.execute(_INSERT, [record[c] for c in _INSERT_COLUMNS])
                    if cur.rowcount == 1:
                        assert cur.lastrowid is not None  # an insert that added a row has its id
                        added.append(judgment.replace(id=int(cur.lastrowid)))
        except sqlite3.Error as exc:
            raise JudgmentStoreError(f"could not write to feedback store {self.path}: {exc}") from exc
        if notify:
            for judgment in added:
                self._notify("add", judgment)
        return ImportResult(added=len(added), duplicates=len(cleaned) - len(added), rejected=rejected)

    def delete(self, record: Any, user: str | None) -> bool:
        """Delete one judgment of ``user`` (undo, "delete this record"). False if there is no such record.

        Raises :class:`NotOwnerError` when the record belongs to someone else: the caller must have
        established ``user`` from a trusted identity, never from what the client says it is.
        """
        rid = record_id(record)
        owner = JudgmentValidator.field("user", user) or ANONYMOUS
        try:
            with self._write() as conn:
                row = conn.execute("SELECT * FROM feedback WHERE id = ?", (rid,)).fetchone()
                if row is None:
                    return False
                if row["user"] != owner:
                    raise NotOwnerError(Message("judgment_not_yours", id=rid))
                conn.execute("DELETE FROM feedback WHERE id = ?", (rid,))
        except sqlite3.Error as exc:
            raise JudgmentStoreError(f"could not delete from feedback store {self.path}: {exc}") from exc
        self._notify("delete", Judgment.from_record(dict(row)))
        return True

    def delete_user(self, user: str | None) -> int:
        """Delete every judgment of ``user`` (a "forget me" request); returns how many went."""
        owner = JudgmentValidator.field("user", user) or ANONYMOUS
        try:
            with self._write() as conn:
                rows = conn.execute("SELECT * FROM feedback WHERE user = ?", (owner,)).fetchall()
                conn.execute("DELETE FROM feedback WHERE user = ?", (owner,))
        except sqlite3.Error as exc:
            raise JudgmentStoreError(f"could not delete from feedback store {self.path}: {exc}") from exc
        for row in rows:
            self._notify("delete", Judgment.from_record(dict(row)))
        return len(rows)

    # -- reading ---------------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            with self._connection() as conn:
                return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise JudgmentStoreError(f"could not read feedback store {self.path}: {exc}") from exc

    def count(self, kind: str | None = None, user: str | None = None) -> int:
        """Number of records, optionally of one kind and/or one user."""
        where, params = _filters(kind=kind, user=user)
        return int(self._query(f"SELECT COUNT(*) FROM feedback{where}", params)[0][0])

    def get(self, record: Any) -> dict[str, Any] | None:
        """One record as a dict with :data:`COLUMNS`, or None."""
        rows = self._query("SELECT * FROM feedback WHERE id = ?", (record_id(record),))
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

    def judgments(self, kind: str | Sequence[str] | None = None, user: str | None = None,
                  tab: str | None = None, limit: int | None = None, *,
                  newest_first: bool = False) -> list[Judgment]:
        """Stored judgments (see :meth:`rows`)."""
        return [Judgment.from_record(r) for r in self.rows(kind, user, tab, limit, newest_first=newest_first)]

    def records(self, kind: str | Sequence[str] | None = None, user: str | None = None,
                tab: str | None = None, limit: int | None = None, *, newest_first: bool = False) -> pd.DataFrame:
        """Records as a pandas DataFrame with :data:`COLUMNS` (see :meth:`rows`)."""
        return records_frame(self.rows(kind, user, tab, limit, newest_first=newest_first))

    def counts(self, *, by_user: bool = True, user: str | None = None) -> dict[str, Any]:
        """``{"total", "users", "by_kind", "by_tab"[, "by_user"]}``; a missing tab counts as ''.

        ``by_user=False`` gives aggregates only (no user names), for anyone who is not an admin. ``user``:
        "by_kind" and "by_tab" count that user's judgments only (the ones a review list shows); "total"
        and "users" are everyone's either way.
        """
        out: dict[str, Any] = {"total": self.count(),
                               "users": int(self._query("SELECT COUNT(DISTINCT user) FROM feedback")[0][0])}
        for column in ("kind", "tab", "user") if by_user else ("kind", "tab"):
            mine = user is not None and column != "user"
            rows = self._query(
                f"SELECT COALESCE({column}, ''), COUNT(*) FROM feedback {'WHERE user = ?' if mine else ''} "
                "GROUP BY 1 ORDER BY 2 DESC, 1", (user,) if mine else ())
            out[f"by_{column}"] = {row[0]: int(row[1]) for row in rows}
        return out

    def integrity_check(self) -> str:
        """SQLite's full ``PRAGMA integrity_check``: ``"ok"`` for a sound file."""
        return "; ".join(str(row[0]) for row in self._query("PRAGMA integrity_check"))


def _filters(**filters: Any) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, value in filters.items():
        if value is None:
            continue
        if column == "kind":
            kinds = [value] if isinstance(value, str) else list(value)
            unknown = [k for k in kinds if k not in KINDS]
            if unknown:
                check_choice("kind", unknown[0], KINDS)
            clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        else:
            clauses.append(f"{column} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def records_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """A pandas DataFrame of record dicts, with :data:`COLUMNS` even when empty."""
    import pandas as pd

    return pd.DataFrame(list(rows), columns=list(COLUMNS))
