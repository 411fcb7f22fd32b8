"""WebRTC sessions, forwarding, audio tap, recording, evidence media, blob store."""
