"""Every table the app keeps, as SQLAlchemy Core tables: one definition for SQLite and PostgreSQL.

The judgments (``feedback``) and campaign tables keep the names and columns main wrote before the
database layer (SQLite only, up to f2b4e85), so an old store opens in place; Alembic's migrations
(``core/storage/migrations``) create what is missing and record the schema's version.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, PrimaryKeyConstraint, Table, Text

metadata = MetaData()

# SQLite autoincrements only an ``INTEGER PRIMARY KEY``; PostgreSQL gets a 64-bit identity.
_ID = BigInteger().with_variant(Integer(), "sqlite")

feedback = Table(
    "feedback", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("created_at", Text, nullable=False),
    Column("user", Text, nullable=False),
    Column("tab", Text),
    Column("kind", Text, nullable=False),
    Column("anchor", Text, nullable=False),
    Column("positive", Text),
    Column("negative", Text),
    Column("score", Float),
    Column("label", Text),
    Column("comment", Text),
    Column("query_prefix", Text),
    Column("passage_prefix", Text),
    Column("model_id", Text),
    Column("model_revision", Text),
    Column("app_version", Text),
    Column("content_hash", Text, nullable=False),
    Index("feedback_content_hash", "content_hash", unique=True),
    Index("feedback_user", "user"),
    Index("feedback_kind", "kind"),
    sqlite_autoincrement=True,
)

campaigns = Table(
    "campaigns", metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("creator", Text, nullable=False),
    Column("judgment", Text, nullable=False),
    Column("overlap", Integer, nullable=False),
    Column("columns", Text, nullable=False),
    Column("instructions", Text, nullable=False),
    Column("labels", Text, nullable=False),
    Column("show_model_score", Integer, nullable=False),
    Column("rule", Text),
    Column("n_items", Integer, nullable=False),
    Column("query_prefix", Text),
    Column("passage_prefix", Text),
    Column("model_id", Text),
    Index("campaigns_creator", "creator"),
)

campaign_items = Table(
    "campaign_items", metadata,
    Column("campaign_id", Text, nullable=False),
    Column("item_id", BigInteger, nullable=False),
    Column("text1", Text, nullable=False),
    Column("text2", Text),
    Column("model_score", Float),
    Column("reason", Text),
    PrimaryKeyConstraint("campaign_id", "item_id"),
)

campaign_judgments = Table(
    "campaign_judgments", metadata,
    Column("campaign_id", Text, nullable=False),
    Column("item_id", BigInteger, nullable=False),
    Column("user", Text, nullable=False),
    Column("judgment_id", BigInteger, nullable=False),
    Column("at", Float, nullable=False),
    PrimaryKeyConstraint("campaign_id", "item_id", "user"),
    Index("campaign_judgments_user", "user", "campaign_id"),
    Index("campaign_judgments_judgment", "judgment_id"),
)

campaign_leases = Table(
    "campaign_leases", metadata,
    Column("campaign_id", Text, nullable=False),
    Column("item_id", BigInteger, nullable=False),
    Column("user", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("address", Text),
    PrimaryKeyConstraint("campaign_id", "item_id", "user"),
    Index("campaign_leases_user", "user", "campaign_id"),
)

campaign_skips = Table(
    "campaign_skips", metadata,
    Column("campaign_id", Text, nullable=False),
    Column("item_id", BigInteger, nullable=False),
    Column("user", Text, nullable=False),
    Column("at", Float, nullable=False),
    PrimaryKeyConstraint("campaign_id", "item_id", "user"),
)

# -- added for replicas (migration 0002) -----------------------------------------------------------

# Secrets every replica must share, made once by whichever replica starts first (the identity key).
app_secrets = Table(
    "app_secrets", metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# Named locks held by a heartbeat: ``holder`` until ``expires_at``; a replica that dies stops renewing,
# so its lock lapses by itself (the one training job at a time across replicas).
app_locks = Table(
    "app_locks", metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text),
    Column("owner", Text),
    Column("acquired_at", Float),
    Column("expires_at", Float),
)

# Training jobs as every replica sees them (the one running, the last of each owner).
training_jobs = Table(
    "training_jobs", metadata,
    Column("id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("replica", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("started", Float, nullable=False),
    Column("finished", Float),
    Column("version", Text),
    Column("error", Text),
    Column("summary", Text),
    Index("training_jobs_owner", "owner"),
)

# The model registry's records: each saved tuned version (its files live in the shared models folder).
model_versions = Table(
    "model_versions", metadata,
    Column("name", Text, primary_key=True),
    Column("owner", Text),
    Column("base_model", Text),
    Column("created_at", Text, nullable=False),
    Column("promoted", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Column("report", Text, nullable=False),
)
