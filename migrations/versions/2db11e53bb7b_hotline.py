"""Hotline: calls, SMS messages, outbox, rate counters, on-duty operators.

Revision ID: 2db11e53bb7b
Revises: fe5ceb29cead
Create Date: 2026-11-28 21:35:07.425300

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2db11e53bb7b'
down_revision = 'fe5ceb29cead'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rate_counters',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_rate_counters'))
    )
    op.create_table('calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('caller_hash', sa.String(length=64), nullable=True),
    sa.Column('caller_masked', sa.String(length=32), nullable=False),
    sa.Column('number_sealed', sa.Text(), nullable=True),
    sa.Column('number_kept_for', sa.String(length=16), nullable=True),
    sa.Column('number_erase_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('menu_choices', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_s', sa.Integer(), nullable=True),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('safe_to_call_back', sa.Boolean(), nullable=True),
    sa.Column('safe_to_leave_message', sa.Boolean(), nullable=True),
    sa.Column('callback_requested', sa.Boolean(), nullable=False),
    sa.Column('needs', sa.JSON(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recording_url', sa.String(length=500), nullable=True),
    sa.Column('recording_duration_s', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['users.id'], name=op.f('fk_calls_operator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calls')),
    sa.UniqueConstraint('sid', name=op.f('uq_calls_sid'))
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calls_caller_hash'), ['caller_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_number_erase_at'), ['number_erase_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_operator_id'), ['operator_id'], unique=False)
        batch_op.create_index('ix_calls_status_started_at', ['status', 'started_at'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=True),
    sa.Column('recipient_masked', sa.String(length=254), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('dedup_key', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_outbox_call_id_calls')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_outbox_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedup_key', name=op.f('uq_outbox_dedup_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index('ix_outbox_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_user_id'), ['user_id'], unique=False)

    op.create_table('sms_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('sid', sa.String(length=64), nullable=True),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_sms_messages_call_id_calls')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_sms_messages_outbox_id_outbox')),
    sa.ForeignKeyConstraint(['sent_by_id'], ['users.id'], name=op.f('fk_sms_messages_sent_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_messages')),
    sa.UniqueConstraint('sid', name=op.f('uq_sms_messages_sid'))
    )
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_messages_call_id'), ['call_id'], unique=False)

    # A plain ALTER TABLE ADD COLUMN, also on SQLite: copying the users table
    # (batch mode) would trip over the rows that refer to it.
    op.add_column('users', sa.Column('on_duty', sa.Boolean(), nullable=False, server_default=sa.text('false')))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('on_duty')

    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_messages_call_id'))

    op.drop_table('sms_messages')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_user_id'))
        batch_op.drop_index('ix_outbox_status_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_outbox_provider_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_call_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_status_started_at')
        batch_op.drop_index(batch_op.f('ix_calls_operator_id'))
        batch_op.drop_index(batch_op.f('ix_calls_number_erase_at'))
        batch_op.drop_index(batch_op.f('ix_calls_caller_hash'))

    op.drop_table('calls')
    op.drop_table('rate_counters')
