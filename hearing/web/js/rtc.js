// The browser side of the hearing's WebRTC: asks to join, answers the server's offers with our
// microphone (and camera) and accepts its re-offers that add the other participants, and maps each received track to the
// participant it carries (the server's "tracks" message). After a network drop it rejoins
// with a fresh peer connection; the server keeps our seat for the reconnect window.
// Media runs on the node that holds the hearing: when the socket is sent there ("moved", or a
// hello whose media_url names another node) it joins again on the new socket by itself; a
// console that cannot follow (a staff cookie is per origin) goes to state "elsewhere".

export class RtcClient extends EventTarget {
  constructor(live, stream) {
    super();
    this.live = live;
    this.stream = stream;
    this.pc = null;
    this.trackMap = new Map(); // mid -> {kind, source_id}
    this.byMid = new Map(); // mid -> MediaStreamTrack
    this.queue = [];
    this.busy = false;
    this.receiveVideo = true; // false: the server sends us audio only (see setReceiveVideo)
    this.listen = { channel: "all", language: null }; // the audio channel we hear (setListen)
    this._onMsg = (ev) => this._enqueue(ev.detail);
    for (const type of ["offer", "answer", "candidate", "tracks", "closed"]) live.addEventListener(type, this._onMsg);
    live.addEventListener("status", (ev) => {
      if (ev.detail === "reconnecting") this._setState("reconnecting");
    });
    this._rejoin = false; // join once the socket at the owner node says hello
    this._onMoved = (ev) => {
      if (this.pc) { try { this.pc.close(); } catch { /* ignore */ } }
      this.pc = null;
      this.elsewhere = ev.detail.followed ? null : ev.detail.url;
      this._rejoin = ev.detail.followed;
      this._setState(ev.detail.followed ? "reconnecting" : "elsewhere");
    };
    this._onHello = () => { if (this._rejoin) this.join(); };
    // A join refused for a while (the hearing changing hands, this node full): try again
    // shortly; a full node's phone tries the court's other nodes in turn.
    this._onError = (ev) => {
      if (ev.detail.ref !== "join" || !["unavailable", "node_busy"].includes(ev.detail.error)) return;
      clearTimeout(this._retry);
      this._retry = setTimeout(() => {
        const next = ev.detail.error === "node_busy" ? (this.live.nodes || []).find((u) => !this.live.isAt(u)) : null;
        if (next && this.live.canReach(next)) { this._rejoin = true; this.live.moveTo(next); } else if (this.live.status === "online") this.join();
      }, 2000);
    };
    live.addEventListener("moved", this._onMoved);
    live.addEventListener("hello", this._onHello);
    live.addEventListener("error", this._onError);
  }

  _setState(s) {
    this.state = s;
    this.dispatchEvent(new CustomEvent("state", { detail: s }));
  }

  /** Join (or rejoin) the hearing's media with a fresh peer connection: the server makes
   * the offers ({"type":"join"} asks for the first), we answer with our microphone/camera. */
  async join() {
    this._rejoin = false;
    const owner = this.live.hello?.media_url;
    if (owner && this.live.canReach(owner) && !this.live.isAt(owner)) {
      this._rejoin = true; // straight to the node that holds the media
      this._setState("connecting");
      this.live.moveTo(owner);
      return;
    }
    if (this.pc) { try { this.pc.close(); } catch { /* ignore */ } }
    this.trackMap.clear();
    this.byMid.clear();
    this.queue.length = 0;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers || [], bundlePolicy: "max-bundle" });
    this.pc = pc;
    pc.onicecandidate = (e) => {
      if (e.candidate && e.candidate.candidate) {
        this.live.send({ type: "candidate", candidate: e.candidate.candidate,
          sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex });
      }
    };
    pc.ontrack = (e) => {
      this.byMid.set(e.transceiver.mid, e.track);
      this._publish();
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      const s = pc.connectionState;
      if (s === "connected") this._setState("connected");
      else if (s === "disconnected" || s === "failed") this._setState("reconnecting");
      if (s === "failed" && this.live.status === "online") this.join();
    };
    this.live.send({ type: "join", id: "join" });
    if (!this.receiveVideo) this.live.send({ type: "receive", video: false });
    if (this.listen.channel !== "all") this.live.send({ type: "listen", ...this._listenMessage() });
    this._setState("connecting");
  }

  _enqueue(msg) {
    this.queue.push(msg);
    if (this.busy) return;
    this.busy = true;
    (async () => {
      while (this.queue.length) {
        const m = this.queue.shift();
        try { await this._handle(m); } catch (e) {
          this.dispatchEvent(new CustomEvent("error", { detail: String(e) }));
        }
      }
      this.busy = false;
    })();
  }

  async _handle(msg) {
    const pc = this.pc;
    if (!pc) return;
    if (msg.type === "answer") {
      await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
    } else if (msg.type === "offer") {
      await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
      // Our tracks ride on the transceivers the server offered to receive them on.
      const sending = new Set(pc.getSenders().map((x) => x.track).filter(Boolean));
      for (const track of this.stream?.getTracks() || []) {
        if (!sending.has(track)) pc.addTrack(track, this.stream);
      }
      await pc.setLocalDescription(await pc.createAnswer());
      this.live.send({ type: "answer", sdp: pc.localDescription.sdp });
    } else if (msg.type === "candidate") {
      await pc.addIceCandidate({ candidate: msg.candidate, sdpMid: msg.sdpMid, sdpMLineIndex: msg.sdpMLineIndex });
    } else if (msg.type === "tracks") {
      this.trackMap = new Map(msg.tracks.map((t) => [t.mid, t]));
      this._publish();
    } else if (msg.type === "closed") {
      pc.close();
      this._setState("closed");
    }
  }

  /** Emit the remote sources as {source_id: {audio, video}} tracks. */
  _publish() {
    const sources = new Map();
    for (const [mid, info] of this.trackMap) {
      if (!info.source_id) continue;
      const track = this.byMid.get(mid);
      if (!track) continue;
      const entry = sources.get(info.source_id) || {};
      entry[info.kind] = track;
      sources.set(info.source_id, entry);
    }
    this.dispatchEvent(new CustomEvent("sources", { detail: sources }));
  }

  setMicEnabled(on) {
    for (const t of this.stream?.getAudioTracks() || []) t.enabled = on;
  }

  /** Audio only (false) keeps the others' video off the network, not only off the screen; the
   * server remembers it across our reconnects, true resumes it from fresh keyframes. */
  setReceiveVideo(on) {
    if (this.receiveVideo === on) return;
    this.receiveVideo = on;
    if (this.pc) this.live.send({ type: "receive", video: on });
  }

  /** Hear "all" (everyone), the "floor" (everyone but the interpreters) or an interpreter's
   * "interpretation" into ``language``; the server pauses the other channel's audio. */
  setListen(channel, language = null) {
    if (this.listen.channel === channel && this.listen.language === language) return;
    this.listen = { channel, language: channel === "interpretation" ? language : null };
    if (this.pc) this.live.send({ type: "listen", ...this._listenMessage() });
  }

  _listenMessage() {
    const { channel, language } = this.listen;
    return channel === "interpretation" ? { channel, language } : { channel };
  }

  setCameraEnabled(on) {
    for (const t of this.stream?.getVideoTracks() || []) t.enabled = on;
  }

  close() {
    for (const type of ["offer", "answer", "candidate", "tracks", "closed"]) this.live.removeEventListener(type, this._onMsg);
    this.live.removeEventListener("moved", this._onMoved);
    this.live.removeEventListener("hello", this._onHello);
    this.live.removeEventListener("error", this._onError);
    clearTimeout(this._retry);
    if (this.pc) this.pc.close();
    this.pc = null;
    this.dispatchEvent(new Event("close"));
  }
}
