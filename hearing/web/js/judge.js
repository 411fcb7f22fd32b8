// The judge's console: open / recess / close, the lobby, participants and courtroom seats with
// level meters and who is speaking, mute and eject, the live transcript, evidence decisions,
// inviting, and signing the record.

import { Api } from "./api.js";
import { $, h, clear, show, toast } from "./dom.js";
import { initI18n, t, applyI18n, fmtClock, errorText } from "./i18n.js";
import { langSwitch } from "./header.js";
import { Live } from "./live.js";
import { paintLevel, SPEAKING_DB, LevelMeter } from "./meter.js";
import { TranscriptView } from "./transcript.js";
import { mountInviteForm } from "./invite.js";
import { mountSignPanel } from "./sign.js";
import { RtcClient } from "./rtc.js";
import { mountSearch } from "./search.js";
import { mountHealth } from "./health.js";
import { mountNotes } from "./notes.js";
import { mountClosures } from "./closures.js";
import { mountEvidenceReview } from "./evidence_review.js";
import { LobbyNotices } from "./lobby_notice.js";

const HID = Number(location.pathname.split("/").pop());
const api = new Api();
const S = { hearing: null, people: new Map(), levels: new Map(), clockBase: null, live: null,
  transcript: null, sign: null, rtc: null, stream: null, tiles: new Map(), wasOffline: false };

function setState(state, clockMs) {
  S.hearing.state = state;
  const b = $("#state-badge");
  b.className = `badge state-${state}`;
  b.textContent = t(`state.${state}`);
  if (clockMs !== undefined && clockMs !== null) S.clockBase = { ms: clockMs, at: performance.now() };
  $("#t-open").hidden = state !== "scheduled";
  $("#t-recess").hidden = state !== "open";
  $("#t-resume").hidden = state !== "recess";
  $("#t-close").hidden = !(state === "open" || state === "recess");
  document.body.dataset.state = state;
  if (state === "closed") $("#media-join").hidden = true; // nothing to connect to any more
}

function tickClock() {
  const c = S.clockBase;
  $("#clock").textContent = c && S.hearing?.state !== "closed" ? fmtClock(c.ms + (performance.now() - c.at)) : "";
}

async function transition(to) {
  if (to === "closed" && !confirm(t("judge.close_confirm"))) return;
  try {
    const hr = await api.post(`/api/hearings/${HID}/transitions`, { to });
    setState(hr.state, hr.clock_ms);
  } catch (e) { toast(errorText(e), "error"); }
}

async function moderate(p, action, body) {
  if (action === "eject" && !confirm(t("judge.eject_confirm", { name: p.display_name }))) return;
  try {
    const out = await api.post(`/api/hearings/${HID}/participants/${p.id}/${action}`, body);
    S.people.set(out.id, { ...S.people.get(out.id), ...out });
    render();
  } catch (e) { toast(errorText(e), "error"); }
}

function levelFor(sourceId) {
  return S.levels.get(sourceId);
}

function personRow(p) {
  const sid = `p${p.id}`;
  const lvl = levelFor(sid);
  const speaking = lvl && lvl.rms_db > SPEAKING_DB;
  const bar = h("div", { class: "level", role: "meter", "aria-valuemin": -60, "aria-valuemax": 0, "aria-valuenow": -60, "aria-label": t("judge.level_of", { name: p.display_name }) });
  if (lvl) paintLevel(bar, lvl.rms_db);
  const mute = h("button", { type: "button", class: "secondary small", "aria-pressed": String(!!p.muted) }, t(p.muted ? "judge.unmute" : "judge.mute"));
  mute.addEventListener("click", () => moderate(p, "mute", { muted: !p.muted }));
  const eject = h("button", { type: "button", class: "danger small" }, t("judge.eject"));
  eject.addEventListener("click", () => moderate(p, "eject"));
  const staff = p.role === "judge" || p.role === "secretary";
  return h("li", { class: speaking ? "speaking" : "", dataset: { participant: p.id, source: sid } },
    h("span", { class: "speaking-dot", role: "img", "aria-label": t(speaking ? "judge.speaking" : "judge.silent") }),
    h("span", { class: "who" }, p.display_name,
      h("small", {}, `${t(`role.${p.role}`)}${staff ? "" : ` · ${t(p.presence === "admitted" && p.connected === false ? "presence.away" : `presence.${p.presence || "invited"}`)}`}${p.muted ? ` · ${t("judge.muted")}` : ""}`)),
    p.link === "dropped" ? h("span", { class: "badge state-recess" }, t("judge.link_dropped")) : null,
    p.hand_raised ? h("span", { class: "badge hand", role: "img", "aria-label": t("judge.hand_raised") }, t("judge.hand_raised")) : null,
    bar, staff ? null : mute, staff ? null : eject);
}

/** Replace a list's rows by key, keeping rows whose content did not change: a row rebuilt
 * under the judge's pointer would swallow the click. */
function reconcile(ul, rows) {
  const old = new Map([...ul.children].map((li) => [li.dataset.key, li]));
  let prev = null;
  for (const { key, sig, make } of rows) {
    let li = old.get(key);
    if (!li || li.dataset.sig !== sig) {
      const fresh = make();
      fresh.dataset.key = key;
      fresh.dataset.sig = sig;
      if (li) li.replaceWith(fresh);
      li = fresh;
    }
    old.delete(key);
    if (prev ? prev.nextSibling !== li : ul.firstChild !== li) {
      if (prev) prev.after(li); else ul.prepend(li);
    }
    prev = li;
  }
  for (const li of old.values()) li.remove();
}

function lobbyRow(p) {
  const admit = h("button", { type: "button", class: "small" }, t("judge.admit"));
  admit.addEventListener("click", () => moderate(p, "admit"));
  const deny = h("button", { type: "button", class: "danger small" }, t("judge.deny"));
  deny.addEventListener("click", () => moderate(p, "eject"));
  return h("li", { dataset: { participant: p.id } },
    h("span", { class: "who" }, p.display_name, h("small", {}, t(`role.${p.role}`))), admit, deny);
}

function render() {
  const lang = document.documentElement.lang;
  const sig = (p) => JSON.stringify([lang, p.display_name, p.role, p.presence, p.connected, p.muted, p.hand_raised, p.link]);
  const all = [...S.people.values()];
  const waiting = all.filter((p) => p.presence === "lobby");
  reconcile($("#lobby"), waiting.map((p) => ({ key: String(p.id), sig: sig(p), make: () => lobbyRow(p) })));
  reconcile($("#people"), all.filter((p) => p.presence !== "lobby" && p.presence !== "ejected")
    .map((p) => ({ key: String(p.id), sig: sig(p), make: () => personRow(p) })));
  S.lobbyNotices?.update(waiting);
  $("#lobby-count").textContent = String(waiting.length);
  show($("#lobby-empty"), waiting.length === 0);
  renderSeats();
}

function renderSeats() {
  const seats = clear($("#seats"));
  let n = 0;
  for (const lvl of S.levels.values()) {
    if (/^p\d+$/.test(lvl.source_id)) continue;
    n += 1;
    const speaking = lvl.rms_db > SPEAKING_DB;
    const bar = h("div", { class: "level", role: "meter", "aria-valuemin": -60, "aria-valuemax": 0, "aria-valuenow": -60, "aria-label": t("judge.level_of", { name: lvl.label || lvl.source_id }) });
    paintLevel(bar, lvl.rms_db);
    seats.append(h("li", { class: speaking ? "speaking" : "", dataset: { source: lvl.source_id } },
      h("span", { class: "speaking-dot", role: "img", "aria-label": t(speaking ? "judge.speaking" : "judge.silent") }),
      h("span", { class: "who" }, lvl.label || lvl.source_id, lvl.alert ? h("small", { class: "alert" }, lvl.alert) : null), bar));
  }
  show($("#seats-empty"), n === 0);
}

function onMeter(levels) {
  for (const l of levels) S.levels.set(l.source_id, { ...S.levels.get(l.source_id), ...l });
  // Update bars in place (ten times a second) rather than rebuilding the lists.
  for (const l of levels) {
    const li = document.querySelector(`li[data-source="${CSS.escape(l.source_id)}"]`);
    if (!li) { if (!/^p\d+$/.test(l.source_id)) renderSeats(); continue; }
    const bar = li.querySelector(".level");
    if (bar) paintLevel(bar, l.rms_db);
    const speaking = l.rms_db > SPEAKING_DB;
    li.classList.toggle("speaking", speaking);
    li.querySelector(".speaking-dot")?.setAttribute("aria-label", t(speaking ? "judge.speaking" : "judge.silent"));
  }
}

// ---- evidence (evidence_review.js: previews, progress, decisions) ------------------------------

function submitterName(ev) {
  const pid = /^participant:(\d+)/.exec(String(ev.submitted_by || ""))?.[1];
  return (pid && S.people.get(Number(pid))?.display_name) || ev.submitted_by || "";
}

function loadEvidence() {
  return S.evidence?.load();
}

// ---- the judge's own camera and microphone ---------------------------------------------------

async function joinMedia() {
  try {
    S.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true })
      .catch(() => navigator.mediaDevices.getUserMedia({ audio: true }));
  } catch (e) {
    toast(t("check.device_error", { error: e.name }), "error");
    return;
  }
  show($("#media-card"));
  $("#media-join").hidden = true;
  const mine = [...S.people.values()].find((p) => p.user_id === S.me.user_id);
  if (mine) new LevelMeter(S.stream, (db) => onMeter([{ source_id: `p${mine.id}`, rms_db: db, peak_db: db }]));
  S.rtc = new RtcClient(S.live, S.stream);
  S.health?.watchMedia(S.rtc);
  S.rtc.addEventListener("sources", (ev) => { S.sources = ev.detail; renderTiles(S.sources); });
  S.rtc.addEventListener("state", (ev) => { if (ev.detail === "elsewhere") mediaElsewhere(S.rtc.elsewhere); });
  S.rtc.join();
  renderTiles(new Map());
}

/** The hearing's media runs on another court server, whose origin this console's session
 * cookie does not reach: the judge opens the console there (and signs in there); events and
 * commands go on working here. */
function mediaElsewhere(url) {
  if (!/^https?:\/\//.test(url || "")) return;
  const there = `${url}${location.pathname}${location.search}`;
  let note = $("#media-elsewhere");
  if (!note) {
    note = h("p", { id: "media-elsewhere", class: "banner warn", role: "status" });
    $("#media-card").prepend(note);
  }
  clear(note);
  note.append(t("judge.media_elsewhere"), " ", h("a", { href: there }, t("judge.media_elsewhere_link")));
}

function renderTiles(sources) {
  const box = $("#tiles");
  const want = new Map([["self", { local: S.stream }], ...sources]);
  for (const [sid, tracks] of want) {
    let el = S.tiles.get(sid);
    if (!el) {
      el = h("div", { class: "tile", dataset: { source: sid } }, h("video", { autoplay: true, playsinline: true }),
        h("div", { class: "name" }, h("span", { class: "speaking-dot" }), h("span", { class: "label" })));
      S.tiles.set(sid, el);
      box.append(el);
    }
    const p = S.people.get(Number(sid.slice(1)));
    el.querySelector(".label").textContent = sid === "self" ? t("hearing.you") : p ? p.display_name : sid;
    const v = el.querySelector("video");
    if (tracks.local) { v.muted = true; if (v.srcObject !== tracks.local) v.srcObject = tracks.local; }
    else {
      const ids = [tracks.audio?.id, tracks.video?.id].join("/");
      if (el.dataset.tracks !== ids) {
        el.dataset.tracks = ids;
        v.srcObject = new MediaStream([tracks.audio, tracks.video].filter(Boolean));
        v.play().catch(() => {});
        // The server meters courtroom seats; remote voices are metered here, from what we hear.
        el._meter?.stop();
        if (tracks.audio) {
          el._meter = new LevelMeter(new MediaStream([tracks.audio]), (db) => {
            onMeter([{ source_id: sid, rms_db: db, peak_db: db }]);
            el.classList.toggle("speaking", db > SPEAKING_DB);
          });
        }
      }
    }
  }
  for (const [sid, el] of S.tiles) if (!want.has(sid)) { el._meter?.stop(); el.remove(); S.tiles.delete(sid); }
}

// ---- live ------------------------------------------------------------------------------------

function connBanner(status) {
  const b = $("#conn-banner");
  document.body.dataset.conn = status;
  if (status === "reconnecting") { S.wasOffline = true; b.className = "banner warn"; b.textContent = t("conn.reconnecting"); show(b); }
  else if (status === "online") {
    if (S.wasOffline) { b.className = "banner ok"; b.textContent = t("conn.restored"); setTimeout(() => show(b, false), 3000); }
    else show(b, false);
  }
}

function startLive() {
  const live = new Live(HID);
  S.live = live;
  S.health = mountHealth($("#health-slot"), live, { nameOf: speakerOf, transcript: $("#transcript") });
  mountNotes($("#notes-slot"), { api, hid: HID, live });
  mountClosures($("#closure-slot"), { api, hid: HID, live, presiding: S.me.user_id === S.hearing.judge_id });
  live.addEventListener("status", (ev) => connBanner(ev.detail));
  live.addEventListener("hello", (ev) => {
    const m = ev.detail;
    S.people = new Map(m.participants.map((p) => [p.id, p]));
    setState(m.hearing.state, m.clock_ms);
    render();
    if (S.rtc && S.wasOffline) S.rtc.join();
    loadTranscript();
  });
  live.addEventListener("state", (ev) => setState(ev.detail.state, ev.detail.clock_ms));
  live.addEventListener("joined", (ev) => { S.people.set(ev.detail.participant.id, { ...S.people.get(ev.detail.participant.id), ...ev.detail.participant, connected: true }); render(); });
  live.addEventListener("participant", (ev) => { const p = ev.detail.participant; S.people.set(p.id, { ...S.people.get(p.id), ...p }); render(); });
  live.addEventListener("hand", (ev) => {
    const p = ev.detail.participant;
    S.people.set(p.id, { ...S.people.get(p.id), ...p });
    render();
    if (p.hand_raised) toast(t("judge.hand_toast", { name: p.display_name }));
  });
  live.addEventListener("online", (ev) => {
    const p = S.people.get(ev.detail.participant_id);
    if (p) { p.connected = true; render(); }
  });
  live.addEventListener("left", (ev) => {
    const p = S.people.get(ev.detail.participant_id);
    if (p) { p.connected = false; render(); }
  });
  live.addEventListener("meter", (ev) => onMeter(ev.detail.levels || []));
  live.addEventListener("alert", (ev) => {
    const a = ev.detail;
    const lvl = S.levels.get(a.source_id) || { source_id: a.source_id, rms_db: -100 };
    lvl.alert = a.message;
    S.levels.set(a.source_id, lvl);
    renderSeats();
    toast(`${lvl.label || a.source_id}: ${a.message}`, "error");
  });
  live.addEventListener("partial", (ev) => S.transcript.partial(ev.detail));
  live.addEventListener("final", (ev) => S.transcript.final(ev.detail));
  live.addEventListener("evidence", (ev) => S.evidence?.onEvent(ev.detail));
  live.addEventListener("closure", (ev) => { if (ev.detail.evidence) loadEvidence(); }); // a level changed
  live.addEventListener("stenogram", () => S.sign?.refresh());
  live.addEventListener("media", (ev) => {
    // The media room's word on a participant's link: dropped (the phone is rejoining) or back.
    const e = ev.detail.event || {};
    const m = /(\d+)$/.exec(String(e.participant_id || ""));
    const p = m && S.people.get(Number(m[1]));
    if (!p) return;
    if (e.type === "participant.dropped") p.link = "dropped";
    else if (["participant.reconnected", "participant.joined", "rtc.connected"].includes(e.type)) { p.link = "ok"; p.connected = true; }
    else if (e.type === "participant.left" || e.type === "participant.removed") p.link = null;
    render();
  });
  live.addEventListener("closed", () => { $("#page-error").textContent = t("judge.no_access"); show($("#page-error")); });
  live.connect();
}

/** The participant list again from the server, now and then: an event that fell between the
 * socket's snapshot and its subscription must not hide someone waiting in the lobby. */
async function refreshPeople() {
  try {
    const participants = await api.all(`/api/hearings/${HID}/participants?limit=500`, "participants");
    for (const p of participants) S.people.set(p.id, { ...S.people.get(p.id), ...p });
    render();
  } catch { /* offline: the socket's reconnect will catch up */ }
}

/** Who a source is: a participant, or a courtroom seat. */
function speakerOf(sid) {
  const p = /^p(\d+)$/.test(sid || "") && S.people.get(Number(sid.slice(1)));
  if (p) return { label: p.display_name, role: p.role };
  const seat = S.levels.get(sid);
  return seat ? { label: seat.label || sid } : null;
}

async function loadTranscript() {
  try {
    const since = S.transcript.mark();
    const tr = await api.get(`/api/hearings/${HID}/transcript`);
    S.transcript.load(tr.segments.map((s) => ({ ...s, segment_id: s.id })), since);
    S.health?.showGaps(tr.gaps);
  } catch { /* not available yet: live events only */ }
}

async function main() {
  $("#lang-slot").replaceWith(langSwitch());
  await initI18n();
  const me = await api.me();
  if (!me || me.kind !== "staff") { location.href = "/"; return; }
  S.me = me;
  try {
    S.hearing = await api.get(`/api/hearings/${HID}`);
  } catch (e) {
    $("#page-error").textContent = errorText(e);
    show($("#page-error"));
    document.body.dataset.ready = "1";
    return;
  }
  $("#hearing-name").textContent = `${S.hearing.case_number} · ${S.hearing.title}`;
  delete $("#hearing-name").dataset.i18n;
  $("#editor-link").href = `/secretary/${HID}`;
  S.people = new Map(S.hearing.participants.map((p) => [p.id, p]));
  setState(S.hearing.state);
  S.transcript = new TranscriptView($("#transcript"), { speakerFor: speakerOf });
  for (const id of ["#t-open", "#t-recess", "#t-resume", "#t-close"]) $(id).addEventListener("click", (ev) => transition(ev.currentTarget.dataset.to));
  $("#media-join").addEventListener("click", joinMedia);
  mountInviteForm($("#invite-slot"), api, HID, (p) => { S.people.set(p.id, p); render(); });
  S.sign = mountSignPanel($("#sign-slot"), api, HID, { role: "judge" });
  mountSearch($("#search-slot"), api);
  S.evidence = mountEvidenceReview({ list: $("#evidence"), empty: $("#evidence-empty"), api, hid: HID, reconcile, whoOf: submitterName, presiding: () => S.me.user_id === S.hearing.judge_id });
  S.lobbyNotices = new LobbyNotices($("#lobby-notices"), { admit: (p) => moderate(p, "admit") });
  render();
  startLive();
  loadEvidence();
  setInterval(loadEvidence, 15000);
  setInterval(refreshPeople, 5000);
  setInterval(tickClock, 500);
  document.addEventListener("langchange", () => { setState(S.hearing.state); render(); loadEvidence(); loadTranscript(); if (S.rtc) renderTiles(S.sources || new Map()); S.sign = mountSignPanel($("#sign-slot"), api, HID, { role: "judge" }); });
  applyI18n();
  document.body.dataset.ready = "1";
}

main().catch((e) => { toast(String(e), "error"); document.body.dataset.ready = "1"; });
