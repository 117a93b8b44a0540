"""readiness checks started per day and source

Revision ID: 0009_readiness_starts
Revises: 0008_booking_hosts
Create Date: 2026-12-03 14:00:00

- readiness_check_starts: how many readiness checks were started (GET /readiness-check) per
  day, article and campaign tags; a counter with no cookie, IP address or user agent, like
  booking_page_visits. Checks started before this revision were not counted.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_readiness_starts'
down_revision = '0008_booking_hosts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'readiness_check_starts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('source_article', sa.String(length=200), nullable=False),
        sa.Column('utm_source', sa.String(length=200), nullable=False),
        sa.Column('utm_medium', sa.String(length=200), nullable=False),
        sa.Column('utm_campaign', sa.String(length=200), nullable=False),
        sa.Column('starts', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_readiness_check_starts')),
        sa.UniqueConstraint(
            'day', 'source_article', 'utm_source', 'utm_medium', 'utm_campaign',
            name='uq_readiness_check_starts_key',
        ),
    )


def downgrade():
    op.drop_table('readiness_check_starts')
