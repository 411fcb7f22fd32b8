// Interface language (kk, ru, en): chosen from the page's switcher, remembered in this
// browser, applied to every element with data-i18n*. Times are shown in the court's time zone.

const LANGS = ["kk", "ru", "en"];
const LOCALES = { kk: "kk-KZ", ru: "ru-RU", en: "en-GB" };
const KEY = "courtroom.lang";
const dicts = {};
let lang = "ru";
let courtTz = "Asia/Almaty";

export function currentLang() { return lang; }
export function timeZone() { return courtTz; }

function initialLang() {
  try {
    const saved = localStorage.getItem(KEY);
    if (LANGS.includes(saved)) return saved;
  } catch { /* storage may be disabled */ }
  for (const l of navigator.languages || [navigator.language || ""]) {
    const short = String(l).slice(0, 2).toLowerCase();
    if (LANGS.includes(short)) return short;
  }
  return "ru";
}

async function load(l) {
  if (!dicts[l]) {
    const r = await fetch(`/static/i18n/${l}.json`);
    dicts[l] = r.ok ? await r.json() : {};
  }
  return dicts[l];
}

/** The kind of refusal behind each HTTP status, for a code that has no text of its own. */
const ERROR_KINDS = { 400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
  409: "conflict", 413: "too_large", 422: "unprocessable", 423: "busy", 429: "rate_limited",
  503: "unavailable", 507: "insufficient_storage" };

/** A failed request (an ApiError) in the interface language. The server's message is English,
 *  so the text comes from the error's code, else from its kind, never from the server. */
export function errorText(e) {
  if (!e?.status) return t("error.network");
  const known = dicts[lang] || {};
  const key = [e.code, ERROR_KINDS[e.status]].map((c) => `error.${c}`).find((k) => k in known);
  return t(key || "error.server");
}

/** Translate a key; {name} placeholders are filled from vars. Falls back to English. */
export function t(key, vars = {}) {
  let s = dicts[lang]?.[key] ?? dicts.en?.[key] ?? key;
  for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  const title = document.querySelector("title[data-i18n]");
  if (title) document.title = t(title.dataset.i18n);
}

export async function setLang(l) {
  if (!LANGS.includes(l)) return;
  await load(l);
  lang = l;
  try { localStorage.setItem(KEY, l); } catch { /* ignore */ }
  applyI18n();
  const sel = document.getElementById("lang");
  if (sel) sel.value = l;
  document.dispatchEvent(new CustomEvent("langchange", { detail: l }));
}

/** Load the court settings and the remembered language, translate the page, wire the switcher. */
export async function initI18n() {
  try {
    const r = await fetch("/court.json");
    if (r.ok) courtTz = (await r.json()).timezone || courtTz;
  } catch { /* keep the default */ }
  lang = initialLang();
  await Promise.all([load(lang), load("en")]);
  applyI18n();
  const sel = document.getElementById("lang");
  if (sel) {
    sel.value = lang;
    sel.addEventListener("change", () => setLang(sel.value));
  }
}

/** A date-time in the court's time zone, in the interface language. */
export function fmtDateTime(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(LOCALES[lang], {
    timeZone: courtTz, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit",
  }).format(new Date(iso));
}

export function fmtTime(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(LOCALES[lang], {
    timeZone: courtTz, hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).format(new Date(iso));
}

/** Hearing-clock milliseconds as h:mm:ss. */
export function fmtClock(ms) {
  if (ms === null || ms === undefined) return "—";
  const s = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  return `${hh}:${String(mm).padStart(2, "0")}:${String(ss).padStart(2, "0")}`;
}

/** The wall-clock time (court zone) of a hearing-clock moment, given when the clock started. */
export function clockToTime(openedAtIso, ms) {
  if (!openedAtIso || ms === null || ms === undefined) return fmtClock(ms);
  return fmtTime(new Date(new Date(openedAtIso).getTime() + ms).toISOString());
}

export function localInputToIso(value) {
  // <input type=datetime-local> is in the court's zone: convert by the zone's offset then.
  if (!value) return null;
  const guess = new Date(`${value}:00Z`);
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: courtTz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(guess);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const asZone = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  const offset = asZone - guess.getTime();
  return new Date(guess.getTime() - offset).toISOString();
}
