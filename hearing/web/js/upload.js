// Resumable evidence upload (tus-like): create, PATCH chunks at the server's offset, resume
// from HEAD after a failure, then complete to get the receipt. A phone on a poor network
// loses at most one chunk per drop, never the whole file.

import { ApiError } from "./api.js";

const CHUNK = 512 * 1024;
const RETRIES = 8;

async function sha256Hex(file) {
  // Hash in the browser (so the server can prove it got exactly these bytes) when small enough
  // not to stall a phone; larger files are hashed by the server only.
  if (!crypto?.subtle || file.size > 64 * 1024 * 1024) return undefined;
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function uploadEvidence(api, hearingId, file, onProgress = () => {}, { signal } = {}) {
  const base = `/api/hearings/${hearingId}/evidence/uploads`;
  const sha256 = await sha256Hex(file);
  const created = await api.post(base, { filename: file.name || "recording", size: file.size,
    content_type: file.type || "application/octet-stream", ...(sha256 ? { sha256 } : {}) });
  const url = `${base}/${created.id}`;
  let offset = created.offset || 0;
  let failures = 0;
  onProgress(offset, file.size);
  while (offset < file.size) {
    if (signal?.aborted) throw new ApiError(0, "aborted", "upload cancelled");
    const end = Math.min(file.size, offset + CHUNK);
    try {
      const resp = await api.request("PATCH", url, file.slice(offset, end),
        { "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" });
      offset = Number(resp.headers.get("Upload-Offset") ?? end);
      failures = 0;
    } catch (e) {
      if (e.status && e.status < 500 && e.status !== 409 && e.status !== 408) throw e;
      failures += 1;
      if (failures > RETRIES) throw e;
      await sleep(Math.min(8000, 500 * 2 ** failures));
      try {
        const head = await api.request("HEAD", url);
        offset = Number(head.headers.get("Upload-Offset") ?? offset);
      } catch { /* still offline: retry the same chunk */ }
    }
    onProgress(offset, file.size);
  }
  return api.post(`${url}/complete`, {});
}
