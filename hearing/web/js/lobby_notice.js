// Someone arriving in the lobby: a short chime (made by WebAudio, nothing downloaded) and a
// notice on the console that the judge acts on at once: Admit, or Later (they stay in the
// lobby list). The notices' box is a live region, so a screen reader announces the arrival.

import { h } from "./dom.js";
import { t, currentLang } from "./i18n.js";
import { audioContext } from "./meter.js";

/** Two soft rising tones, a third of a second in all. */
export function chime() {
  try {
    const ac = audioContext();
    const start = ac.currentTime + 0.02;
    [660, 880].forEach((freq, i) => {
      const osc = ac.createOscillator();
      const gain = ac.createGain();
      const at = start + i * 0.16;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.15);
      osc.connect(gain).connect(ac.destination);
      osc.start(at);
      osc.stop(at + 0.16);
    });
  } catch { /* no sound here: the notice still shows */ }
}

export class LobbyNotices {
  /** `box`: the live region the notices go in; `admit(p)`: admit that participant. */
  constructor(box, { admit }) {
    this.box = box;
    this.admit = admit;
    this.seen = null; // who was waiting at the last update (null: none yet)
    this.later = new Set(); // put off by the judge until they arrive again
    this.notices = new Map();
  }

  /** The people waiting now. A newcomer since the last update is chimed and noticed; those
   * already waiting when the console opened are noticed without a chime. */
  update(waiting) {
    const ids = new Set(waiting.map((p) => p.id));
    let arrived = false;
    for (const p of waiting) {
      if (this.seen && !this.seen.has(p.id)) { arrived = true; this.later.delete(p.id); }
      if (!this.later.has(p.id)) this.show(p);
    }
    for (const [id, el] of this.notices) if (!ids.has(id)) this.drop(id, el);
    this.seen = ids;
    if (arrived) chime();
  }

  show(p) {
    const sig = JSON.stringify([currentLang(), p.display_name, p.role]);
    const old = this.notices.get(p.id);
    if (old?.dataset.sig === sig) return;
    const text = t("judge.lobby_arrived", { name: p.display_name, role: t(`role.${p.role}`) });
    const admit = h("button", { type: "button" }, t("judge.admit"));
    admit.addEventListener("click", () => this.admit(p));
    const later = h("button", { type: "button", class: "secondary" }, t("judge.later"));
    later.addEventListener("click", () => {
      this.later.add(p.id);
      this.drop(p.id, this.notices.get(p.id));
      document.querySelector(`#lobby li[data-participant="${p.id}"] button`)?.focus();
    });
    const el = h("div", { class: "lobby-notice", role: "group", "aria-labelledby": `lobby-notice-${p.id}`, dataset: { participant: p.id, sig } },
      h("span", { class: "text", id: `lobby-notice-${p.id}` }, text), admit, later);
    if (old) old.replaceWith(el); else this.box.append(el);
    this.notices.set(p.id, el);
  }

  drop(id, el) {
    el?.remove();
    this.notices.delete(id);
  }
}
