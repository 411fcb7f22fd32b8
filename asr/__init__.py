"""Whisper transcription: model location, VAD, streaming policy, scheduler, offline mode."""
