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
    from app.services.capacity import all_kinds

    kinds = {kind.code: (kind.counts, kind.serves) for kind in all_kinds()}
    assert kinds == {
        "crisis_bed": ("persons", ["victim"]),
        "refuge_place": ("persons", ["victim"]),
        "emergency_bed": ("persons", ["victim"]),
        "family_room": ("rooms", ["victim"]),
        "intake_slot": ("slots", ["victim", "offender", "couple"]),
        "offender_slot": ("slots", ["offender"]),
    }
