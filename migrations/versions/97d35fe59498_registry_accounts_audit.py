"""Registry, accounts and audit; the six default capacity kinds.

Revision ID: 97d35fe59498
Revises:
Create Date: 2026-11-28 21:15:24.045825

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '97d35fe59498'
down_revision = None
branch_labels = None
depends_on = None


# The default capacity kinds, as they were when this migration was written.
DEFAULT_KINDS = [
    ("crisis_bed", "persons", ["victim"], {"nl": "Crisisbed", "en": "Crisis bed", "fr": "Lit de crise"}),
    ("refuge_place", "persons", ["victim"],
     {"nl": "Vluchthuisplaats", "en": "Refuge place", "fr": "Place en maison d'accueil"}),
    ("emergency_bed", "persons", ["victim"], {"nl": "Noodbed", "en": "Emergency bed", "fr": "Lit d'urgence"}),
    ("family_room", "rooms", ["victim"], {"nl": "Gezinskamer", "en": "Family room", "fr": "Chambre familiale"}),
    ("intake_slot", "slots", ["victim", "offender", "couple"],
     {"nl": "Intakemoment", "en": "Intake slot", "fr": "Créneau d'accueil"}),
    ("offender_slot", "slots", ["offender"],
     {"nl": "Plaats daderprogramma", "en": "Offender programme place", "fr": "Place programme auteurs"}),
]


def upgrade():
    kinds = op.create_table('capacity_kinds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('counts', sa.String(length=16), nullable=False),
    sa.Column('serves', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capacity_kinds')),
    sa.UniqueConstraint('code', name=op.f('uq_capacity_kinds_code'))
    )
    op.bulk_insert(kinds, [
        {"code": code, "counts": counts, "serves": serves, "labels": labels, "position": position}
        for position, (code, counts, serves, labels) in enumerate(DEFAULT_KINDS, start=1)
    ])
    op.create_table('regions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regions')),
    sa.UniqueConstraint('slug', name=op.f('uq_regions_slug'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('session_epoch', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email')),
    sa.UniqueConstraint('phone', name=op.f('uq_users_phone'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=True),
    sa.Column('object_id', sa.Integer(), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_events_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_events_object', ['object_type', 'object_id'], unique=False)

    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_organisations_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('slug', name=op.f('uq_organisations_slug'))
    )
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisations_region_id'), ['region_id'], unique=False)

    op.create_table('user_regions',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_user_regions_region_id_regions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_regions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'region_id', name=op.f('pk_user_regions'))
    )
    op.create_table('user_roles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_roles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role', name=op.f('pk_user_roles'))
    )
    op.create_table('facilities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('municipality', sa.String(length=120), nullable=False),
    sa.Column('postcode', sa.String(length=4), nullable=False),
    sa.Column('street', sa.String(length=200), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('confidential', sa.Boolean(), nullable=False),
    sa.Column('intake_phone', sa.String(length=32), nullable=True),
    sa.Column('intake_hours', sa.JSON(), nullable=False),
    sa.Column('open_for_intake', sa.Boolean(), nullable=False),
    sa.Column('closed_reason', sa.Text(), nullable=True),
    sa.Column('stale_after_hours', sa.Integer(), nullable=False),
    sa.Column('genders', sa.JSON(), nullable=False),
    sa.Column('children', sa.Boolean(), nullable=False),
    sa.Column('max_children', sa.Integer(), nullable=True),
    sa.Column('max_child_age', sa.Integer(), nullable=True),
    sa.Column('wheelchair', sa.Boolean(), nullable=False),
    sa.Column('pets', sa.Boolean(), nullable=False),
    sa.Column('high_security', sa.Boolean(), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_facilities_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_facilities_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facilities')),
    sa.UniqueConstraint('id', 'region_id', 'open_for_intake', name=op.f('uq_facilities_id_region_id_open_for_intake')),
    sa.UniqueConstraint('slug', name=op.f('uq_facilities_slug'))
    )
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_facilities_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_facilities_region_id'), ['region_id'], unique=False)

    op.create_table('capacity_units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('facility_open', sa.Boolean(), nullable=False),
    sa.Column('kind_id', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('available', sa.Integer(), nullable=False),
    sa.Column('room_size', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('stale_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('available >= 0 AND available <= total', name=op.f('ck_capacity_units_available_within_total')),
    sa.CheckConstraint('total >= 0', name=op.f('ck_capacity_units_total_not_negative')),
    sa.ForeignKeyConstraint(['facility_id', 'region_id', 'facility_open'], ['facilities.id', 'facilities.region_id', 'facilities.open_for_intake'], name='fk_capacity_units_facility', onupdate='CASCADE'),
    sa.ForeignKeyConstraint(['kind_id'], ['capacity_kinds.id'], name=op.f('fk_capacity_units_kind_id_capacity_kinds')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_capacity_units_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capacity_units')),
    sa.UniqueConstraint('facility_id', 'kind_id', name=op.f('uq_capacity_units_facility_id_kind_id'))
    )
    with op.batch_alter_table('capacity_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capacity_units_kind_id'), ['kind_id'], unique=False)
        batch_op.create_index('ix_capacity_units_region_totals', ['region_id', 'kind_id', 'facility_open', 'total', 'available'], unique=False)
        batch_op.create_index('ix_capacity_units_stale', ['region_id', 'facility_id', 'stale_at'], unique=False)

    op.create_table('user_facilities',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_user_facilities_facility_id_facilities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_facilities_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'facility_id', name=op.f('pk_user_facilities'))
    )
    op.create_table('capacity_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('field', sa.String(length=16), nullable=False),
    sa.Column('before', sa.Integer(), nullable=False),
    sa.Column('after', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_capacity_changes_actor_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['capacity_units.id'], name=op.f('fk_capacity_changes_unit_id_capacity_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capacity_changes'))
    )
    with op.batch_alter_table('capacity_changes', schema=None) as batch_op:
        batch_op.create_index('ix_capacity_changes_unit_id_id', ['unit_id', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('capacity_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_capacity_changes_unit_id_id')

    op.drop_table('capacity_changes')
    op.drop_table('user_facilities')
    with op.batch_alter_table('capacity_units', schema=None) as batch_op:
        batch_op.drop_index('ix_capacity_units_stale')
        batch_op.drop_index('ix_capacity_units_region_totals')
        batch_op.drop_index(batch_op.f('ix_capacity_units_kind_id'))

    op.drop_table('capacity_units')
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_facilities_region_id'))
        batch_op.drop_index(batch_op.f('ix_facilities_organisation_id'))

    op.drop_table('facilities')
    op.drop_table('user_roles')
    op.drop_table('user_regions')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisations_region_id'))

    op.drop_table('organisations')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_object')
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))

    op.drop_table('audit_events')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('regions')
    op.drop_table('capacity_kinds')
