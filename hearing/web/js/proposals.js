// Re-transcription in the secretary's editor: start it once the hearing is closed, follow its
// progress ("retranscription" events; GET /retranscription when the page opens), and decide
// each proposal of the second model, shown as a word difference against the segment's text.
//
//   mountProposals(column, api, hearingId, live);

import { h, clear, show, toast } from "./dom.js";
import { t, fmtClock, errorText } from "./i18n.js";
import { renderDiff } from "./diff.js";

export function mountProposals(column, api, hid, live) {
  const status = h("p", { class: "muted", role: "status" });
  const start = h("button", { type: "button", class: "secondary small" }, "");
  const list = h("ol", { class: "proposals" });
  const title = h("h2", { id: "proposals-h" });
  const card = h("section", { class: "card", "aria-labelledby": "proposals-h", id: "proposals-card" },
    title, status, start, list);
  show(card, false);
  column.prepend(card);
  let job = null;

  function render() {
    title.textContent = t("retr.title");
    start.textContent = t("retr.start");
    if (!job) return;
    const pct = Math.round((job.progress || 0) * 100);
    status.textContent = t(`retr.state.${job.state}`, { pct, model: job.model || "" })
      + (job.error ? ` — ${job.error}` : "");
    show(card, job.startable || job.state !== "none" || (job.proposals || []).length > 0);
    show(start, job.startable);
    clear(list);
    for (const p of job.proposals || []) list.append(item(p));
    if (job.state === "done" && !(job.proposals || []).length) list.append(h("li", { class: "muted" }, t("retr.no_proposals")));
  }

  function item(p) {
    const accept = h("button", { type: "button", class: "small" }, t("retr.accept"));
    const reject = h("button", { type: "button", class: "secondary small" }, t("retr.reject"));
    const decide = async (yes) => {
      accept.disabled = reject.disabled = true;
      try {
        const r = await api.post(`/api/hearings/${hid}/retranscription/proposals/${p.seq}`, { accept: yes });
        job = { ...job, proposals: r.proposals };
        toast(t(yes ? "retr.accepted" : "retr.rejected"));
        render();
      } catch (e) {
        toast(errorText(e), "error");
        accept.disabled = reject.disabled = false;
      }
    };
    accept.addEventListener("click", () => decide(true));
    reject.addEventListener("click", () => decide(false));
    return h("li", { class: "proposal", dataset: { segment: p.segment_id, seq: p.seq } },
      h("strong", {}, `${fmtClock(p.start_ms)} · ${t("retr.by", { model: p.model })}`),
      renderDiff(p.text, p.proposed), h("p", { class: "row" }, accept, reject));
  }

  async function refresh() {
    try {
      job = await api.get(`/api/hearings/${hid}/retranscription`);
    } catch (e) {
      status.textContent = errorText(e);
    }
    render();
  }

  start.addEventListener("click", async () => {
    start.disabled = true;
    try {
      job = await api.post(`/api/hearings/${hid}/retranscription`);
    } catch (e) {
      toast(errorText(e), "error");
    }
    start.disabled = false;
    render();
  });
  live.addEventListener("retranscription", (ev) => {
    const d = ev.detail;
    if (d.state === "done" || d.state === "failed") { refresh(); return; }
    job = { ...(job || { proposals: [] }), state: d.state, progress: d.progress, error: d.error };
    render();
  });
  live.addEventListener("revision", refresh);
  document.addEventListener("langchange", render);
  render();
  refresh();
  return { refresh };
}
