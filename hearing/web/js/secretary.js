// The secretary's editor: the transcript by segment with speakers; click a word to hear the
// recording from there (the word being played is highlighted); edit text, change speaker,
// split and merge; low-confidence words marked; keyboard shortcuts; each segment's revision
// history with differences and restore; exports; signing.

import { Api } from "./api.js";
import { $, $$, h, clear, show, toast } from "./dom.js";
import { initI18n, t, applyI18n, fmtClock, fmtDateTime } from "./i18n.js";
import { langSwitch } from "./header.js";
import { Live } from "./live.js";
import { mountSignPanel } from "./sign.js";
import { renderDiff } from "./diff.js";
import { speakerName } from "./transcript.js";
import { mountNotices } from "./notices.js";
import { mountSearch } from "./search.js";

const HID = Number(location.pathname.split("/").pop());
const LOW = 0.6;
const EXPORTS = ["pdf", "docx", "txt", "srt", "vtt"];
const api = new Api();
const S = { hearing: null, segments: [], speakers: new Map(), recordings: [], editing: null,
  selected: null, playing: null, current: null, me: null };

// ---- data ------------------------------------------------------------------------------------

async function loadTranscript() {
  try {
    const tr = await api.get(`/api/hearings/${HID}/transcript`);
    S.segments = tr.segments;
  } catch (e) {
    $("#page-error").textContent = e.status === 404 ? t("ed.unavailable") : e.message;
    show($("#page-error"));
    S.segments = [];
  }
  show($("#new-text"), false);
  render();
}

async function loadRecordings() {
  try { S.recordings = await api.all(`/api/hearings/${HID}/recordings`, "recordings"); } catch { S.recordings = []; }
}

function speakerOptions(seg) {
  const opts = new Map(S.speakers);
  const key = seg.speaker?.key || seg.source_id;
  if (key && !opts.has(key)) opts.set(key, seg.speaker);
  return [...opts].map(([k, sp]) => h("option", { value: k, selected: k === key }, speakerName(sp)));
}

async function revise(change, okKey = "ed.saved") {
  try {
    const out = await api.post(`/api/hearings/${HID}/transcript/revisions`, change);
    S.segments = out.segments;
    render();
    toast(t(okKey));
    return true;
  } catch (e) {
    toast(e.message, "error");
    if (e.status === 409) loadTranscript();
    return false;
  }
}

function reasonOf(seg) {
  const el = document.querySelector(`[data-segment="${CSS.escape(seg.id)}"] .reason`);
  return (el && el.value.trim()) || t("ed.default_reason");
}

// ---- rendering -------------------------------------------------------------------------------

function wordSpans(seg) {
  const words = seg.words?.length ? seg.words : [{ text: seg.text, start_ms: seg.start_ms, end_ms: seg.end_ms, probability: 1 }];
  return words.map((w, i) => {
    const low = w.probability !== null && w.probability !== undefined && w.probability < LOW;
    const span = h("span", { class: `word${low ? " low" : ""}`, tabindex: "-1", dataset: { i, start: w.start_ms, end: w.end_ms },
      title: low ? `${t("ed.low_confidence")} (${Math.round(w.probability * 100)}%)` : undefined }, w.text.trim());
    return [span, " "];
  }).flat();
}

function segmentEl(seg, index) {
  const sel = h("select", { id: `spk-${seg.id}`, "aria-label": t("ed.speaker") }, speakerOptions(seg));
  sel.addEventListener("change", () => revise({ kind: "set_speaker", segment_id: seg.id, speaker: sel.value, reason: reasonOf(seg) }));
  const edit = h("button", { type: "button", class: "secondary small" }, t("ed.edit"));
  edit.addEventListener("click", () => startEdit(seg));
  const split = h("button", { type: "button", class: "secondary small" }, t("ed.split"));
  split.addEventListener("click", () => {
    const w = S.selected && S.selected.seg === seg.id ? S.selected.i : 0;
    if (!w) { toast(t("ed.select_word_first"), "error"); return; }
    revise({ kind: "split", segment_id: seg.id, at_word: w, reason: reasonOf(seg) });
  });
  const next = S.segments[index + 1];
  const merge = next ? h("button", { type: "button", class: "secondary small" }, t("ed.merge")) : null;
  merge?.addEventListener("click", () => revise({ kind: "merge", segment_ids: [seg.id, next.id], reason: reasonOf(seg) }));
  const hist = h("button", { type: "button", class: "secondary small", "aria-controls": "history-card" }, t("ed.history"));
  hist.addEventListener("click", () => showHistory(seg));
  const words = h("p", { class: "words", lang: (seg.language || "").slice(0, 2) || undefined }, wordSpans(seg));
  words.addEventListener("click", (ev) => {
    const w = ev.target.closest(".word");
    if (w) selectWord(seg, Number(w.dataset.i), true);
  });
  return h("article", { class: `segment${seg.edited ? " edited" : ""}`, dataset: { segment: seg.id, source: seg.source_id }, "aria-label": `${speakerName(seg.speaker)} ${fmtClock(seg.start_ms)}` },
    h("div", { class: "meta" }, sel, h("span", { class: "at" }, fmtClock(seg.start_ms)),
      seg.edited ? h("span", { class: "badge" }, t("ed.edited")) : null, edit, split, merge, hist),
    words);
}

function render() {
  const box = clear($("#segments"));
  S.segments.forEach((seg, i) => box.append(segmentEl(seg, i)));
  show($("#segments-empty"), S.segments.length === 0);
  S.editing = null;
  if (S.selected) {
    const el = wordEl(S.selected.seg, S.selected.i);
    if (el) el.classList.add("split-at"); else S.selected = null;
  }
}

function wordEl(segId, i) {
  return document.querySelector(`[data-segment="${CSS.escape(segId)}"] .word[data-i="${i}"]`);
}

// ---- editing ---------------------------------------------------------------------------------

function startEdit(seg) {
  const art = document.querySelector(`[data-segment="${CSS.escape(seg.id)}"]`);
  if (!art || art.querySelector("textarea")) return;
  const ta = h("textarea", { id: `text-${seg.id}`, class: "edit-text" }, seg.text);
  const reason = h("input", { id: `reason-${seg.id}`, class: "reason", placeholder: t("ed.default_reason") });
  const save = h("button", { type: "button" }, t("common.save"));
  const cancel = h("button", { type: "button", class: "secondary" }, t("common.cancel"));
  const form = h("div", { class: "stack edit-form" },
    h("label", { for: `text-${seg.id}` }, t("ed.edit_text")), ta,
    h("label", { for: `reason-${seg.id}` }, t("ed.reason")), reason,
    h("div", { class: "row" }, save, cancel));
  art.append(form);
  S.editing = { seg, ta, form };
  save.addEventListener("click", () => saveEdit());
  cancel.addEventListener("click", () => { form.remove(); S.editing = null; });
  ta.focus();
}

async function saveEdit() {
  if (!S.editing) return;
  const { seg, ta } = S.editing;
  const text = ta.value.trim();
  if (!text || text === seg.text) { S.editing.form.remove(); S.editing = null; return; }
  await revise({ kind: "edit_text", segment_id: seg.id, text, reason: reasonOf(seg) });
}

// ---- playback --------------------------------------------------------------------------------

/** The recording of the segment's source that holds the moment ms (while a hearing runs the
 * server lists short chunks; once closed, one file per source). */
function recordingFor(seg, ms = seg.start_ms) {
  const mine = S.recordings.filter((r) => r.source_id === seg.source_id);
  return mine.find((r) => r.start_ms <= ms && (r.end_ms == null || ms < r.end_ms))
    || mine.find((r) => r.start_ms <= seg.end_ms && (r.end_ms == null || r.end_ms >= seg.start_ms)) || mine[0] || null;
}

function selectWord(seg, i, play) {
  if (S.selected) wordEl(S.selected.seg, S.selected.i)?.classList.remove("split-at");
  S.selected = { seg: seg.id, i };
  const el = wordEl(seg.id, i);
  el?.classList.add("split-at");
  el?.focus({ preventScroll: false });
  const w = seg.words?.[i] || { start_ms: seg.start_ms };
  seekTo(seg, w.start_ms, play);
}

function seekTo(seg, ms, play) {
  const rec = recordingFor(seg, ms);
  const audio = $("#player");
  show($("#no-recording"), !rec);
  if (!rec) return;
  S.playing = rec;
  $("#player-source").textContent = speakerName(seg.speaker);
  const at = Math.max(0, (ms - rec.start_ms) / 1000);
  const go = () => { audio.currentTime = at; if (play) audio.play().catch(() => {}); };
  if (audio.dataset.url !== rec.url) {
    audio.dataset.url = rec.url;
    audio.src = rec.url;
    audio.addEventListener("loadedmetadata", go, { once: true });
  } else go();
}

function highlight() {
  const audio = $("#player");
  if (S.playing && !audio.paused) {
    const ms = S.playing.start_ms + audio.currentTime * 1000;
    let found = null;
    for (const seg of S.segments) {
      if (seg.source_id !== S.playing.source_id || ms < seg.start_ms || ms > seg.end_ms) continue;
      (seg.words || []).forEach((w, i) => { if (ms >= w.start_ms && ms < w.end_ms) found = wordEl(seg.id, i); });
    }
    if (found !== S.current) {
      S.current?.classList.remove("current");
      found?.classList.add("current");
      S.current = found;
      document.body.dataset.currentWord = found ? found.textContent : "";
    }
  }
  requestAnimationFrame(highlight);
}

function nextLowWord() {
  const all = $$(".word.low");
  if (!all.length) { toast(t("ed.no_low")); return; }
  const cur = S.selected ? wordEl(S.selected.seg, S.selected.i) : null;
  const next = all.find((w) => cur && (cur.compareDocumentPosition(w) & Node.DOCUMENT_POSITION_FOLLOWING)) || all[0];
  const segId = next.closest(".segment").dataset.segment;
  const seg = S.segments.find((s) => s.id === segId);
  selectWord(seg, Number(next.dataset.i), false);
  next.scrollIntoView({ block: "center" });
}

function shortcuts(ev) {
  if (!(ev.ctrlKey || ev.metaKey) || ev.altKey) return;
  const audio = $("#player");
  if (ev.code === "Space") {
    ev.preventDefault();
    if (audio.src) { if (audio.paused) audio.play().catch(() => {}); else audio.pause(); }
    else if (S.segments[0]) seekTo(S.segments[0], S.segments[0].start_ms, true);
  } else if (ev.key === "b" || ev.key === "B" || ev.key === "и" || ev.key === "И") {
    ev.preventDefault();
    audio.currentTime = Math.max(0, audio.currentTime - 5);
  } else if (ev.key === "." || ev.code === "Period") {
    ev.preventDefault();
    nextLowWord();
  } else if (ev.key === "s" || ev.key === "S" || ev.code === "KeyS") {
    ev.preventDefault();
    saveEdit();
  }
}

// ---- history ---------------------------------------------------------------------------------

/** "user:3:secretary" -> the person's name; "asr:<model>" -> the machine. */
function authorName(actor) {
  const m = /^user:(\d+):/.exec(actor || "");
  const p = m && S.hearing.participants.find((x) => x.user_id === Number(m[1]));
  if (p) return `${p.display_name} (${t(`role.${p.role}`)})`;
  if (/^asr:/.test(actor || "")) return t("ed.machine", { model: actor.slice(4) });
  return actor;
}

function textAt(rev, segId) {
  const put = rev.payload?.put || [];
  const d = put.find((x) => x.segment_id === segId) || put[0];
  return d ? d.text : "";
}

async function showHistory(seg) {
  let revs;
  try { revs = await api.all(`/api/hearings/${HID}/transcript/segments/${encodeURIComponent(seg.id)}/history?limit=500`, "revisions"); } catch (e) {
    toast(e.message, "error");
    return;
  }
  const list = clear($("#history"));
  let prev = null;
  revs.forEach((rev, idx) => {
    const text = textAt(rev, seg.id);
    const kind = t(`ed.kind.${rev.seq === revs[0].seq ? "original" : rev.kind}`);
    // A segment can be brought back only to a state it had under its current id (a merge or a
    // split makes new segments; their ancestors are shown, not restorable).
    const restorable = idx < revs.length - 1 && (rev.payload?.put || []).some((x) => x.segment_id === seg.id);
    const restore = restorable ? h("button", { type: "button", class: "secondary small" }, t("ed.restore")) : null;
    restore?.addEventListener("click", async () => {
      if (await revise({ kind: "restore", segment_id: seg.id, to_seq: rev.seq, reason: t("ed.restore") }, "ed.restored")) showHistory(seg);
    });
    list.append(h("li", { dataset: { seq: rev.seq } },
      h("div", {}, h("strong", {}, t("ed.revision", { seq: rev.seq, kind, author: authorName(rev.author), at: fmtDateTime(rev.at) }))),
      rev.reason ? h("div", { class: "muted" }, rev.reason) : null,
      prev === null ? h("p", {}, text) : renderDiff(prev, text), restore));
    prev = text;
  });
  show($("#history-card"));
  $("#history-card").scrollIntoView({ block: "nearest" });
}

// ---- page ------------------------------------------------------------------------------------

function setState(state) {
  const b = $("#state-badge");
  b.className = `badge state-${state}`;
  b.textContent = t(`state.${state}`);
}

async function main() {
  $("#lang-slot").replaceWith(langSwitch());
  await initI18n();
  S.me = await api.me();
  if (!S.me || S.me.kind !== "staff") { location.href = "/"; return; }
  try {
    S.hearing = await api.get(`/api/hearings/${HID}`);
  } catch (e) {
    $("#page-error").textContent = e.message;
    show($("#page-error"));
    document.body.dataset.ready = "1";
    return;
  }
  $("#hearing-name").textContent = `${S.hearing.case_number} · ${S.hearing.title}`;
  delete $("#hearing-name").dataset.i18n;
  setState(S.hearing.state);
  for (const p of S.hearing.participants) {
    S.speakers.set(`p${p.id}`, { key: `p${p.id}`, label: p.display_name, role: p.role });
  }
  const exp = clear($("#exports"));
  for (const f of EXPORTS) exp.append(h("a", { class: "button secondary small", href: `/api/hearings/${HID}/export/${f}`, download: "" }, f.toUpperCase()));
  const role = S.me.user_id === S.hearing.judge_id ? "judge" : "secretary";
  let sign = null;
  const mountSign = () => { sign = mountSignPanel($("#sign-slot"), api, HID, { role }); };
  mountSign();
  mountSearch($("#search-slot"), api);
  mountNotices($("#notices-slot"), api, HID);
  $("#refresh").addEventListener("click", loadTranscript);
  document.addEventListener("keydown", shortcuts);
  await Promise.all([loadRecordings(), loadTranscript()]);
  for (const seg of S.segments) if (seg.speaker?.key && !S.speakers.has(seg.speaker.key)) S.speakers.set(seg.speaker.key, seg.speaker);
  render();
  const live = new Live(HID);
  live.addEventListener("final", () => show($("#new-text")));
  live.addEventListener("revision", () => loadTranscript());
  live.addEventListener("state", (ev) => setState(ev.detail.state));
  live.addEventListener("stenogram", () => sign?.refresh());
  live.addEventListener("status", (ev) => {
    const b = $("#conn-banner");
    document.body.dataset.conn = ev.detail;
    b.textContent = t("conn.reconnecting");
    show(b, ev.detail === "reconnecting");
  });
  live.connect();
  requestAnimationFrame(highlight);
  document.addEventListener("langchange", () => { setState(S.hearing.state); render(); mountSign(); });
  applyI18n();
  document.body.dataset.ready = "1";
}

main().catch((e) => { toast(String(e), "error"); document.body.dataset.ready = "1"; });
