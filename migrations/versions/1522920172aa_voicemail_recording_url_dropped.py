"""The voicemail's audio is reached only through the app (PRODUCT.md section 5,
rule 10): the recording's Twilio link goes; its sid (kept since c4a3ac959775,
taken from the link for the voicemails left before) is all the app needs.

Revision ID: 1522920172aa
Revises: 415c61a77c58
Create Date: 2026-12-05 07:10:37.926669

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1522920172aa'
down_revision = '415c61a77c58'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('recording_url')


def downgrade():
    # The column comes back empty: the links are not rebuilt (the sid is kept).
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recording_url', sa.String(length=500), nullable=True))
