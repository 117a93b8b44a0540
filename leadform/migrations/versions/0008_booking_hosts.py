"""booking hosts: the consultants assigned to each booking

Revision ID: 0008_booking_hosts
Revises: 0007_guards_history_readiness
Create Date: 2026-12-03 13:00:00

- booking_hosts: one row per consultant (site.toml [hosts]) assigned to a booking, by the
  collective or round-robin rule. Bookings made before hosts existed have none.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_booking_hosts'
down_revision = '0007_guards_history_readiness'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'booking_hosts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('booking_id', sa.Integer(), nullable=False),
        sa.Column('host_id', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ['booking_id'], ['bookings.id'],
            name=op.f('fk_booking_hosts_booking_id_bookings'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_hosts')),
        sa.UniqueConstraint(
            'booking_id', 'host_id', name=op.f('uq_booking_hosts_booking_id')
        ),
    )
    op.create_index('ix_booking_hosts_host', 'booking_hosts', ['host_id', 'booking_id'])


def downgrade():
    op.drop_index('ix_booking_hosts_host', table_name='booking_hosts')
    op.drop_table('booking_hosts')
