"""hearing leases: one owner node per open hearing, with a fencing number

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hearing_leases',
    sa.Column('hearing_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('node_url', sa.String(length=500), nullable=False),
    sa.Column('fence', sa.BigInteger(), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hearing_id'], ['hearings.id'], ),
    sa.PrimaryKeyConstraint('hearing_id')
    )


def downgrade() -> None:
    op.drop_table('hearing_leases')
