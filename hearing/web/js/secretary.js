// The secretary's editor: the transcript by segment with speakers; click a word (or Enter on
// it) to hear the recording from there, on across the chunks of a running hearing, the word
// being played highlighted; playback speed, pause while typing and following the live edge;
// edit text, change speaker, split and merge; uncertain segments, low-confidence words and
// recording gaps marked; keyboard shortcuts; each segment's revision history with differences
// and restore; exports; signing.

import { Api } from "./api.js";
import { $, $$, h, clear, show, toast } from "./dom.js";
import { initI18n, t, applyI18n, fmtClock, fmtDateTime, errorText } from "./i18n.js";
import { langSwitch } from "./header.js";
import { Live } from "./live.js";
import { mountSignPanel } from "./sign.js";
import { renderDiff } from "./diff.js";
import { LOW_PROBABILITY, interpretationMark, speakerName } from "./transcript.js";
import { mountNotices } from "./notices.js";
import { mountSearch } from "./search.js";
import { RecordingList, RecordingPlayer } from "./recording_player.js";
import { mountHealth } from "./health.js";
import { mountNotes } from "./notes.js";
import { mountProposals } from "./proposals.js";
import { mountRedaction } from "./redaction.js";

const HID = Number(location.pathname.split("/").pop());
const EXPORTS = ["pdf", "docx", "txt", "srt", "vtt"];
const RATES = [0.75, 1, 1.25, 1.5, 2];
const GAP_REASONS = ["lost", "muted", "disconnected"];
/** Pause while typing: playback resumes this long after the last keystroke, this much earlier. */
const TYPING_RESUME_MS = 1200;
const TYPING_REWIND_MS = 1000;
const STORE = { rate: "courtroom.editor.rate", pauseTyping: "courtroom.editor.pause_typing" };
const api = new Api();
const recordings = new RecordingList(api, HID);
const player = new RecordingPlayer($("#player"), recordings);
const S = { hearing: null, segments: [], gaps: [], speakers: new Map(), editing: null,
  selected: null, current: null, me: null, typingPaused: false, typingTimer: null };

// ---- data ------------------------------------------------------------------------------------

async function loadTranscript() {
  try {
    const tr = await api.get(`/api/hearings/${HID}/transcript`);
    S.segments = tr.segments;
    S.gaps = tr.gaps || [];
  } catch (e) {
    $("#page-error").textContent = e.status === 404 ? t("ed.unavailable") : errorText(e);
    show($("#page-error"));
    S.segments = [];
  }
  show($("#new-text"), false);
  render();
}

function speakerOptions(seg) {
  const opts = new Map(S.speakers);
  const key = seg.speaker?.key || seg.source_id;
  if (key && !opts.has(key)) opts.set(key, seg.speaker);
  return [...opts].map(([k, sp]) => h("option", { value: k, selected: k === key }, speakerName(sp)));
}

/** Who a recording source is: a participant, a segment's speaker, or the recording's label. */
function sourceName(source) {
  if (S.speakers.has(source)) return speakerName(S.speakers.get(source));
  const seg = S.segments.find((x) => x.source_id === source);
  if (seg?.speaker) return speakerName(seg.speaker);
  return recordings.all().find((r) => r.source_id === source)?.label || source;
}

async function revise(change, okKey = "ed.saved") {
  try {
    const out = await api.post(`/api/hearings/${HID}/transcript/revisions`, change);
    S.segments = out.segments;
    render();
    toast(t(okKey));
    return true;
  } catch (e) {
    toast(errorText(e), "error");
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
  if (!seg.text && !seg.words?.length) { // unintelligible: time kept, no text; playable, editable
    return [h("span", { class: "word no-text", tabindex: "0", dataset: { i: 0, start: seg.start_ms, end: seg.end_ms } }, t("asr.no_text"))];
  }
  const words = seg.words?.length ? seg.words : [{ text: seg.text, start_ms: seg.start_ms, end_ms: seg.end_ms, probability: 1 }];
  const active = S.selected?.seg === seg.id && S.selected.i < words.length ? S.selected.i : 0;
  return words.map((w, i) => {
    // a corrected segment was checked against the recording: none of its words is in doubt
    // (each version counts doubtful words the same way, stenogram/version.py)
    const low = seg.origin !== "edit_text" && w.probability !== null && w.probability !== undefined && w.probability < LOW_PROBABILITY;
    const span = h("span", { class: `word${low ? " low" : ""}`, tabindex: i === active ? "0" : "-1", dataset: { i, start: w.start_ms, end: w.end_ms },
      title: low ? `${t("ed.low_confidence")} (${Math.round(w.probability * 100)}%)` : undefined }, w.text.trim());
    return [span, " "];
  }).flat();
}

/** A toolbar button; a long name is kept whole for screen readers and as a tooltip. */
function tool(nameKey, shortKey, onClick) {
  const b = h("button", { type: "button", class: "secondary small", tabindex: "-1",
    "aria-label": shortKey ? t(nameKey) : undefined, title: shortKey ? t(nameKey) : undefined }, t(shortKey || nameKey));
  b.addEventListener("click", onClick);
  return b;
}

function segmentEl(seg, index) {
  const sel = h("select", { id: `spk-${seg.id}`, "aria-label": t("ed.speaker"), tabindex: "0" }, speakerOptions(seg));
  sel.addEventListener("change", () => revise({ kind: "set_speaker", segment_id: seg.id, speaker: sel.value, reason: reasonOf(seg) }));
  const next = S.segments[index + 1];
  const uncertain = seg.uncertain
    ? h("span", { class: "mark-uncertain", title: t(`asr.uncertain.${seg.uncertain}`) }, t("asr.uncertain")) : null;
  const bar = h("div", { class: "meta", role: "toolbar", "aria-label": t("ed.tools", { at: fmtClock(seg.start_ms) }) },
    sel, seg.interpretation ? interpretationMark(seg.interpretation) : null,
    h("span", { class: "at" }, fmtClock(seg.start_ms)),
    seg.edited ? h("span", { class: "badge" }, t("ed.edited")) : null, uncertain,
    h("span", { class: "tools" },
      tool("ed.edit", null, () => startEdit(seg)),
      tool("ed.split", "ed.split_short", () => {
        const w = S.selected && S.selected.seg === seg.id ? S.selected.i : 0;
        if (!w) { toast(t("ed.select_word_first"), "error"); return; }
        revise({ kind: "split", segment_id: seg.id, at_word: w, reason: reasonOf(seg) });
      }),
      next ? tool("ed.merge", "ed.merge_short", () => revise({ kind: "merge", segment_ids: [seg.id, next.id], reason: reasonOf(seg) })) : null,
      tool("ed.history", null, () => showHistory(seg))));
  bar.querySelector(".tools button:last-child").setAttribute("aria-controls", "history-card");
  bar.addEventListener("keydown", roveToolbar);
  const words = h("p", { class: "words", lang: (seg.language || "").slice(0, 2) || undefined }, wordSpans(seg));
  words.addEventListener("click", (ev) => {
    const w = ev.target.closest(".word");
    if (w) selectWord(seg, Number(w.dataset.i), true);
  });
  words.addEventListener("keydown", (ev) => wordKeys(ev, seg));
  return h("article", { class: `segment${seg.edited ? " edited" : ""}${seg.uncertain ? " uncertain" : ""}${seg.interpretation ? " interpretation" : ""}`,
    dataset: { segment: seg.id, source: seg.source_id, start: seg.start_ms }, "aria-label": `${speakerName(seg.speaker)} ${fmtClock(seg.start_ms)}` },
  bar, words);
}

/** One Tab stop per toolbar: the arrow keys move between its controls. */
function roveToolbar(ev) {
  if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(ev.key) || ev.altKey || ev.ctrlKey) return;
  const items = $$("select, button", ev.currentTarget);
  const i = items.indexOf(document.activeElement);
  if (i < 0) return;
  ev.preventDefault(); // a select would change its value on Left/Right
  const to = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: items.length - 1 }[ev.key];
  const el = items[(to + items.length) % items.length];
  items.forEach((x) => x.setAttribute("tabindex", x === el ? "0" : "-1"));
  el.focus();
}

function gapText(g) {
  const reason = GAP_REASONS.includes(g.reason) ? g.reason : "lost";
  const source = sourceName(g.source_id);
  if (g.end_ms === null || g.end_ms === undefined) return t(`gap.${reason}_open`, { source });
  return t(`gap.${reason}`, { source, seconds: Math.max(1, Math.round((g.end_ms - g.start_ms) / 1000)) });
}

/** Each recording gap as a marked row at its time among the segments. */
function renderGaps() {
  const box = $("#segments");
  $$(".gap-row", box).forEach((el) => el.remove());
  const segs = $$(".segment", box);
  for (const g of [...S.gaps].sort((a, b) => a.start_ms - b.start_ms)) {
    const before = segs.find((el) => Number(el.dataset.start) >= g.start_ms) || null;
    box.insertBefore(h("p", { class: `gap-row${g.end_ms == null ? " open" : ""}`, dataset: { source: g.source_id, start: g.start_ms } },
      h("span", { class: "at" }, fmtClock(g.start_ms)), " ", gapText(g)), before);
  }
}

function render() {
  const box = clear($("#segments"));
  S.segments.forEach((seg, i) => box.append(segmentEl(seg, i)));
  renderGaps();
  show($("#segments-empty"), S.segments.length === 0);
  S.editing = null;
  S.current = null;
  if (S.selected) {
    const el = wordEl(S.selected.seg, S.selected.i);
    if (el) el.classList.add("split-at"); else S.selected = null;
  }
}

function wordEl(segId, i) {
  return document.querySelector(`[data-segment="${CSS.escape(segId)}"] .word[data-i="${i}"]`);
}

function segOf(el) {
  const id = el.closest(".segment").dataset.segment;
  return S.segments.find((s) => s.id === id);
}

/** The words: one Tab stop per segment; arrows move word by word (Up/Down by segment), Enter
 * plays from the word, F2 edits its segment. */
function wordKeys(ev, seg) {
  const w = ev.target.closest(".word");
  if (!w || ev.altKey || ev.ctrlKey || ev.metaKey) return;
  if (ev.key === "Enter") { ev.preventDefault(); selectWord(seg, Number(w.dataset.i), true); return; }
  if (ev.key === "F2") { ev.preventDefault(); startEdit(seg); return; }
  const all = $$("#segments .word");
  const i = all.indexOf(w);
  const mine = $$(".word", w.parentElement);
  const segFirst = (dir) => {
    const arts = $$("#segments .segment");
    const k = arts.indexOf(w.closest(".segment")) + dir;
    return arts[k] ? $(".word", arts[k]) : null;
  };
  const to = { ArrowRight: all[i + 1], ArrowLeft: all[i - 1], ArrowDown: segFirst(1), ArrowUp: segFirst(-1),
    Home: mine[0], End: mine[mine.length - 1] }[ev.key];
  if (!to) return;
  ev.preventDefault();
  selectWord(segOf(to), Number(to.dataset.i), false);
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
  const close = () => { form.remove(); S.editing = null; wordEl(seg.id, S.selected?.seg === seg.id ? S.selected.i : 0)?.focus(); };
  save.addEventListener("click", () => saveEdit());
  cancel.addEventListener("click", close);
  form.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { ev.preventDefault(); close(); } });
  ta.focus();
}

async function saveEdit() {
  if (!S.editing) return;
  const { seg, ta } = S.editing;
  const text = ta.value.trim();
  if (!text || text === seg.text) { S.editing.form.remove(); S.editing = null; return; }
  await revise({ kind: "edit_text", segment_id: seg.id, text, reason: reasonOf(seg) });
}

/** Typing in an edit box pauses playback; it resumes a little earlier once typing stops. */
function onTyping(ev) {
  if (!ev.target.closest(".edit-form") || !$("#pause-typing").checked) return;
  if (player.active) { player.pause(); S.typingPaused = true; }
  if (!S.typingPaused) return;
  clearTimeout(S.typingTimer);
  S.typingTimer = setTimeout(resumeAfterTyping, TYPING_RESUME_MS);
}

function resumeAfterTyping() {
  clearTimeout(S.typingTimer);
  S.typingPaused = false;
  player.resume(TYPING_REWIND_MS);
}

// ---- playback --------------------------------------------------------------------------------

function selectWord(seg, i, play) {
  if (S.selected) {
    const old = wordEl(S.selected.seg, S.selected.i);
    old?.classList.remove("split-at");
  }
  S.selected = { seg: seg.id, i };
  const el = wordEl(seg.id, i);
  if (el) {
    $$(".word", el.parentElement).forEach((x) => x.setAttribute("tabindex", x === el ? "0" : "-1"));
    el.classList.add("split-at");
    el.focus({ preventScroll: false });
  }
  if (!play) return;
  const w = seg.words?.[i] || { start_ms: seg.start_ms };
  playFrom(seg.source_id, w.start_ms, speakerName(seg.speaker));
}

async function playFrom(source, ms, name = sourceName(source)) {
  $("#player-source").textContent = name;
  await player.playAt(source, ms, true);
  show($("#no-recording"), recordings.of(source).length === 0);
}

function highlight() {
  const audio = $("#player");
  if (player.rec && !audio.paused) {
    const ms = player.ms;
    let found = null;
    for (const seg of S.segments) {
      if (seg.source_id !== player.source || ms < seg.start_ms || ms > seg.end_ms) continue;
      (seg.words || []).forEach((w, i) => { if (ms >= w.start_ms && ms < w.end_ms) found = wordEl(seg.id, i); });
    }
    if (found !== S.current) {
      S.current?.classList.remove("current");
      found?.classList.add("current");
      S.current = found;
      document.body.dataset.currentWord = found ? found.textContent : "";
      if (found && player.follow && !S.editing) found.scrollIntoView({ block: "nearest" });
    }
  }
  requestAnimationFrame(highlight);
}

function showPosition() {
  $("#player-pos").textContent = player.rec ? fmtClock(player.ms) : "";
}

async function followLive(on) {
  if (!on) { player.follow = false; return; }
  await recordings.refresh().catch(() => {});
  const known = new Set(recordings.all().map((r) => r.source_id));
  const last = [...S.segments].reverse().find((s) => known.has(s.source_id));
  const source = (player.source && known.has(player.source) && player.source)
    || last?.source_id || recordings.all()[0]?.source_id;
  if (!source) { toast(t("ed.no_recording"), "error"); $("#follow-live").checked = false; return; }
  $("#player-source").textContent = sourceName(source);
  await player.setFollow(true, source);
}

function mountPlayerOptions() {
  const rate = $("#rate");
  const saved = Number(localStorage.getItem(STORE.rate));
  for (const r of RATES) rate.append(h("option", { value: r, selected: r === (RATES.includes(saved) ? saved : 1) }, `${r}×`));
  player.setRate(Number(rate.value));
  rate.addEventListener("change", () => {
    player.setRate(Number(rate.value));
    localStorage.setItem(STORE.rate, rate.value);
  });
  const pause = $("#pause-typing");
  pause.checked = localStorage.getItem(STORE.pauseTyping) !== "0";
  pause.addEventListener("change", () => localStorage.setItem(STORE.pauseTyping, pause.checked ? "1" : "0"));
  const follow = $("#follow-live");
  follow.addEventListener("change", () => followLive(follow.checked));
  player.addEventListener("follow", (ev) => { follow.checked = ev.detail; });
  player.addEventListener("waiting", (ev) => show($("#player-wait"), ev.detail));
  player.addEventListener("position", showPosition);
  $("#player").addEventListener("timeupdate", showPosition);
}

function nextLowWord() {
  const all = $$(".word.low");
  if (!all.length) { toast(t("ed.no_low")); return; }
  const cur = S.selected ? wordEl(S.selected.seg, S.selected.i) : null;
  const next = all.find((w) => cur && (cur.compareDocumentPosition(w) & Node.DOCUMENT_POSITION_FOLLOWING)) || all[0];
  selectWord(segOf(next), Number(next.dataset.i), false);
  next.scrollIntoView({ block: "center" });
}

function shortcuts(ev) {
  if (!(ev.ctrlKey || ev.metaKey) || ev.altKey) return;
  if (ev.code === "Space") {
    ev.preventDefault();
    if (S.typingPaused) resumeAfterTyping();
    else if (player.rec) { if (player.active) player.pause(); else player.resume(); }
    else if (S.segments[0]) playFrom(S.segments[0].source_id, S.segments[0].start_ms);
  } else if (ev.key === "b" || ev.key === "B" || ev.key === "и" || ev.key === "И") {
    ev.preventDefault();
    player.seekBy(-5000);
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
    toast(errorText(e), "error");
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
  S.hearing.state = state;
  // While the hearing runs its recordings are chunks, and more keep closing.
  recordings.live = state === "open" || state === "recess";
  show($("#follow-live-opt"), recordings.live);
  if (!recordings.live && player.follow) { player.follow = false; $("#follow-live").checked = false; }
}

function onGap(g) {
  const i = S.gaps.findIndex((x) => x.source_id === g.source_id && x.start_ms === g.start_ms);
  const gap = { source_id: g.source_id, start_ms: g.start_ms, end_ms: g.end_ms ?? null, reason: g.reason };
  if (i >= 0) S.gaps[i] = gap; else S.gaps.push(gap);
  renderGaps();
}

async function main() {
  $("#lang-slot").replaceWith(langSwitch());
  await initI18n();
  S.me = await api.me();
  if (!S.me || S.me.kind !== "staff") { location.href = "/"; return; }
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
  let redaction = null;
  const mountRedact = () => { redaction = mountRedaction($("#redaction-slot"), { api, hid: HID, selected: () => S.selected }); };
  mountRedact();
  mountSearch($("#search-slot"), api);
  mountNotices($("#notices-slot"), api, HID);
  $("#refresh").addEventListener("click", loadTranscript);
  document.addEventListener("keydown", shortcuts);
  $("#segments").addEventListener("input", onTyping);
  mountPlayerOptions();
  await Promise.all([recordings.refresh().catch(() => {}), loadTranscript()]);
  for (const seg of S.segments) if (seg.speaker?.key && !S.speakers.has(seg.speaker.key)) S.speakers.set(seg.speaker.key, seg.speaker);
  render();
  const live = new Live(HID);
  live.addEventListener("final", () => {
    if (player.follow && !S.editing) loadTranscript(); else show($("#new-text"));
  });
  live.addEventListener("gap", (ev) => onGap(ev.detail));
  mountHealth($("#health-slot"), live, { nameOf: sourceName });
  mountNotes($("#notes-slot"), { api, hid: HID, live, hint: "notes.hint_player", atMs: () => player.ms });
  mountProposals($("#history-card").parentElement, api, HID, live);
  live.addEventListener("revision", () => loadTranscript());
  live.addEventListener("state", (ev) => setState(ev.detail.state));
  live.addEventListener("stenogram", () => sign?.refresh());
  live.addEventListener("stenogram", () => redaction?.refresh());
  live.addEventListener("redaction", () => redaction?.refresh());
  live.addEventListener("status", (ev) => {
    const b = $("#conn-banner");
    document.body.dataset.conn = ev.detail;
    b.textContent = t("conn.reconnecting");
    show(b, ev.detail === "reconnecting");
  });
  live.connect();
  requestAnimationFrame(highlight);
  document.addEventListener("langchange", () => { setState(S.hearing.state); render(); mountSign(); mountRedact(); });
  applyI18n();
  document.body.dataset.ready = "1";
}

main().catch((e) => { toast(String(e), "error"); document.body.dataset.ready = "1"; });
