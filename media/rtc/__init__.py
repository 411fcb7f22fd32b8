"""WebRTC media of a hearing: peer connections, encoded forwarding, audio tap, recording."""

from .config import RtcOptions, apply_bind_addresses, turn_rest_credentials
from .ice_ports import apply_port_range
from .recorder import RecordingBlob, finalise_recordings
from .room import Room
from .signalling import SignallingError

__all__ = ["Room", "RtcOptions", "RecordingBlob", "SignallingError", "apply_bind_addresses", "apply_port_range",
           "finalise_recordings", "turn_rest_credentials"]
