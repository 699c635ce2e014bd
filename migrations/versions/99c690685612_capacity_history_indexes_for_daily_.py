"""Indexes on the capacity history for the daily statistics: a unit's value
of a field at a day's start (unit, field, at), and the day's changes (at).
Without them one day of national scale took 12 s on SQLite, walking each
unit's history.

Revision ID: 99c690685612
Revises: 1522920172aa
Create Date: 2026-12-05 11:32:00.977758

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '99c690685612'
down_revision = '1522920172aa'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_capacity_changes_at', 'capacity_changes', ['at'])
    op.create_index('ix_capacity_changes_unit_id_field_at', 'capacity_changes', ['unit_id', 'field', 'at', 'id'])


def downgrade():
    op.drop_index('ix_capacity_changes_unit_id_field_at', table_name='capacity_changes')
    op.drop_index('ix_capacity_changes_at', table_name='capacity_changes')
