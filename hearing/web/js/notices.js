// The secretary's view of a hearing's notices (e-mail with a calendar invitation, SMS): to
// whom, about what, and how far delivery got (queued, sent, delivered, bounced, failed, with
// the last error); a failed one can be sent again.

import { h, clear, toast } from "./dom.js";
import { t, fmtDateTime, errorText } from "./i18n.js";

const REFRESH_MS = 30000;
const COLUMNS = ["kind", "address", "status"];

export function mountNotices(el, api, hid) {
  const table = h("table", { class: "notices" });
  const refresh = h("button", { type: "button", class: "secondary small", onclick: () => load() },
    t("notices.refresh"));
  clear(el).append(h("p", { class: "row" }, refresh), h("div", { class: "table-wrap" }, table));

  async function resend(n) {
    try {
      await api.post(`/api/notices/${n.id}/resend`);
      toast(t("notices.resent"));
    } catch (e) {
      toast(errorText(e), "error");
    }
    load();
  }

  function row(n) {
    const channel = n.channel === "sms" ? "SMS" : "e-mail";
    return h("tr", { dataset: { status: n.status, notice: n.id } },
      h("td", {}, t(`notices.kind_${n.kind}`),
        h("div", { class: "muted small", title: t("notices.col_when") }, fmtDateTime(n.updated_at))),
      h("td", { class: "invite-link" }, `${channel}: ${n.address}`),
      h("td", {}, h("strong", {}, t(`notices.status_${n.status}`)),
        n.last_error ? h("div", { class: "muted small" }, n.last_error) : null,
        n.status === "failed"
          ? h("button", { type: "button", class: "small", onclick: () => resend(n) }, t("notices.resend"))
          : null));
  }

  async function load() {
    refresh.textContent = t("notices.refresh");
    let rows;
    try {
      rows = await api.all(`/api/hearings/${hid}/notices`, "notices");
    } catch (e) {
      clear(table).append(h("caption", {}, errorText(e)));
      return;
    }
    clear(table);
    if (!rows.length) {
      table.append(h("caption", { class: "muted" }, t("notices.empty")));
      return;
    }
    table.append(
      h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col" }, t(`notices.col_${c}`))))),
      h("tbody", {}, rows.map(row)));
  }

  load();
  setInterval(load, REFRESH_MS);
  document.addEventListener("langchange", load);
  return { refresh: load };
}
