"""access levels and closed spans: a hearing's and an evidence item's access level, and the
closed (restricted or sealed) parts of a hearing on its clock

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('hearings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_level', sa.String(length=20), nullable=False,
                                      server_default='public'))
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_level', sa.String(length=20), nullable=False,
                                      server_default='public'))
    op.create_table('closed_spans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hearing_id', sa.Integer(), nullable=False),
    sa.Column('start_ms', sa.BigInteger(), nullable=False),
    sa.Column('end_ms', sa.BigInteger(), nullable=True),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hearing_id'], ['hearings.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('closed_spans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_closed_spans_hearing_id'), ['hearing_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('closed_spans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_closed_spans_hearing_id'))
    op.drop_table('closed_spans')
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.drop_column('access_level')
    with op.batch_alter_table('hearings', schema=None) as batch_op:
        batch_op.drop_column('access_level')
