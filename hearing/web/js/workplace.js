// The workplace of prosecutors, lawyers and representatives: sign in, the hearings of their
// cases with a Join button (the server issues the join link; the join page does the rest),
// the signed protocols, their cases and the notices sent to them with their delivery status.

import { Api } from "./api.js";
import { $, h, clear, show, toast } from "./dom.js";
import { t, fmtDateTime, errorText } from "./i18n.js";
import { startSignInPage, showSignedIn } from "./signin.js";

const api = new Api();
let me = null;
let cases = [];
let hearings = [];
let notices = [];

function stateBadge(state) {
  return h("span", { class: `badge state-${state}` }, t(`state.${state}`));
}

function whoText() {
  return `${me.name} · ${t(`workplace.role.${me.role}`)}`;
}

async function join(hr, button) {
  button.disabled = true;
  try {
    const joined = await api.post(`/api/hearings/${hr.id}/join`);
    location.assign(joined.link);
  } catch (e) {
    toast(t("workplace.join_failed", { message: errorText(e) }), "error");
    button.disabled = false;
  }
}

function renderCalendar() {
  const list = clear($("#calendar-list"));
  for (const hr of hearings) {
    const actions = [];
    if (hr.joinable) {
      const button = h("button", { type: "button", class: "small" }, t("workplace.join"));
      button.addEventListener("click", () => join(hr, button));
      actions.push(button);
    }
    if (hr.signed_version) {
      actions.push(h("a", { class: "button secondary small", href: `/api/hearings/${hr.id}/export/pdf`, download: "" },
        t("workplace.protocol", { version: hr.signed_version })));
    }
    list.append(h("li", { dataset: { hearing: hr.id } },
      h("span", { class: "who" }, `${fmtDateTime(hr.scheduled_at)} · ${hr.case_number}`,
        h("small", {}, hr.title)),
      stateBadge(hr.state), ...actions));
  }
  show($("#no-hearings"), hearings.length === 0);
}

function renderCases() {
  const body = clear($("#case-table tbody"));
  for (const c of cases) {
    body.append(h("tr", { dataset: { case: c.id } },
      h("td", {}, c.number), h("td", {}, c.title),
      h("td", {}, c.acting_as.map((p) => t(`role.${p.role}`)).join(", "))));
  }
  show($("#no-cases"), cases.length === 0);
}

function renderNotices() {
  const body = clear($("#notice-table tbody"));
  for (const n of notices) {
    body.append(h("tr", { dataset: { notice: n.id } },
      h("td", {}, fmtDateTime(n.created_at)),
      h("td", {}, n.subject || t(`workplace.kind.${n.kind}`)),
      h("td", {}, `${t(`workplace.channel.${n.channel}`)} · ${n.address}`),
      h("td", {}, h("span", { class: `badge notice-${n.status}` }, t(`workplace.status.${n.status}`)))));
  }
  show($("#no-notices"), notices.length === 0);
}

function render() {
  renderCalendar();
  renderCases();
  renderNotices();
}

async function load() {
  const [c, cal, n] = await Promise.all([
    api.all("/api/me/cases", "cases"), api.get("/api/me/calendar"), api.get("/api/me/notices")]);
  cases = c;
  hearings = cal.hearings;
  notices = n.notices; // the newest page
  render();
}

async function signedIn() {
  showSignedIn($("#workplace"), whoText());
  await load();
}

function wire() {
  document.addEventListener("langchange", () => {
    if (!me) return;
    $("#who").textContent = whoText();
    render();
  });
}

function main() {
  return startSignInPage(api, {
    kind: "party", other: "staff", otherPage: "/", wire,
    onSignedIn: async (account) => { me = account; await signedIn(); },
  });
}

main().catch((e) => toast(String(e), "error"));
