// Signing the stenogram: your signing key (made once, protected by a passphrase), the
// versions of the record, and signing one (the secretary first, then the judge) with that key
// or with a certificate you hold: the server shows what to sign (its SHA-256, and a link with
// a QR code for a phone app), you give back the detached CMS signature and the CRLs.

import { h, clear, show, toast } from "./dom.js";
import { t, fmtDateTime, applyI18n, errorText } from "./i18n.js";

// The server's words for where a version stands (older names accepted too).
const STATUS = { unsigned: "draft", secretary_signed: "awaiting_judge" };

async function base64Of(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

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
      const certBtn = canSign ? h("button", { type: "button", class: "small secondary" }, t("sign.with_certificate")) : null;
      const certPanel = h("div", { class: "stack", hidden: true, "data-testid": "cms-panel" });
      certBtn?.addEventListener("click", () => openCertificateSigning(v.number, certPanel));
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
          (v.uncertain_segments || v.doubtful_words)
            ? h("small", { class: "doubt" }, t("sign.doubt", { segments: v.uncertain_segments || 0, words: v.doubtful_words || 0 }))
            : null,
          ...sigs.map((s) => h("small", {}, s)), certPanel),
        btn, certBtn));
    }
  }

  async function openCertificateSigning(number, panel) {
    const url = `/api/hearings/${hearingId}/stenogram/versions/${number}/cms`;
    let req;
    try { req = await api.get(url); } catch (e) { toast(errorText(e), "error"); return; }
    const cmsFile = h("input", { id: `cms-file-${number}`, type: "file", accept: ".p7s,.p7b,.cms,.der", required: true });
    const crlFiles = h("input", { id: `crl-files-${number}`, type: "file", accept: ".crl,.der", multiple: true });
    const form = h("form", { class: "stack" },
      h("small", {}, t("sign.cms_hash", { sha: req.sha256 })),
      h("a", { href: `data:application/octet-stream;base64,${req.data}`, download: `version-${number}-${req.role}.json` }, t("sign.cms_download")),
      h("img", { src: req.qr_png, alt: t("sign.cms_qr"), width: 180, height: 180 }),
      h("small", {}, t("sign.cms_expires", { at: fmtDateTime(req.expires_at) })),
      h("div", { class: "field" }, h("label", { for: cmsFile.id }, t("sign.cms_file")), cmsFile),
      h("div", { class: "field" }, h("label", { for: crlFiles.id }, t("sign.crl_files")), crlFiles),
      h("button", { type: "submit", class: "small" }, t("sign.cms_submit")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const crls = await Promise.all([...crlFiles.files].map(base64Of));
        await api.post(url, { role: req.role, signed_at: req.signed_at, cms: await base64Of(cmsFile.files[0]), crls });
        toast(t("sign.signed", { n: number }));
        await loadVersions();
      } catch (e) { toast(errorText(e), "error"); }
    });
    clear(panel).append(form);
    show(panel);
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
