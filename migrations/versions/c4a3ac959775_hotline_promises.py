"""The hotline keeps its promises: call-back attempts, the voicemail queue (the
recording's sid, when it was left, its handling), the call's hotline number and
when it reached the operators' ring, and alert rules on the hotline's metrics.

Revision ID: c4a3ac959775
Revises: 36dce1d3307b
Create Date: 2026-12-05 07:03:15.129063

"""
from alembic import op
import sqlalchemy as sa
import re

# revision identifiers, used by Alembic.
revision = 'c4a3ac959775'
down_revision = '36dce1d3307b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('callback_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('result', sa.String(length=24), nullable=True),
    sa.Column('operator_leg_sid', sa.String(length=64), nullable=True),
    sa.Column('caller_leg_sid', sa.String(length=64), nullable=True),
    sa.Column('answered_by', sa.String(length=24), nullable=True),
    sa.Column('confirmed_unknown', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_callback_attempts_call_id_calls')),
    sa.ForeignKeyConstraint(['operator_id'], ['users.id'], name=op.f('fk_callback_attempts_operator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_attempts')),
    sa.UniqueConstraint('operator_leg_sid', name=op.f('uq_callback_attempts_operator_leg_sid'))
    )
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_attempts_call_id'), ['call_id'], unique=False)
        batch_op.create_index('ix_callback_attempts_operator_started_at', ['operator_id', 'started_at'], unique=False)
        batch_op.create_index('uq_callback_attempts_open_call', ['call_id'], unique=True, sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))

    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('metric', sa.String(length=24), server_default='free_places', nullable=False))
        batch_op.add_column(sa.Column('active_from', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('active_to', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('window_minutes', sa.Integer(), nullable=True))
        batch_op.alter_column('kinds',
               existing_type=sa.JSON(),
               nullable=True)

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.alter_column('region_id',
               existing_type=sa.INTEGER(),
               nullable=True)

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('called_number', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('rang_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('recording_sid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('voicemail_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('voicemail_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('voicemail_outcome', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('voicemail_handled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('voicemail_handled_by_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_calls_recording_sid'), ['recording_sid'], unique=False)
        batch_op.create_index('ix_calls_started_at', ['started_at'], unique=False)
        batch_op.create_index('ix_calls_rang_at', ['rang_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_voicemail_status'), ['voicemail_status'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_calls_voicemail_handled_by_id_users'), 'users', ['voicemail_handled_by_id'], ['id'])

    # The voicemails left so far: their sid (from the recording's URL), unheard.
    calls = sa.table("calls", sa.column("id", sa.Integer), sa.column("recording_url", sa.String),
                     sa.column("recording_sid", sa.String), sa.column("voicemail_at", sa.DateTime(timezone=True)),
                     sa.column("voicemail_status", sa.String), sa.column("started_at", sa.DateTime(timezone=True)),
                     sa.column("ended_at", sa.DateTime(timezone=True)))
    connection = op.get_bind()
    rows = connection.execute(sa.select(calls.c.id, calls.c.recording_url, calls.c.started_at, calls.c.ended_at)
                              .where(calls.c.recording_url.is_not(None))).all()
    for call_id, url, started_at, ended_at in rows:
        found = re.search(r"RE[0-9a-fA-F]{32}", url)
        connection.execute(calls.update().where(calls.c.id == call_id).values(
            recording_sid=found.group(0) if found else None, voicemail_at=ended_at or started_at,
            voicemail_status="unheard"))



def downgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_calls_voicemail_handled_by_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_calls_voicemail_status'))
        batch_op.drop_index('ix_calls_rang_at')
        batch_op.drop_index('ix_calls_started_at')
        batch_op.drop_index(batch_op.f('ix_calls_recording_sid'))
        batch_op.drop_column('voicemail_handled_by_id')
        batch_op.drop_column('voicemail_handled_at')
        batch_op.drop_column('voicemail_outcome')
        batch_op.drop_column('voicemail_status')
        batch_op.drop_column('voicemail_at')
        batch_op.drop_column('recording_sid')
        batch_op.drop_column('rang_at')
        batch_op.drop_column('called_number')

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.alter_column('region_id',
               existing_type=sa.INTEGER(),
               nullable=False)

    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.alter_column('kinds',
               existing_type=sa.JSON(),
               nullable=False)
        batch_op.drop_column('window_minutes')
        batch_op.drop_column('active_to')
        batch_op.drop_column('active_from')
        batch_op.drop_column('metric')

    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.drop_index('uq_callback_attempts_open_call', sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index('ix_callback_attempts_operator_started_at')
        batch_op.drop_index(batch_op.f('ix_callback_attempts_call_id'))

    op.drop_table('callback_attempts')
