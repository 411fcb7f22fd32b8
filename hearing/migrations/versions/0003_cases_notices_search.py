"""cases, case parties, notices, search documents; hearings and evidence belong to a case

Existing hearings are carried into cases by (court, case number): the first hearing of a
number gives the case its category and title, the latest its judge; evidence follows its
hearing into the case.

Revision ID: 0003
Revises: 0002
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('court_id', sa.Integer(), nullable=True),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('judge_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['court_id'], ['courts.id'], ),
    sa.ForeignKeyConstraint(['judge_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('court_id', 'number')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_number'), ['number'], unique=False)

    op.create_table('case_parties',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('display_name', sa.String(length=300), nullable=False),
    sa.Column('contact', sa.String(length=300), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('acts_for', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['acts_for'], ['case_parties.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_parties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_parties_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_parties_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact', sa.String(length=300), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('hearings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('duration_min', sa.Integer(), nullable=False,
                                      server_default='60'))
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_party_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_participants_case_party_id', 'case_parties',
                                    ['case_party_id'], ['id'])
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))

    _carry_hearings_into_cases()

    with op.batch_alter_table('hearings', schema=None) as batch_op:
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('duration_min', existing_type=sa.Integer(), server_default=None)
        batch_op.create_index(batch_op.f('ix_hearings_case_id'), ['case_id'], unique=False)
        batch_op.create_foreign_key('fk_hearings_case_id', 'cases', ['case_id'], ['id'])
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_evidence_items_case_id'), ['case_id'], unique=False)
        batch_op.create_foreign_key('fk_evidence_items_case_id', 'cases', ['case_id'], ['id'])
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('contact', existing_type=sa.String(length=300),
                              server_default=None)

    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('hearing_id', sa.Integer(), nullable=True),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('case_party_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('ics_uid', sa.String(length=200), nullable=True),
    sa.Column('ics_sequence', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('provider_ref', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['hearing_id'], ['hearings.id'], ),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], ),
    sa.ForeignKeyConstraint(['case_party_id'], ['case_parties.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notices_hearing_id'), ['hearing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notices_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_notices_provider_ref'), ['provider_ref'],
                              unique=False)

    op.create_table('search_docs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('hearing_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('ref', sa.String(length=100), nullable=False),
    sa.Column('clock_ms', sa.BigInteger(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['hearing_id'], ['hearings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'ref')
    )
    with op.batch_alter_table('search_docs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_docs_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_docs_hearing_id'), ['hearing_id'],
                              unique=False)


def _carry_hearings_into_cases() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, court_id, case_number, kind, title, judge_id, created_at, created_by "
        "FROM hearings ORDER BY id")).mappings().all()
    cases: dict[tuple, int] = {}
    for r in rows:
        key = (r["court_id"], r["case_number"])
        if key not in cases:
            created = r["created_at"] or datetime.now(timezone.utc)
            conn.execute(sa.text(
                "INSERT INTO cases (court_id, number, category, title, judge_id, status, "
                "created_at, created_by) VALUES (:court, :number, :category, :title, :judge, "
                "'open', :created, :by)"),
                {"court": r["court_id"], "number": r["case_number"], "category": r["kind"],
                 "title": r["title"], "judge": r["judge_id"], "created": created,
                 "by": r["created_by"]})
            cases[key] = conn.execute(sa.text(
                "SELECT id FROM cases WHERE number = :number AND "
                + ("court_id IS NULL" if r["court_id"] is None else "court_id = :court")),
                {"number": r["case_number"], "court": r["court_id"]}).scalar_one()
        else:  # the latest hearing's judge presides over the case
            conn.execute(sa.text("UPDATE cases SET judge_id = :judge WHERE id = :id"),
                         {"judge": r["judge_id"], "id": cases[key]})
        conn.execute(sa.text("UPDATE hearings SET case_id = :case WHERE id = :id"),
                     {"case": cases[key], "id": r["id"]})
    conn.execute(sa.text(
        "UPDATE evidence_items SET case_id = "
        "(SELECT case_id FROM hearings WHERE hearings.id = evidence_items.hearing_id)"))


def downgrade() -> None:
    op.drop_table('search_docs')
    op.drop_table('notices')
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.drop_constraint('fk_evidence_items_case_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_evidence_items_case_id'))
        batch_op.drop_column('case_id')
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_constraint('fk_participants_case_party_id', type_='foreignkey')
        batch_op.drop_column('case_party_id')
    with op.batch_alter_table('hearings', schema=None) as batch_op:
        batch_op.drop_constraint('fk_hearings_case_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_hearings_case_id'))
        batch_op.drop_column('duration_min')
        batch_op.drop_column('case_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('contact')
    op.drop_table('case_parties')
    op.drop_table('cases')
