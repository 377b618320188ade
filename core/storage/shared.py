"""What every replica on one database shares: secrets made once, and locks held by a heartbeat."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import exc, select, update

from core.storage.database import Database
from core.storage.schema import app_locks, app_secrets


def shared_secret(db: Database, name: str, nbytes: int = 32, *, initial: bytes | None = None) -> bytes:
    """The secret ``name``, made by the first replica that asks (``initial``, else ``nbytes`` random
    bytes), read by the rest.

    Two replicas starting at once both try to insert; the database keeps the first, and both read it back.
    """
    try:
        with db.transaction() as conn:
            fresh = base64.b64encode(initial or secrets.token_bytes(nbytes)).decode("ascii")
            conn.execute(db.insert(app_secrets).values(name=name, value=fresh)
                         .on_conflict_do_nothing(index_elements=["name"]))
            value = conn.execute(select(app_secrets.c.value).where(app_secrets.c.name == name)).scalar_one()
    except exc.SQLAlchemyError as error:
        raise db.error(error, "read the shared secrets of") from error
    key = base64.b64decode(value)
    if len(key) < nbytes // 2:
        raise ValueError(f"the shared secret {name!r} in {db.name} is damaged ({len(key)} bytes)")
    return key


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock now."""

    holder: str
    owner: str | None
    acquired_at: float
    expires_at: float


class HeartbeatLock:
    """A named lock in the database: held while renewed, lapsed ``ttl_s`` after its holder stops.

    A replica that dies (SIGKILL, a lost machine) renews nothing, so its lock lapses by itself and another
    may take it. Row-locked on PostgreSQL, under the write lock on SQLite: two replicas never both hold it.
    """

    def __init__(self, db: Database, name: str, *, ttl_s: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.db, self.name, self.ttl_s, self.clock = db, name, float(ttl_s), clock

    def acquire(self, holder: str, owner: str | None = None) -> LockHolder | None:
        """Take the lock for ``holder``: None when taken, else the one who holds it (and it is not taken)."""
        now = self.clock()
        try:
            with self.db.transaction() as conn:
                conn.execute(self.db.insert(app_locks).values(name=self.name)
                             .on_conflict_do_nothing(index_elements=["name"]))
                row = self.db.lock_row(conn, app_locks, name=self.name)
                if row.holder and row.holder != holder and (row.expires_at or 0) > now:
                    return LockHolder(row.holder, row.owner, row.acquired_at, row.expires_at)
                conn.execute(update(app_locks).where(app_locks.c.name == self.name).values(
                    holder=holder, owner=owner, acquired_at=now, expires_at=now + self.ttl_s))
        except exc.SQLAlchemyError as error:
            raise self.db.error(error, "take a lock in") from error
        return None

    def renew(self, holder: str) -> bool:
        """Extend ``holder``'s lock; False when it lapsed and someone else took it."""
        now = self.clock()
        try:
            with self.db.transaction() as conn:
                done = conn.execute(update(app_locks).where(app_locks.c.name == self.name,
                                                            app_locks.c.holder == holder)
                                    .values(expires_at=now + self.ttl_s)).rowcount
        except exc.SQLAlchemyError as error:
            raise self.db.error(error, "renew a lock in") from error
        return bool(done)

    def release(self, holder: str) -> None:
        try:
            with self.db.transaction() as conn:
                conn.execute(update(app_locks).where(app_locks.c.name == self.name, app_locks.c.holder == holder)
                             .values(holder=None, owner=None, expires_at=None))
        except exc.SQLAlchemyError as error:
            raise self.db.error(error, "release a lock in") from error

    def held(self) -> LockHolder | None:
        """The live holder, or None."""
        with self.db.reading() as conn:
            row = conn.execute(select(app_locks).where(app_locks.c.name == self.name)).first()
        if row is None or not row.holder or (row.expires_at or 0) <= self.clock():
            return None
        return LockHolder(row.holder, row.owner, row.acquired_at, row.expires_at)
