// The health panel of a staff console: what the server measures about the hearing's media
// ("health" and "gap" events; the latest on GET /health when the console connects), said
// plainly: audio lost from a participant, live text delayed, a poor link or a dead courtroom
// microphone, a participant's video stopped (or not reaching someone), the server itself
// overloaded; and this console's own links (its live socket, and
// its camera and microphone once ``watchMedia`` is given the page's RtcClient). Gaps are also
// shown as rows at their time in a transcript container, when one is given.
//
//   const health = mountHealth(el, live, { nameOf, transcript });
//   health.watchMedia(rtc); health.showGaps(answer.gaps);

import { Api } from "./api.js";
import { h, clear } from "./dom.js";
import { t, fmtClock } from "./i18n.js";
import { speakerName } from "./transcript.js";

/** A notice about a link that came back stays this long (readable, not a blink). */
const BACK_SHOWN_MS = 15000;
/** How many past gaps the panel lists. */
const RECENT_GAPS = 5;

const secs = (ms) => Math.max(1, Math.round(ms / 1000));

export function mountHealth(el, live, { nameOf = null, transcript = null } = {}) {
  const api = new Api();
  const S = { health: null, sources: new Map(), gaps: new Map(), socket: null, media: null, timer: null };

  const name = (sid) => {
    const known = nameOf?.(sid);
    if (known) return typeof known === "string" ? known : speakerName(known);
    const s = S.sources.get(sid);
    return s ? speakerName({ label: s.label, role: s.role }) : sid;
  };

  function gapText(g) {
    if (g.reason === "muted") return g.end_ms == null ? t("health.muted_now", { name: name(g.source_id) })
      : t("health.muted_gap", { name: name(g.source_id), s: secs(g.end_ms - g.start_ms) });
    return g.end_ms == null ? t("health.lost_open", { name: name(g.source_id) })
      : t("health.lost", { name: name(g.source_id), s: secs(g.end_ms - g.start_ms) });
  }

  function sourceLines(s) {
    const who = name(s.source_id);
    const out = [];
    for (const r of s.reasons || []) {
      if (r === "audio_lost") {
        const open = s.gap && s.gap.end_ms == null;
        out.push(open ? t("health.lost_now", { name: who, s: secs(S.health.at_ms - s.gap.start_ms) })
          : t("health.lost", { name: who, s: secs(s.audio_lost_ms) }));
      } else if (r === "asr_lag") out.push(t("health.asr_lag", { name: who, s: secs(s.asr_lag_ms) }));
      else if (r === "packets") out.push(t("health.packets", { name: who }));
      else if (r === "seat_silent") out.push(t("health.seat_silent", { name: who }));
      else if (r === "seat_clipping") out.push(t("health.seat_clipping", { name: who }));
      else if (r === "video_frozen") out.push(t("health.video_frozen", { name: who }));
      else if (r === "video_stalled") {
        out.push(t("health.video_stalled", { name: who, to: (s.video_stalled_to || []).map(name).join(", ") }));
      }
    }
    return out;
  }

  function render() {
    const notices = [];
    const now = Date.now();
    if (S.socket?.state === "lost") notices.push({ kind: "error", text: t("health.socket_lost"), key: "socket" });
    else if (S.socket?.state === "back" && now - S.socket.at < BACK_SHOWN_MS) {
      notices.push({ kind: "ok", text: t("health.socket_back", { time: new Date(S.socket.at).toLocaleTimeString() }), key: "socket" });
    }
    if (S.media?.state === "lost") notices.push({ kind: "error", text: t("health.own_media_lost"), key: "media" });
    else if (S.media?.state === "back" && now - S.media.at < BACK_SHOWN_MS) notices.push({ kind: "ok", text: t("health.own_media_back"), key: "media" });
    const hl = S.health;
    if (hl?.server?.state === "degraded") notices.push({ kind: "warn", text: t("health.server_stalled", { s: secs(hl.server.stalled_ms) }), key: "server" });
    for (const s of hl?.sources || []) {
      for (const text of sourceLines(s)) notices.push({ kind: s.state === "lost" ? "error" : "warn", text, key: `source:${s.source_id}` });
    }
    const recent = [...S.gaps.values()].filter((g) => g.end_ms != null && g.reason !== "muted")
      .sort((a, b) => b.start_ms - a.start_ms).slice(0, RECENT_GAPS);
    const bad = notices.some((n) => n.kind !== "ok");
    el.dataset.state = bad ? "degraded" : "ok";
    clear(el);
    const list = h("ul", { class: "health-list", "aria-live": "polite" });
    if (!notices.length) list.append(h("li", { class: "ok" }, t("health.ok")));
    for (const n of notices) list.append(h("li", { class: n.kind, dataset: { notice: n.key } }, n.text));
    el.append(list);
    if (recent.length) {
      el.append(h("p", { class: "small muted" }, t("health.recent")),
        h("ul", { class: "health-gaps small" }, ...recent.map((g) => h("li", { dataset: { source: g.source_id } },
          `${fmtClock(g.start_ms)} · ${gapText(g)}`))));
    }
    // a "back" notice goes by itself
    clearTimeout(S.timer);
    if (notices.some((n) => n.kind === "ok")) S.timer = setTimeout(render, BACK_SHOWN_MS);
  }

  /** A gap as a row at its time among the transcript's segments. */
  function placeGap(g) {
    if (!transcript) return;
    const key = `${g.source_id}:${g.start_ms}`;
    const row = h("div", { class: `seg gap gap-${g.reason}`, role: "note", dataset: { gap: key, source: g.source_id, start: g.start_ms } },
      h("span", { class: "at" }, fmtClock(g.start_ms)), h("span", { class: "text" }, gapText(g)));
    const old = transcript.querySelector(`[data-gap="${CSS.escape(key)}"]`);
    if (old) { old.replaceWith(row); return; }
    transcript.querySelector(".empty")?.remove();
    const after = [...transcript.querySelectorAll(".seg.final, .seg.gap")].find((x) => Number(x.dataset.start) > g.start_ms);
    const before = after || transcript.querySelector(".seg.partial");
    if (before) before.before(row); else transcript.append(row);
  }

  function gap(g) {
    S.gaps.set(`${g.source_id}:${g.start_ms}`, g);
    placeGap(g);
    render();
  }

  async function refresh() {
    try {
      const snap = await api.get(`/api/hearings/${live.hearingId}/health`);
      if (snap.here) onHealth(snap);
    } catch { /* offline: the next event says it */ }
  }

  function onHealth(m) {
    S.health = m;
    for (const s of m.sources || []) S.sources.set(s.source_id, s);
    render();
  }

  live.addEventListener("health", (ev) => onHealth(ev.detail));
  live.addEventListener("gap", (ev) => gap(ev.detail));
  live.addEventListener("hello", refresh);
  live.addEventListener("status", (ev) => {
    if (ev.detail === "reconnecting") S.socket = { state: "lost", at: Date.now() };
    else if (ev.detail === "online" && S.socket) S.socket = { state: "back", at: Date.now() };
    render();
  });
  document.addEventListener("langchange", () => { render(); for (const g of S.gaps.values()) placeGap(g); });
  render();

  return {
    /** Watch this console's own camera and microphone link (an RtcClient). */
    watchMedia(rtc) {
      rtc.addEventListener("state", (ev) => {
        if (ev.detail === "reconnecting") S.media = { state: "lost", at: Date.now() };
        else if (ev.detail === "connected" && S.media) S.media = { state: "back", at: Date.now() };
        render();
      });
    },
    /** The gaps of a transcript answer (after its segments were loaded into the view). */
    showGaps(gaps) {
      for (const g of gaps || []) { S.gaps.set(`${g.source_id}:${g.start_ms}`, g); placeGap(g); }
      render();
    },
  };
}
