"""Live transcription: the server's one Whisper scheduler and the asr stream of every source
of every live hearing. A stream is keyed by (hearing, source) on the scheduler, so two
courtrooms with the same seat ids transcribe side by side. Partials go to the consoles as
they come (droppable); a final becomes a stored machine segment (``machine_segment``) and is
then sent with its stored id. The speaker of each message comes from the live hearing's
speaker map, not from a query per event.

With ``asr_mode = "workers"`` the streams are ``hearing.asr_workers.RemoteStream``s instead:
the audio goes over JetStream to ``courtroom asr-worker`` processes and their events come back
to the same handlers; a final that a worker taking over a stream sends again (same source and
start) is stored once."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING

from asr.confidence import conditions_prompt
from hearing.config import weak_languages
from hearing.transcripts import speaker_of, speakers
from media.audio import AudioChunk
from media.tasks import Tasks
from stenogram import Segment
from stenogram.segments import new_segment_id

if TYPE_CHECKING:
    from asr.events import TranscriptEvent
    from asr.scheduler import Scheduler
    from hearing.asr_workers import RemoteStream, WorkerPool
    from hearing.live.hearings import LiveHearing
    from hearing.state import AppState

log = logging.getLogger(__name__)


def machine_segment(event: TranscriptEvent, interpretation: str = "") -> Segment:
    """An asr final as the record keeps it: an immutable machine segment whose speaker is its
    source (attribution is structural: one stream per microphone or remote participant);
    an interpreter's carries the language of interpretation."""
    return Segment(segment_id=new_segment_id(), source_id=event.source_id,
                   start_ms=event.start_ms, end_ms=event.end_ms, text=event.text.strip(),
                   words=tuple(event.words), language=event.language, model=event.model,
                   speaker=event.source_id, uncertain=event.uncertain,
                   interpretation=interpretation)


def source_language(live: LiveHearing, source_id: str) -> str:
    """The language a source is transcribed in: its own (an interpreter's), else the
    hearing's."""
    return (live.speakers.get(source_id) or {}).get("language") or live.language


def transcript_message(event: TranscriptEvent, speaker: dict,
                       segment_id: str | None = None) -> dict:
    """What a console receives: a partial under the asr segment id, a final under the id of
    the segment stored for it."""
    return {"type": event.kind, "source_id": event.source_id,
            "segment_id": segment_id or event.segment_id, "start_ms": event.start_ms,
            "end_ms": event.end_ms, "text": event.text,
            "words": [{"text": w.text, "start_ms": w.start_ms, "end_ms": w.end_ms,
                       "probability": w.probability} for w in event.words],
            "language": event.language, "model": event.model, "committed": event.committed,
            "uncertain": event.uncertain, "scores": event.scores, "speaker": speaker,
            **({"interpretation": speaker["interpretation"]}
               if speaker.get("interpretation") else {})}


def interpreters(known: dict[str, dict]) -> dict[str, str]:
    """Speaker key (the room's participant id) -> the language its interpreter interprets
    into, for the room's listening channels."""
    return {key: who["interpretation"] for key, who in known.items()
            if who.get("interpretation")}


def _pool_name(live: LiveHearing) -> str:
    """The hearing's name on the worker pool (``asr.worker.hearing_token``)."""
    from asr.worker import hearing_token
    return hearing_token(live.hearing_id, int(live.clock.opened_at.timestamp() * 1000))


class Transcription:
    """The shared scheduler and the streams of every live hearing."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.scheduler: Scheduler | None = None  # started with the first source that speaks
        self._lock = asyncio.Lock()
        self._tasks = Tasks("transcription")
        self.pool: WorkerPool | None = None  # asr_mode "workers": connected on first audio

    async def ensure_scheduler(self) -> Scheduler:
        """The shared scheduler, its model loaded once however many callers wait for it."""
        async with self._lock:
            if self.scheduler is None:
                from asr.model import ModelOptions
                from asr.scheduler import Scheduler, SchedulerOptions
                cfg = self.state.config
                model = ModelOptions(model_dir=cfg.asr_model_dir or None, device=cfg.asr_device,
                                     compute_type=cfg.asr_compute_type,
                                     weak_languages=weak_languages(cfg.asr_weak_languages))
                scheduler = Scheduler(SchedulerOptions(model=model, lanes=cfg.asr_lanes))
                await scheduler.start()
                self.scheduler = scheduler
            return self.scheduler

    async def ensure_pool(self) -> WorkerPool:
        """The connection to the worker pool, made once however many callers wait for it."""
        async with self._lock:
            if self.pool is None:
                from hearing.asr_workers import WorkerPool
                pool = WorkerPool(self.state.config.nats_url, node_id=self.state.config.node_id,
                                  prefix=self.state.config.bus_prefix)
                await pool.start()
                self.pool = pool
            return self.pool

    def prepare(self, *, load_model: bool = False) -> None:
        """Get ready for the first words, in the background: reach the worker pool (a hearing
        opened here), or load the model (``load_model``: a server starting), so that they are
        not spoken while it happens (such audio is recorded, not transcribed)."""
        cfg = self.state.config
        if not cfg.transcribe:
            return
        if cfg.asr_mode == "workers":
            if self.pool is None and not self._tasks.named("reach the asr workers"):
                self._tasks.start(self.ensure_pool(), "reach the asr workers")
        elif load_model and self.scheduler is None and not self._tasks.named("load the model"):
            self._tasks.start(self.ensure_scheduler(), "load the model")

    def _open_remote(self, live: LiveHearing, source_id: str) -> RemoteStream | None:
        """A source's stream on the worker pool (None while the pool is being reached)."""
        if self.pool is None:
            self.prepare()
            return None
        spec = {"hearing_id": live.hearing_id, "language": source_language(live, source_id),
                "vocabulary": live.vocabulary, "prompt": live.prompt(source_id)}
        return self.pool.open(
            _pool_name(live), source_id, spec, lambda ev: self._on_event(live, ev),
            lambda ev: self._store_remote_final(live, ev))

    async def _store_remote_final(self, live: LiveHearing, event: TranscriptEvent) -> None:
        """A worker's final, stored unless one of the same source and start already is (a
        worker that took over a stream, or a node that took over the hearing, sends again
        what may have been stored)."""
        t = await self.state.transcripts.get(live.hearing_id)
        if any(seg.source_id == event.source_id and seg.start_ms == event.start_ms
               for seg in t.state.values()):
            return
        await self._store_final(live, event)

    def feed(self, live: LiveHearing, chunk: AudioChunk) -> None:
        """One chunk of a source's audio into its stream (opened on its first chunk)."""
        if not self.state.config.transcribe or live.closing:
            return
        if chunk.source_id in live.relanguaging:
            return  # its stream flushes in its old language: recorded, not transcribed
        stream = live.streams.get(chunk.source_id)
        if stream is None and self.state.config.asr_mode == "workers":
            stream = self._open_remote(live, chunk.source_id)
            if stream is None:
                return  # audio while the pool is reached is recorded, not transcribed
            live.streams[chunk.source_id] = stream
        if stream is None:
            if self.scheduler is None:
                # Audio that arrives while the model loads is recorded but not transcribed;
                # one load serves every source (not one task per 100 ms chunk).
                self.prepare(load_model=True)
                return
            from asr.scheduler import StreamKey
            from asr.stream import StreamOptions
            stream = self.scheduler.open_stream(
                StreamKey(live.hearing_id, chunk.source_id),
                StreamOptions(language=source_language(live, chunk.source_id),
                              vocabulary=live.vocabulary,
                              prompt=functools.partial(live.prompt, chunk.source_id)),
                lambda ev: self._on_event(live, ev))
            live.streams[chunk.source_id] = stream
        if chunk.source_id not in live.stream_languages:
            live.stream_languages[chunk.source_id] = source_language(live, chunk.source_id)
        stream.feed(chunk.start_ms, chunk.samples)

    def _on_event(self, live: LiveHearing, event: TranscriptEvent) -> None:
        if event.kind == "final":
            live.tasks.start(self._store_final(live, event), "store a final")
            return
        if event.source_id not in live.speakers:  # someone added since: look again
            live.tasks.start(self.refresh_speakers(live), "speakers")
        self.state.hub.publish(live.hearing_id, {**transcript_message(
            event, speaker_of(event.source_id, live.speakers)),
            "level": live.caption_level(event.start_ms, event.end_ms)})

    async def refresh_speakers(self, live: LiveHearing) -> None:
        """Reload the speaker map (one at a time: the last reload sees the last change); a
        source whose language changed starts a new stream in it."""
        async with live.speakers_lock:
            live.speakers = await self.state.db.run(lambda s: speakers(s, live.hearing_id))
            for source_id, language in list(live.stream_languages.items()):
                if language != source_language(live, source_id):
                    self._relanguage(live, source_id)

    def _relanguage(self, live: LiveHearing, source_id: str) -> None:
        """Flush the source's stream in the language it was opened in; its next audio opens
        one in the new language (the audio meanwhile is recorded, not transcribed)."""
        stream = live.streams.pop(source_id, None)
        live.stream_languages.pop(source_id, None)
        if stream is None:
            return
        live.relanguaging.add(source_id)

        async def flush() -> None:
            try:
                await stream.close()
            except Exception:
                log.exception("closing transcriber stream %s failed", stream.key)
            finally:
                live.relanguaging.discard(source_id)
        live.tasks.start(flush(), f"new language for {source_id}")

    async def _store_final(self, live: LiveHearing, event: TranscriptEvent) -> None:
        if not event.text.strip() and event.uncertain != "unintelligible":
            return
        interpretation = (live.speakers.get(event.source_id) or {}).get("interpretation") or ""
        try:
            seg = await self.state.transcripts.add_final(live.hearing_id,
                                                         machine_segment(event, interpretation))
        except Exception:
            log.exception("could not store a final segment of hearing %s", live.hearing_id)
            return
        if conditions_prompt(event.uncertain):  # never text the model may have invented
            live.remember(event.source_id, seg.text)
        if event.source_id not in live.speakers:
            await self.refresh_speakers(live)
        self.state.hub.publish(live.hearing_id, {**transcript_message(
            event, speaker_of(event.source_id, live.speakers), seg.segment_id),
            "level": live.caption_level(event.start_ms, event.end_ms)})

    async def close_streams(self, live: LiveHearing) -> None:
        """Flush every stream of the hearing: its last words become finals."""
        live.closing = True
        if self.pool is not None:  # the workers flush the sources side by side
            for stream, result in zip(list(live.streams.values()), await asyncio.gather(
                    *(s.close() for s in live.streams.values()), return_exceptions=True)):
                if isinstance(result, Exception):
                    log.error("closing transcriber stream %s failed: %s", stream.key, result)
            await self.pool.forget(_pool_name(live))
            return
        for stream in list(live.streams.values()):
            try:
                await stream.close()
            except Exception:
                log.exception("closing transcriber stream %s failed", stream.key)

    async def close(self) -> None:
        """Server shutdown: a model load under way finishes (its thread cannot be cancelled),
        then the workers stop."""
        await self._tasks.wait()
        await self._tasks.close()
        if self.scheduler is not None:
            await self.scheduler.stop()
            self.scheduler = None
        if self.pool is not None:
            await self.pool.close()
            self.pool = None
