"""Bring a database to the newest schema with Alembic, in place, when a store opens.

Every replica runs this at start; the first one migrates and the others find the work done: on
SQLite the migration holds the file's write lock, on PostgreSQL a transaction-scoped advisory lock.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

# Alembic says at INFO what it sets up and runs on every open; the app logs the migrations it ran itself.
# Set before alembic is imported: it logs its plugins' set-up while importing, which printed seven INFO
# lines above the one-line message of an app stopped by a wrong --store.
for _name in ("alembic", "alembic.runtime.migration", "alembic.runtime.plugins"):
    logging.getLogger(_name).setLevel(logging.WARNING)

from typing import TYPE_CHECKING  # noqa: E402

from sqlalchemy import Connection, inspect, text  # noqa: E402

from core.storage.database import Database  # noqa: E402

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions (test_store_migrations checks it against Alembic's own
# head). Known without importing Alembic, so opening a store that is up to date costs no Alembic import
# (0.46 s on these machines): the kill -9 durability tests start 50 store-opening children.
HEAD = "0002"
# pg_advisory_xact_lock's key for "migrating": any constant the app uses for nothing else.
_MIGRATION_LOCK = 0x55534552  # "USER"


def _config() -> Config:
    """A fresh config each time: it carries the connection of one migration."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest schema version this code knows."""
    return HEAD


def current(conn: Connection) -> str | None:
    """The schema version a database is at (None: never migrated, e.g. a store from before Alembic)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(db: Database) -> bool:
    """Migrate ``db`` to :func:`head`; True when anything was done. A database newer than this code
    is refused (an old replica must not write to a schema it does not know)."""
    with db.reading() as conn:
        if current(conn) == head():
            return False
    with db.transaction() as conn:
        if not db.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        found = current(conn)
        if found == head():
            return False
        known = {script.revision for script in _scripts().walk_revisions()}
        if found is not None and found not in known:
            raise RuntimeError(f"{db.name} has schema version {found!r}, newer than this app knows "
                               f"({head()}); run the newer app")
        from alembic import command

        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    log.info("%s: schema upgraded from %s to %s", db.name, found or "the store before Alembic", head())
    return True
