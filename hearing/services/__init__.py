"""Services: each module owns the workflows of one part of the court's work. A workflow checks
access (hearing.access), changes the record and writes its audit row in one transaction
(hearing.transaction), then drives the live parts (media room, transcription). Services raise
hearing.errors; they know nothing of HTTP or the command line."""
