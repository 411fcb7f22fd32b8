"""Runtime of hearings in progress: the moving parts around the record, rebuilt on demand
after a restart (a hearing's room is created again when a participant offers media to it or
a courtroom hearing left open resumes).

- ``hearings``: one ``LiveHearing`` per open hearing this node owns (its lease, its WebRTC
  room, its asr streams, its owned tasks) and ``LiveHearings``, which takes and renews the
  leases, sends the live effects of a hearing another node owns to that node, runs the
  transitions and turns room events into fenced audit rows.
- ``transcription``: the server's one Whisper scheduler; audio of every source of every live
  hearing -> a stream keyed (hearing, source) -> partials to the consoles, finals stored as
  machine segments (``machine_segment``) and then sent.
- ``courtroom``: capture of a courtroom's microphones while a hearing held there runs.

Flow: room audio tap or courtroom channel -> AudioChunk -> asr stream -> partial (to clients,
droppable) / final (stored as an immutable machine segment, then sent). Room and capture
events (joins, drops, mutes, recording chunks with their SHA-256, device alerts) become audit
rows."""

from hearing.live.courtroom import CourtroomCaptures
from hearing.live.hearings import LiveHearing, LiveHearings

__all__ = ["CourtroomCaptures", "LiveHearing", "LiveHearings"]
