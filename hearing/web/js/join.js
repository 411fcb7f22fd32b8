// The participant's page, phone first: invite -> device check (microphone, camera, speaker)
// -> lobby -> the hearing (video or, on a weak line, names only; who is speaking, captions,
// raise hand, evidence, leave), rejoining by itself after a network drop.

import { Api } from "./api.js";
import { canChooseSpeaker, constraint, fillSelect, forgetInputs, playTone, saveDevice, savedDevices } from "./devices.js";
import { $, h, clear, show, toast } from "./dom.js";
import { initI18n, t, applyI18n, errorText } from "./i18n.js";
import { langSwitch } from "./header.js";
import { Live } from "./live.js";
import { LevelMeter, paintLevel, SPEAKING_DB } from "./meter.js";
import { RtcClient } from "./rtc.js";
import { adaptToLink } from "./bandwidth.js";
import { ListenSwitch } from "./interpretation.js";
import { TranscriptView, speakerName } from "./transcript.js";
import { uploadEvidence } from "./upload.js";
import { closedNotice } from "./closures.js";

const TOKEN_KEY = "courtroom.invite";
const AUDIO_ONLY_KEY = "courtroom.audio_only";
/** How long "connection restored" stays up: long enough to read. */
const RESTORED_MS = 4000;
const S = {
  api: null, me: null, hearing: null, stream: null, meter: null, live: null, rtc: null,
  phase: null, participants: new Map(), presence: null, hand: false, micOn: true, camOn: true,
  captions: null, tiles: new Map(), listenOnly: false, wasOffline: false, recorder: null,
  mutedByJudge: false, audioOnly: readAudioOnly(), speakers: new Map(), sinkId: "",
};

function readAudioOnly() {
  try { return localStorage.getItem(AUDIO_ONLY_KEY) === "1"; } catch { return false; }
}

/** Put a translated text in ``el`` and remember its key, so a language switch redoes it. */
function say(el, key, vars = {}) {
  el.dataset.say = JSON.stringify([key, vars]);
  el.textContent = t(key, vars);
}

/** The message for a failed request, in the page's language (the server's is English). */
function errorKey(e) {
  if (e.status === 401) return "join.invalid_invite";
  if (!e.status) return "join.server_unreachable";
  return "join.server_error";
}

function phase(name) {
  S.phase = name;
  for (const p of ["error", "check", "lobby", "hearing", "ended"]) show($(`#phase-${p}`), p === name);
  document.body.dataset.phase = name;
}

function fail(textKey) {
  say($("#error-text"), textKey);
  phase("error");
}

function readToken() {
  const fromHash = decodeURIComponent(location.hash.replace(/^#/, "")).trim();
  if (fromHash) {
    try { sessionStorage.setItem(TOKEN_KEY, fromHash); } catch { /* ignore */ }
    // Keep the token out of the address bar (screenshots, shoulder surfing); a reload still works.
    history.replaceState(null, "", location.pathname);
    return fromHash;
  }
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
}

// ---- device check --------------------------------------------------------------------------

async function getMedia() {
  show($("#perm-help"), false);
  show($("#device-error"), false);
  show($("#retry"), false);
  show($("#listen-only"), false);
  $("#continue").disabled = !S.stream; // no joining without the microphone asked for
  if (!S.stream) { show($("#preview"), false); show($("#camera-toggle"), false); }
  if (!navigator.mediaDevices?.getUserMedia) {
    show($("#perm-help"));
    show($("#insecure-help"));
    show($("#listen-only"));
    $("#continue").disabled = true;
    return;
  }
  let stream = null;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: constraint("audioinput", true),
      video: S.camOn ? constraint("videoinput", { facingMode: "user", width: 640, height: 480 }) : false });
  } catch (e) {
    if (e.name === "OverconstrainedError" && forgetInputs()) return getMedia(); // a chosen device is gone
    if (S.camOn && (e.name === "NotFoundError" || e.name === "NotReadableError" || e.name === "OverconstrainedError")) {
      try { stream = await navigator.mediaDevices.getUserMedia({ audio: constraint("audioinput", true) }); S.camOn = false; } catch (e2) { e = e2; }
    }
    if (!stream) {
      $("#continue").disabled = true;
      show($("#retry"));
      show($("#listen-only"));
      if (e.name === "NotAllowedError" || e.name === "SecurityError") {
        show($("#perm-help"));
        document.body.dataset.micDenied = "1";
      } else {
        $("#device-error").textContent = t(e.name === "NotFoundError" ? "check.no_mic" : "check.device_error", { error: e.name });
        show($("#device-error"));
      }
      return;
    }
  }
  delete document.body.dataset.micDenied;
  setStream(stream);
  $("#continue").disabled = false;
  await listDevices();
}

/** The microphones, cameras and speakers there are (named only once media is granted),
 * with the ones in use selected. */
async function listDevices() {
  let devices = [];
  try { devices = await navigator.mediaDevices.enumerateDevices(); } catch { return; }
  const using = (tracks) => tracks[0]?.getSettings?.().deviceId;
  const saved = savedDevices();
  fillSelect($("#mic-select"), devices, "audioinput", using(S.stream?.getAudioTracks() || []) || saved.audioinput);
  show($("#cam-field"), fillSelect($("#cam-select"), devices, "videoinput",
    using(S.stream?.getVideoTracks() || []) || saved.videoinput) > 0);
  const speakers = canChooseSpeaker() ? fillSelect($("#speaker-select"), devices, "audiooutput", saved.audiooutput) : 0;
  show($("#speaker-field"), speakers > 0);
  if (speakers) S.sinkId = $("#speaker-select").value;
  show($("#devices"));
}

/** Another microphone or camera chosen: remembered, and the stream asked for again. */
async function chooseDevice(kind, deviceId) {
  saveDevice(kind, deviceId);
  if (kind === "videoinput") S.camOn = true;
  for (const tr of S.stream?.getTracks() || []) tr.stop();
  await getMedia();
}

async function testSpeaker() {
  const b = $("#speaker-test");
  b.disabled = true;
  say($("#speaker-hint"), "check.speaker_playing");
  try { await playTone(S.sinkId); } catch (e) {
    say($("#speaker-hint"), "check.speaker_failed", { error: e.name || String(e) });
  } finally { b.disabled = false; }
}

function setStream(stream) {
  if (S.meter) S.meter.stop();
  S.stream = stream;
  if (S.rtc && !S.listenOnly && S.rtc.stream !== stream) { S.rtc.stream = stream; S.rtc.join(); }
  $("#preview").srcObject = stream;
  const hasVideo = stream.getVideoTracks().length > 0;
  show($("#preview"), hasVideo);
  show($("#no-camera"), !hasVideo);
  show($("#camera-toggle"));
  updateCamButtons();
  S.meter = new LevelMeter(stream, (db) => {
    paintLevel($("#mic-level"), db);
    const me = S.tiles.get(`p${S.me?.participant_id}`);
    if (me) me.classList.toggle("speaking", db > SPEAKING_DB && S.micOn);
  });
}

function updateCamButtons() {
  const hasVideo = !!S.stream?.getVideoTracks().length;
  for (const id of ["#camera-toggle", "#cam"]) {
    const b = $(id);
    b.dataset.i18n = S.camOn && hasVideo ? (id === "#cam" ? "hearing.cam_off" : "check.camera_off") : (id === "#cam" ? "hearing.cam_on" : "check.camera_on");
    b.setAttribute("aria-pressed", String(!(S.camOn && hasVideo)));
    b.textContent = t(b.dataset.i18n);
  }
}

async function toggleCameraInCheck() {
  S.camOn = !S.camOn;
  if (!S.camOn && S.stream) {
    for (const tr of S.stream.getVideoTracks()) { tr.stop(); S.stream.removeTrack(tr); }
    setStream(S.stream);
  } else {
    for (const tr of S.stream?.getTracks() || []) tr.stop();
    await getMedia();
  }
  updateCamButtons();
}

// ---- lobby and hearing ---------------------------------------------------------------------

function myId() { return S.me.participant_id; }

function setState(state) {
  S.hearing.state = state;
  for (const id of ["#lobby-state", "#hearing-state"]) {
    const el = $(id);
    el.className = `badge state-${state}`;
    el.textContent = t(`state.${state}`);
  }
  if (state === "closed") ended("ended.closed_title", "ended.closed_text");
}

async function enterLobbyOrHearing() {
  let joined;
  try {
    joined = await S.api.post("/api/join");
  } catch (e) {
    if (e.status === 409) return ended("ended.closed_title", "ended.closed_text");
    if (e.status === 401) return fail("join.invalid_invite");
    toast(t(errorKey(e)), "error");
    return;
  }
  S.hearing = joined.hearing;
  S.presence = joined.participant.presence;
  setState(S.hearing.state);
  if (S.presence === "ejected") return ended("ended.ejected_title", "ended.ejected_text");
  if (!S.live) startLive();
  if (S.presence === "admitted") enterHearing(); else { phase("lobby"); watchLobby(); }
}

/** While waiting in the lobby, ask now and then too: an admission that happened while the
 * socket was (re)connecting must not leave the phone waiting forever. */
let lobbyTimer = null;
function watchLobby() {
  clearInterval(lobbyTimer);
  lobbyTimer = setInterval(async () => {
    if (S.phase !== "lobby") { clearInterval(lobbyTimer); return; }
    try {
      const participants = await S.api.all(`/api/hearings/${S.hearing.id}/participants?limit=500`, "participants");
      const mine = participants.find((p) => p.id === myId());
      if (mine?.presence === "admitted" && S.phase === "lobby") { S.presence = "admitted"; enterHearing(); }
      if (mine?.presence === "ejected") ended("ended.ejected_title", "ended.ejected_text");
    } catch { /* offline: the socket's reconnect will tell */ }
  }, 4000);
}

function startLive() {
  const live = new Live(S.hearing.id, { token: S.api.token });
  S.live = live;
  closedNotice(live, $("#captions"));
  live.addEventListener("status", (ev) => connBanner(ev.detail));
  live.addEventListener("hello", (ev) => {
    const msg = ev.detail;
    S.participants = new Map(msg.participants.map((p) => [p.id, p]));
    setState(msg.hearing.state);
    const mine = S.participants.get(myId());
    if (mine) {
      S.presence = mine.presence;
      setMutedByJudge(mine.muted);
      S.hand = mine.hand_raised;
      updateHand();
    }
    if (S.presence === "ejected") return ended("ended.ejected_title", "ended.ejected_text");
    if (S.presence === "admitted" && S.phase === "lobby") enterHearing();
    else if (S.presence === "admitted" && S.phase === "hearing") S.rtc?.join(); // rejoin after a drop
    renderTiles();
  });
  live.addEventListener("state", (ev) => setState(ev.detail.state));
  live.addEventListener("joined", (ev) => { S.participants.set(ev.detail.participant.id, ev.detail.participant); renderTiles(); });
  live.addEventListener("participant", (ev) => {
    const { action, participant } = ev.detail;
    S.participants.set(participant.id, participant);
    if (participant.id === myId()) {
      if (action === "admit" && S.phase === "lobby") enterHearing();
      if (action === "mute") setMutedByJudge(participant.muted);
      if (action === "eject") ended("ended.ejected_title", "ended.ejected_text");
    }
    renderTiles();
  });
  live.addEventListener("hand", (ev) => {
    const p = ev.detail.participant;
    S.participants.set(p.id, p);
    if (p.id === myId()) { S.hand = p.hand_raised; updateHand(); }
  });
  live.addEventListener("ejected", () => ended("ended.ejected_title", "ended.ejected_text"));
  live.addEventListener("closed", (ev) => {
    if (ev.detail.code === 4403) ended("ended.ejected_title", "ended.ejected_text");
    else if (ev.detail.code === 4401) fail("join.invalid_invite");
  });
  live.addEventListener("evidence", (ev) => {
    // The court's decision on something this participant submitted.
    const item = ev.detail.evidence;
    const el = item && document.querySelector(`#my-evidence li[data-evidence="${item.id}"] .decision`);
    if (el) showDecision(el, item.status, item.reason);
  });
  for (const kind of ["partial", "final"]) {
    live.addEventListener(kind, (ev) => {
      if (ev.detail.speaker) S.speakers.set(ev.detail.source_id, ev.detail.speaker);
      S.captions?.[kind](ev.detail);
    });
  }
  live.connect();
}

/** "Reconnecting" while the socket or the media is down; "restored" once both are back,
 * for RESTORED_MS. The media's own "connected" that follows the socket's return does not cut
 * the notice short. */
let bannerTimer = null;
function connBanner(status) {
  const b = $("#conn-banner");
  document.body.dataset.conn = status;
  if (status === "reconnecting") {
    clearTimeout(bannerTimer);
    S.wasOffline = true;
    b.className = "banner warn";
    say(b, "conn.reconnecting");
    show(b);
  } else if (status === "online" && S.wasOffline) {
    clearTimeout(bannerTimer);
    S.wasOffline = false;
    b.className = "banner ok";
    say(b, "conn.restored");
    show(b);
    bannerTimer = setTimeout(() => show(b, false), RESTORED_MS);
  }
}

function enterHearing() {
  phase("hearing");
  if (!S.captions) {
    S.captions = new TranscriptView($("#captions"), { maxFinals: 50, speakerFor: captionSpeaker });
  }
  if (!S.rtc) {
    S.rtc = new RtcClient(S.live, S.listenOnly ? null : S.stream);
    S.rtc.addEventListener("sources", (ev) => { S.remote = ev.detail; renderTiles(); });
    S.rtc.addEventListener("state", (ev) => {
      if (ev.detail === "reconnecting" && S.live.status === "online") connBanner("reconnecting");
      if (ev.detail === "connected" && S.live.status === "online") connBanner("online");
    });
    S.rtc.setReceiveVideo(!S.audioOnly);
    S.rtc.setListen(S.listen.choice.channel, S.listen.choice.language);
    adaptToLink(S.rtc);
  }
  if (S.live.status === "online") S.rtc.join();
  S.rtc.setMicEnabled(S.micOn && !S.mutedByJudge);
  renderTiles();
}

function captionSpeaker(sourceId) {
  const p = participantFor(sourceId);
  return p ? { label: p.display_name, role: p.role } : null;
}

function participantFor(sourceId) {
  const m = /^p(\d+)$/.exec(sourceId || "");
  return m ? S.participants.get(Number(m[1])) : null;
}

function tile(sourceId, label, { local = false } = {}) {
  let el = S.tiles.get(sourceId);
  if (!el) {
    const video = h("video", { autoplay: true, playsinline: true, muted: local });
    if (local) video.muted = true;
    el = h("div", { class: "tile", dataset: { source: sourceId } }, video,
      h("div", { class: "name" }, h("span", { class: "speaking-dot", "aria-hidden": "true" }), h("span", { class: "label" })));
    S.tiles.set(sourceId, el);
    $("#tiles").append(el);
  }
  el.querySelector(".label").textContent = label;
  return el;
}

/** The tiles: video with a name, or in the audio-only view name chips whose media elements
 * carry only the sound (no video is attached, so none is rendered). */
function renderTiles() {
  if (S.phase !== "hearing") return;
  S.listen?.update(S.participants.values(), S.me);
  $("#tiles").classList.toggle("audio-only", S.audioOnly);
  const mine = S.participants.get(myId());
  const meEl = tile(`p${myId()}`, `${t("hearing.you")}${mine ? ` · ${t(`role.${mine.role}`)}` : ""}`, { local: true });
  const v = meEl.querySelector("video");
  const self = S.audioOnly ? null : S.stream || null;
  if (v.srcObject !== self) v.srcObject = self;
  const seen = new Set([`p${myId()}`]);
  for (const [sourceId, tracks] of S.remote || []) {
    const p = participantFor(sourceId);
    if (p && p.presence === "ejected") continue;
    seen.add(sourceId);
    const el = tile(sourceId, p ? `${p.display_name} · ${t(`role.${p.role}`)}` : sourceId);
    const video = el.querySelector("video");
    const shown = S.audioOnly ? null : tracks.video;
    const ids = [tracks.audio?.id, shown?.id].join("/");
    if (el.dataset.tracks !== ids) {
      el.dataset.tracks = ids;
      video.srcObject = new MediaStream([tracks.audio, shown].filter(Boolean));
      if (S.sinkId && video.setSinkId) video.setSinkId(S.sinkId).catch(() => {});
      video.play().catch(() => {});
      if (el._meter) el._meter.stop();
      el.classList.remove("speaking");
      if (tracks.audio) el._meter = new LevelMeter(new MediaStream([tracks.audio]), (db) => el.classList.toggle("speaking", db > SPEAKING_DB));
    }
  }
  for (const [sourceId, el] of S.tiles) {
    if (!seen.has(sourceId)) { el._meter?.stop(); el.remove(); S.tiles.delete(sourceId); }
  }
}

function setMutedByJudge(muted) {
  S.mutedByJudge = !!muted;
  show($("#muted-notice"), S.mutedByJudge);
  S.rtc?.setMicEnabled(S.micOn && !S.mutedByJudge);
  updateMic();
}

function updateMic() {
  const b = $("#mic");
  const on = S.micOn && !S.mutedByJudge && !S.listenOnly;
  b.dataset.i18n = on ? "hearing.mic_off" : "hearing.mic_on";
  b.textContent = t(b.dataset.i18n);
  b.setAttribute("aria-pressed", String(!on));
  b.disabled = S.listenOnly || S.mutedByJudge;
}

function updateHand() {
  const b = $("#hand");
  b.dataset.i18n = S.hand ? "hearing.lower_hand" : "hearing.raise_hand";
  b.textContent = t(b.dataset.i18n);
  b.setAttribute("aria-pressed", String(S.hand));
}

function ended(titleKey, textKey) {
  if (S.phase === "ended") return;
  S.live?.close();
  S.rtc?.close();
  S.rtc = null;
  for (const tr of S.stream?.getTracks() || []) tr.stop();
  $("#ended-title").textContent = t(titleKey);
  $("#ended-text").textContent = t(textKey);
  $("#ended-title").dataset.i18n = titleKey;
  $("#ended-text").dataset.i18n = textKey;
  show($("#rejoin"), titleKey === "ended.left_title");
  clearTimeout(bannerTimer);
  show($("#conn-banner"), false);
  phase("ended");
}

// ---- evidence --------------------------------------------------------------------------------

async function submitFile(file) {
  const box = $("#upload-box");
  show(box);
  say($("#upload-label"), "evidence.uploading", { name: file.name });
  const bar = $("#upload-progress");
  bar.value = 0;
  delete $("#upload-status").dataset.say;
  $("#upload-status").textContent = "";
  try {
    const receipt = await uploadEvidence(S.api, S.hearing.id, file, (done, total) => {
      const pct = total ? Math.floor((done / total) * 100) : 100;
      bar.value = pct;
      say($("#upload-status"), "evidence.progress", { pct });
    });
    bar.value = 100;
    say($("#upload-status"), "evidence.received");
    const decision = h("small", { class: "decision" });
    showDecision(decision, "pending", "");
    $("#my-evidence").append(h("li", { dataset: { evidence: receipt.evidence_id ?? "" } },
      h("span", { class: "who" }, file.name,
        h("small", {}, `SHA-256 ${String(receipt.sha256 || "").slice(0, 16)}… · ${Math.ceil(file.size / 1024)} KB`),
        decision)));
  } catch (e) {
    say($("#upload-status"), "evidence.failed", { error: errorText(e) });
  }
}

/** The court's decision on an item: its status in the page's language, the judge's words. */
function showDecision(el, status, reason) {
  el.dataset.status = status;
  el.dataset.reason = reason || "";
  el.textContent = `${t(`evidence.status.${status}`)}${reason ? ` — ${reason}` : ""}`;
}

async function record(kind) {
  if (S.recorder) return;
  let stream;
  try {
    stream = kind === "video" && S.stream?.getVideoTracks().length ? S.stream
      : kind === "audio" && S.stream?.getAudioTracks().length ? new MediaStream(S.stream.getAudioTracks())
        : await navigator.mediaDevices.getUserMedia(kind === "video" ? { audio: true, video: true } : { audio: true });
  } catch (e) {
    toast(t("check.device_error", { error: e.name }), "error");
    return;
  }
  const mime = kind === "video" ? ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"] : ["audio/webm;codecs=opus", "audio/webm", "audio/mp4"];
  const type = mime.find((m) => window.MediaRecorder?.isTypeSupported?.(m));
  const rec = new MediaRecorder(stream, type ? { mimeType: type } : {});
  const parts = [];
  rec.ondataavailable = (e) => { if (e.data.size) parts.push(e.data); };
  rec.onstop = () => {
    S.recorder = null;
    show($("#rec-stop"), false);
    delete $("#rec-status").dataset.say;
    $("#rec-status").textContent = "";
    const blobType = (rec.mimeType || type || "").split(";")[0] || (kind === "video" ? "video/webm" : "audio/webm");
    const ext = blobType.includes("mp4") ? "mp4" : "webm";
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    submitFile(new File(parts, `${kind}-${stamp}.${ext}`, { type: blobType }));
  };
  S.recorder = rec;
  rec.start(1000);
  show($("#rec-stop"));
  say($("#rec-status"), "evidence.recording");
}

// ---- wiring ----------------------------------------------------------------------------------

function wire() {
  $("#retry").addEventListener("click", () => getMedia());
  $("#camera-toggle").addEventListener("click", () => toggleCameraInCheck());
  $("#mic-select").addEventListener("change", (ev) => chooseDevice("audioinput", ev.target.value));
  $("#cam-select").addEventListener("change", (ev) => chooseDevice("videoinput", ev.target.value));
  $("#speaker-select").addEventListener("change", (ev) => {
    S.sinkId = ev.target.value;
    saveDevice("audiooutput", S.sinkId);
  });
  $("#speaker-test").addEventListener("click", () => testSpeaker());
  $("#audio-only").addEventListener("click", () => {
    S.audioOnly = !S.audioOnly;
    try { localStorage.setItem(AUDIO_ONLY_KEY, S.audioOnly ? "1" : "0"); } catch { /* ignore */ }
    updateAudioOnly();
    renderTiles();
    S.rtc?.setReceiveVideo(!S.audioOnly);
  });
  S.listen = new ListenSwitch($("#listen"), (channel, language) => S.rtc?.setListen(channel, language));
  $("#continue").addEventListener("click", () => { S.listenOnly = false; enterLobbyOrHearing(); });
  $("#listen-only").addEventListener("click", () => { S.listenOnly = true; updateMic(); enterLobbyOrHearing(); });
  $("#mic").addEventListener("click", () => {
    S.micOn = !S.micOn;
    S.rtc?.setMicEnabled(S.micOn && !S.mutedByJudge);
    updateMic();
  });
  $("#cam").addEventListener("click", () => {
    S.camOn = !S.camOn;
    S.rtc?.setCameraEnabled(S.camOn);
    for (const tr of S.stream?.getVideoTracks() || []) tr.enabled = S.camOn;
    updateCamButtons();
  });
  $("#hand").addEventListener("click", async () => {
    const raised = !S.hand;
    if (!S.live.send({ type: "hand", raised })) {
      try { await S.api.post(`/api/hearings/${S.hearing.id}/hand`, { raised }); } catch (e) { toast(errorText(e), "error"); return; }
    }
    S.hand = raised;
    updateHand();
  });
  $("#evidence-open").addEventListener("click", () => {
    const box = $("#evidence");
    const open = box.hidden;
    show(box, open);
    $("#evidence-open").setAttribute("aria-expanded", String(open));
    if (open) box.scrollIntoView({ block: "start" });
  });
  $("#evidence-file").addEventListener("change", (ev) => {
    const f = ev.target.files?.[0];
    if (f) submitFile(f);
    ev.target.value = "";
  });
  $("#rec-audio").addEventListener("click", () => record("audio"));
  $("#rec-video").addEventListener("click", () => record("video"));
  $("#rec-stop").addEventListener("click", () => S.recorder?.stop());
  $("#leave").addEventListener("click", () => {
    if (!confirm(t("hearing.leave_confirm"))) return;
    ended("ended.left_title", "ended.left_text");
  });
  $("#rejoin").addEventListener("click", () => location.reload());
  document.addEventListener("langchange", () => {
    if (S.hearing) setState(S.hearing.state);
    updateMic(); updateHand(); updateCamButtons();
    S.listen.render();
    renderTiles();
    if (S.me) $("#you-are").textContent = t("check.you_are", { name: S.me.name, role: t(`role.${S.me.role}`) });
    for (const el of document.querySelectorAll("[data-say]")) {
      const [key, vars] = JSON.parse(el.dataset.say);
      el.textContent = t(key, vars);
    }
    for (const el of document.querySelectorAll("#my-evidence .decision")) showDecision(el, el.dataset.status, el.dataset.reason);
    for (const row of document.querySelectorAll("#captions .seg")) {
      const sid = row.dataset.source;
      const sp = S.speakers.get(sid) || captionSpeaker(sid) || { label: sid };
      const el = row.querySelector(".speaker");
      if (el) el.textContent = speakerName(sp);
    }
  });
}

function updateAudioOnly() {
  $("#audio-only").setAttribute("aria-pressed", String(S.audioOnly));
}

async function main() {
  $("#lang-slot").replaceWith(langSwitch());
  await initI18n();
  wire();
  const token = readToken();
  if (!token) { fail("join.no_invite"); document.body.dataset.ready = "1"; return; }
  S.api = new Api({ token });
  try {
    S.me = await S.api.get("/api/me");
  } catch (e) {
    fail(errorKey(e));
    document.body.dataset.ready = "1";
    return;
  }
  try {
    const hr = await S.api.get(`/api/hearings/${S.me.hearing_id}`);
    S.hearing = hr;
    $("#hearing-name").textContent = `${hr.case_number} · ${hr.title}`;
    delete $("#hearing-name").dataset.i18n;
  } catch { /* the title is a nicety */ }
  if (S.hearing?.state === "closed") { // nothing to check a camera for any more
    ended("ended.closed_title", "ended.closed_text");
    document.body.dataset.ready = "1";
    return;
  }
  $("#you-are").textContent = t("check.you_are", { name: S.me.name, role: t(`role.${S.me.role}`) });
  phase("check");
  updateMic();
  updateHand();
  updateAudioOnly();
  document.body.dataset.ready = "1";
  await getMedia();
  applyI18n();
}

main().catch((e) => { toast(String(e), "error"); document.body.dataset.ready = "1"; });
