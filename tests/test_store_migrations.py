"""Alembic migrations (issue 22, point 1): a store written by old main opens under today's code, is
upgraded in place and keeps every row; a schema newer than the code is refused; a fresh PostgreSQL
database and a fresh SQLite file get the same tables and columns."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from core.campaigns import CampaignStore
from core.judgments import Judgment, JudgmentStore, JudgmentStoreError
from core.storage import migrate
from tests.conftest import ROOT

# Made by main at f2b4e85, the last SQLite-only store (tests/fixtures/README.md): 6 judgments by four
# users, one relevance campaign (5 items, overlap 2) with two campaign judgments, one skip and one lease.
OLD_STORE = Path(__file__).with_name("fixtures") / "store_f2b4e85.sqlite"
OLD_TABLES = {"feedback": 6, "campaigns": 1, "campaign_items": 5, "campaign_judgments": 2,
              "campaign_leases": 1, "campaign_skips": 1}


def dump(path: Path) -> dict[str, list[dict]]:
    """Every row of every table, read with plain sqlite3 (nothing of the code under test), in a stable order."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {table: sorted((dict(row) for row in conn.execute(f'SELECT * FROM "{table}"')), key=repr)
                for table in tables}
    finally:
        conn.close()


@pytest.fixture
def old_store(tmp_path) -> Path:
    path = tmp_path / "feedback.sqlite"
    shutil.copyfile(OLD_STORE, path)
    return path


def open_stores(path: Path) -> tuple[JudgmentStore, CampaignStore]:
    store = JudgmentStore(path)
    return store, CampaignStore(store)


def test_a_store_of_f2b4e85_is_upgraded_in_place_and_keeps_every_row(old_store):
    before = dump(old_store)
    assert {table: len(rows) for table, rows in before.items() if table in OLD_TABLES} == OLD_TABLES
    assert "alembic_version" not in before  # made before Alembic
    store, _ = open_stores(old_store)
    store.close()
    after = dump(old_store)
    assert after["alembic_version"] == [{"version_num": migrate.head()}]
    for table, rows in before.items():
        # Every old row is there with every old value; a migration may only add columns (with defaults).
        kept = sorted(({column: row[column] for column in rows[0]} for row in after[table]), key=repr) \
            if rows else after[table]
        assert kept == rows, table


def test_the_upgraded_campaign_still_works_and_reopening_changes_nothing(old_store):
    store, campaigns = open_stores(old_store)
    try:
        [campaign] = campaigns.visible("auth:bob")
        assert campaign.name == "old campaign" and campaign.overlap == 2
        assert campaigns.progress(campaign.id, "auth:bob").judgments == 2
        # A newcomer judges items until none is left for them; the old judgments count towards overlap:
        # item 1 has its two (anon:aaaaaaaaaaaa, auth:dave), so 4 of the 5 items are left.
        judged = 0
        while (item := campaigns.next_item(campaign.id, "auth:erin")) is not None:
            campaigns.submit(campaign.id, item.item_id, Judgment("relevant", "", user="auth:erin"))
            judged += 1
        assert judged == 4
        progress = campaigns.progress(campaign.id, "auth:erin")
        assert (progress.done, progress.judgments, progress.needed, progress.available) == (4, 6, 10, 0)
        report = campaigns.agreement(campaign.id, "auth:bob")
        assert (report.items, report.judgments, report.all_judgments) == (1, 2, 6)  # only item 1 has two
        assert report.disputed[0].values == {"anon:aaaaaaaaaaaa": "relevant", "auth:dave": "not_relevant"}
        assert store.count() == 6 + 4
    finally:
        store.close()
    settled = dump(old_store)
    store, _ = open_stores(old_store)  # opening again migrates nothing and writes nothing
    store.close()
    assert dump(old_store) == settled


def test_a_schema_newer_than_the_code_is_refused_with_a_clear_error(old_store):
    open_stores(old_store)[0].close()
    with sqlite3.connect(old_store) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    conn.close()
    before = old_store.read_bytes()
    with pytest.raises(JudgmentStoreError, match="schema version 'ffff_from_the_future', newer than this app"):
        JudgmentStore(old_store)
    assert old_store.read_bytes() == before


def schema_of(url: str) -> dict[str, dict]:
    """Tables -> columns (nullable, primary key), indexes and unique constraints, as SQLAlchemy reads them."""
    engine = create_engine(url)
    try:
        found = inspect(engine)
        out = {}
        for table in sorted(found.get_table_names()):
            columns = {c["name"]: bool(c["nullable"]) for c in found.get_columns(table)}
            out[table] = {
                "columns": columns,
                "primary_key": sorted(found.get_pk_constraint(table)["constrained_columns"]),
                "indexes": sorted((tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table)),
                "unique": sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table)),
            }
        return out
    finally:
        engine.dispose()


def test_fresh_postgresql_and_sqlite_stores_have_the_same_tables_and_columns(tmp_path, postgres_url):
    for location in (tmp_path / "fresh.sqlite", postgres_url):
        store = JudgmentStore(location)
        CampaignStore(store)
        store.close()
    sqlite_schema = schema_of(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    postgres_schema = schema_of(postgres_url)
    assert "feedback" in sqlite_schema and "app_secrets" in sqlite_schema
    assert postgres_schema == sqlite_schema


def test_opening_a_store_logs_no_alembic_chatter_at_info(tmp_path):
    """The app logs at INFO: Alembic's plugin set-up lines (seven, while importing) came above the one-line
    message of an app stopped by a wrong --store. A child process: pytest's own log handler hides them."""
    code = ("import logging, sys; logging.basicConfig(level=logging.INFO); "
            "from core.judgments import JudgmentStore; JudgmentStore(sys.argv[1]).close()")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "feedback.sqlite")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "alembic.runtime" not in done.stderr, done.stderr


def test_the_head_known_without_alembic_is_alembics_own():
    """migrate.HEAD spares an up-to-date store the Alembic import; it must name the newest migration."""
    assert migrate._scripts().get_current_head() == migrate.HEAD
