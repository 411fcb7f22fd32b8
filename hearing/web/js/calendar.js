// The courtroom calendar: a week of the caller's courtrooms (rows) by days (columns), each
// hearing with its time, case, state and judge, and links to the judge's console and the
// editor where the caller may open it. Days are the court's (its time zone); ?from=YYYY-MM-DD
// in the address picks the week, so a week can be bookmarked and shared.

import { Api } from "./api.js";
import { $, h, clear, show, toast } from "./dom.js";
import { initI18n, t, applyI18n, currentLang, timeZone, errorText } from "./i18n.js";
import { langSwitch } from "./header.js";

const api = new Api();
const LOCALES = { kk: "kk-KZ", ru: "ru-RU", en: "en-GB" };
let me = null;
let week = null;

/** The court's calendar day (YYYY-MM-DD) of an instant. */
function courtDay(iso) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: timeZone(), year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date(iso));
}

function hhmm(iso) {
  return new Intl.DateTimeFormat(LOCALES[currentLang()], { timeZone: timeZone(), hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    .format(new Date(iso));
}

/** A calendar day as a column heading ("Пн, 07.12"): the date itself, not an instant. */
function dayLabel(day, opts = { weekday: "short", day: "2-digit", month: "2-digit" }) {
  return new Intl.DateTimeFormat(LOCALES[currentLang()], { timeZone: "UTC", ...opts }).format(new Date(`${day}T00:00:00Z`));
}

function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function links(hr) {
  if (!hr.mine) return [];
  const out = [];
  if (hr.judge_id === me.user_id) out.push(h("a", { href: `/judge/${hr.id}` }, t("hearings.console")));
  out.push(h("a", { href: `/secretary/${hr.id}` }, t("hearings.editor")));
  return out;
}

function item(hr) {
  return h("div", { class: `cal-item state-${hr.state}${hr.mine ? "" : " other"}`, dataset: { hearing: hr.id } },
    h("span", { class: "when" }, `${hhmm(hr.start)}–${hhmm(hr.end)}`),
    h("strong", {}, hr.case_number), " ",
    h("span", { class: `badge state-${hr.state}` }, t(`state.${hr.state}`)),
    h("span", { class: "title" }, hr.title),
    hr.judge ? h("small", { class: "muted" }, hr.judge) : null,
    h("div", { class: "links" }, ...links(hr)));
}

function render() {
  if (!week) return;
  const days = Array.from({ length: week.days }, (_, i) => addDays(week.from, i));
  const today = courtDay(new Date().toISOString());
  $("#period").textContent = `${dayLabel(days[0], { day: "2-digit", month: "2-digit", year: "numeric" })} — ${dayLabel(days[days.length - 1], { day: "2-digit", month: "2-digit", year: "numeric" })}`;
  const head = clear($("#calendar-grid thead tr"));
  head.append(h("th", { scope: "col" }, t("calendar.courtroom")),
    ...days.map((d) => h("th", { scope: "col", class: d === today ? "today" : null, dataset: { day: d } }, dayLabel(d))));
  const rows = week.courtrooms.map((r) => ({ id: r.id, name: r.court ? `${r.name} · ${r.court}` : r.name }));
  if (week.hearings.some((hr) => hr.courtroom_id === null)) rows.push({ id: null, name: t("calendar.no_courtroom") });
  const body = clear($("#calendar-grid tbody"));
  for (const room of rows) {
    const mine = week.hearings.filter((hr) => hr.courtroom_id === room.id);
    body.append(h("tr", { dataset: { courtroom: room.id ?? "none" } },
      h("th", { scope: "row" }, room.name),
      ...days.map((d) => h("td", { class: d === today ? "today" : null, dataset: { day: d } },
        ...mine.filter((hr) => courtDay(hr.start) === d).map(item)))));
  }
  show($("#no-bookings"), week.hearings.length === 0);
}

async function load(from) {
  const q = new URLSearchParams({ days: "7" });
  if (from) q.set("from", from);
  try {
    week = await api.get(`/api/calendar?${q}`);
  } catch (e) {
    $("#page-error").textContent = errorText(e);
    show($("#page-error"));
    return;
  }
  show($("#page-error"), false);
  const url = new URL(location.href);
  url.searchParams.set("from", week.from);
  history.replaceState(null, "", url);
  render();
}

function wire() {
  $("#prev").addEventListener("click", () => load(addDays(week.from, -7)));
  $("#next").addEventListener("click", () => load(addDays(week.from, 7)));
  $("#this-week").addEventListener("click", () => load(null));
  document.addEventListener("langchange", () => { $("#who").textContent = whoText(); render(); });
}

function whoText() {
  return `${me.name} · ${t(`staffrole.${me.role}`)}`;
}

async function main() {
  $("#lang-slot").replaceWith(langSwitch());
  await initI18n();
  me = await api.me();
  if (!me || me.kind !== "staff") {
    show($("#sign-in"));
  } else {
    $("#who").textContent = whoText();
    show($("#who"));
    show($("#calendar"));
    wire();
    const from = new URLSearchParams(location.search).get("from");
    await load(/^\d{4}-\d{2}-\d{2}$/.test(from || "") ? from : null);
  }
  applyI18n();
  document.body.dataset.ready = "1";
}

main().catch((e) => toast(String(e), "error"));
