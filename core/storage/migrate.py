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

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import Connection, text  # noqa: E402

from core.storage.database import Database  # noqa: E402

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock's key for "migrating": any constant the app uses for nothing else.
_MIGRATION_LOCK = 0x55534552  # "USER"


def _config() -> Config:
    """A fresh config each time: it carries the connection of one migration."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest schema version this code knows."""
    revision = _scripts().get_current_head()
    assert revision is not None
    return revision


def current(conn: Connection) -> str | None:
    """The schema version a database is at (None: never migrated, e.g. a store from before Alembic)."""
    return MigrationContext.configure(conn).get_current_revision()


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
        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    log.info("%s: schema upgraded from %s to %s", db.name, found or "the store before Alembic", head())
    return True
