"""Alembic's environment: the app hands over its own connection (core/storage/migrate.py).

Run from the app, never from a separate service: ``upgrade()`` migrates each store when it opens.
"""

from alembic import context

from core.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
