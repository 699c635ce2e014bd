"""Daily statistics that outlive the detail: per region, kind and day
(stats_region_daily) and per hotline number and day (stats_hotline_daily), which days each statistic has computed (stats_days),
and up to when the retention purge blanked each kind of detail
(purge_horizons). New tables only.

Revision ID: 415c61a77c58
Revises: c4a3ac959775
Create Date: 2026-12-05 07:26:27.934437

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '415c61a77c58'
down_revision = 'c4a3ac959775'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('purge_horizons',
    sa.Column('detail', sa.String(length=64), nullable=False),
    sa.Column('purged_before', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('detail', name=op.f('pk_purge_horizons'))
    )
    op.create_table('stats_days',
    sa.Column('statistic', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('statistic', 'day', name=op.f('pk_stats_days'))
    )
    op.create_table('stats_region_daily',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('kind_id', sa.Integer(), nullable=False),
    sa.Column('mean_free', sa.Float(), nullable=False),
    sa.Column('min_free', sa.Integer(), nullable=False),
    sa.Column('hours_at_zero', sa.Float(), nullable=False),
    sa.Column('mean_total', sa.Float(), nullable=False),
    sa.Column('facilities', sa.Integer(), nullable=False),
    sa.Column('turn_aways', sa.JSON(), nullable=False),
    sa.Column('turn_away_households', sa.JSON(), nullable=False),
    sa.Column('requests_opened', sa.Integer(), nullable=False),
    sa.Column('requests_closed', sa.JSON(), nullable=False),
    sa.Column('request_wait_median_h', sa.Float(), nullable=True),
    sa.Column('holds', sa.JSON(), nullable=False),
    sa.Column('referrals_accepted', sa.Integer(), nullable=False),
    sa.Column('referral_accept_median_h', sa.Float(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['kind_id'], ['capacity_kinds.id'], name=op.f('fk_stats_region_daily_kind_id_capacity_kinds')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_stats_region_daily_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_region_daily')),
    sa.UniqueConstraint('day', 'region_id', 'kind_id', name='uq_stats_region_daily_day_region_kind')
    )
    op.create_index('ix_stats_region_daily_region_day', 'stats_region_daily', ['region_id', 'day'], unique=False)
    op.create_table('stats_hotline_daily',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('offered', sa.Integer(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('missed', sa.Integer(), nullable=False),
    sa.Column('menu_hangups', sa.Integer(), nullable=False),
    sa.Column('voicemails', sa.Integer(), nullable=False),
    sa.Column('callbacks', sa.Integer(), nullable=False),
    sa.Column('median_answer_s', sa.Float(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_hotline_daily')),
    sa.UniqueConstraint('day', 'number', name='uq_stats_hotline_daily_day_number')
    )
    op.create_index('ix_stats_hotline_daily_day', 'stats_hotline_daily', ['day'], unique=False)


def downgrade():
    op.drop_index('ix_stats_region_daily_region_day', table_name='stats_region_daily')
    op.drop_index('ix_stats_hotline_daily_day', table_name='stats_hotline_daily')
    op.drop_table('stats_hotline_daily')
    op.drop_table('stats_region_daily')
    op.drop_table('stats_days')
    op.drop_table('purge_horizons')
