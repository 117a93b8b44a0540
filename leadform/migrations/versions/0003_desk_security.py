"""desk security: server-side sessions, per-account sign-in throttle, TOTP and recovery codes

Revision ID: 0003_desk_security
Revises: 0002_after_booking
Create Date: 2026-12-04 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_desk_security'
down_revision = '0002_after_booking'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('desk_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_desk_sessions_operator_id_operators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_desk_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_desk_sessions_token_hash'))
    )
    with op.batch_alter_table('desk_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_desk_sessions_operator_id'), ['operator_id'], unique=False)

    op.create_table('desk_login_throttles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_desk_login_throttles')),
    sa.UniqueConstraint('username', name=op.f('uq_desk_login_throttles_username'))
    )
    op.create_table('operator_recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_operator_recovery_codes_operator_id_operators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_recovery_codes'))
    )
    with op.batch_alter_table('operator_recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_recovery_codes_operator_id'), ['operator_id'], unique=False)

    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_counter', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_column('totp_last_counter')
        batch_op.drop_column('totp_enabled_at')
        batch_op.drop_column('totp_secret')

    with op.batch_alter_table('operator_recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operator_recovery_codes_operator_id'))

    op.drop_table('operator_recovery_codes')
    op.drop_table('desk_login_throttles')
    with op.batch_alter_table('desk_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_desk_sessions_operator_id'))

    op.drop_table('desk_sessions')
