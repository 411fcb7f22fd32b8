"""evidence upload leases: one node at a time appends to an upload

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('evidence_upload_leases',
    sa.Column('upload_id', sa.String(length=64), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('upload_id')
    )


def downgrade() -> None:
    op.drop_table('evidence_upload_leases')
