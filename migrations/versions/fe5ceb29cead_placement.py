"""Placement: searches, holds, turn-aways, referrals.

Revision ID: fe5ceb29cead
Revises: 97d35fe59498
Create Date: 2026-11-28 21:29:23.201875

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fe5ceb29cead'
down_revision = '97d35fe59498'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('placement_searches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('contact_key', sa.String(length=80), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('result_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_placement_searches_created_by_id_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_placement_searches_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_placement_searches'))
    )
    with op.batch_alter_table('placement_searches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_placement_searches_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_placement_searches_contact_key'), ['contact_key'], unique=False)

    op.create_table('turn_aways',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('contact_key', sa.String(length=80), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('search_id', sa.Integer(), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_turn_aways_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_turn_aways_region_id_regions')),
    sa.ForeignKeyConstraint(['search_id'], ['placement_searches.id'], name=op.f('fk_turn_aways_search_id_placement_searches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_turn_aways')),
    sa.UniqueConstraint('contact_key', name=op.f('uq_turn_aways_contact_key'))
    )
    with op.batch_alter_table('turn_aways', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_turn_aways_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_turn_aways_region_id'), ['region_id'], unique=False)

    op.create_table('referrals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(facility_id IS NULL) <> (organisation_id IS NULL)', name=op.f('ck_referrals_facility_or_organisation')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_referrals_created_by_id_users')),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_referrals_facility_id_facilities')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_referrals_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_referrals_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referrals_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referrals_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referrals_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('persons', sa.Integer(), nullable=False),
    sa.Column('places', sa.Integer(), nullable=False),
    sa.Column('household', sa.String(length=500), nullable=True),
    sa.Column('arrival', sa.DateTime(timezone=True), nullable=True),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('search_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('contact', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('persons >= 1', name=op.f('ck_holds_persons_positive')),
    sa.CheckConstraint('places >= 1', name=op.f('ck_holds_places_positive')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_holds_closed_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_holds_created_by_id_users')),
    sa.ForeignKeyConstraint(['search_id'], ['placement_searches.id'], name=op.f('fk_holds_search_id_placement_searches')),
    sa.ForeignKeyConstraint(['unit_id'], ['capacity_units.id'], name=op.f('fk_holds_unit_id_capacity_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holds'))
    )
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holds_call_id'), ['call_id'], unique=False)
        batch_op.create_index('ix_holds_unit_id_status_expires_at', ['unit_id', 'status', 'expires_at'], unique=False)



def downgrade():
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_index('ix_holds_unit_id_status_expires_at')
        batch_op.drop_index(batch_op.f('ix_holds_call_id'))

    op.drop_table('holds')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referrals_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_referrals_facility_id'))
        batch_op.drop_index(batch_op.f('ix_referrals_call_id'))

    op.drop_table('referrals')
    with op.batch_alter_table('turn_aways', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_turn_aways_region_id'))
        batch_op.drop_index(batch_op.f('ix_turn_aways_at'))

    op.drop_table('turn_aways')
    with op.batch_alter_table('placement_searches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_placement_searches_contact_key'))
        batch_op.drop_index(batch_op.f('ix_placement_searches_at'))

    op.drop_table('placement_searches')
