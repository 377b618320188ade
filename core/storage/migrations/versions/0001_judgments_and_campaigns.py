"""The tables main kept in its SQLite file up to f2b4e85: judgments and campaigns.

A store written then already has them (and no version table): each table and index is created only
where it is missing, so such a file is adopted in place, its rows untouched.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from core.storage import schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (schema.feedback, schema.campaigns, schema.campaign_items, schema.campaign_judgments,
          schema.campaign_leases, schema.campaign_skips)


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    for table in TABLES:
        if not inspector.has_table(table.name):
            table.create(bind)
            continue
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        # Stores from before leases recorded addresses lack the column (their leases: no address).
        if table is schema.campaign_leases and "address" not in columns:
            op.add_column("campaign_leases", sa.Column("address", sa.Text))
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(bind)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table.name)
