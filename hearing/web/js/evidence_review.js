// Evidence before the judge (the console's list): what each item is, the preview the server
// makes as it arrives (with the converter's progress), then the preview itself, and the
// decision. Accept and Reject unlock once there is something to see; a judge who decides
// without a preview confirms it first. Each item shows its access level, which the presiding
// judge changes here. The server checks who decides, whatever this page shows.

import { h, toast } from "./dom.js";
import { t, fmtDateTime, currentLang, errorText } from "./i18n.js";
import { LEVELS, levelText } from "./closures.js";

const BUSY = new Set(["queued", "running"]);
const pct = (x) => Math.round((x || 0) * 100);

/** What is being made for the item right now (its preview, or its playback copy once
 * accepted), or null. */
function work(ev) {
  if (ev.status === "pending" && !ev.playback_url && BUSY.has(ev.preview_state)) {
    return { kind: "preview", state: ev.preview_state, progress: ev.preview_progress };
  }
  if (ev.status === "accepted" && !ev.playback_url && BUSY.has(ev.transcode_state)) {
    return { kind: "copy", state: ev.transcode_state, progress: ev.transcode_progress };
  }
  return null;
}

function progressText(w) {
  if (w.state === "queued") return t(`evidence.${w.kind}_queued`);
  return t(`evidence.${w.kind}_making`, { pct: pct(w.progress) });
}

function progressBlock(w) {
  return h("div", { class: "ev-progress" },
    h("progress", { max: 100, value: pct(w.progress), "aria-label": t(`evidence.${w.kind}_progress`) }),
    h("span", { class: "ev-progress-text" }, progressText(w)));
}

function viewer(ev) {
  const url = ev.playback_url || ev.preview_url;
  if (!url) return null;
  const type = (ev.playback_url ? ev.playback_type : ev.preview_type) || "";
  const label = t("evidence.preview_of", { name: ev.filename });
  const el = ev.kind === "image" || type.startsWith("image/")
    ? h("img", { src: url, alt: label, class: "thumb" })
    : h(type.startsWith("video/") ? "video" : "audio", { src: url, controls: true, preload: "metadata", "aria-label": label });
  const part = !ev.playback_url && ev.preview_until_s
    ? h("small", {}, t("evidence.preview_first", { minutes: Math.round(ev.preview_until_s / 60) })) : null;
  return h("div", { class: "ev-preview" }, el, part);
}

function note(ev) {
  if (ev.status === "pending" && !ev.preview_url && !ev.playback_url && !BUSY.has(ev.preview_state)) {
    return h("small", { class: "muted" }, t(ev.preview_state === "failed" ? "evidence.preview_failed" : "evidence.preview_none"));
  }
  if (ev.status === "accepted" && ev.transcode_state === "failed") {
    return h("small", { class: "muted" }, t("evidence.copy_failed"));
  }
  return null;
}

/** Mount the list: `list` (a <ul>), `empty` (shown when there is none), `reconcile` (the
 * console's keyed row update), `whoOf(item)` (the submitter's name), `presiding()` (whether
 * this user may change an item's access level). */
export function mountEvidenceReview({ list, empty, api, hid, reconcile, whoOf, presiding = () => false }) {
  const items = new Map();
  const unlocked = new Set(); // items the judge chose to decide without waiting for a preview
  const typed = new Map(); // item id -> the reason being typed, kept when its row is rebuilt
  let loads = 0;

  const noPreview = (ev) => !ev.preview_url && !ev.playback_url;

  async function decide(ev, decision, reason) {
    if (noPreview(ev) && !unlocked.has(ev.id) && !confirm(t("evidence.no_preview_confirm", { name: ev.filename }))) return;
    try {
      await api.post(`/api/hearings/${hid}/evidence/${ev.id}/decision`, { decision, reason: reason || t(`evidence.default_reason_${decision}`) });
      typed.delete(ev.id);
      load();
    } catch (e) { toast(errorText(e), "error"); }
  }

  function decisionRow(ev) {
    const locked = noPreview(ev) && BUSY.has(ev.preview_state) && !unlocked.has(ev.id);
    const reason = h("input", { type: "text", "aria-label": t("evidence.reason"), placeholder: t("evidence.reason") });
    reason.value = typed.get(ev.id) || "";
    reason.addEventListener("input", () => typed.set(ev.id, reason.value));
    const accept = h("button", { type: "button", class: "small", disabled: locked }, t("evidence.accept"));
    const reject = h("button", { type: "button", class: "danger small", disabled: locked }, t("evidence.reject"));
    const reasonNow = () => (typed.get(ev.id) ?? reason.value).trim();
    accept.addEventListener("click", () => decide(ev, "accept", reasonNow()));
    reject.addEventListener("click", () => decide(ev, "reject", reasonNow()));
    const row = h("div", { class: "row" }, reason, accept, reject);
    if (locked) {
      const wait = h("small", { class: "muted ev-wait" }, t("evidence.wait_preview"));
      const anyway = h("button", { type: "button", class: "secondary small" }, t("evidence.decide_anyway"));
      anyway.addEventListener("click", () => {
        if (!confirm(t("evidence.no_preview_confirm", { name: ev.filename }))) return;
        unlocked.add(ev.id);
        accept.disabled = reject.disabled = false;
        wait.remove();
        anyway.remove();
        accept.focus();
      });
      row.append(anyway, wait);
    }
    return row;
  }

  async function setLevel(ev, select) {
    const want = select.value;
    select.disabled = true;
    try {
      const out = await api.request("PUT", `/api/hearings/${hid}/evidence/${ev.id}/access`, { level: want });
      ev.access_level = out.access_level;
      toast(t("evidence.access_set", { name: ev.filename, level: levelText(out.access_level) }));
      paint();
    } catch (e) {
      select.value = ev.access_level || "public";
      toast(errorText(e), "error");
    } finally {
      select.disabled = false;
    }
  }

  function accessControl(ev) {
    const level = ev.access_level || "public";
    if (!presiding()) return h("small", { class: "ev-access" }, t("evidence.access", { level: levelText(level) }));
    const select = h("select", { class: "ev-access", "aria-label": t("evidence.access_of", { name: ev.filename }) },
      ...LEVELS.map((l) => h("option", { value: l }, levelText(l))));
    select.value = level;
    select.addEventListener("change", () => setLevel(ev, select));
    return select;
  }

  function row(ev) {
    const w = work(ev);
    return h("li", { dataset: { evidence: ev.id, status: ev.status } },
      h("span", { class: "who" }, ev.filename,
        h("small", {}, `${t(`evidence.kind.${ev.kind}`)} · ${whoOf(ev)} · ${fmtDateTime(ev.received_at)} · ${t(`evidence.status.${ev.status}`)}${ev.reason ? ` — ${ev.reason}` : ""}`),
        h("small", {}, `SHA-256 ${String(ev.sha256).slice(0, 16)}…`), accessControl(ev)),
      viewer(ev), w ? progressBlock(w) : null, note(ev),
      ev.status === "pending" ? decisionRow(ev) : null);
  }

  function paint() {
    const all = [...items.values()];
    empty.hidden = all.length > 0;
    // Rows rebuild only when what they show changes; progress is painted in place, so the
    // reason the judge is typing stays.
    const typing = list.contains(document.activeElement) && document.activeElement.tagName === "INPUT"
      ? document.activeElement.closest("li[data-key]")?.dataset.key : null;
    reconcile(list, all.map((ev) => ({ key: String(ev.id),
      sig: JSON.stringify([currentLang(), ev.status, ev.reason, ev.preview_url, ev.playback_url, ev.access_level, presiding(),
        work(ev)?.kind ?? null, ev.preview_state === "failed", ev.transcode_state === "failed"]),
      make: () => row(ev) })));
    const input = typing && list.querySelector(`li[data-key="${typing}"] input`);
    if (input && document.activeElement !== input) input.focus(); // a rebuilt row keeps the typing
    for (const ev of all) {
      const w = work(ev);
      const li = list.querySelector(`li[data-key="${ev.id}"]`);
      if (!w || !li) continue;
      const bar = li.querySelector(".ev-progress progress");
      if (bar) bar.value = pct(w.progress);
      const text = li.querySelector(".ev-progress-text");
      if (text) text.textContent = progressText(w);
    }
  }

  async function load() {
    const mine = ++loads;
    let found;
    try { found = await api.all(`/api/hearings/${hid}/evidence?limit=500`, "evidence"); } catch { return; }
    if (mine !== loads) return; // a later load answers for the list
    items.clear();
    for (const ev of found) items.set(ev.id, ev);
    paint();
  }

  /** A live "evidence" event: progress is painted where it is; anything else reloads. */
  function onEvent(m) {
    if (m.event === "transcription") return;
    const ev = items.get(m.evidence_id);
    if (ev && BUSY.has(m.state) && (m.event === "preview" || m.event === "transcode")) {
      const field = m.event === "preview" ? "preview" : "transcode";
      ev[`${field}_state`] = m.state;
      ev[`${field}_progress`] = m.progress;
      paint();
      return;
    }
    load();
  }

  return { load, onEvent, paint };
}
