// The hearing's live WebSocket, kept alive across network drops: it reconnects with backoff,
// notices a dead link by missing pongs and the browser's offline event, and reports its state
// ("connecting" | "online" | "reconnecting" | "closed") so pages can show it.
// A court of several servers runs each hearing's media on one of them: told {"type": "moved",
// "url"}, a connection that signs in with an invite token reopens itself at that node (the
// token works on any node); a staff console signs in with its session cookie, which belongs to
// this origin only, so it stays here and the page is told (the "moved" event, followed: false).
// A moved connection that drops comes back through its own node, which sends it on again; if
// its own node is down, it tries the other nodes the hello listed (config node_urls) in turn.

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const PING_EVERY_MS = 10000;
const PONG_WITHIN_MS = 8000;

export class Live extends EventTarget {
  constructor(hearingId, { token = null } = {}) {
    super();
    this.hearingId = hearingId;
    this.token = token;
    this.status = "connecting";
    this.attempt = 0;
    this.ws = null;
    this.stopped = false;
    this.lastPong = 0;
    this.hello = null;
    this.home = location.origin; // the node that served the page
    this.base = this.home; // the node the socket goes to
    this.nodes = []; // the court's other nodes (the hello's "nodes"): tried when ours is down
    this._timer = null;
    this._pinger = null;
    window.addEventListener("offline", () => this._drop());
    window.addEventListener("online", () => this._reconnectNow());
  }

  _setStatus(s) {
    if (this.status === s) return;
    this.status = s;
    this.dispatchEvent(new CustomEvent("status", { detail: s }));
  }

  connect() {
    this.stopped = false;
    clearTimeout(this._timer);
    const ws = new WebSocket(`${this.base.replace(/^http/, "ws")}/api/hearings/${this.hearingId}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      if (this.token) ws.send(JSON.stringify({ type: "auth", token: this.token }));
      this.lastPong = Date.now();
      clearInterval(this._pinger);
      this._pinger = setInterval(() => this._ping(), PING_EVERY_MS);
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      this.lastPong = Date.now();
      if (msg.type === "hello") {
        this.hello = msg;
        this.attempt = 0;
        this.nodes = (msg.nodes || []).map((u) => String(u).replace(/\/+$/, ""))
          .filter((u) => u !== this.home && this.canReach(u));
        this._setStatus("online");
      }
      if (msg.type === "moved") msg = { ...msg, url: String(msg.url).replace(/\/+$/, ""), followed: this.canReach(String(msg.url)) };
      this.dispatchEvent(new CustomEvent("message", { detail: msg }));
      this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
      if (msg.type === "moved" && msg.followed) this.moveTo(msg.url);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      clearInterval(this._pinger);
      this.ws = null;
      if (ev.code === 4403 || ev.code === 4401 || ev.code === 4404) {
        // Ejected, invite revoked or no such hearing: reconnecting cannot help.
        this.stopped = true;
        this._setStatus("closed");
        this.dispatchEvent(new CustomEvent("closed", { detail: { code: ev.code, reason: ev.reason } }));
        return;
      }
      if (this.stopped) { this._setStatus("closed"); return; }
      // The owner node may be gone: ask our own where the media is now and, while ours does
      // not answer either (it died), the other nodes the hello named, in turn.
      const spots = [this.home, ...this.nodes];
      this.base = spots[this.attempt % spots.length];
      this._setStatus("reconnecting");
      const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      this.attempt += 1;
      this._timer = setTimeout(() => this.connect(), navigator.onLine === false ? 1000 : delay);
    };
  }

  /** Whether this connection can sign in at ``url``: an invite token works on any node, a
   * session cookie only on its own origin. */
  canReach(url) {
    try { return Boolean(this.token) || new URL(url).origin === location.origin; } catch { return false; }
  }

  /** Whether the socket goes to the node at ``url``. */
  isAt(url) {
    return String(url).replace(/\/+$/, "") === this.base;
  }

  /** Reopen the socket at another node (the hearing's media owner) at once. */
  moveTo(url) {
    const base = String(url).replace(/\/+$/, "");
    if (this.stopped) return;
    if (base === this.base) { this._drop(); return; } // sent where it is: the owner is changing; retry
    this.base = base;
    const ws = this.ws;
    this.ws = null; // its close is not a drop
    clearInterval(this._pinger);
    if (ws) { try { ws.close(1000, "moved"); } catch { /* ignore */ } }
    this.attempt = 0;
    this.connect();
  }

  _ping() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastPong > PING_EVERY_MS + PONG_WITHIN_MS) { this._drop(); return; }
    this.send({ type: "ping" });
  }

  /** The link is gone (offline, no pongs): show it at once and start reconnecting. */
  _drop() {
    if (this.stopped) return;
    this._setStatus("reconnecting");
    if (this.ws) {
      const ws = this.ws;
      try { ws.close(); } catch { /* ignore */ }
      ws.onclose({ code: 1006, reason: "dropped" });
    }
  }

  _reconnectNow() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this._timer);
    this.attempt = 0;
    this.connect();
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  close() {
    this.stopped = true;
    clearTimeout(this._timer);
    clearInterval(this._pinger);
    if (this.ws) this.ws.close(1000, "bye");
  }
}
