// Staff home: sign in, the hearings you preside over or keep the record of (every page of the
// list), a link to the courtroom calendar, scheduling a hearing, adding participants and
// handing out their invitation link and QR code.

import { Api } from "./api.js";
import { $, h, clear, show, toast } from "./dom.js";
import { t, fmtDateTime, localInputToIso, errorText } from "./i18n.js";
import { startSignInPage, showSignedIn } from "./signin.js";
import { mountInviteForm, reinvite } from "./invite.js";
import { levelText } from "./closures.js";

const api = new Api();
let me = null;
let hearings = [];
let users = [];
let selected = null;

function stateBadge(state) {
  return h("span", { class: `badge state-${state}` }, t(`state.${state}`));
}

/** A closed hearing (restricted or sealed) is marked in the list; an open one is not. */
function accessBadge(hr) {
  if (!hr.access_level || hr.access_level === "public") return null;
  return h("span", { class: "badge closed-access", title: levelText(hr.access_level) }, t("hearings.closed_badge"));
}

function pageLinks(hr) {
  const links = [];
  if (me.role === "judge" && hr.judge_id === me.user_id) links.push(h("a", { class: "button small", href: `/judge/${hr.id}` }, t("hearings.console")));
  if (me.role === "secretary" || me.role === "admin" || hr.judge_id === me.user_id) {
    links.push(h("a", { class: "button secondary small", href: `/secretary/${hr.id}` }, t("hearings.editor")));
  }
  return links;
}

function renderHearings() {
  const body = $("#hearing-table tbody");
  clear(body);
  for (const hr of hearings) {
    const select = h("button", { type: "button", class: "secondary small", "aria-controls": "detail" }, t("hearings.participants"));
    select.addEventListener("click", () => openDetail(hr.id));
    body.append(h("tr", { dataset: { hearing: hr.id } },
      h("td", {}, hr.case_number), h("td", {}, hr.title),
      h("td", {}, fmtDateTime(hr.scheduled_at)), h("td", {}, stateBadge(hr.state), accessBadge(hr)),
      h("td", {}, h("div", { class: "row" }, ...pageLinks(hr), select))));
  }
  show($("#no-hearings"), hearings.length === 0);
}

async function loadHearings() {
  hearings = await api.all("/api/hearings", "hearings");
  renderHearings();
}

function calendarLink() {
  if ($("#calendar-link")) return;
  const title = $("#hearings .card h2");
  title.after(h("p", {}, h("a", { id: "calendar-link", class: "button secondary small", href: "/calendar", "data-i18n": "calendar.title" }, t("calendar.title"))));
}

async function openDetail(id, { remount = true } = {}) {
  const hr = await api.get(`/api/hearings/${id}`);
  selected = hr;
  show($("#detail"));
  $("#detail-h").textContent = `${hr.case_number} · ${hr.title}`;
  clear($("#detail-links")).append(stateBadge(hr.state), ...pageLinks(hr));
  const list = clear($("#detail-people"));
  for (const p of hr.participants) {
    const again = h("button", { type: "button", class: "secondary small" }, t("invite.new_link"));
    again.addEventListener("click", () => reinvite(api, hr.id, p, $("#reinvite-out")));
    list.append(h("li", {},
      h("span", { class: "who" }, p.display_name, h("small", {}, p.user_id ? t(`role.${p.role}`) : `${t(`role.${p.role}`)} · ${t(`presence.${p.presence || "invited"}`)}`)),
      p.user_id || p.presence === "ejected" ? null : again));
  }
  if (!remount) return;
  clear($("#reinvite-out"));
  mountInviteForm($("#invite-slot"), api, hr.id, () => openDetail(hr.id, { remount: false }));
  $("#detail").scrollIntoView({ block: "start" });
}

async function loadUsers() {
  try { users = await api.all("/api/users", "users"); } catch { users = []; }
  const sec = $("#c-secretary");
  for (const u of users.filter((x) => x.role === "secretary" && x.active)) sec.append(h("option", { value: u.id }, u.display_name));
  if (me.role === "admin") {
    show($("#c-judge-field"));
    for (const u of users.filter((x) => x.role === "judge" && x.active)) $("#c-judge").append(h("option", { value: u.id }, u.display_name));
  }
  if (me.role === "secretary") show($("#create-card"), false);
}

async function signedIn() {
  showSignedIn($("#hearings"), `${me.name} · ${t(`staffrole.${me.role}`)}`);
  calendarLink();
  await Promise.all([loadHearings(), loadUsers()]);
}

function wire() {
  $("#create-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { case_number: $("#c-case").value.trim(), title: $("#c-title").value.trim(),
      kind: $("#c-kind").value, language: $("#c-language").value };
    const when = localInputToIso($("#c-when").value);
    if (when) body.scheduled_at = when;
    if ($("#c-secretary").value) body.secretary_id = Number($("#c-secretary").value);
    if (me.role === "admin" && $("#c-judge").value) body.judge_id = Number($("#c-judge").value);
    try {
      const hr = await api.post("/api/hearings", body);
      toast(t("hearings.created", { case: hr.case_number }));
      $("#create-form").reset();
      await loadHearings();
      await openDetail(hr.id);
    } catch (e) {
      toast(errorText(e), "error");
    }
  });
  document.addEventListener("langchange", () => {
    if (!me) return;
    $("#who").textContent = `${me.name} · ${t(`staffrole.${me.role}`)}`;
    renderHearings();
    if (selected) openDetail(selected.id);
  });
}

function main() {
  return startSignInPage(api, {
    kind: "staff", other: "party", otherPage: "/workplace", wire,
    onSignedIn: async (account) => { me = account; await signedIn(); },
  });
}

main().catch((e) => toast(String(e), "error"));
