"""``Database``: one SQLAlchemy engine for the app's tables, on SQLite (the default) or PostgreSQL.

Every store (judgments, campaigns, secrets, locks, training jobs, the model registry's records) goes
through this class and SQLAlchemy Core statements, so the two databases share one code path; what
differs is said here once:

* SQLite: one file in WAL mode with ``synchronous=FULL`` (a returned write survives ``kill -9``);
  writes begin with ``BEGIN IMMEDIATE``, which takes the file's write lock up front and serialises
  writers across threads and processes (the busy timeout applies instead of a mid-transaction
  "database is locked"). Row locks (``FOR UPDATE``) are not rendered: the file lock already holds.
* PostgreSQL: ``READ COMMITTED`` transactions; a statement that must decide alone takes a row lock
  (``SELECT ... FOR UPDATE``, see :meth:`Database.lock_row`). Connections are checked before use
  (``pool_pre_ping``), so a server that restarted is reconnected to by itself.

Connections are pooled (LIFO, a few kept idle): Gradio's worker threads come and go (about 10 s
idle), and a connection per thread leaked a file descriptor each time (27 -> 154 over 300 requests).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, create_engine, event, exc, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url

from core.errors import Message

logger = logging.getLogger(__name__)

STORE_ENV = "USER_STUDIO_STORE"
BUSY_TIMEOUT_S = 30.0
# Idle connections kept for reuse; more are opened under load and closed when handed back. The app
# runs a handful of handlers at once (queue concurrency 2 per event), so 4 covers it.
POOL_SIZE = 4
# A PostgreSQL server that does not answer within this many seconds is reported as away.
CONNECT_TIMEOUT_S = 5
SCHEMES = ("sqlite", "postgresql")


class StoreError(ValueError):
    """The database is missing, damaged, foreign or cannot be written; the message names it."""


class StoreUnavailableError(StoreError):
    """The database did not answer (a server restarting, a network cut): nothing was changed, try again."""


def store_url(value: str | os.PathLike[str]) -> URL:
    """A SQLAlchemy URL from ``--store``: ``sqlite:///path``, ``postgresql+psycopg://...`` or a plain
    path (a SQLite file). A ValueError names what is wrong (a typo must not open some other database)."""
    text = os.fspath(value).strip()
    if not text:
        raise StoreError("the store is empty: give a sqlite:///path or postgresql+psycopg://... URL")
    if "://" not in text:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text):  # "postgresql:/db", "sqlite:x": a URL gone wrong
            raise StoreError(f"{redact(text)} is neither a database URL (scheme://...) nor a file path")
        return URL.create("sqlite", database=str(Path(text).expanduser()))
    try:
        url = make_url(text)
    except exc.ArgumentError:
        raise StoreError(f"{redact(text)} is not a database URL (sqlite:///path or "
                         "postgresql+psycopg://user@host:port/database)") from None
    backend = url.get_backend_name()
    if backend not in SCHEMES:
        raise StoreError(f"{redact(text)}: {backend!r} databases are not supported; use sqlite or postgresql")
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        raise StoreError("a SQLite store needs a file (sqlite:///path/feedback.sqlite), not memory")
    if backend == "postgresql" and url.get_driver_name() != "psycopg":
        url = url.set(drivername="postgresql+psycopg")  # the one driver we install (psycopg 3)
    return url


def redact(url: str | URL) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True) if "://" in str(url) else str(url)
    except exc.ArgumentError:
        return "<an unreadable URL>"


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be reached (try again), not that a statement was wrong."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)):
        text = str(getattr(error, "orig", error)).lower()
        # SQLite's OperationalError also covers "no such table" and "database is locked" (a 30 s wait
        # already passed); only a server that went away is worth retrying by hand.
        return not isinstance(getattr(error, "orig", None), _sqlite_error()) or "unable to open" in text
    return False


def _sqlite_error() -> type[BaseException]:
    import sqlite3

    return sqlite3.Error


class Database:
    """An engine on one database, its pool, its transactions and the statements that differ by dialect."""

    def __init__(self, url: str | os.PathLike[str] | URL, *, pool_size: int = POOL_SIZE) -> None:
        self.url = url if isinstance(url, URL) else store_url(url)
        self.dialect = self.url.get_backend_name()
        self._pid = os.getpid()
        self._lock = threading.Lock()
        # Whether the database was found away and has not answered since: its cause is logged once per
        # outage, and every later refusal during it is one line (users retry; a traceback each is spam).
        self._away = False
        if self.is_sqlite:
            self.engine = create_engine(
                self.url, pool_size=pool_size, max_overflow=-1, pool_use_lifo=True,
                connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = create_engine(
                self.url, pool_size=pool_size, max_overflow=20, pool_use_lifo=True, pool_pre_ping=True,
                connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "user-studio"})
        # A new connection made means the database answers again (the pool replaces broken ones).
        event.listen(self.engine, "connect", self._connected)

    # -- what it is ----------------------------------------------------------------------------------
    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for a server database."""
        return Path(self.url.database or "") if self.is_sqlite else None

    @property
    def name(self) -> str:
        """What messages call this database: the file, or the URL without its password."""
        path = self.sqlite_path
        return str(path) if path is not None else redact(self.url)

    def __repr__(self) -> str:
        return f"Database({self.name!r})"

    # -- connections ---------------------------------------------------------------------------------
    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            # A connection must not cross a fork: the child starts with an empty pool of its own.
            with self._lock:
                if self._pid != os.getpid():
                    self.engine.dispose(close=False)
                    self._pid = os.getpid()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A pooled connection for reads (its implicit transaction is rolled back at the end)."""
        self._check_fork()
        with self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on error. On SQLite it holds
        the file's write lock from its first statement (``BEGIN IMMEDIATE``)."""
        self._check_fork()
        with self.engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn

    def lock_row(self, conn: Connection, table: Table, **key: Any) -> Any:
        """Lock one row until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite's write lock already
        covers it) and return it, or None. Every writer that decides on the same thing locks it first."""
        query = select(table).where(*(table.c[name] == value for name, value in key.items()))
        return conn.execute(query.with_for_update()).first()

    def insert(self, table: Table) -> Any:
        """This dialect's INSERT, which knows ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
        return (sqlite.insert(table) if self.is_sqlite else postgresql.insert(table))

    def ping(self) -> None:
        """Connect and ask for nothing: a StoreError (try-again or naming the cause) if the database
        cannot be reached or refuses us. The connection is closed, not pooled."""
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
        except exc.SQLAlchemyError as error:
            cause = getattr(error, "orig", None) or error
            # One line: libpq adds a tab-indented hint on a line of its own ("Is the server running...").
            raise StoreError(f"cannot reach the database {self.name}: {' '.join(str(cause).split())}") from error
        finally:
            self.engine.dispose()

    def answers(self) -> bool:
        """Whether a pooled connection can run a statement now (a health check; never raises)."""
        try:
            with self.reading() as conn:
                conn.execute(select(1))
            return True
        except exc.SQLAlchemyError:
            return False

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or in use (a long-running server must keep this flat)."""
        pool: Any = self.engine.pool
        return int(pool.checkedin() + pool.checkedout())

    def close(self) -> None:
        """Close idle connections now and ones in use when they are handed back; the database stays usable."""
        self.engine.dispose()

    def _connected(self, _dbapi_connection: Any, _record: Any) -> None:
        if self._away:
            with self._lock:
                was, self._away = self._away, False
            if was:
                logger.warning("%s answers again", self.name)

    # -- errors --------------------------------------------------------------------------------------
    def error(self, error: exc.SQLAlchemyError, doing: str) -> StoreError:
        """The error to raise for a failed ``doing`` ("write to", "read"): a try-again one when the database
        is away (logged with its cause), else one naming this database and the cause."""
        if unavailable(error):
            with self._lock:
                first, self._away = not self._away, True
            if first:
                logger.warning("%s is not answering (could not %s); its cause follows, once until it "
                               "answers again", self.name, doing, exc_info=error)
            else:
                logger.info("%s still not answering: could not %s", self.name, doing)
            return StoreUnavailableError(Message("store_unavailable"))
        cause = getattr(error, "orig", None) or error
        return StoreError(f"could not {doing} {self.name}: {cause}")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is switched off: the "begin" listener issues BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")
