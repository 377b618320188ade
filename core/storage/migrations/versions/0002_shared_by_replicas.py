"""What replicas on one database share: secrets, locks, training jobs, model versions (issue 22).

The SQLite trigger that dropped a judgment's campaign link is replaced by the judgment store's own
delete (one code path for both databases).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from core.storage import schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = (schema.app_secrets, schema.app_locks, schema.training_jobs, schema.model_versions)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS campaign_judgment_gone")
    for table in TABLES:
        table.create(bind, checkfirst=True)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table.name)
