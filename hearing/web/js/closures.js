// Closed parts of a hearing ("закрытая часть"). The judge's console: the hearing's own access
// level (the presiding judge closes the whole hearing, after confirming that observers are
// disconnected), and one toggle that starts a closed part now (level and reason) and ends it,
// with the state told by the server's `closure` events. The phone: a notice while a closed
// part runs, so a cut-off observer sees why nothing comes instead of silence. The server
// decides who is cut off and what is withheld; these only show it.

import { h, clear, show, toast } from "./dom.js";
import { t, fmtClock, errorText } from "./i18n.js";

/** The access levels, strictest last, with their texts. */
export const LEVELS = ["public", "restricted", "sealed"];
const LEVEL_KEYS = { public: "access.public", restricted: "access.restricted", sealed: "access.sealed" };

/** What a level is called in the interface (a hearing's, a part's or an evidence item's). */
export function levelText(level) {
  return t(LEVEL_KEYS[level] || LEVEL_KEYS.public);
}

/** Mount the judge's controls into `slot`. Options: api, hid, live (a Live), presiding
 * (whether this console's user may change the levels; the server checks it anyway). */
export function mountClosures(slot, { api, hid, live, presiding = true }) {
  let running = null;
  let hearingLevel = "public";
  const access = h("select", { id: "hearing-access", disabled: !presiding },
    ...LEVELS.map((l) => h("option", { value: l }, levelText(l))));
  const accessLabel = h("label", { for: "hearing-access" }, t("closure.hearing_level"));
  const level = h("select", { id: "closure-level", "aria-label": t("closure.level") },
    h("option", { value: "restricted" }, t("closure.restricted")),
    h("option", { value: "sealed" }, t("closure.sealed")));
  const reason = h("input", { id: "closure-reason", type: "text", maxlength: 500,
    "aria-label": t("closure.reason"), placeholder: t("closure.reason") });
  const toggle = h("button", { type: "button", id: "closure-toggle", class: "danger" });
  const status = h("p", { id: "closure-status", role: "status", "aria-live": "polite" });
  clear(slot).append(h("p", { class: "row" }, accessLabel, access), status,
    h("p", { class: "row" }, level, reason, toggle));

  function render() {
    accessLabel.textContent = t("closure.hearing_level");
    LEVELS.forEach((l, i) => { access.options[i].textContent = levelText(l); });
    access.value = hearingLevel;
    level.setAttribute("aria-label", t("closure.level"));
    level.options[0].textContent = t("closure.restricted");
    level.options[1].textContent = t("closure.sealed");
    reason.setAttribute("aria-label", t("closure.reason"));
    reason.placeholder = t("closure.reason");
    if (running) {
      status.className = "banner warn";
      status.textContent = t("closure.running", { time: fmtClock(running.start_ms),
        level: t(`closure.${running.level}`) });
      toggle.textContent = t("closure.end");
      toggle.className = "secondary";
    } else if (hearingLevel !== "public") {
      status.className = "banner warn";
      status.textContent = t("closure.hearing_closed", { level: levelText(hearingLevel) });
      toggle.textContent = t("closure.start");
      toggle.className = "danger";
    } else {
      status.className = "muted";
      status.textContent = t("closure.none");
      toggle.textContent = t("closure.start");
      toggle.className = "danger";
    }
    show(level, !running);
    show(reason, !running);
  }

  function take(state) {
    running = state && state.open;
    if (state?.access_level) hearingLevel = state.access_level;
    render();
  }

  access.addEventListener("change", async () => {
    const want = access.value;
    if (want !== "public" && !confirm(t("closure.hearing_confirm", { level: levelText(want) }))) {
      access.value = hearingLevel;
      return;
    }
    access.disabled = true;
    try {
      take(await api.request("PUT", `/api/hearings/${hid}/access`, { level: want }));
    } catch (e) {
      access.value = hearingLevel;
      toast(errorText(e), "error");
    } finally {
      access.disabled = !presiding;
    }
  });

  async function load() {
    take(await api.get(`/api/hearings/${hid}/closures`));
  }

  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      if (running) take(await api.post(`/api/hearings/${hid}/closures/end`));
      else take(await api.post(`/api/hearings/${hid}/closures`,
        { level: level.value, reason: reason.value.trim() }));
      reason.value = "";
    } catch (e) {
      toast(errorText(e), "error");
    } finally {
      toggle.disabled = false;
    }
  });
  live?.addEventListener("closure", (ev) => { if (ev.detail.closure) take(ev.detail.closure); });
  live?.addEventListener("hello", () => load().catch(() => {}));
  document.addEventListener("langchange", render);
  render();
  load().catch((e) => toast(errorText(e), "error"));
  return { reload: load };
}

/** The phone's notice: shown while a closed part runs (the hello says whether one does, the
 * neutral `closed_part` events when one starts and ends), placed before `before`. */
export function closedNotice(live, before) {
  const note = h("p", { id: "closed-notice", class: "banner warn", role: "status",
    "aria-live": "polite", hidden: true }, t("closure.notice"));
  before.before(note);
  live.addEventListener("hello", (ev) => show(note, !!ev.detail.closed_part));
  live.addEventListener("closed_part", (ev) => show(note, ev.detail.state === "started"));
  document.addEventListener("langchange", () => { note.textContent = t("closure.notice"); });
  return note;
}
