"""Calls referred to by searches, holds, referrals and turn-aways must exist;
alerts get a random acknowledgement code instead of their id.

A `call_id` that names no call (the database accepted any before) is cleared:
it pointed at nothing. Each existing alert gets a code of its own.

Revision ID: b4bbc244148b
Revises: 63870167ceb5
Create Date: 2026-12-04 17:57:33.665194

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b4bbc244148b'
down_revision = '63870167ceb5'
branch_labels = None
depends_on = None

TABLES_WITH_CALLS = ('holds', 'placement_searches', 'referrals', 'turn_aways')
# As app/services/alerts/evaluation.py, as it was when this migration was written.
CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
CODE_LENGTH = 5


def _backfill_alert_codes(connection):
    ids = connection.execute(sa.text("SELECT id FROM alerts")).scalars().all()
    codes = set()
    while len(codes) < len(ids):
        codes.add("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)))
    for alert_id, code in zip(ids, codes, strict=True):
        connection.execute(sa.text("UPDATE alerts SET code = :code WHERE id = :id"), {"code": code, "id": alert_id})


def upgrade():
    connection = op.get_bind()
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=8), nullable=True))
    _backfill_alert_codes(connection)
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.alter_column('code', existing_type=sa.String(length=8), nullable=False)
        batch_op.create_index('uq_alerts_open_code', ['code'], unique=True, sqlite_where=sa.text('open_key IS NOT NULL'),
                              postgresql_where=sa.text('open_key IS NOT NULL'))

    for table in TABLES_WITH_CALLS:
        connection.execute(sa.text(
            f"UPDATE {table} SET call_id = NULL WHERE call_id IS NOT NULL AND call_id NOT IN (SELECT id FROM calls)"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_call_id_calls'), 'calls', ['call_id'], ['id'])


def downgrade():
    for table in reversed(TABLES_WITH_CALLS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_call_id_calls'), type_='foreignkey')

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('uq_alerts_open_code', sqlite_where=sa.text('open_key IS NOT NULL'),
                            postgresql_where=sa.text('open_key IS NOT NULL'))
        batch_op.drop_column('code')
