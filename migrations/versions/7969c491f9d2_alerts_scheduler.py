"""Alerts and the scheduler: rules, episodes, timeline, lease, job runs.

Revision ID: 7969c491f9d2
Revises: 707a859d507b
Create Date: 2026-11-28 23:44:38.507872

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7969c491f9d2'
down_revision = '707a859d507b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scheduler_jobs',
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_scheduler_jobs'))
    )
    op.create_table('scheduler_lease',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('holder', sa.String(length=120), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_lease'))
    )
    op.create_table('alert_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('critical_at', sa.Integer(), nullable=False),
    sa.Column('for_minutes', sa.Integer(), nullable=False),
    sa.Column('margin', sa.Integer(), nullable=False),
    sa.Column('keep_firing_minutes', sa.Integer(), nullable=False),
    sa.Column('repeat_minutes', sa.Integer(), nullable=True),
    sa.Column('escalate_after_minutes', sa.Integer(), nullable=True),
    sa.Column('escalate_to', sa.JSON(), nullable=False),
    sa.Column('quiet_from', sa.String(length=5), nullable=True),
    sa.Column('quiet_to', sa.String(length=5), nullable=True),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('critical_at >= 0', name=op.f('ck_alert_rules_critical_not_negative')),
    sa.CheckConstraint('margin >= 0', name=op.f('ck_alert_rules_margin_not_negative')),
    sa.CheckConstraint('threshold >= 0', name=op.f('ck_alert_rules_threshold_not_negative')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_alert_rules_created_by_id_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_alert_rules_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_rules'))
    )
    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_rules_region_id'), ['region_id'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('open_key', sa.String(length=40), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('critical', sa.Boolean(), nullable=False),
    sa.Column('free', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('full_facilities', sa.Integer(), nullable=False),
    sa.Column('stale_facilities', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recovering_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_alerts_acknowledged_by_id_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_alerts_region_id_regions')),
    sa.ForeignKeyConstraint(['rule_id'], ['alert_rules.id'], name=op.f('fk_alerts_rule_id_alert_rules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('open_key', name=op.f('uq_alerts_open_key'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_region_id'), ['region_id'], unique=False)
        batch_op.create_index('ix_alerts_state_rule_id', ['state', 'rule_id'], unique=False)

    op.create_table('alert_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('free', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_alert_events_actor_id_users')),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_events_alert_id_alerts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_events'))
    )
    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_events_alert_id'), ['alert_id'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_alert_id'), ['alert_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_alert_id_alerts'), 'alerts', ['alert_id'], ['id'])

    # Existing users keep being told by both channels.
    op.add_column('users', sa.Column('alert_channels', sa.JSON(), nullable=False, server_default='["sms", "email"]'))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('alert_channels')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_alert_id_alerts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_alert_id'))
        batch_op.drop_column('alert_id')

    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_events_alert_id'))

    op.drop_table('alert_events')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_state_rule_id')
        batch_op.drop_index(batch_op.f('ix_alerts_region_id'))

    op.drop_table('alerts')
    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_rules_region_id'))

    op.drop_table('alert_rules')
    op.drop_table('scheduler_lease')
    op.drop_table('scheduler_jobs')
