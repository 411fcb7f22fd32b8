// Live transcript: "partial" events are the provisional tail of one speaker (shown dimmed and
// replaced as it changes), "final" events are committed text (shown firm, in time order).

import { h, clear } from "./dom.js";
import { t, fmtClock } from "./i18n.js";

export function speakerName(sp) {
  if (!sp) return "?";
  const role = sp.role ? t(`role.${sp.role}`) : "";
  if (sp.label && role && sp.label !== role) return `${sp.label} (${role})`;
  return sp.label || role || "?";
}

// Words the recogniser heard with less probability than this are shown as doubtful.
export const LOW_PROBABILITY = 0.8;

// The text of a segment, word by word where the words spell it (the recogniser's own text), so
// that doubtful words can be shown; a segment with no usable text shows that it was not made out.
function textOf(ev) {
  if (!ev.text || !ev.text.trim()) {
    return ev.uncertain ? [h("span", { class: "none", "data-i18n": "asr.no_text" }, t("asr.no_text"))] : [];
  }
  const words = ev.words || [];
  const spelled = words.map((w) => w.text).join(" ");
  if (!words.length || spelled.replace(/\s+/g, " ").trim() !== ev.text.replace(/\s+/g, " ").trim()) return [ev.text];
  const out = [];
  words.forEach((w, i) => {
    if (i) out.push(" ");
    const low = typeof w.probability === "number" && w.probability < LOW_PROBABILITY;
    out.push(h("span", { class: low ? "word low" : "word" }, w.text));
  });
  return out;
}

// The recogniser's mark on a segment it was unsure of: visible, with the reason as its title.
function uncertainMark(reason) {
  return h("span", {
    class: "badge uncertain-mark", dataset: { reason },
    "data-i18n": "asr.uncertain", "data-i18n-title": `asr.uncertain.${reason}`,
    title: t(`asr.uncertain.${reason}`),
  }, t("asr.uncertain"));
}

/** An interpreter's speech: marked with the language it interprets into ("kk, перевод"). */
export function interpretationMark(lang) {
  return h("span", { class: "badge interp-mark", dataset: { lang }, title: t("interp.mark_title", { lang }) },
    t("interp.mark", { lang }));
}

export class TranscriptView {
  constructor(container, { maxFinals = 500, follow = true, speakerFor = null } = {}) {
    this.el = container;
    // Partials may come without a speaker: the page knows who a source is.
    this.speakerFor = speakerFor;
    this.maxFinals = maxFinals;
    this.follow = follow;
    this.finals = new Map(); // segment_id -> element
    this.arrived = 0; // finals shown so far (see mark and load)
    this.partials = new Map(); // source_id -> element
    this.empty = null;
    this._placeholder();
  }

  _placeholder() {
    if (!this.el.children.length) {
      this.empty = h("p", { class: "muted empty", "data-i18n": "transcript.empty" }, t("transcript.empty"));
      this.el.append(this.empty);
    }
  }

  _row(ev, kind) {
    const speaker = ev.speaker || this.speakerFor?.(ev.source_id) || { label: ev.source_id };
    const row = h("div", { class: `seg ${kind}${ev.uncertain ? " uncertain" : ""}${ev.interpretation ? " interpretation" : ""}`, dataset: { source: ev.source_id || "", segment: ev.segment_id ?? "" } },
      h("span", { class: "speaker" }, speakerName(speaker)),
      ev.interpretation ? interpretationMark(ev.interpretation) : null,
      h("span", { class: "at" }, fmtClock(ev.start_ms)),
      kind === "partial" ? h("span", { class: "badge provisional", "data-i18n": "transcript.provisional" }, t("transcript.provisional")) : null,
      ev.uncertain ? uncertainMark(ev.uncertain) : null,
      h("span", { class: "text", lang: ev.language || undefined }, textOf(ev)));
    return row;
  }

  _scroll() {
    if (this.follow) this.el.scrollTop = this.el.scrollHeight;
  }

  partial(ev) {
    if (this.empty) { this.empty.remove(); this.empty = null; }
    const key = ev.source_id || "?";
    const old = this.partials.get(key);
    if (!ev.text || !ev.text.trim()) { if (old) old.remove(); this.partials.delete(key); return; }
    const row = this._row(ev, "partial");
    if (old) old.replaceWith(row); else this.el.append(row);
    this.partials.set(key, row);
    this._scroll();
  }

  final(ev) {
    if (this.empty) { this.empty.remove(); this.empty = null; }
    const p = this.partials.get(ev.source_id || "?");
    if (p) { p.remove(); this.partials.delete(ev.source_id || "?"); }
    const row = this._row(ev, "final");
    const old = this.finals.get(ev.segment_id);
    if (old) { old.replaceWith(row); } else {
      // Keep time order: finals of several speakers can arrive slightly out of order.
      let before = null;
      for (const other of this.el.querySelectorAll(".seg.final")) {
        if (Number(other.dataset.start) > ev.start_ms) { before = other; break; }
      }
      row.dataset.start = ev.start_ms;
      if (before) before.before(row);
      else {
        const firstPartial = this.el.querySelector(".seg.partial");
        if (firstPartial) firstPartial.before(row); else this.el.append(row);
      }
    }
    row.dataset.start = ev.start_ms;
    row.arrival = ++this.arrived;
    this.finals.set(ev.segment_id, row);
    while (this.finals.size > this.maxFinals) {
      const [k, el] = this.finals.entries().next().value;
      el.remove();
      this.finals.delete(k);
    }
    this._scroll();
  }

  /** Where the live finals stand now: pass it to load with the stored finals fetched after. */
  mark() {
    return this.arrived;
  }

  load(segments, since = Infinity) {
    // The stored finals replace what is shown; the live provisional tails stay (a load that
    // finishes after a partial arrived must not wipe it), and so do the live finals that
    // arrived after ``since`` (the fetch began) and that the stored list does not have yet.
    const live = [...this.partials.entries()];
    const stored = new Set(segments.map((s) => String(s.id ?? s.segment_id)));
    const newer = [...this.finals.entries()].filter(([id, row]) => row.arrival > since && !stored.has(String(id)));
    clear(this.el);
    this.finals.clear();
    this.partials.clear();
    this.empty = null;
    for (const s of segments) this.final({ ...s, segment_id: s.id ?? s.segment_id });
    for (const [id, row] of newer) {
      const before = [...this.el.querySelectorAll(".seg.final")].find((x) => Number(x.dataset.start) > Number(row.dataset.start));
      if (before) before.before(row); else this.el.append(row);
      this.finals.set(id, row);
    }
    for (const [key, row] of live) { this.el.append(row); this.partials.set(key, row); }
    this._placeholder();
  }
}
