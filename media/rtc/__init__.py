"""WebRTC media of a hearing: peer connections, encoded forwarding, audio tap, recording.

Wiring (the hearing server's side)::

    room = Room(hearing_id, clock, RtcOptions(...), blobs, recording_dir,
                send=ws_send,            # async (participant_id, message_dict) -> None
                on_event=audit_log,      # (event_dict) -> None, called on the loop
                on_audio=asr_feed)       # (AudioChunk) -> None, or None and read room.tap.queue
    # admitted participant's WebSocket message (join / answer / candidate):
    await room.handle_message(participant_id, message)
    room.set_muted(participant_id, True, by=judge_id)
    await room.remove(participant_id, by=judge_id)          # eject
    await room.participant_dropped(participant_id)          # their WebSocket went away
    recordings = await room.close()                         # list[RecordingBlob]
    await room.shutdown()       # instead, at server shutdown: the chunks stay for a later close

Message shapes: ``media.rtc.signalling``. Events: ``media.rtc.room``."""

from .config import RtcOptions, apply_bind_addresses, turn_rest_credentials
from .ice_ports import apply_port_range
from .recorder import RecordingBlob, finalise_recordings
from .room import Room
from .signalling import SignallingError

__all__ = ["Room", "RtcOptions", "RecordingBlob", "SignallingError", "apply_bind_addresses",
           "apply_port_range", "finalise_recordings", "turn_rest_credentials"]
