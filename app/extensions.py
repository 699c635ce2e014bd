"""Flask extensions, created unbound here and bound to the app in `create_app`."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import g, has_request_context, request
from flask_babel import Babel
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so that Alembic can alter them (SQLite batch mode needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
htmx = HTMX()


_writing: ContextVar[bool] = ContextVar("writing", default=False)


@contextmanager
def writing() -> Iterator[None]:
    """Mark the code inside as a writer, for SQLite's sake (see _begin_sqlite).
    Scheduler jobs, CLI commands and threads that write run inside it; web
    requests that may write (POST, PUT, PATCH, DELETE) are writers anyway."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy emit BEGIN itself (see _begin_sqlite) instead of pysqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one writer writes; a busy writer waits
    # up to 30 s instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 64 MiB of page cache (the default is 2 MiB): the registry's facilities and
    # units stay in memory at national scale, so a placement search reads pages,
    # not the file (bench/placement.py).
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn):
    if conn.dialect.name != "sqlite":
        return
    # In WAL mode a transaction that read first and writes later fails at once
    # with SQLITE_BUSY when another writer committed in between; busy_timeout
    # does not help there. So a writer takes the write lock when its
    # transaction begins (BEGIN IMMEDIATE), waiting for it if need be; readers
    # begin deferred and never block anyone.
    unsafe_request = has_request_context() and (request.method not in ("GET", "HEAD", "OPTIONS")
                                                 or g.get(WRITING_READ, False))
    conn.exec_driver_sql("BEGIN IMMEDIATE" if unsafe_request or _writing.get() else "BEGIN")


# Set on `g` by a read that writes from some point on (app.web.unit_of_work.writes_from_here).
WRITING_READ = "opvang_writing_read"
