// Add a participant and hand them their invitation: the link (copy) and its QR code, shown
// once, as the server returns them.

import { h, clear, toast } from "./dom.js";
import { t, applyI18n, errorText } from "./i18n.js";

export const INVITABLE_ROLES = ["plaintiff", "defendant", "prosecutor", "defence_lawyer",
  "representative", "witness", "expert", "interpreter", "observer"];

export function inviteBox(inv, name) {
  const link = h("a", { class: "invite-link", href: inv.link, target: "_blank", rel: "noopener" }, inv.link);
  const copy = h("button", { type: "button", class: "secondary small", "data-i18n": "invite.copy" }, t("invite.copy"));
  copy.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(inv.link); toast(t("invite.copied")); }
    catch { toast(t("invite.copy_failed"), "error"); }
  });
  return h("div", { class: "invite card", "data-testid": "invite" },
    h("h3", {}, t("invite.for", { name })),
    h("p", { class: "muted" }, t("invite.shown_once")),
    h("div", { class: "qr" }, h("img", { src: inv.qr_png, alt: t("invite.qr_alt", { name }), width: 200, height: 200 })),
    h("p", {}, link), copy);
}

/** The "add participant" form; calls onAdded(participant, invite) after creating both. */
export function mountInviteForm(container, api, hearingId, onAdded) {
  const role = h("select", { id: "inv-role", name: "role" },
    INVITABLE_ROLES.map((r) => h("option", { value: r, "data-i18n": `role.${r}` }, t(`role.${r}`))));
  role.value = "witness";
  const name = h("input", { id: "inv-name", name: "display_name", required: true, maxlength: 300, autocomplete: "off" });
  const contact = h("input", { id: "inv-contact", name: "contact", maxlength: 300, autocomplete: "off", "data-i18n-placeholder": "invite.contact_hint" });
  const out = h("div", { class: "invite-out", "aria-live": "polite" });
  const form = h("form", { class: "stack", "data-testid": "invite-form" },
    h("div", { class: "form-grid" },
      h("div", { class: "field" }, h("label", { for: "inv-role", "data-i18n": "invite.role" }), role),
      h("div", { class: "field" }, h("label", { for: "inv-name", "data-i18n": "invite.name" }), name),
      h("div", { class: "field" }, h("label", { for: "inv-contact", "data-i18n": "invite.contact" }), contact)),
    h("button", { type: "submit", "data-i18n": "invite.add" }), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const p = await api.post(`/api/hearings/${hearingId}/participants`, {
        role: role.value, display_name: name.value.trim(), ...(contact.value.trim() ? { contact: contact.value.trim() } : {}) });
      const inv = await api.post(`/api/hearings/${hearingId}/participants/${p.id}/invites`, {});
      clear(out).append(inviteBox(inv, p.display_name));
      name.value = "";
      contact.value = "";
      onAdded?.(p, inv);
    } catch (e) {
      toast(errorText(e), "error");
    } finally {
      btn.disabled = false;
    }
  });
  clear(container).append(form);
  applyI18n(container);
  return { form, out };
}

/** A new invitation for someone already on the list (the old one may be lost). */
export async function reinvite(api, hearingId, participant, out) {
  try {
    const inv = await api.post(`/api/hearings/${hearingId}/participants/${participant.id}/invites`, {});
    clear(out).append(inviteBox(inv, participant.display_name));
  } catch (e) {
    toast(errorText(e), "error");
  }
}
