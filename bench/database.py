"""What lets a bench run on either database: a migrated empty schema, the
rows built in a SQLite file copied into PostgreSQL, and a plain driver
connection (sqlite3 or psycopg) for the raw baselines.

A bench builds its world in a temporary SQLite file (fast bulk inserts through
the plain driver); with --database-url it then copies every row into that
PostgreSQL database and measures there, its raw baseline on the same database.
"""

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import registry  # bench/registry.py, beside this file
from flask import Flask
from flask_migrate import upgrade

from app.extensions import db


def where(url: str | None) -> str:
    """The database a bench measures, for its report (no password)."""
    return url.rsplit("@", 1)[-1] if url else "a temporary SQLite file"


def migrate_empty(app: Flask) -> None:
    """The schema by the real migrations, with no rows: PostgreSQL's public
    schema is dropped and made again first (whatever an earlier run or
    another branch left there); a SQLite file is new."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA public CASCADE")
                connection.exec_driver_sql("CREATE SCHEMA public")
        upgrade()
        db.engine.dispose()


def copy_into(url: str, path: Path, make_app: Callable[[str], Flask]) -> Flask:
    """Every row of the SQLite database at `path` into the PostgreSQL database
    at `url` (its schema made anew by the migrations), by COPY; its app."""
    import psycopg

    app = make_app(url)
    migrate_empty(app)
    tables = db.metadata.sorted_tables
    source = sqlite3.connect(path)
    with psycopg.connect(url.replace("+psycopg", "")) as target:
        target.execute("SET TIME ZONE 'UTC'")  # SQLite's times are UTC, written without their zone
        # The rows some migrations write (the capacity kinds) come again from the file.
        target.execute("TRUNCATE " + ", ".join(f'"{table.name}"' for table in tables) + " RESTART IDENTITY CASCADE")
        for table in tables:
            columns = ", ".join(f'"{column.name}"' for column in table.c)
            with target.cursor().copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
                for row in source.execute(f'SELECT {columns} FROM "{table.name}"'):
                    copy.write_row(row)
            if "id" in table.c:
                target.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                               f"GREATEST(MAX(id), 1)) FROM {table.name}")
        target.commit()
        target.autocommit = True
        target.execute("VACUUM ANALYZE")
    source.close()
    return app


class Floor:
    """Raw SQL on a plain driver connection (sqlite3 on the SQLite file at
    `path`, psycopg on the PostgreSQL database at `url`): the floor a bench
    sets its figures beside. SQL is written with `?` or `:name` parameters, as
    sqlite3 takes them, and in SQL both databases read alike (TRUE, CAST)."""

    def __init__(self, url: str | None, path: Path | None = None):
        self.postgresql = url is not None
        if self.postgresql:
            import psycopg

            self.conn = psycopg.connect(url.replace("+psycopg", ""), autocommit=True)
            self.time = lambda value: value
        else:
            self.conn = sqlite3.connect(path)
            # As the app's connections (app/extensions.py).
            self.conn.execute("PRAGMA cache_size=-65536")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.time = registry.sqlite_time

    def _sql(self, sql: str, named: bool) -> str:
        if not self.postgresql:
            return sql
        if named:
            return re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)
        return sql.replace("?", "%s")

    def run(self, sql: str, *params, **named) -> list:
        """The rows of `sql` (none for a statement that returns none), with
        positional (`?`) or named (`:name`) parameters."""
        cursor = self.conn.execute(self._sql(sql, bool(named)), named or params)
        return cursor.fetchall() if cursor.description else []

    def write(self, sql: str, *params, **named) -> None:
        """`sql` committed at once, as a request's one write would be."""
        if self.postgresql:  # autocommit
            self.conn.execute(self._sql(sql, bool(named)), named or params)
        else:
            with self.conn:
                self.conn.execute(sql, named or params)

    def undone(self, *statements: tuple[str, dict]) -> None:
        """Each (sql, named parameters) in one transaction, then rolled back:
        what the writes cost, the data left as it was."""
        if self.postgresql:
            with self.conn.transaction(force_rollback=True):
                for sql, named in statements:
                    self.conn.execute(self._sql(sql, True), named)
        else:
            for sql, named in statements:
                self.conn.execute(sql, named)
            self.conn.rollback()

    def close(self) -> None:
        self.conn.close()
