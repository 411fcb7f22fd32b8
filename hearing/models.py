"""Database tables. The schema itself changes only through migrations (hearing/migrations);
these classes must match the latest migration, which a test checks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

StaffRole = Literal["admin", "judge", "secretary"]
#: Accounts of the parties' professionals: they sign in like the court's staff but act only in
#: the cases they are linked to (hearing.access).
PartyAccountRole = Literal["prosecutor", "lawyer", "representative"]
AccountRole = Literal["admin", "judge", "secretary", "prosecutor", "lawyer", "representative"]
ParticipantRole = Literal["judge", "secretary", "plaintiff", "defendant", "prosecutor",
                          "defence_lawyer", "representative", "witness", "expert", "interpreter",
                          "observer"]
HearingKind = Literal["civil", "criminal", "administrative"]
Language = Literal["kk", "ru", "kk+ru"]
#: The hearing state machine's states (the moves between them: hearing.lifecycle).
HearingState = Literal["scheduled", "open", "recess", "closed", "cancelled"]
#: lobby -> admitted; "ejected" is final. None until the participant first joins.
Presence = Literal["lobby", "admitted", "ejected"]
SourceKind = Literal["remote", "seat"]
#: A case's life: it stays "open" across its hearings until decided, then is archived.
CaseStatus = Literal["open", "decided", "archived"]
NoticeChannel = Literal["email", "sms"]
NoticeKind = Literal["scheduled", "rescheduled", "cancelled", "invited"]
#: queued -> sent -> delivered, or bounced / failed (after the retries ran out).
NoticeStatus = Literal["queued", "sent", "delivered", "bounced", "failed"]
#: What a search document stands for: a stenogram segment, an evidence transcript, a case.
SearchKind = Literal["segment", "evidence", "case"]
#: Who may see a hearing, a span of it or an evidence item (hearing.access.level_allowed):
#: "public" whoever may view the hearing, the public and observers included; "restricted" the
#: court and the parties, no observers or public; "sealed" the hearing's judge and secretary.
AccessLevel = Literal["public", "restricted", "sealed"]

STAFF_ROLES: tuple[StaffRole, ...] = get_args(StaffRole)
PARTY_ACCOUNT_ROLES: tuple[PartyAccountRole, ...] = get_args(PartyAccountRole)
ACCOUNT_ROLES: tuple[AccountRole, ...] = get_args(AccountRole)
CASE_STATUSES: tuple[CaseStatus, ...] = get_args(CaseStatus)
NOTICE_CHANNELS: tuple[NoticeChannel, ...] = get_args(NoticeChannel)
NOTICE_KINDS: tuple[NoticeKind, ...] = get_args(NoticeKind)
NOTICE_STATUSES: tuple[NoticeStatus, ...] = get_args(NoticeStatus)
SEARCH_KINDS: tuple[SearchKind, ...] = get_args(SearchKind)
ACCESS_LEVELS: tuple[AccessLevel, ...] = get_args(AccessLevel)
PARTICIPANT_ROLES: tuple[ParticipantRole, ...] = get_args(ParticipantRole)
HEARING_KINDS: tuple[HearingKind, ...] = get_args(HearingKind)
LANGUAGES: tuple[Language, ...] = get_args(Language)
HEARING_STATES: tuple[HearingState, ...] = get_args(HearingState)
#: The languages an interpreter may interpret into: the record's languages.
INTERPRETATION_LANGUAGES = ("kk", "ru")
SOURCE_KINDS: tuple[SourceKind, ...] = get_args(SourceKind)

class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Court(Base):
    __tablename__ = "courts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Almaty")
    courtrooms: Mapped[list[Courtroom]] = relationship(back_populates="court")


class Courtroom(Base):
    __tablename__ = "courtrooms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    court_id: Mapped[int] = mapped_column(ForeignKey("courts.id"))
    name: Mapped[str] = mapped_column(String(200))
    #: Seat map: channel -> seat and default label (see hardware.seatmap), as data.
    seat_map: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    court: Mapped[Court] = relationship(back_populates="courtrooms")


class User(Base):
    """An account: the court's staff (administrator, judge, secretary) or a party's
    professional (prosecutor, lawyer, an organisation's representative). Citizens never get
    accounts: they join by invite."""
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(300))
    role: Mapped[AccountRole] = mapped_column(String(20))
    #: Where notices go: an e-mail address or a phone number (E.164).
    contact: Mapped[str] = mapped_column(String(300), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column()


class LoginSession(Base):
    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    user: Mapped[User] = relationship()


class Case(Base):
    """A court case: it owns its hearings, parties, evidence and history. The number is unique
    within a court."""
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    court_id: Mapped[int | None] = mapped_column(ForeignKey("courts.id"), nullable=True)
    number: Mapped[str] = mapped_column(String(100), index=True)
    category: Mapped[HearingKind] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(500))
    judge_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    status: Mapped[CaseStatus] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    hearings: Mapped[list[Hearing]] = relationship(back_populates="case", order_by="Hearing.id")
    parties: Mapped[list[CaseParty]] = relationship(back_populates="case",
                                                     order_by="CaseParty.id")
    __table_args__ = (UniqueConstraint("court_id", "number"),)


class CaseParty(Base):
    """Someone acting in a case across its hearings: a party, their lawyer, the prosecutor.
    With an account (``user_id``) they reach the case's hearings without a new invite."""
    __tablename__ = "case_parties"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    role: Mapped[ParticipantRole] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(300))
    contact: Mapped[str] = mapped_column(String(300), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True,
                                                index=True)
    #: A lawyer or representative acts for another party of the case.
    acts_for: Mapped[int | None] = mapped_column(ForeignKey("case_parties.id"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[datetime] = mapped_column()
    case: Mapped[Case] = relationship(back_populates="parties", foreign_keys=[case_id])


class Hearing(Base):
    __tablename__ = "hearings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    court_id: Mapped[int | None] = mapped_column(ForeignKey("courts.id"), nullable=True)
    courtroom_id: Mapped[int | None] = mapped_column(ForeignKey("courtrooms.id"), nullable=True)
    case_number: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    kind: Mapped[HearingKind] = mapped_column(String(20))
    language: Mapped[Language] = mapped_column(String(8))
    scheduled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: How long the courtroom is booked from scheduled_at.
    duration_min: Mapped[int] = mapped_column(Integer, default=60)
    judge_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    secretary_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    vocabulary: Mapped[list] = mapped_column(JSON, default=list)
    state: Mapped[HearingState] = mapped_column(String(20), default="scheduled")
    #: Hearing clock zero: the UTC instant the hearing was first opened.
    opened_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: Who may join it live and read its record (hearing.access.level_allowed); a closed
    #: span inside it (ClosedSpan) may only be stricter.
    access_level: Mapped[AccessLevel] = mapped_column(String(20), default="public",
                                                      server_default="public")
    participants: Mapped[list[Participant]] = relationship(back_populates="hearing",
                                                           order_by="Participant.id")
    case: Mapped[Case] = relationship(back_populates="hearings")


class Participant(Base):
    __tablename__ = "participants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    role: Mapped[ParticipantRole] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(300))
    contact: Mapped[str] = mapped_column(String(300), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    #: The case party this participant is, in this hearing (None for staff and one-off roles).
    case_party_id: Mapped[int | None] = mapped_column(ForeignKey("case_parties.id"),
                                                      nullable=True)
    presence: Mapped[Presence | None] = mapped_column(String(20), nullable=True)
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    hand_raised: Mapped[bool] = mapped_column(Boolean, default=False)
    #: An interpreter's languages: what they speak into (kk or ru: their audio source is
    #: transcribed in it and its segments are interpretation) and from (any language code).
    interprets_into: Mapped[str | None] = mapped_column(String(8), nullable=True)
    interprets_from: Mapped[str | None] = mapped_column(String(8), nullable=True)
    hearing: Mapped[Hearing] = relationship(back_populates="participants")


class Invite(Base):
    """A participant's way in: bound to one hearing and one participant (so one role);
    only the SHA-256 of the token is stored."""
    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[ParticipantRole] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    participant: Mapped[Participant] = relationship()


class AudioSource(Base):
    """One stream of speech: a remote participant or one courtroom seat (one mic channel).
    Speaker attribution is structural: each source is transcribed on its own."""
    __tablename__ = "audio_sources"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    kind: Mapped[SourceKind] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(100))  # "p<participant id>" or "seat:<channel>"
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"), nullable=True)
    seat: Mapped[str | None] = mapped_column(String(50), nullable=True)
    label: Mapped[str] = mapped_column(String(300))
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    __table_args__ = (UniqueConstraint("hearing_id", "key"),)


class AuditEvent(Base):
    """Append-only, hash-chained per hearing; hearing_id 0 is the server's own chain
    (accounts, logins). ``seq`` is unique per chain, so two servers cannot both append row N."""
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    hearing_id: Mapped[int] = mapped_column(Integer, index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column()
    clock_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("hearing_id", "seq"),)


class TranscriptRevision(Base):
    """One link of the transcript's revision chain (stenogram.revisions): the machine's segments
    (kind "asr") and every correction after them. Rows are only ever inserted."""
    __tablename__ = "transcript_revisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    author: Mapped[str] = mapped_column(String(200))
    doc: Mapped[dict] = mapped_column(JSON)
    hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("hearing_id", "seq"),)


class StenogramVersionRow(Base):
    __tablename__ = "stenogram_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    doc: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    __table_args__ = (UniqueConstraint("hearing_id", "number"),)


class StenogramSignature(Base):
    __tablename__ = "stenogram_signatures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("stenogram_versions.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    doc: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()
    __table_args__ = (UniqueConstraint("version_id", "role"),)


class SigningKey(Base):
    """Public half of a signer's key; the private half is a passphrase-encrypted file in the
    data directory (see stenogram.signing)."""
    __tablename__ = "signing_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    key_id: Mapped[str] = mapped_column(String(100))
    public_key_info: Mapped[dict] = mapped_column(JSON)
    path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column()


class TreeHead(Base):
    """A signed head of a hearing's audit Merkle tree (RFC 6962 style)."""
    __tablename__ = "tree_heads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(Integer, index=True)
    tree_size: Mapped[int] = mapped_column(Integer)
    doc: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()


class RecordingChunk(Base):
    """A closed chunk of one source's recording (hashed into the audit log as it closes)."""
    __tablename__ = "recording_chunks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    source_id: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)


class Recording(Base):
    """A source's whole recording, finalised into the blob store when the hearing closed."""
    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    source_id: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    #: Hearing-clock spans the file fills with silence, each {"start_ms", "end_ms", "reason"}
    #: ("muted", "disconnected" or "lost"): the record says where audio is missing and why.
    gaps: Mapped[list] = mapped_column(JSON, default=list)


#: Until the presiding judge accepts or rejects it, with a reason.
EvidenceStatus = Literal["pending", "accepted", "rejected"]
#: Of its playback copies: "pending" waits for room in the conversion queue.
ConversionState = Literal["pending", "queued", "running", "done", "failed"]


class EvidenceItem(Base):
    """Evidence received for a hearing. The bytes are a read-only blob named by sha256; the
    submitted file name is kept as data only."""
    __tablename__ = "evidence_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The hearing it was submitted in; the case keeps it for the hearings after.
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    upload_id: Mapped[str] = mapped_column(String(100), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # audio | video | image
    media: Mapped[dict] = mapped_column(JSON, default=dict)
    submitted_by: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column()
    status: Mapped[EvidenceStatus] = mapped_column(String(20), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    playback_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    playback_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    transcode_state: Mapped[ConversionState] = mapped_column(String(20), default="pending")
    transcript: Mapped[list | None] = mapped_column(JSON, nullable=True)
    #: Who may see it, on top of the evidence rules (hearing.access.may_see_evidence).
    access_level: Mapped[AccessLevel] = mapped_column(String(20), default="public",
                                                      server_default="public")


class Notice(Base):
    """A notice to one person about one event (scheduled, rescheduled, cancelled, invited),
    by e-mail (with an iCalendar invitation, one UID per hearing) or SMS. A durable job:
    sent with retries until delivered or given up; every change of status is audited."""
    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    hearing_id: Mapped[int | None] = mapped_column(ForeignKey("hearings.id"), nullable=True,
                                                   index=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"),
                                                       nullable=True)
    case_party_id: Mapped[int | None] = mapped_column(ForeignKey("case_parties.id"),
                                                      nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    channel: Mapped[NoticeChannel] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(300))
    kind: Mapped[NoticeKind] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    #: The iCalendar event's UID and SEQUENCE (updates and cancellations reuse the UID).
    ics_uid: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ics_sequence: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[NoticeStatus] = mapped_column(String(20), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    #: The SMTP message id or the SMS provider's message id (delivery reports name it).
    provider_ref: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class SearchDoc(Base):
    """One searchable text: a signed stenogram segment, an evidence transcript, a case's
    metadata. ``terms`` holds the text's word stems (Russian and Kazakh), which the full-text
    index covers, so any form of a word finds the others."""
    __tablename__ = "search_docs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    hearing_id: Mapped[int | None] = mapped_column(ForeignKey("hearings.id"), nullable=True,
                                                   index=True)
    kind: Mapped[SearchKind] = mapped_column(String(20))
    #: The segment id, the evidence id, or the case id, as text.
    ref: Mapped[str] = mapped_column(String(100))
    #: Where it is in the recording (segments and evidence transcripts), on the hearing clock.
    clock_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The stenogram version the text comes from (segments), so a result names what is signed.
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    terms: Mapped[str] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("kind", "ref"),)


class HearingLease(Base):
    """Which node holds an open hearing's live state (room, capture, recorders). ``fence``
    grows by one each time the lease changes hands; the owner's writes carry it, so a node
    that lost the lease (paused, cut off) cannot write over its successor. Rows are never
    deleted: a released lease just expires, and the fence keeps growing."""
    __tablename__ = "hearing_leases"
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), primary_key=True,
                                            autoincrement=False)
    node_id: Mapped[str] = mapped_column(String(100))
    #: Where clients reach the owner (its public URL): a phone's media goes there.
    node_url: Mapped[str] = mapped_column(String(500), default="")
    fence: Mapped[int] = mapped_column(BigInteger)
    acquired_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


class EvidenceUploadLease(Base):
    """Which request appends to (or completes) a resumable upload right now, on any node: the
    upload's bytes and state are on the shared data path, and this row keeps two nodes from
    writing them at once. ``holder`` names one request; a node that dies mid-request lets the
    lease lapse at ``expires_at`` (renewed while the request runs)."""
    __tablename__ = "evidence_upload_leases"
    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(100))
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()


#: Who writes a hearing's log notes: its judge or its secretary.
NoteRole = Literal["judge", "secretary"]


class HearingNote(Base):
    """A log note of the judge or the secretary at a moment of the hearing clock, never
    speech. Rows are only ever inserted: a correction is a new note naming the one it
    ``replaces``, which stays in the history."""
    __tablename__ = "hearing_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(300))
    role: Mapped[NoteRole] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    #: At most one note replaces a given note: corrections form a line, never a fork.
    replaces: Mapped[int | None] = mapped_column(ForeignKey("hearing_notes.id"), nullable=True,
                                                 unique=True)
    created_at: Mapped[datetime] = mapped_column()


#: How strict a closed span is ("public" is no closure).
ClosedLevel = Literal["restricted", "sealed"]


class ClosedSpan(Base):
    """A closed part of a hearing on its clock ("закрытая часть"): while open (``end_ms``
    None) remote viewers without the level are cut off; its segments, recordings and search
    documents carry its level. Opened and ended live by the presiding judge, or marked after
    the fact over a past time range."""
    __tablename__ = "closed_spans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    level: Mapped[ClosedLevel] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column()


class Redaction(Base):
    """A redacted copy of a signed stenogram version (stenogram.redaction): the declared
    spans, the derived document (its SHA-256 is its identity), the signatures on it, and the
    silenced copies of the recordings it touches (new blobs; the originals stay as they are).
    Once a version has one, callers below "sealed" are given the newest copy, not the version."""
    __tablename__ = "redactions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("stenogram_versions.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    doc: Mapped[dict] = mapped_column(JSON)
    spans: Mapped[list] = mapped_column(JSON)
    #: The signature records on the copy, in signing order (its maker's first).
    signatures: Mapped[list] = mapped_column(JSON, default=list)
    #: Silenced recordings: [{"original_sha256", "sha256", "size", "source_id", "start_ms",
    #: "end_ms", "content_type"}], each blob linked to the original it was derived from.
    recordings: Mapped[list] = mapped_column(JSON, default=list)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column()
