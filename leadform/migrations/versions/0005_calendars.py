"""calendars: each calendar source's sync state and the busy blocks per host

Revision ID: 0005_calendars
Revises: 0004_email_delivery
Create Date: 2026-12-03 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_calendars'
down_revision = '0004_email_delivery'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host_id', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('last_good_at', sa.DateTime(), nullable=True),
    sa.Column('window_start', sa.DateTime(), nullable=True),
    sa.Column('window_end', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', sa.DateTime(), nullable=True),
    sa.Column('failing_since', sa.DateTime(), nullable=True),
    sa.Column('etag', sa.String(length=500), nullable=True),
    sa.Column('last_modified', sa.String(length=100), nullable=True),
    sa.Column('feed_body', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_sources')),
    sa.UniqueConstraint('host_id', 'source_key', name=op.f('uq_calendar_sources_host_id'))
    )
    op.create_table('calendar_busy_blocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('host_id', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['calendar_sources.id'], name=op.f('fk_calendar_busy_blocks_source_id_calendar_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_busy_blocks'))
    )
    with op.batch_alter_table('calendar_busy_blocks', schema=None) as batch_op:
        batch_op.create_index('ix_calendar_busy_blocks_host_start', ['host_id', 'starts_at'], unique=False)
        batch_op.create_index('ix_calendar_busy_blocks_source_id', ['source_id'], unique=False)


def downgrade():
    with op.batch_alter_table('calendar_busy_blocks', schema=None) as batch_op:
        batch_op.drop_index('ix_calendar_busy_blocks_source_id')
        batch_op.drop_index('ix_calendar_busy_blocks_host_start')

    op.drop_table('calendar_busy_blocks')
    op.drop_table('calendar_sources')
