"""booking history sources, held bookings (surge guard), spent form starts, readiness checks

Revision ID: 0007_guards_history_readiness
Revises: 0006_newsletter
Create Date: 2026-12-03 09:00:00

- booking_events.source: where a "created" event came from (booking form, desk, import).
  Existing bookings get a "created" event from their stored creation time (source
  "before history"), so every booking's history starts at its creation.
- bookings.hold_until: a booking made during a surge is "held" until then, waiting for the
  prospect's confirmation; the one-active-booking-per-slot index covers held bookings too.
- spent_form_starts: each booking form's start value books at most once.
- readiness_checks: completed readiness checks, and bookings.readiness_check_id, the check
  a booking came from.
- bookings.session_format: how the session is held (site.toml [session.formats]).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_guards_history_readiness'
down_revision = '0006_newsletter'
branch_labels = None
depends_on = None

ACTIVE_OLD = "status = 'confirmed'"
ACTIVE_NEW = "status IN ('confirmed', 'held')"


def _slot_index(where):
    op.drop_index('uq_bookings_active_slot', table_name='bookings')
    op.create_index(
        'uq_bookings_active_slot', 'bookings', ['slot_start'], unique=True,
        sqlite_where=sa.text(where), postgresql_where=sa.text(where),
    )


def upgrade():
    with op.batch_alter_table('booking_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=32), nullable=True))
    op.execute(
        "INSERT INTO booking_events (booking_id, kind, slot_start, actor, source, at) "
        "SELECT id, 'created', slot_start, 'prospect', 'before history', created_at "
        "FROM bookings WHERE id NOT IN "
        "(SELECT booking_id FROM booking_events WHERE kind = 'created')"
    )
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_until', sa.DateTime(), nullable=True))
    _slot_index(ACTIVE_NEW)
    op.create_table(
        'spent_form_starts',
        sa.Column('nonce', sa.String(length=32), nullable=False),
        sa.Column('spent_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('nonce', name=op.f('pk_spent_form_starts')),
    )
    op.create_index(
        op.f('ix_spent_form_starts_spent_at'), 'spent_form_starts', ['spent_at'], unique=False
    )
    op.create_table(
        'readiness_checks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('answers', sa.JSON(), nullable=False),
        sa.Column('scores', sa.JSON(), nullable=False),
        sa.Column('overall', sa.Integer(), nullable=False),
        sa.Column('band', sa.String(length=64), nullable=False),
        sa.Column('source_article', sa.String(length=200), nullable=True),
        sa.Column('utm_source', sa.String(length=200), nullable=True),
        sa.Column('utm_medium', sa.String(length=200), nullable=True),
        sa.Column('utm_campaign', sa.String(length=200), nullable=True),
        sa.Column('utm_term', sa.String(length=200), nullable=True),
        sa.Column('utm_content', sa.String(length=200), nullable=True),
        sa.Column('referrer', sa.String(length=2000), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('consent_at', sa.DateTime(), nullable=True),
        sa.Column('privacy_version', sa.String(length=32), nullable=True),
        sa.Column('report_emailed_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_readiness_checks')),
        sa.UniqueConstraint('token', name=op.f('uq_readiness_checks_token')),
    )
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_format', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('readiness_check_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_bookings_readiness_check_id_readiness_checks'),
            'readiness_checks', ['readiness_check_id'], ['id'],
        )


def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_bookings_readiness_check_id_readiness_checks'), type_='foreignkey'
        )
        batch_op.drop_column('readiness_check_id')
        batch_op.drop_column('session_format')
    op.drop_table('readiness_checks')
    op.drop_index(op.f('ix_spent_form_starts_spent_at'), table_name='spent_form_starts')
    op.drop_table('spent_form_starts')
    op.execute("UPDATE bookings SET status = 'expired' WHERE status = 'held'")
    _slot_index(ACTIVE_OLD)
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_column('hold_until')
    op.execute("DELETE FROM booking_events WHERE kind = 'created'")
    with op.batch_alter_table('booking_events', schema=None) as batch_op:
        batch_op.drop_column('source')
