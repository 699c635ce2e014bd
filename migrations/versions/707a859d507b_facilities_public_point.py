"""Facilities' public point and language bits, indexed for the placement search.

Revision ID: 707a859d507b
Revises: 2db11e53bb7b
Create Date: 2026-11-28 22:39:51.176400

"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '707a859d507b'
down_revision = '2db11e53bb7b'
branch_labels = None
depends_on = None

# app.models.facility.LANGUAGES as it stands: language_mask has bit i for LANGUAGES[i].
LANGUAGES = ("nl", "fr", "en", "de", "ar", "tr", "pl", "ro", "es", "ru", "uk")
COLUMNS = (("public_lat", sa.Float()), ("public_lon", sa.Float()), ("language_mask", sa.Integer()))
INDEXES = (
    ("ix_facilities_public_point", ["public_lat", "public_lon", "language_mask", "high_security", "pets"]),
    ("ix_facilities_region_public_point",
     ["region_id", "public_lat", "public_lon", "language_mask", "high_security", "pets"]),
)


def _values(bind) -> list[dict]:
    """Each facility's public point, as app.services.registry.facilities.public_point
    has it: its own coordinates, or its municipality's centre (from the
    committed postcode table) when it is confidential or has none; and its
    language bits. Refuses, before anything changes, when a facility's
    municipality is unknown."""
    from app.services.registry import places
    from app.services.core.errors import InvalidInput

    values, unknown = [], []
    rows = bind.execute(sa.text(
        "SELECT id, slug, confidential, lat, lon, municipality, postcode, languages FROM facilities"))
    for facility_id, slug, confidential, lat, lon, municipality, postcode, languages in rows:
        if confidential or lat is None or lon is None:
            try:
                lat, lon = places.centre_of(municipality, postcode)
            except InvalidInput:
                unknown.append(f"{slug} ({municipality}, {postcode})")
                continue
        codes = json.loads(languages) if isinstance(languages, str) else languages or []
        mask = sum(1 << LANGUAGES.index(code) for code in set(codes) if code in LANGUAGES)
        values.append({"id": facility_id, "lat": lat, "lon": lon, "mask": mask})
    if unknown:
        raise RuntimeError("these facilities' municipality and postcode are both unknown, so their distance "
                           "cannot be measured: give each a Belgian postcode, then upgrade again: "
                           + "; ".join(unknown))
    return values


def upgrade():
    bind = op.get_bind()
    values = _values(bind)
    sqlite = bind.dialect.name == "sqlite"
    # SQLite adds a NOT NULL column only with a default, and cannot drop it
    # after without copying the table (which the foreign keys to facilities
    # forbid while they are enforced): there the default stays, unused, as
    # facilities.save always sets these. Elsewhere: nullable, filled, NOT NULL.
    for name, type_ in COLUMNS:
        op.add_column("facilities", sa.Column(name, type_, nullable=not sqlite,
                                              server_default="0" if sqlite else None))
    if values:
        bind.execute(sa.text("UPDATE facilities SET public_lat = :lat, public_lon = :lon, language_mask = :mask"
                             " WHERE id = :id"), values)
    if not sqlite:
        for name, type_ in COLUMNS:
            op.alter_column("facilities", name, existing_type=type_, nullable=False)
    for name, columns in INDEXES:
        op.create_index(name, "facilities", columns, unique=False)


def downgrade():
    for name, _ in INDEXES:
        op.drop_index(name, table_name="facilities")
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35), not a copy of the table.
    for name, _ in reversed(COLUMNS):
        op.drop_column("facilities", name)
