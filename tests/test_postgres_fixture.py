"""The throwaway PostgreSQL of tests/postgres.py: it starts with nothing set up by hand, and every test's
database is its own (what issue 22's both-databases suites rely on)."""

from __future__ import annotations

import pytest

from tests import pg_fixtures
from tests.postgres import PostgresServer


def _rows(url: str) -> list[tuple]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text("SELECT id, text FROM notes ORDER BY id"))]
    finally:
        engine.dispose()


def test_a_database_is_created_written_and_read_back(postgres_url: str) -> None:
    import sqlalchemy as sa

    assert postgres_url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE notes (id integer PRIMARY KEY, text text NOT NULL)"))
            connection.execute(sa.text("INSERT INTO notes VALUES (1, 'привет'), (2, 'мир')"))
    finally:
        engine.dispose()
    assert _rows(postgres_url) == [(1, "привет"), (2, "мир")]  # committed, and UTF-8 round trip


def test_two_fresh_databases_are_independent(postgres_server: PostgresServer) -> None:
    import sqlalchemy as sa

    first, second = postgres_server.create_database("indep_a"), postgres_server.create_database("indep_b")
    try:
        for url, text in ((first, "a"), (second, "b")):
            engine = sa.create_engine(url)
            with engine.begin() as connection:
                connection.execute(sa.text("CREATE TABLE notes (id integer PRIMARY KEY, text text)"))
                connection.execute(sa.text("INSERT INTO notes VALUES (1, :t)"), {"t": text})
            engine.dispose()
        assert _rows(first) == [(1, "a")]
        assert _rows(second) == [(1, "b")]
        # A table made in one is absent from a database made afterwards: each starts empty.
        third = postgres_server.create_database("indep_c")
        engine = sa.create_engine(third)
        with engine.connect() as connection:
            assert sa.inspect(connection).get_table_names() == []
        engine.dispose()
    finally:
        for name in ("indep_a", "indep_b", "indep_c"):
            postgres_server.drop_database(name)


def test_a_database_left_with_open_connections_is_still_dropped(postgres_server: PostgresServer) -> None:
    """A test that forgets its pool (or a SIGKILLed replica's sessions) must not block the drop."""
    import psycopg

    postgres_server.create_database("left_open")
    connection = psycopg.connect(postgres_server.dsn("left_open"))
    try:
        postgres_server.drop_database("left_open")
        with psycopg.connect(postgres_server.dsn()) as admin:
            names = [row[0] for row in admin.execute("SELECT datname FROM pg_database")]
        assert "left_open" not in names
    finally:
        connection.close()


def test_names_are_checked() -> None:
    server = PostgresServer()
    with pytest.raises(ValueError, match="database name"):
        server.drop_database('x"; DROP DATABASE postgres; --')


def test_a_missing_server_skips_locally_and_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_fixtures, "available", lambda: "no PostgreSQL server found")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required on CI"):
        pg_fixtures.require_postgres()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="skipped"):
        pg_fixtures.require_postgres()
