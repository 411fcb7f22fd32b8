// Signing the stenogram: your signing key (made once, protected by a passphrase), the
// versions of the record, and signing one (the secretary first, then the judge).

import { h, clear, show, toast } from "./dom.js";
import { t, fmtDateTime, applyI18n, errorText } from "./i18n.js";

// The server's words for where a version stands (older names accepted too).
const STATUS = { unsigned: "draft", secretary_signed: "awaiting_judge" };

export function mountSignPanel(container, api, hearingId, { role }) {
  const keyInfo = h("p", { class: "muted", "data-testid": "key-info" });
  const keyForm = h("form", { class: "stack", hidden: true },
    h("p", {}, t("sign.no_key")),
    h("div", { class: "field" }, h("label", { for: "key-pass" }, t("sign.new_passphrase")),
      h("input", { id: "key-pass", type: "password", autocomplete: "new-password", minlength: 8, required: true })),
    h("button", { type: "submit" }, t("sign.create_key")));
  const versions = h("ul", { class: "people", "data-testid": "versions" });
  const makeVersion = h("button", { type: "button", class: "secondary" }, t("sign.make_version"));
  const pass = h("input", { id: "sign-pass", type: "password", autocomplete: "current-password" });
  const root = h("div", { class: "stack" }, keyInfo, keyForm,
    h("div", { class: "field" }, h("label", { for: "sign-pass" }, t("sign.passphrase")), pass),
    makeVersion, versions);
  clear(container).append(root);

  async function loadKey() {
    try {
      const k = await api.get("/api/me/signing-key");
      keyInfo.textContent = t("sign.key", { fp: k.fingerprint_display || k.fingerprint });
      show(keyForm, false);
      return true;
    } catch (e) {
      if (e.status === 404) { keyInfo.textContent = ""; show(keyForm); return false; }
      keyInfo.textContent = t("sign.unavailable");
      return false;
    }
  }

  async function loadVersions() {
    let list = [];
    try { list = await api.all(`/api/hearings/${hearingId}/stenogram/versions?limit=500`, "versions"); } catch (e) {
      clear(versions).append(h("li", { class: "muted" }, e.status === 404 ? t("sign.unavailable") : errorText(e)));
      return;
    }
    clear(versions);
    if (!list.length) versions.append(h("li", { class: "muted" }, t("sign.no_versions")));
    const latest = Math.max(...list.map((v) => v.number));
    for (const v of [...list].reverse()) {
      const status = STATUS[v.status] || v.status;
      const sigs = (v.signatures || []).map((s) => `${t(`staffrole.${s.role}`)}: ${s.name ?? s.user ?? ""} · ${fmtDateTime(s.signed_at ?? s.at)}`);
      const mine = (v.signatures || []).some((s) => s.role === role);
      // Secretary first, then the judge; only the latest version is signed.
      const canSign = v.number === latest && !mine && (role === "secretary" ? status === "draft" : status === "awaiting_judge");
      const btn = canSign ? h("button", { type: "button", class: "small" }, t("sign.sign_version", { n: v.number })) : null;
      btn?.addEventListener("click", async () => {
        if (!pass.value) { pass.focus(); toast(t("sign.need_passphrase"), "error"); return; }
        btn.disabled = true;
        try {
          await api.post(`/api/hearings/${hearingId}/stenogram/versions/${v.number}/sign`, { passphrase: pass.value });
          pass.value = "";
          toast(t("sign.signed", { n: v.number }));
        } catch (e) { toast(errorText(e), "error"); }
        await loadVersions();
      });
      versions.append(h("li", { dataset: { version: v.number, status } },
        h("span", { class: "who" }, t("sign.version", { n: v.number }),
          h("small", {}, `${t(`sign.status.${status}`)} · SHA-256 ${String(v.sha256).slice(0, 16)}…`),
          ...sigs.map((s) => h("small", {}, s))),
        btn));
    }
  }

  keyForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const p = root.querySelector("#key-pass").value;
    try {
      await api.post("/api/me/signing-key", { passphrase: p });
      pass.value = p;
      await loadKey();
    } catch (e) { toast(errorText(e), "error"); }
  });
  makeVersion.addEventListener("click", async () => {
    try {
      const v = await api.post(`/api/hearings/${hearingId}/stenogram/versions`, {});
      toast(t("sign.version_made", { n: v.number }));
    } catch (e) { toast(errorText(e), "error"); }
    await loadVersions();
  });
  applyI18n(container);
  loadKey();
  loadVersions();
  return { refresh: () => { loadKey(); loadVersions(); } };
}
