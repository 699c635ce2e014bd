"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db


def test_models_and_migrations_agree(app):
    # The test database was built by running the migrations (conftest).
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_the_migrations_seed_the_six_default_kinds(app):
    from app.services.registry.capacity import all_kinds

    kinds = {kind.code: (kind.counts, kind.serves) for kind in all_kinds()}
    assert kinds == {
        "crisis_bed": ("persons", ["victim"]),
        "refuge_place": ("persons", ["victim"]),
        "emergency_bed": ("persons", ["victim"]),
        "family_room": ("rooms", ["victim"]),
        "intake_slot": ("slots", ["victim", "offender", "couple"]),
        "offender_slot": ("slots", ["offender"]),
    }


def test_upgrading_a_database_in_use_keeps_its_rows(tmp_path):
    """Batch migrations rebuild SQLite tables by copying them: rows that refer
    to a rebuilt table must survive (migrations/env.py)."""
    import sqlite3

    from flask_migrate import upgrade

    from tests.conftest import make_app

    path = tmp_path / "in-use.db"
    app = make_app(f"sqlite:///{path}")
    with app.app_context():
        upgrade(revision="fe5ceb29cead")
        db.engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("INSERT INTO users (email, name, language, active, created_at, failed_logins, session_epoch)"
                     " VALUES ('a@example.org', 'A', 'nl', 1, '2026-01-01 00:00:00', 0, 0)")
        conn.execute("INSERT INTO placement_searches (at, created_by_id, contact_key, criteria, result_count)"
                     " VALUES ('2026-01-01 00:00:00', 1, 'session:x', '{}', 0)")
    with app.app_context():
        upgrade()
        db.engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT email, on_duty FROM users").fetchall() == [("a@example.org", 0)]
        assert conn.execute("SELECT created_by_id FROM placement_searches").fetchall() == [(1,)]
