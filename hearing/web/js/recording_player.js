// Continuous playback of one source's recording on the hearing clock. While a hearing runs the
// server lists each source as short closed chunks, and more close as it runs: when one ends
// the player loads the next chunk of the same source, asking the server again when it knows
// none yet, and it can follow the live edge. Once the hearing is closed each source is one
// file and the same calls play it. Every position here is hearing-clock milliseconds.

/** How often to ask again for a chunk that has not closed yet. */
const POLL_MS = 700;
/** Following the live edge: further behind the newest audio than this, jump forward. */
const FOLLOW_LAG_MS = 8000;

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Resolves true once the element knows its new source's duration, false if it cannot load. */
function loaded(audio) {
  return new Promise((ok) => {
    const done = (ev) => {
      audio.removeEventListener("loadedmetadata", done);
      audio.removeEventListener("error", done);
      ok(ev.type === "loadedmetadata");
    };
    audio.addEventListener("loadedmetadata", done);
    audio.addEventListener("error", done);
  });
}

/** The hearing's recordings, fetched again cheaply while it runs: chunks are listed in the
 * order they close, so a refresh asks again only from the last (partial) page on. */
export class RecordingList {
  constructor(api, hearingId) {
    this.api = api;
    this.path = `/api/hearings/${hearingId}/recordings`;
    this.byId = new Map();
    this.tail = null; // the cursor that fetched the last, partial page
    this.live = false; // the hearing runs: chunks keep coming
    this._busy = null;
  }

  all() { return [...this.byId.values()]; }

  /** The recordings of one source in hearing-clock order. */
  of(source) {
    return this.all().filter((r) => r.source_id === source).sort((a, b) => a.start_ms - b.start_ms);
  }

  refresh() {
    this._busy ||= this._fetch().finally(() => { this._busy = null; });
    return this._busy;
  }

  async _fetch() {
    // A closed hearing's list changes once, from chunks to one file per source: read it whole.
    if (!this.live) { this.byId.clear(); this.tail = null; }
    let cursor = this.tail;
    for (;;) {
      const page = await this.api.get(cursor ? `${this.path}?cursor=${encodeURIComponent(cursor)}` : this.path);
      for (const r of page.recordings) this.byId.set(r.id ?? r.url, r);
      if (!page.next_cursor) { this.tail = cursor; return this.all(); }
      cursor = page.next_cursor;
    }
  }
}

/** Plays a RecordingList through one <audio> element. Events: "position" (a chunk was
 * loaded), "waiting" (detail: true while the next audio has not closed yet), "end", and
 * "follow" (detail: false when a seek stopped following the live edge). */
export class RecordingPlayer extends EventTarget {
  constructor(audio, recordings) {
    super();
    this.audio = audio;
    this.recs = recordings;
    this.source = null;
    this.rec = null;
    this.rate = 1;
    this.follow = false;
    this.waiting = false;
    this._token = 0; // bumped by every user action: a stale load or wait gives up
    this._ahead = new Audio(); // loads the next chunk while this one plays
    this._ahead.preload = "auto";
    this._ended = false; // the chunk ended and the next is not playing yet
    audio.addEventListener("ended", () => this._onEnded());
    // The element's own play button on an ended chunk would replay it: play on instead.
    audio.addEventListener("play", () => { if (this._ended) this._go(this.rec.end_ms, true, ++this._token); });
  }

  /** The hearing-clock moment being played; null before anything is loaded. */
  get ms() { return this.rec ? this.rec.start_ms + this.audio.currentTime * 1000 : null; }

  /** Playing, or about to (waiting for the next chunk). */
  get active() { return !this.audio.paused || this.waiting; }

  /** Play (or only cue) the source from a hearing-clock moment. */
  playAt(source, ms, play = true) {
    this._stopFollowing();
    this.source = source;
    return this._go(ms, play, ++this._token);
  }

  pause() {
    ++this._token;
    this._setWaiting(false);
    this.audio.pause();
  }

  /** Play on from where it stopped, optionally a little earlier. */
  resume(backMs = 0) {
    if (!this.rec) return Promise.resolve(false);
    const at = this.audio.ended ? this.rec.end_ms : this.ms;
    return this._go(Math.max(0, at - backMs), true, ++this._token);
  }

  seekBy(deltaMs) {
    if (!this.rec) return Promise.resolve(false);
    this._stopFollowing();
    return this._go(Math.max(0, this.ms + deltaMs), this.active, ++this._token);
  }

  setRate(rate) {
    this.rate = rate;
    this.audio.defaultPlaybackRate = this.audio.playbackRate = rate;
  }

  /** Follow the live edge of a source: play its newest audio, and jump forward again
   * whenever playback falls behind. */
  async setFollow(on, source = this.source) {
    this.follow = on;
    if (!on) return;
    const token = ++this._token;
    this.source = source;
    await this.recs.refresh().catch(() => {});
    if (token !== this._token || !this.source) return;
    const target = this._liveTarget();
    await this._go(target ? target.start_ms : 0, true, token);
  }

  _stopFollowing() {
    if (!this.follow) return;
    this.follow = false;
    this.dispatchEvent(new CustomEvent("follow", { detail: false }));
  }

  /** One chunk short of the newest, so the next one has closed before this one ends. */
  _liveTarget() {
    const mine = this.recs.of(this.source);
    return mine.length ? mine[Math.max(0, mine.length - 2)] : null;
  }

  /** The recording that holds ms, or, in a hole, the first after it. */
  _find(ms) {
    const mine = this.recs.of(this.source);
    return mine.find((r) => r.start_ms <= ms && ms < r.end_ms) || mine.find((r) => r.start_ms > ms) || null;
  }

  async _go(ms, play, token, retry = true) {
    for (let tries = 0; ; tries++) {
      const rec = this._find(ms);
      if (rec) {
        const ok = await this._load(rec, Math.max(ms, rec.start_ms), play, token);
        if (ok !== null || !retry) return Boolean(ok);
        // Not served (any more): a closed hearing's chunks give way to one file per source.
        await this.recs.refresh().catch(() => {});
        return token === this._token && this._go(ms, play, token, false);
      }
      if (tries > 0 && !this.recs.live) {
        this._ended = false;
        this._setWaiting(false);
        this.dispatchEvent(new Event("end"));
        return false;
      }
      if (tries > 0 && !play) return false;
      if (tries > 0) {
        this._setWaiting(true);
        this.audio.pause();
        await sleep(POLL_MS);
      }
      if (token !== this._token) return false;
      await this.recs.refresh().catch(() => {});
      if (token !== this._token) return false;
    }
  }

  /** True once playing (or cued), false if overtaken by a newer call, null if unplayable. */
  async _load(rec, ms, play, token) {
    const a = this.audio;
    this.rec = rec;
    this._ended = false;
    if (a.dataset.url !== rec.url) {
      a.dataset.url = rec.url;
      a.src = rec.url;
      const ok = await loaded(a);
      if (token !== this._token) return false;
      if (!ok) { delete a.dataset.url; return null; }
    }
    a.defaultPlaybackRate = a.playbackRate = this.rate;
    a.currentTime = Math.max(0, (ms - rec.start_ms) / 1000);
    this._setWaiting(false);
    this.dispatchEvent(new Event("position"));
    if (play) await a.play().catch(() => {});
    this._lookAhead(rec, token);
    return true;
  }

  /** Know (and load) the next chunk before this one ends. */
  async _lookAhead(rec, token) {
    let next = this.recs.of(this.source).find((r) => r.start_ms >= rec.end_ms);
    if ((!next || this.follow) && this.recs.live) {
      await this.recs.refresh().catch(() => {});
      if (token !== this._token) return;
      next = this.recs.of(this.source).find((r) => r.start_ms >= rec.end_ms);
    }
    if (next && this._ahead.dataset.url !== next.url) {
      this._ahead.dataset.url = next.url;
      this._ahead.src = next.url;
    }
  }

  _onEnded() {
    const done = this.rec;
    if (!done) return;
    this._ended = true;
    let ms = done.end_ms;
    if (this.follow) {
      const edge = this._liveTarget();
      if (edge && edge.start_ms - ms > FOLLOW_LAG_MS) ms = edge.start_ms;
    }
    this._go(ms, true, this._token);
  }

  _setWaiting(on) {
    if (this.waiting === on) return;
    this.waiting = on;
    this.dispatchEvent(new CustomEvent("waiting", { detail: on }));
  }
}
