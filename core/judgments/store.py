"""``JudgmentStore``: judgments in one database (a SQLite file by default, or PostgreSQL), durable,
shared by threads, processes and app replicas.

Every statement is SQLAlchemy Core on :class:`core.storage.Database`, the same for both databases;
the schema is migrated in place by Alembic when the store opens (``core/storage/migrations``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, distinct, func, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

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
from core.storage import Database, StoreError, StoreUnavailableError, migrate, store_url
from core.storage.database import POOL_SIZE
from core.storage.schema import campaign_judgments, feedback

if TYPE_CHECKING:  # pandas is imported when a frame is asked for
    import pandas as pd

logger = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
_INSERT_COLUMNS = [c for c in COLUMNS if c != "id"]

# The store's errors are the database layer's: a JudgmentStoreError names the file or server and the
# cause; its subclass StoreUnavailableError says the database did not answer (try again, nothing changed).
JudgmentStoreError = StoreError
__all__ = ["ImportResult", "JudgmentStore", "JudgmentStoreError", "NotOwnerError", "StoreUnavailableError"]


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
Within = Callable[[Connection, int, Judgment], None]


class JudgmentStore:
    """Human judgments in a database: ``location`` is a SQLite file's path (the default:
    ``<data dir>/feedback.sqlite``) or a SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``).

    On SQLite: WAL mode, synchronous=FULL (a returned add survives kill -9), ``BEGIN IMMEDIATE`` plus a
    30 s busy timeout between processes; a file that is not a SQLite database is refused with
    :class:`JudgmentStoreError` and never written to. On PostgreSQL: any number of app replicas share it.
    """

    def __init__(self, location: str | os.PathLike[str] | URL | None = None, *, create: bool = True,
                 max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
                 max_comment_chars: int = DEFAULT_MAX_COMMENT_CHARS, pool_size: int = POOL_SIZE) -> None:
        url = location if isinstance(location, URL) else store_url(
            location if location is not None else default_store_path())
        self.validator = JudgmentValidator(max_text_chars, max_comment_chars)
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        if url.get_backend_name() == "sqlite":
            self._check_file(Path(url.database or ""), create)
        self.db = Database(url, pool_size=pool_size)
        self._initialise()

    @property
    def path(self) -> Path | None:
        """The SQLite file (None on a database server)."""
        return self.db.sqlite_path

    @property
    def name(self) -> str:
        """The file, or the server URL without its password."""
        return self.db.name

    # -- opening ---------------------------------------------------------------------------------

    @staticmethod
    def _check_file(path: Path, create: bool) -> None:
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
            if self.db.is_sqlite:
                self._check_sqlite()
            migrate.upgrade(self.db)
        except sa_exc.SQLAlchemyError as exc:
            self.close()
            error = self.db.error(exc, "open feedback store")
            raise error from exc
        except JudgmentStoreError:
            self.close()
            raise
        except RuntimeError as exc:  # a schema newer than this code
            self.close()
            raise JudgmentStoreError(str(exc)) from exc

    def _check_sqlite(self) -> None:
        with self.db.reading() as conn:
            check = conn.exec_driver_sql("PRAGMA quick_check").scalar()
            if check != "ok":
                raise JudgmentStoreError(f"feedback store {self.name} is damaged (quick_check: {check})")
            # Refuse someone else's 'feedback' table before writing anything to the file.
            columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(feedback)")}
            missing = set(COLUMNS) - columns
            if columns and missing:
                raise JudgmentStoreError(f"{self.name} has a 'feedback' table without columns "
                                         f"{sorted(missing)}; not a USER Studio store, left untouched")
        # Outside any transaction (SQLite refuses the switch inside one), on a raw pooled connection.
        raw = self.db.engine.raw_connection()
        try:
            mode = raw.cursor().execute("PRAGMA journal_mode=WAL").fetchone()[0]
        finally:
            raw.close()
        if str(mode).lower() != "wal":
            raise JudgmentStoreError(f"feedback store {self.name} could not switch to WAL mode ({mode})")

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or in use (a long-running server must keep this flat)."""
        return self.db.open_connections

    def transaction(self) -> contextlib.AbstractContextManager[Connection]:
        """A write transaction on this store's database, for stores that live beside the judgments
        (campaigns): committed when the block ends, rolled back on error."""
        return self.db.transaction()

    def reading(self) -> contextlib.AbstractContextManager[Connection]:
        """A pooled connection for reads, for stores that live beside the judgments."""
        return self.db.reading()

    @contextlib.contextmanager
    def _write(self, doing: str = "write to") -> Iterator[Connection]:
        try:
            with self.db.transaction() as conn:
                yield conn
        except sa_exc.SQLAlchemyError as exc:
            raise self.db.error(exc, f"{doing} feedback store") from exc

    def close(self) -> None:
        """Close every connection: idle ones now, ones in use when their operation ends.

        The store stays usable: a later operation opens a fresh connection.
        """
        self.db.close()

    def __enter__(self) -> JudgmentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JudgmentStore({self.name!r})"

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
        with self._write() as conn:
            inserted = self._insert(conn, record)
            if inserted is not None:
                new_id, created = inserted, True
            else:
                new_id = int(conn.execute(select(feedback.c.id).where(
                    feedback.c.content_hash == record["content_hash"])).scalar_one())
                created = False
            if within is not None:
                within(conn, new_id, stored.replace(id=new_id))
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
        with self._write() as conn:
            for judgment in cleaned:
                new_id = self._insert(conn, judgment.to_record())
                if new_id is not None:
                    added.append(judgment.replace(id=new_id))
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
        with self._write("delete from") as conn:
            row = conn.execute(select(feedback).where(feedback.c.id == rid)).mappings().first()
            if row is None:
                return False
            if row["user"] != owner:
                raise NotOwnerError(Message("judgment_not_yours", id=rid))
            _delete(conn, [rid])
        self._notify("delete", Judgment.from_record(dict(row)))
        return True

    def delete_user(self, user: str | None) -> int:
        """Delete every judgment of ``user`` (a "forget me" request); returns how many went."""
        owner = JudgmentValidator.field("user", user) or ANONYMOUS
        with self._write("delete from") as conn:
            rows = conn.execute(select(feedback).where(feedback.c.user == owner)).mappings().all()
            _delete(conn, [row["id"] for row in rows])
        for row in rows:
            self._notify("delete", Judgment.from_record(dict(row)))
        return len(rows)

    # -- reading ---------------------------------------------------------------------------------

    def _insert(self, conn: Connection, record: dict[str, Any]) -> int | None:
        """Insert one record; its new id, or None when the same content is stored already."""
        statement = (self.db.insert(feedback).values({c: record[c] for c in _INSERT_COLUMNS})
                     .on_conflict_do_nothing(index_elements=["content_hash"]).returning(feedback.c.id))
        new_id = conn.execute(statement).scalar()
        return None if new_id is None else int(new_id)

    def _query(self, statement: Any) -> list[Any]:
        try:
            with self.db.reading() as conn:
                return list(conn.execute(statement).mappings())
        except sa_exc.SQLAlchemyError as exc:
            raise self.db.error(exc, "read feedback store") from exc

    def count(self, kind: str | None = None, user: str | None = None) -> int:
        """Number of records, optionally of one kind and/or one user."""
        rows = self._query(select(func.count().label("n")).select_from(feedback).where(*_filters(kind=kind, user=user)))
        return int(rows[0]["n"])

    def get(self, record: Any) -> dict[str, Any] | None:
        """One record as a dict with :data:`COLUMNS`, or None."""
        rows = self._query(select(feedback).where(feedback.c.id == record_id(record)))
        return dict(rows[0]) if rows else None

    def rows(self, kind: str | Sequence[str] | None = None, user: str | None = None, tab: str | None = None,
             limit: int | None = None, *, newest_first: bool = False) -> list[dict[str, Any]]:
        """Records as dicts in id order (newest first if asked); ``limit`` keeps the first N of that order."""
        query = select(feedback).where(*_filters(kind=kind, user=user, tab=tab))
        query = query.order_by(feedback.c.id.desc() if newest_first else feedback.c.id.asc())
        if limit is not None:
            if int(limit) < 0:
                raise ValueError(f"limit must be >= 0, got {limit}")
            query = query.limit(int(limit))
        return [dict(row) for row in self._query(query)]

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
        users = self._query(select(func.count(distinct(feedback.c.user)).label("n")))[0]["n"]
        out: dict[str, Any] = {"total": self.count(), "users": int(users)}
        for name in ("kind", "tab", "user") if by_user else ("kind", "tab"):
            value = func.coalesce(feedback.c[name], "").label("value")
            n = func.count().label("n")
            query = select(value, n).group_by(value).order_by(n.desc(), value)
            if user is not None and name != "user":
                query = query.where(feedback.c.user == user)
            out[f"by_{name}"] = {row["value"]: int(row["n"]) for row in self._query(query)}
        return out

    def integrity_check(self) -> str:
        """SQLite's full ``PRAGMA integrity_check`` (``"ok"`` for a sound file); on a server, ``"ok"``
        when it answers (PostgreSQL checks its own pages)."""
        if not self.db.is_sqlite:
            self._query(select(text("1")))
            return "ok"
        return "; ".join(str(row[0]) for row in self._query_raw("PRAGMA integrity_check"))

    def _query_raw(self, sql: str) -> list[Any]:
        try:
            with self.db.reading() as conn:
                return list(conn.exec_driver_sql(sql))
        except sa_exc.SQLAlchemyError as exc:
            raise self.db.error(exc, "read feedback store") from exc


def _delete(conn: Connection, ids: Sequence[int]) -> None:
    """Delete judgments and their campaign links (core/campaigns) in one transaction, as a foreign key's
    ON DELETE CASCADE would: a link never outlives its judgment."""
    for start in range(0, len(ids), 500):  # bounded IN lists
        chunk = list(ids[start:start + 500])
        conn.execute(delete(campaign_judgments).where(campaign_judgments.c.judgment_id.in_(chunk)))
        conn.execute(delete(feedback).where(feedback.c.id.in_(chunk)))


def _filters(**filters: Any) -> list[Any]:
    clauses = []
    for column, value in filters.items():
        if value is None:
            continue
        if column == "kind":
            kinds = [value] if isinstance(value, str) else list(value)
            unknown = [k for k in kinds if k not in KINDS]
            if unknown:
                check_choice("kind", unknown[0], KINDS)
            clauses.append(feedback.c.kind.in_(kinds))
        else:
            clauses.append(feedback.c[column] == value)
    return clauses


def records_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """A pandas DataFrame of record dicts, with :data:`COLUMNS` even when empty."""
    import pandas as pd

    return pd.DataFrame(list(rows), columns=list(COLUMNS))
