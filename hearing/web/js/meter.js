// Audio level of a MediaStream (the microphone check, who is speaking). One AudioContext per
// page; levels are RMS in dBFS, polled ten times a second.

let ctx = null;
export function audioContext() {
  if (!ctx) ctx = new (window.AudioContext || window.webkitAudioContext)();
  if (ctx.state === "suspended") ctx.resume().catch(() => {});
  return ctx;
}

export const SPEAKING_DB = -45;

export class LevelMeter {
  constructor(stream, onLevel, { everyMs = 100 } = {}) {
    const ac = audioContext();
    this.source = ac.createMediaStreamSource(stream);
    this.analyser = ac.createAnalyser();
    this.analyser.fftSize = 1024;
    this.source.connect(this.analyser);
    this.buf = new Float32Array(this.analyser.fftSize);
    this.db = -100;
    this.timer = setInterval(() => {
      this.analyser.getFloatTimeDomainData(this.buf);
      let sum = 0;
      for (const v of this.buf) sum += v * v;
      const rms = Math.sqrt(sum / this.buf.length);
      this.db = rms > 0 ? Math.max(-100, 20 * Math.log10(rms)) : -100;
      onLevel(this.db);
    }, everyMs);
  }

  stop() {
    clearInterval(this.timer);
    try { this.source.disconnect(); } catch { /* ignore */ }
  }
}

/** Fill a <meter>-like bar element from a dB value (-60 dB empty .. 0 dB full). */
export function paintLevel(el, db) {
  const pct = Math.max(0, Math.min(100, ((db + 60) / 60) * 100));
  el.style.setProperty("--level", `${pct.toFixed(0)}%`);
  el.setAttribute("aria-valuenow", String(Math.round(Math.max(-60, Math.min(0, db)))));
}
