"""Risk-led placement: risk screening, the waiting list and its offers, hold outcomes and acceptance,
boys' maximum age, and when a facility was last located.

Revision ID: 36dce1d3307b
Revises: 5a981f51f4a6
Create Date: 2026-12-04 18:54:31.801605

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '36dce1d3307b'
down_revision = '5a981f51f4a6'
branch_labels = None
depends_on = None


# The shipped risk items (key, weight, critical, child at risk, labels): a
# demonstration set in our own words, not a validated instrument.
DEMONSTRATION_ITEMS = [
    ("threats_to_kill", 3, True, False,
     {"nl": "Heeft de partner gedreigd haar of hem te doden?", "fr": "Le partenaire a-t-il menacé de la ou le tuer ?",
      "en": "Has the partner threatened to kill them?"}),
    ("strangling", 3, True, False,
     {"nl": "Is ze of hij ooit gewurgd of de adem afgesneden?", "fr": "A-t-elle ou a-t-il déjà été étranglé·e ou étouffé·e ?",
      "en": "Have they ever been strangled or choked?"}),
    ("weapon", 3, True, False,
     {"nl": "Heeft de partner een wapen of dreigde hij ermee?", "fr": "Le partenaire a-t-il une arme ou a-t-il menacé avec une arme ?",
      "en": "Does the partner have a weapon, or threaten with one?"}),
    ("escalation", 2, False, False,
     {"nl": "Wordt het geweld erger of frequenter?", "fr": "Les violences s'aggravent-elles ou deviennent-elles plus fréquentes ?",
      "en": "Is the violence getting worse or more frequent?"}),
    ("separation", 2, False, False,
     {"nl": "Is er een recente of geplande scheiding?", "fr": "Y a-t-il une séparation récente ou prévue ?",
      "en": "Is there a recent or planned separation?"}),
    ("stalking", 2, False, False,
     {"nl": "Wordt ze of hij gevolgd, bespied of lastiggevallen?", "fr": "Est-elle ou est-il suivi·e, surveillé·e ou harcelé·e ?",
      "en": "Are they followed, watched or harassed?"}),
    ("own_fear", 2, False, False,
     {"nl": "Is ze of hij bang om gedood of ernstig verwond te worden?", "fr": "Craint-elle ou craint-il d'être tué·e ou gravement blessé·e ?",
      "en": "Are they afraid of being killed or seriously hurt?"}),
    ("pregnancy", 1, False, False,
     {"nl": "Is ze zwanger?", "fr": "Est-elle enceinte ?", "en": "Are they pregnant?"}),
    ("children_present", 1, False, False,
     {"nl": "Zijn er kinderen in het gezin?", "fr": "Y a-t-il des enfants dans le ménage ?",
      "en": "Are there children in the household?"}),
    ("children_harmed", 2, False, True,
     {"nl": "Zijn kinderen mishandeld of bedreigd?", "fr": "Des enfants ont-ils été maltraités ou menacés ?",
      "en": "Have children been harmed or threatened?"}),
]


def upgrade():
    risk_items = op.create_table('risk_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('critical', sa.Boolean(), nullable=False),
    sa.Column('child_at_risk', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('weight >= 0', name=op.f('ck_risk_items_weight_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_items')),
    sa.UniqueConstraint('key', name=op.f('uq_risk_items_key'))
    )
    risk_scale = op.create_table('risk_scale',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('elevated_at', sa.Integer(), nullable=False),
    sa.Column('high_at', sa.Integer(), nullable=False),
    sa.Column('demonstration', sa.Boolean(), nullable=False),
    sa.CheckConstraint('high_at > elevated_at AND elevated_at >= 1', name=op.f('ck_risk_scale_thresholds_ordered')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_scale'))
    )
    op.create_table('placement_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('close_reason', sa.String(length=500), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('search_id', sa.Integer(), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('risk_level', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('excluded_facility_ids', sa.JSON(), nullable=False),
    sa.Column('danger_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_placement_requests_call_id_calls')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_placement_requests_closed_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_placement_requests_created_by_id_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_placement_requests_region_id_regions')),
    sa.ForeignKeyConstraint(['search_id'], ['placement_searches.id'], name=op.f('fk_placement_requests_search_id_placement_searches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_placement_requests'))
    )
    with op.batch_alter_table('placement_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_placement_requests_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_placement_requests_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index('ix_placement_requests_status_region_id', ['status', 'region_id'], unique=False)

    op.create_table('placement_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('places', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('hold_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('places >= 1', name=op.f('ck_placement_offers_offer_places_positive')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_placement_offers_closed_by_id_users')),
    sa.ForeignKeyConstraint(['hold_id'], ['holds.id'], name=op.f('fk_placement_offers_hold_id_holds')),
    sa.ForeignKeyConstraint(['request_id'], ['placement_requests.id'], name=op.f('fk_placement_offers_request_id_placement_requests')),
    sa.ForeignKeyConstraint(['unit_id'], ['capacity_units.id'], name=op.f('fk_placement_offers_unit_id_capacity_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_placement_offers'))
    )
    with op.batch_alter_table('placement_offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_placement_offers_request_id'), ['request_id'], unique=False)
        batch_op.create_index('ix_placement_offers_status_expires_at', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_placement_offers_unit_id_status', ['unit_id', 'status'], unique=False)
        batch_op.create_index('uq_placement_offers_one_open_per_request', ['request_id'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk_answers', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('risk_score', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('risk_computed_level', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('risk_level', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('risk_override_reason', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_calls_risk_level'), ['risk_level'], unique=False)

    with op.batch_alter_table('capacity_kinds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requires_acceptance', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    # A facility was located when it was created, until it moves.
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_boy_age', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('located_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE facilities SET located_at = created_at")
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.alter_column('located_at', existing_type=sa.DateTime(timezone=True), nullable=False)

    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('accept_by', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('outcome_reason', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('request_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_holds_request_id'), ['request_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_holds_request_id_placement_requests'), 'placement_requests',
                                    ['request_id'], ['id'])
        batch_op.create_check_constraint(batch_op.f('ck_holds_requested_has_accept_by'),
                                         "status <> 'requested' OR accept_by IS NOT NULL")


    # A demonstration instrument, so that the screening works out of the box;
    # it is labelled "demonstration, not validated" until an admin replaces it
    # with the instrument the region uses and is licensed for.
    op.bulk_insert(risk_items, [
        {"key": key, "weight": weight, "critical": critical, "child_at_risk": child_at_risk, "position": position,
         "active": True, "labels": labels}
        for position, (key, weight, critical, child_at_risk, labels) in enumerate(DEMONSTRATION_ITEMS, start=1)
    ])
    op.bulk_insert(risk_scale, [{"name": "Demonstration set", "elevated_at": 4, "high_at": 8,
                                 "demonstration": True}])


def downgrade():
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_holds_requested_has_accept_by'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_holds_request_id_placement_requests'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_holds_request_id'))
        batch_op.drop_column('request_id')
        batch_op.drop_column('outcome_reason')
        batch_op.drop_column('outcome')
        batch_op.drop_column('accept_by')
        batch_op.drop_column('minutes')

    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_column('located_at')
        batch_op.drop_column('max_boy_age')

    with op.batch_alter_table('capacity_kinds', schema=None) as batch_op:
        batch_op.drop_column('requires_acceptance')

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_risk_level'))
        batch_op.drop_column('risk_override_reason')
        batch_op.drop_column('risk_level')
        batch_op.drop_column('risk_computed_level')
        batch_op.drop_column('risk_score')
        batch_op.drop_column('risk_answers')

    with op.batch_alter_table('placement_offers', schema=None) as batch_op:
        batch_op.drop_index('uq_placement_offers_one_open_per_request', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_placement_offers_unit_id_status')
        batch_op.drop_index('ix_placement_offers_status_expires_at')
        batch_op.drop_index(batch_op.f('ix_placement_offers_request_id'))

    op.drop_table('placement_offers')
    with op.batch_alter_table('placement_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_placement_requests_status_region_id')
        batch_op.drop_index(batch_op.f('ix_placement_requests_expires_at'))
        batch_op.drop_index(batch_op.f('ix_placement_requests_call_id'))

    op.drop_table('placement_requests')
    op.drop_table('risk_scale')
    op.drop_table('risk_items')
