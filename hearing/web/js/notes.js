// Log notes of the judge and the secretary: a note box (Ctrl+Enter adds the note at the
// moment given by `atMs`, or now on the hearing clock when it gives none) and the hearing's
// notes listed by their time, marked as notes, never as speech. A note is never edited: its
// author corrects it with a new note that replaces it, and the replaced text stays visible,
// struck through. The list follows the staff's live `note` events.

import { $, h, clear, show, toast } from "./dom.js";
import { t, fmtClock, errorText } from "./i18n.js";

const MAX_TEXT = 2000;

/** Mount the note box and list into `slot`. Options: api, hid, live (a Live), hint (the i18n
 * key explaining where Ctrl+Enter puts the note), atMs() (hearing-clock ms, or null for now). */
export function mountNotes(slot, { api, hid, live, hint = "notes.hint_now", atMs = () => null }) {
  const notes = new Map();
  let me = null;
  let replacing = null;
  const box = h("textarea", { id: "note-text", rows: 2, maxlength: MAX_TEXT,
    "data-i18n-label": "notes.box", "aria-label": t("notes.box"), "aria-describedby": "note-hint" });
  const fixing = h("p", { class: "note-fixing muted", hidden: true });
  const add = h("button", { type: "button", class: "small", id: "note-add" }, t("notes.add"));
  const list = h("ol", { class: "notes", id: "notes", "aria-live": "polite" });
  const empty = h("p", { class: "muted", id: "notes-empty" }, t("notes.empty"));
  clear(slot).append(fixing, box,
    h("p", { class: "row" }, add, h("span", { class: "muted small", id: "note-hint" }, t(hint))),
    list, empty);

  function mark(n) { return t(n.role === "judge" ? "notes.by_judge" : "notes.by_secretary"); }

  function render() {
    const replacedBy = new Map([...notes.values()].filter((n) => n.replaces).map((n) => [n.replaces, n]));
    const current = [...notes.values()].filter((n) => !replacedBy.has(n.id))
      .sort((a, b) => a.at_ms - b.at_ms || a.id - b.id);
    clear(list);
    for (const n of current) {
      const older = [];
      for (let o = notes.get(n.replaces); o; o = notes.get(o.replaces)) older.push(o);
      list.append(h("li", { class: "note", dataset: { noteId: n.id, atMs: n.at_ms } },
        h("span", { class: "note-mark" }, `[${mark(n)} ${fmtClock(n.at_ms)}]`), " ",
        h("span", { class: "note-text" }, n.text),
        h("small", { class: "muted" }, ` — ${n.author}`),
        me && me.user_id === n.author_id
          ? h("button", { type: "button", class: "secondary small", onclick: () => startFix(n) }, t("notes.correct"))
          : null,
        older.map((o) => h("del", { class: "note-old muted", title: t("notes.replaced") }, o.text))));
    }
    show(empty, current.length === 0);
  }

  function startFix(n) {
    replacing = n;
    fixing.textContent = t("notes.correcting", { time: fmtClock(n.at_ms) });
    fixing.append(" ", h("button", { type: "button", class: "secondary small", onclick: stopFix }, t("notes.cancel")));
    show(fixing);
    box.value = n.text;
    box.focus();
  }

  function stopFix() {
    replacing = null;
    show(fixing, false);
  }

  function upsert(n) {
    notes.set(n.id, n);
    render();
  }

  async function submit() {
    const text = box.value.trim();
    if (!text) return;
    const body = { text };
    if (replacing) { body.at_ms = replacing.at_ms; body.replaces = replacing.id; } else {
      const at = atMs();
      if (at !== null && at !== undefined) body.at_ms = Math.max(0, Math.round(at));
    }
    add.disabled = true;
    try {
      upsert(await api.post(`/api/hearings/${hid}/notes`, body));
      box.value = "";
      stopFix();
      toast(t("notes.saved"));
    } catch (e) {
      toast(errorText(e), "error");
    } finally {
      add.disabled = false;
    }
  }

  async function load() {
    let cursor = null;
    do {
      const q = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
      const page = await api.get(`/api/hearings/${hid}/notes${q}`);
      for (const n of page.notes) notes.set(n.id, n);
      cursor = page.next_cursor;
    } while (cursor);
    render();
  }

  box.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      ev.stopPropagation();
      submit();
    } else if (ev.key === "Escape" && replacing) {
      stopFix();
    }
  });
  add.addEventListener("click", submit);
  live?.addEventListener("note", (ev) => upsert(ev.detail.note));
  live?.addEventListener("hello", () => load().catch(() => {}));
  document.addEventListener("langchange", () => {
    add.textContent = t("notes.add");
    empty.textContent = t("notes.empty");
    $("#note-hint", slot).textContent = t(hint);
    box.setAttribute("aria-label", t("notes.box"));
    render();
  });
  api.me().then((m) => { me = m; render(); }).catch(() => {});
  load().catch((e) => toast(errorText(e), "error"));
  return { reload: load };
}
