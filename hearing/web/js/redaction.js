// Redaction in the secretary's editor: the selected words (a text selection across words of
// one segment, or the word under the cursor), the whole segment, or a time range of the
// hearing clock are declared, each with its legal ground, and a redacted copy of a signed
// version is made and signed with the signing passphrase. The server derives the copy (the
// mark in place of the text, the recordings silenced) and gives it to everyone below
// "sealed"; the list shows the copies made, with their bundles for `courtroom verify`.

import { h, clear, show, toast } from "./dom.js";
import { t, fmtClock, fmtDateTime, errorText } from "./i18n.js";

/** "mm:ss" or "hh:mm:ss" (or plain seconds) on the hearing clock -> ms; NaN if unreadable. */
function parseClock(text) {
  const parts = String(text).trim().split(":").map(Number);
  if (!parts.length || parts.some((x) => !Number.isFinite(x) || x < 0)) return NaN;
  return Math.round(parts.reduce((acc, x) => acc * 60 + x, 0) * 1000);
}

/** The words chosen in the editor: a text selection over words of one segment, else the
 * selected word. {segment_id, start, end} or null. */
function chosenWords(selected) {
  const sel = window.getSelection?.();
  if (sel && !sel.isCollapsed && sel.rangeCount) {
    const range = sel.getRangeAt(0);
    const words = [...document.querySelectorAll("#segments .word")].filter((w) => range.intersectsNode(w));
    const segs = new Set(words.map((w) => w.closest(".segment")?.dataset.segment));
    if (words.length && segs.size === 1) {
      const idx = words.map((w) => Number(w.dataset.i));
      return { segment_id: [...segs][0], start: Math.min(...idx), end: Math.max(...idx) + 1 };
    }
  }
  const s = selected();
  return s ? { segment_id: s.seg, start: s.i, end: s.i + 1 } : null;
}

function describe(span) {
  if (span.kind === "words") return t("redact.span_words", { seg: span.segment_id.slice(0, 8), from: span.start + 1, to: span.end });
  if (span.kind === "segment") return t("redact.span_segment", { seg: span.segment_id.slice(0, 8) });
  if (span.kind === "time") return t("redact.span_time", { from: fmtClock(span.start_ms), to: fmtClock(span.end_ms) });
  return t("redact.span_evidence", { id: span.evidence_id });
}

/** Mount the redaction panel into `slot`. Options: api, hid, selected() (the editor's
 * selected word: {seg, i} or null). Returns {refresh}. */
export function mountRedaction(slot, { api, hid, selected }) {
  const spans = [];
  const reason = h("input", { id: "redact-reason", type: "text", maxlength: 500, autocomplete: "off" });
  const from = h("input", { id: "redact-from", type: "text", inputmode: "numeric", placeholder: "00:00", size: 8 });
  const to = h("input", { id: "redact-to", type: "text", inputmode: "numeric", placeholder: "00:00", size: 8 });
  const version = h("select", { id: "redact-version" });
  const pass = h("input", { id: "redact-pass", type: "password", autocomplete: "current-password" });
  const list = h("ol", { class: "people", id: "redact-spans", "aria-live": "polite" });
  const empty = h("p", { class: "muted" }, t("redact.no_spans"));
  const made = h("ul", { class: "people", id: "redactions" });
  const wordsBtn = h("button", { type: "button", class: "small", id: "redact-words" }, t("redact.words"));
  const segBtn = h("button", { type: "button", class: "small secondary", id: "redact-segment" }, t("redact.segment"));
  const timeBtn = h("button", { type: "button", class: "small secondary", id: "redact-time" }, t("redact.time"));
  const create = h("button", { type: "button", id: "redact-create" }, t("redact.create"));
  clear(slot).append(h("div", { class: "stack" },
    h("p", { class: "muted small" }, t("redact.hint")),
    h("div", { class: "field" }, h("label", { for: reason.id }, t("redact.reason")), reason),
    h("p", { class: "row" }, wordsBtn, segBtn),
    h("p", { class: "row" }, h("label", { for: from.id }, t("redact.from")), from,
      h("label", { for: to.id }, t("redact.to")), to, timeBtn),
    list, empty,
    h("div", { class: "field" }, h("label", { for: version.id }, t("redact.version")), version),
    h("div", { class: "field" }, h("label", { for: pass.id }, t("redact.passphrase")), pass),
    create,
    h("h3", {}, t("redact.copies")), made));

  function renderSpans() {
    clear(list);
    spans.forEach((sp, k) => {
      const rm = h("button", { type: "button", class: "small secondary", "aria-label": t("redact.remove") }, "×");
      rm.addEventListener("click", () => { spans.splice(k, 1); renderSpans(); });
      list.append(h("li", { dataset: { kind: sp.kind } },
        h("span", { class: "who" }, describe(sp), h("small", {}, sp.reason)), rm));
    });
    show(empty, !spans.length);
  }

  function declare(span) {
    const why = reason.value.trim();
    if (!why) { reason.focus(); toast(t("redact.need_reason"), "error"); return; }
    spans.push({ ...span, reason: why });
    renderSpans();
  }

  wordsBtn.addEventListener("click", () => {
    const w = chosenWords(selected);
    if (!w) { toast(t("ed.select_word_first"), "error"); return; }
    declare({ kind: "words", ...w });
  });
  segBtn.addEventListener("click", () => {
    const s = selected();
    if (!s) { toast(t("ed.select_word_first"), "error"); return; }
    declare({ kind: "segment", segment_id: s.seg });
  });
  timeBtn.addEventListener("click", () => {
    const a = parseClock(from.value), b = parseClock(to.value);
    if (!(a >= 0 && b > a)) { toast(t("redact.bad_range"), "error"); from.focus(); return; }
    declare({ kind: "time", start_ms: a, end_ms: b });
  });
  create.addEventListener("click", async () => {
    if (!spans.length) { toast(t("redact.no_spans"), "error"); return; }
    if (!version.value) { toast(t("redact.no_signed"), "error"); return; }
    if (!pass.value) { pass.focus(); toast(t("sign.need_passphrase"), "error"); return; }
    create.disabled = true;
    try {
      await api.post(`/api/hearings/${hid}/stenogram/versions/${version.value}/redactions`,
        { spans, passphrase: pass.value });
      pass.value = "";
      spans.length = 0;
      renderSpans();
      toast(t("redact.created"));
      await refresh();
    } catch (e) { toast(errorText(e), "error"); }
    create.disabled = false;
  });

  async function refresh() {
    try {
      const versions = await api.all(`/api/hearings/${hid}/stenogram/versions?status=signed&limit=500`, "versions");
      const keep = version.value;
      clear(version);
      for (const v of [...versions].reverse()) version.append(h("option", { value: v.number }, t("sign.version", { n: v.number })));
      if (keep) version.value = keep;
      create.disabled = !versions.length;
      const copies = await api.all(`/api/hearings/${hid}/redactions?limit=500`, "redactions");
      clear(made);
      if (!copies.length) made.append(h("li", { class: "muted" }, t("redact.no_copies")));
      for (const c of [...copies].reverse()) {
        made.append(h("li", { dataset: { redaction: c.id } },
          h("span", { class: "who" }, t("redact.copy_of", { n: c.version, count: c.spans.length }),
            h("small", {}, `${fmtDateTime(c.created_at)} · SHA-256 ${c.sha256.slice(0, 16)}…`),
            h("small", {}, c.signatures.map((s) => `${t(`staffrole.${s.role}`)}: ${s.name ?? ""}`).join(" · "))),
          h("a", { class: "button secondary small", href: `/api/hearings/${hid}/redactions/${c.id}/bundle?media=1`, download: "" }, t("redact.bundle"))));
      }
    } catch (e) {
      clear(made).append(h("li", { class: "muted" }, errorText(e)));
    }
  }

  renderSpans();
  refresh();
  return { refresh };
}
