"""interpretation channels: the language an interpreter interprets into (and from)

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interprets_into', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('interprets_from', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_column('interprets_from')
        batch_op.drop_column('interprets_into')
