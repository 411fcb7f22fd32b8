"""Whisper transcription: model location, VAD, streaming policy, scheduler, offline mode.

The server uses ``asr.scheduler.Scheduler`` (one per server, one model), opens one stream per
source with ``open_stream`` and receives ``asr.events.TranscriptEvent``s; whole files go
through ``asr.offline.transcribe_file``. Nothing here imports ``hearing``, ``media`` or
``hardware``; this module itself imports nothing, so ``media`` takes SAMPLE_RATE from here
without loading Whisper."""

#: What every audio input of the transcriber is: float32 mono at 16 kHz (Whisper's rate).
SAMPLE_RATE = 16_000
