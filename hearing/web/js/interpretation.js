// What a participant hears, chosen on the phone page while the hearing has an interpreter:
// the floor (everyone but the interpreters) or the interpretation into a language (the
// interpreter, the floor paused while they are connected). Pressing the chosen button again
// goes back to hearing everyone. The server does the pausing (Room.set_listen), so the other
// channel's audio does not even cross the network; the choice is kept for this tab.

import { h, clear, show } from "./dom.js";
import { t } from "./i18n.js";

const LISTEN_KEY = "courtroom.listen";
const EVERYONE = { channel: "all", language: null };

/** The languages the hearing's interpreters interpret into, in a stable order. */
export function interpretationLanguages(participants) {
  const langs = new Set();
  for (const p of participants) {
    if (p.role === "interpreter" && p.interprets_into && p.presence !== "ejected") langs.add(p.interprets_into);
  }
  return [...langs].sort();
}

function saved() {
  try {
    const v = JSON.parse(sessionStorage.getItem(LISTEN_KEY) || "null");
    if (v && ["all", "floor", "interpretation"].includes(v.channel)) return { channel: v.channel, language: v.language || null };
  } catch { /* a broken entry: hear everyone */ }
  return EVERYONE;
}

export class ListenSwitch {
  /** ``el``: the (hidden) group to fill; ``onChange(channel, language)`` tells the media. */
  constructor(el, onChange) {
    this.el = el;
    this.onChange = onChange;
    this.choice = saved();
    this.languages = [];
  }

  /** The participants changed: show the switch while someone interprets (not to the
   * interpreter themself, who hears the floor). */
  update(participants, me) {
    const langs = me?.role === "interpreter" ? [] : interpretationLanguages(participants);
    if (langs.join() === this.languages.join()) return;
    this.languages = langs;
    this.render();
  }

  choose(channel, language = null) {
    const same = this.choice.channel === channel && this.choice.language === language;
    this.choice = same ? EVERYONE : { channel, language };
    try { sessionStorage.setItem(LISTEN_KEY, JSON.stringify(this.choice)); } catch { /* ignore */ }
    this.render();
    this.onChange(this.choice.channel, this.choice.language);
  }

  render() {
    const focused = document.activeElement && this.el.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    clear(this.el);
    show(this.el, this.languages.length > 0);
    if (!this.languages.length) return;
    this.el.append(h("span", { class: "listen-label", id: "listen-label" }, t("interp.listen")));
    const button = (channel, language, label) => {
      const on = this.choice.channel === channel && (this.choice.language || null) === language;
      const key = `${channel}:${language || ""}`;
      const b = h("button", { type: "button", class: on ? "" : "secondary", "aria-pressed": String(on), dataset: { key } }, label);
      b.addEventListener("click", () => this.choose(channel, language));
      return b;
    };
    this.el.append(button("floor", null, t("interp.floor")),
      ...this.languages.map((lang) => button("interpretation", lang, t("interp.channel", { lang }))));
    if (focused) this.el.querySelector(`button[data-key="${focused}"]`)?.focus();
  }
}
