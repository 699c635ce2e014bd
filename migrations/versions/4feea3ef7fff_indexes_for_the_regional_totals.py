"""Indexes for the regional totals.

capacity.region_totals (the dashboard and GET /api/v1/regions) sums every unit
per region and kind and counts the stale facilities per region. With these
indexes SQLite answers both queries from indexes alone, without reading the
facilities or capacity_units tables (bench/registry.py measures it). Each new
index starts with the column of the index it replaces, so nothing that used the
old one loses it.

Revision ID: 4feea3ef7fff
Revises: 32ad7823576c
Create Date: 2026-11-28 21:05:14.301558

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '4feea3ef7fff'
down_revision = '32ad7823576c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_capacity_units_facility_id_kind_id_counts', 'capacity_units',
                    ['facility_id', 'kind_id', 'total', 'available'])
    op.create_index('ix_capacity_units_facility_id_stale_at', 'capacity_units', ['facility_id', 'stale_at'])
    op.drop_index('ix_capacity_units_facility_id', table_name='capacity_units')

    op.create_index('ix_facilities_region_id_open_for_intake', 'facilities', ['region_id', 'open_for_intake'])
    op.drop_index('ix_facilities_region_id', table_name='facilities')


def downgrade():
    op.create_index('ix_facilities_region_id', 'facilities', ['region_id'])
    op.drop_index('ix_facilities_region_id_open_for_intake', table_name='facilities')

    op.create_index('ix_capacity_units_facility_id', 'capacity_units', ['facility_id'])
    op.drop_index('ix_capacity_units_facility_id_stale_at', table_name='capacity_units')
    op.drop_index('ix_capacity_units_facility_id_kind_id_counts', table_name='capacity_units')
