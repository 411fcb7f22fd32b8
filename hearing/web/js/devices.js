// The device check's choices: which microphone, camera and speaker this browser uses
// (remembered here by device id, so a reload keeps them), and a short tone that tests the
// chosen speaker.

import { h, clear } from "./dom.js";
import { t } from "./i18n.js";

const KEY = "courtroom.devices";
const TONE_HZ = 660;
const TONE_S = 0.8;

/** The remembered choices: {audioinput, videoinput, audiooutput} device ids. */
export function savedDevices() {
  try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch { return {}; }
}

export function saveDevice(kind, deviceId) {
  const d = savedDevices();
  d[kind] = deviceId;
  try { localStorage.setItem(KEY, JSON.stringify(d)); } catch { /* storage may be disabled */ }
}

/** getUserMedia constraints for one kind: the remembered device if there is one ("exact":
 * Chrome does not switch for "ideal"; a device gone since then fails, see forgetInputs). */
export function constraint(kind, base) {
  const id = savedDevices()[kind];
  if (!id) return base;
  return { ...(base === true ? {} : base), deviceId: { exact: id } };
}

/** Forget the chosen microphone and camera (unplugged); true if there was a choice. */
export function forgetInputs() {
  const d = savedDevices();
  if (!d.audioinput && !d.videoinput) return false;
  delete d.audioinput;
  delete d.videoinput;
  try { localStorage.setItem(KEY, JSON.stringify(d)); } catch { /* ignore */ }
  return true;
}

/** Whether the browser lets a page choose where sound plays (Chrome, Edge, Firefox 116+). */
export function canChooseSpeaker() {
  return typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
}

/** Fill ``select`` with the devices of ``kind``, ``current`` selected; returns how many. */
export function fillSelect(select, devices, kind, current) {
  const mine = devices.filter((d) => d.kind === kind);
  clear(select);
  mine.forEach((d, i) => select.append(h("option", { value: d.deviceId },
    d.deviceId === "default" && !d.label ? t("check.device_default") : d.label || t("check.device_n", { n: i + 1 }))));
  if (current && mine.some((d) => d.deviceId === current)) select.value = current;
  return mine.length;
}

/** A short tone as WAV bytes (16-bit mono), faded in and out so it does not click. */
function toneWav(rate = 24000) {
  const n = Math.floor(rate * TONE_S);
  const buf = new ArrayBuffer(44 + n * 2);
  const v = new DataView(buf);
  const text = (at, s) => { for (let i = 0; i < s.length; i++) v.setUint8(at + i, s.charCodeAt(i)); };
  text(0, "RIFF"); v.setUint32(4, 36 + n * 2, true); text(8, "WAVE"); text(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true);
  v.setUint16(34, 16, true); text(36, "data"); v.setUint32(40, n * 2, true);
  const fade = rate * 0.05;
  for (let i = 0; i < n; i++) {
    const env = Math.min(1, i / fade, (n - i) / fade);
    v.setInt16(44 + i * 2, Math.round(0.4 * env * 32767 * Math.sin((2 * Math.PI * TONE_HZ * i) / rate)), true);
  }
  return new Blob([buf], { type: "audio/wav" });
}

/** Play the test tone on the speaker ``sinkId`` (the default one when empty); resolves when
 * it has played. The element stays in the page (hidden) as the one that played it. */
export async function playTone(sinkId) {
  let el = document.getElementById("speaker-tone");
  if (!el) {
    el = h("audio", { id: "speaker-tone", hidden: true });
    document.body.append(el);
  }
  if (el.src) URL.revokeObjectURL(el.src);
  el.src = URL.createObjectURL(toneWav());
  if (sinkId && el.setSinkId) await el.setSinkId(sinkId);
  await el.play();
  await new Promise((resolve) => el.addEventListener("ended", resolve, { once: true }));
}
