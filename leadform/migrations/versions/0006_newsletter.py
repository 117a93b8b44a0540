"""newsletter: subscribers, articles already mailed, and each subscriber's emails

Revision ID: 0006_newsletter
Revises: 0005_calendars
Create Date: 2026-12-06 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_newsletter'
down_revision = '0005_calendars'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('newsletter_subscribers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('consent_version', sa.String(length=32), nullable=False),
    sa.Column('signed_up_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('last_emailed_at', sa.DateTime(), nullable=True),
    sa.Column('source_article', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_newsletter_subscribers')),
    sa.UniqueConstraint('email', name=op.f('uq_newsletter_subscribers_email')),
    sa.UniqueConstraint('public_id', name=op.f('uq_newsletter_subscribers_public_id'))
    )
    op.create_table('newsletter_mailed_articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_key', sa.String(length=500), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('back_catalogue', sa.Boolean(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('mailed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_newsletter_mailed_articles')),
    sa.UniqueConstraint('article_key', name=op.f('uq_newsletter_mailed_articles_article_key'))
    )
    op.create_table('newsletter_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'], name=op.f('fk_newsletter_emails_message_id_outbox_messages')),
    sa.ForeignKeyConstraint(['subscriber_id'], ['newsletter_subscribers.id'], name=op.f('fk_newsletter_emails_subscriber_id_newsletter_subscribers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_newsletter_emails')),
    sa.UniqueConstraint('message_id', name=op.f('uq_newsletter_emails_message_id'))
    )
    with op.batch_alter_table('newsletter_emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_newsletter_emails_subscriber_id'), ['subscriber_id'], unique=False)


def downgrade():
    with op.batch_alter_table('newsletter_emails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_newsletter_emails_subscriber_id'))

    op.drop_table('newsletter_emails')
    op.drop_table('newsletter_mailed_articles')
    op.drop_table('newsletter_subscribers')
