"""transcripts stenograms recordings evidence

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tree_heads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hearing_id', sa.Integer(), nullable=False),
    sa.Column('tree_size', sa.Integer(), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tree_heads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tree_heads_hearing_id'), ['hearing_id'], unique=False)

    op.create_table('signing_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=100), nullable=False),
    sa.Column('public_key_info', sa.JSON(), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id')
    )
    op.create_table('evidence_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hearing_id', sa.Integer(), nullable=False),
    sa.Column('upload_id', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('filename', sa.String(length=500), nullable=False),
    sa.Column('content_type', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('media', sa.JSON(), nullable=False),
    sa.Column('submitted_by', sa.String(length=200), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('playback_sha256', sa.String(length=64), nullable=True),
    sa.Column('playback_type', sa.String(length=100), nullable=True),
    sa.Column('thumbnail_sha256', sa.String(length=64), nullable=True),
    sa.Column('transcode_state', sa.String(length=20), nullable=False),
    sa.Column('transcript', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['hearing_id'], ['hearings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('upload_id')
    )
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_items_hearing_id'), ['hearing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_items_sha256'), ['sha256'], unique=False)

    op.create_table('recording_chunks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hearing_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=100), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('start_ms', sa.BigInteger(), nullable=False),
    sa.Column('end_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['hearing_id'], ['hearings.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('recording_chunks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recording_chunks_hearing_id'), ['hearing_id'], unique=False)

    op.create_table('recordings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hearing_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('start_ms', sa.BigInteger(), nullable=False),
    sa.Column('end_ms', sa.BigInteger(), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['hearing_id'], ['hearings.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_hearing_id'), ['hearing_id'], unique=False)

    op.create_table('stenogram_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hearing_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['hearing_id'], ['hearings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hearing_id', 'number')
    )
    with op.batch_alter_table('stenogram_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stenogram_versions_hearing_id'), ['hearing_id'], unique=False)

    op.create_table('transcript_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hearing_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['hearing_id'], ['hearings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hearing_id', 'seq')
    )
    with op.batch_alter_table('transcript_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transcript_revisions_hearing_id'), ['hearing_id'], unique=False)

    op.create_table('stenogram_signatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['version_id'], ['stenogram_versions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('version_id', 'role')
    )
    with op.batch_alter_table('stenogram_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stenogram_signatures_version_id'), ['version_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('stenogram_signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stenogram_signatures_version_id'))

    op.drop_table('stenogram_signatures')
    with op.batch_alter_table('transcript_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transcript_revisions_hearing_id'))

    op.drop_table('transcript_revisions')
    with op.batch_alter_table('stenogram_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stenogram_versions_hearing_id'))

    op.drop_table('stenogram_versions')
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recordings_hearing_id'))

    op.drop_table('recordings')
    with op.batch_alter_table('recording_chunks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recording_chunks_hearing_id'))

    op.drop_table('recording_chunks')
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_items_sha256'))
        batch_op.drop_index(batch_op.f('ix_evidence_items_hearing_id'))

    op.drop_table('evidence_items')
    op.drop_table('signing_keys')
    with op.batch_alter_table('tree_heads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tree_heads_hearing_id'))

    op.drop_table('tree_heads')
