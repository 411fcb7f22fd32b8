"""hearing notes: the judge's and secretary's timestamped log notes, append-only

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hearing_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hearing_id', sa.Integer(), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('author_name', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('replaces', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hearing_id'], ['hearings.id'], ),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['replaces'], ['hearing_notes.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('replaces')
    )
    with op.batch_alter_table('hearing_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hearing_notes_hearing_id'), ['hearing_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('hearing_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hearing_notes_hearing_id'))
    op.drop_table('hearing_notes')
