// Keeps the phone's camera within what its link carries. Every few seconds it reads the
// outbound statistics of the peer connection: the estimate of the link the browser makes from
// the server's bandwidth feedback (REMB) and its own losses (availableOutgoingBitrate), the loss
// the server reports for our video (remote-inbound-rtp fractionLost) and why the encoder is
// held back (qualityLimitationReason, when there is no estimate). On a poor link it steps the video down (lower
// resolution, frame rate and bitrate, with RTCRtpSender.setParameters) so that the audio, which
// matters more in a hearing, keeps getting through; once the link has been good for a while it
// steps back up, one level at a time.

/** The steps, best first: scaleResolutionDownBy, maxFramerate, maxBitrate (bits/s). */
export const LEVELS = [
  { scaleResolutionDownBy: 1, maxFramerate: 30, maxBitrate: 900_000 },
  { scaleResolutionDownBy: 2, maxFramerate: 20, maxBitrate: 350_000 },
  { scaleResolutionDownBy: 4, maxFramerate: 12, maxBitrate: 120_000 },
];

/** Defaults: sample every periodMs; a sample is poor above lossPoor (fraction of packets) or
 * when the link's estimate is under half the level's bitrate; poorSamples poor ones in a row step
 * down. goodSamples good ones in a row (loss under lossGood, estimate half again above the
 * level's bitrate) step up. The first settleMs of a connection are not judged: the browser's
 * estimate starts low and climbs in its first seconds. */
const DEFAULTS = { periodMs: 2000, lossPoor: 0.08, lossGood: 0.02, poorSamples: 2, goodSamples: 5,
  settleMs: 6000 };

async function readStats(pc) {
  const out = { available: null, loss: null, limitation: null };
  const report = await pc.getStats();
  const outbound = new Set();
  report.forEach((s) => {
    if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded"
        && typeof s.availableOutgoingBitrate === "number") out.available = s.availableOutgoingBitrate;
    if (s.type === "outbound-rtp" && s.kind === "video") {
      outbound.add(s.id);
      out.limitation = s.qualityLimitationReason || out.limitation;
    }
  });
  report.forEach((s) => {
    if (s.type === "remote-inbound-rtp" && (s.kind === "video" || outbound.has(s.localId))
        && typeof s.fractionLost === "number") out.loss = Math.max(out.loss ?? 0, s.fractionLost);
  });
  return out;
}

async function apply(sender, level) {
  const params = sender.getParameters();
  if (!params.encodings || !params.encodings.length) params.encodings = [{}];
  Object.assign(params.encodings[0], LEVELS[level]);
  await sender.setParameters(params);
}

/** Adapt the video that ``rtc`` (an RtcClient) sends, for as long as it lives. Returns the
 * controller: {level, stop()}; level 0 is full quality. */
export function adaptToLink(rtc, options = {}) {
  const o = { ...DEFAULTS, ...options };
  const ctl = { level: 0, stop: () => clearInterval(timer) };
  let applied = null; // the sender our level was last set on (a rejoin makes a new one)
  let since = 0; // when that sender was first seen
  let good = 0;
  let poorRun = 0;
  const tick = async () => {
    const pc = rtc.pc;
    const sender = pc?.getSenders().find((s) => s.track?.kind === "video");
    if (!pc || !sender || pc.connectionState !== "connected") return;
    if (applied !== sender) {
      applied = sender;
      since = Date.now();
      good = poorRun = 0;
      try { await apply(sender, ctl.level); } catch { applied = null; /* renegotiating: next time */ }
      return;
    }
    if (Date.now() - since < o.settleMs) return;
    const st = await readStats(pc);
    const limit = LEVELS[ctl.level].maxBitrate;
    const poor = (st.loss !== null && st.loss > o.lossPoor)
      || (st.available !== null && st.available < limit * 0.5)
      || (st.limitation === "bandwidth" && st.available === null);
    let level = ctl.level;
    if (poor) {
      good = 0;
      poorRun += 1;
      if (poorRun >= o.poorSamples) { poorRun = 0; level = Math.min(level + 1, LEVELS.length - 1); }
    } else if (level > 0 && (st.loss ?? 0) < o.lossGood
               && (st.available === null || st.available > limit * 1.5)) {
      poorRun = 0;
      good += 1;
      if (good >= o.goodSamples) { good = 0; level -= 1; }
    } else {
      good = poorRun = 0;
    }
    if (level !== ctl.level) {
      ctl.level = level;
      try { await apply(sender, level); } catch { applied = null; /* renegotiating: next time */ }
    }
  };
  const timer = setInterval(() => { tick().catch(() => {}); }, o.periodMs);
  rtc.addEventListener("close", ctl.stop);
  return ctl;
}
