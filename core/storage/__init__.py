"""The database under every store: one SQLAlchemy Core code path for SQLite and PostgreSQL.

    database.py    Database: engine, pool, transactions, row locks, errors; store_url() reads --store
    schema.py      every table (judgments, campaigns, secrets, locks, training jobs, model versions)
    migrate.py     upgrade(): Alembic migrations in place when a store opens
    shared.py      secrets and heartbeat locks that every replica on the database shares
"""

from core.storage.database import (
    STORE_ENV,
    Database,
    StoreError,
    StoreUnavailableError,
    redact,
    store_url,
)

__all__ = ["STORE_ENV", "Database", "StoreError", "StoreUnavailableError", "redact", "store_url"]
