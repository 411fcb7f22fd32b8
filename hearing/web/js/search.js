// Search over signed stenograms, evidence transcripts and case records, for the judge's and
// the secretary's pages: a search box, ranked results with the matched words marked, each a
// link to its moment; and following a moment (#t=<ms>) on the page that shows the hearing.

import { Api } from "./api.js";
import { $$, h, clear, show } from "./dom.js";
import { t, fmtClock, errorText } from "./i18n.js";

const MAX_CHARS = 200;
const PAGE = 20;

function snippet(parts) {
  return h("span", { class: "snippet" },
    parts.map((p) => (p.mark ? h("mark", {}, p.text) : p.text)));
}

function resultItem(r) {
  const where = [r.case_number, t(`search.kind_${r.kind}`)];
  if (r.clock_ms !== null) where.push(fmtClock(r.clock_ms));
  const head = h("span", { class: "muted small" }, where.join(" · "));
  const href = r.links.moment || r.links.hearing;
  const body = href ? h("a", { href }, snippet(r.snippet)) : snippet(r.snippet);
  return h("li", { class: "search-result" }, head, h("br"), body);
}

/** A search box in `slot`; results link to their moment in the hearing's recording. */
export function mountSearch(slot, api = new Api()) {
  const input = h("input", { type: "search", maxlength: MAX_CHARS, required: true,
    "data-i18n-placeholder": "search.placeholder", "data-i18n-label": "search.title",
    placeholder: t("search.placeholder"), "aria-label": t("search.title") });
  const button = h("button", { type: "submit", "data-i18n": "search.button" }, t("search.button"));
  const list = h("ul", { class: "people search-results", "aria-live": "polite" });
  const status = h("p", { class: "muted", hidden: true });
  const more = h("button", { type: "button", class: "secondary small", hidden: true,
    "data-i18n": "search.more" }, t("search.more"));
  let query = "";
  let cursor = null;

  async function load(first) {
    const params = new URLSearchParams({ q: query, limit: String(PAGE) });
    if (!first && cursor) params.set("cursor", cursor);
    try {
      const out = await api.get(`/api/search?${params}`);
      if (first) clear(list);
      for (const r of out.results) list.append(resultItem(r));
      cursor = out.next_cursor;
      show(more, Boolean(cursor));
      status.textContent = list.children.length ? "" : t("search.none");
      show(status, !list.children.length);
    } catch (e) {
      if (first) clear(list);
      show(more, false);
      status.textContent = e.status === 400 ? t("search.bad_query") : errorText(e);
      show(status, true);
    }
  }

  const form = h("form", { class: "row", role: "search",
    onsubmit: (ev) => {
      ev.preventDefault();
      query = input.value.trim();
      if (query) load(true);
    } }, input, button);
  more.addEventListener("click", () => load(false));
  clear(slot).append(form, status, list, more);
  followMoments();
}

/** The page element at `ms` on the hearing clock: the last word or transcript row starting
 * at or before it (on a tie the later one in the page: a segment's first word, not the
 * segment). */
function elementAt(ms) {
  let best = null;
  let bestStart = -1;
  for (const el of $$("[data-start]")) {
    const start = Number(el.dataset.start);
    if (start <= ms && start >= bestStart) { best = el; bestStart = start; }
  }
  return best;
}

function momentOf(hash) {
  const m = /^#t=(\d+)$/.exec(hash);
  return m ? Number(m[1]) : null;
}

/** Scroll to (and, on the secretary's page, play from) the moment named by #t=<ms>, now and
 * whenever a search result on this page changes it; the transcript may still be loading. */
function followMoments() {
  async function go() {
    const ms = momentOf(location.hash);
    if (ms === null) return;
    for (let tries = 0; tries < 20; tries++) {
      const el = elementAt(ms);
      if (el) {
        el.scrollIntoView({ block: "center" });
        if (el.classList.contains("word")) el.click();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
  window.addEventListener("hashchange", go);
  go();
}
