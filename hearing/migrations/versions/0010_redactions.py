"""redactions: redacted copies of signed stenogram versions and their silenced recordings

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('redactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hearing_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.Column('spans', sa.JSON(), nullable=False),
    sa.Column('signatures', sa.JSON(), nullable=False),
    sa.Column('recordings', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hearing_id'], ['hearings.id'], ),
    sa.ForeignKeyConstraint(['version_id'], ['stenogram_versions.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    with op.batch_alter_table('redactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redactions_hearing_id'), ['hearing_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_redactions_version_id'), ['version_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('redactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redactions_version_id'))
        batch_op.drop_index(batch_op.f('ix_redactions_hearing_id'))
    op.drop_table('redactions')
