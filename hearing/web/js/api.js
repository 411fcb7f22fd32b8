// REST calls: staff carry the session cookie plus the CSRF header, participants an invite
// token as a Bearer header. Errors become ApiError with the server's code and message.

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export class Api {
  constructor({ token = null, csrf = null } = {}) {
    this.token = token;
    this.csrf = csrf;
  }

  headers(extra = {}, method = "GET") {
    const out = { ...extra };
    if (this.token) out.Authorization = `Bearer ${this.token}`;
    if (this.csrf && method !== "GET" && method !== "HEAD") out["X-CSRF-Token"] = this.csrf;
    return out;
  }

  async request(method, path, body, extraHeaders = {}) {
    const init = { method, headers: this.headers(extraHeaders, method), credentials: "same-origin" };
    if (body !== undefined && !(body instanceof Blob) && !(body instanceof ArrayBuffer)) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    } else if (body !== undefined) {
      init.body = body;
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "network", String(e));
    }
    if (!resp.ok) {
      let data = null;
      try { data = await resp.json(); } catch { /* not JSON */ }
      throw new ApiError(resp.status, data?.error || `http_${resp.status}`,
        data?.message || resp.statusText, data);
    }
    if (resp.status === 204 || method === "HEAD") return resp;
    const type = resp.headers.get("Content-Type") || "";
    return type.includes("json") ? resp.json() : resp;
  }

  get(path) { return this.request("GET", path); }
  post(path, body = {}) { return this.request("POST", path, body); }
  patch(path, body) { return this.request("PATCH", path, body); }
  del(path) { return this.request("DELETE", path); }

  /** Every row of a paged list (`{key: [...], next_cursor}`), following next_cursor. */
  async all(path, key) {
    const rows = [];
    let cursor = null;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const page = await this.get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
      rows.push(...page[key]);
      cursor = page.next_cursor;
    } while (cursor);
    return rows;
  }

  /** Who is calling; null when not signed in. Staff also get their CSRF token back. */
  async me() {
    try {
      const me = await this.get("/api/me");
      if (me.csrf_token) this.csrf = me.csrf_token;
      return me;
    } catch (e) {
      if (e.status === 401 || e.status === 403) return null;
      throw e;
    }
  }

  async login(username, password) {
    const out = await this.post("/api/login", { username, password });
    this.csrf = out.csrf_token;
    return out;
  }
}
