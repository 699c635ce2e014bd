"""Stale reminders: each facility's current stale spell, reminded and escalated once.

Revision ID: 63870167ceb5
Revises: 7969c491f9d2
Create Date: 2026-11-28 23:52:53.838352

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '63870167ceb5'
down_revision = '7969c491f9d2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'stale_reminders',
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column('stale_since', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'],
                                name=op.f('fk_stale_reminders_facility_id_facilities'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('facility_id', name=op.f('pk_stale_reminders')),
    )


def downgrade():
    op.drop_table('stale_reminders')
