// The pages with a sign-in form (the staff home and the parties' workplace): each is for one
// kind of account and sends the other kind to its own page, on load and after signing in.

import { $, show } from "./dom.js";
import { initI18n, t, applyI18n, errorText } from "./i18n.js";
import { langSwitch } from "./header.js";

/** What the sign-in form says when the server refuses: wrong name or password, too many tries,
 *  or what else went wrong, in the interface language. */
function refusal(e) {
  return e.status === 401 ? t("auth.wrong") : e.status === 429 ? t("auth.too_many") : errorText(e);
}

function wireSignIn(api, { other, otherPage, onSignedIn }) {
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = $("#login-error");
    show(err, false);
    try {
      await api.login($("#username").value.trim(), $("#password").value);
      const me = await api.me();
      if (me.kind === other) location.assign(otherPage);
      else await onSignedIn(me);
    } catch (e) {
      err.textContent = refusal(e);
      show(err);
    }
  });
  $("#logout").addEventListener("click", async () => {
    try { await api.post("/api/logout"); } catch { /* already gone */ }
    location.reload();
  });
}

/** Start a page with a sign-in form: the language switch, the form and sign-out button, then the
 *  page's own `wire()`. An account of kind `other` goes to `otherPage`; one of `kind` (already
 *  signed in, or on signing in) is handed to `onSignedIn(me)`; anyone else sees the form. */
export async function startSignInPage(api, { kind, other, otherPage, wire, onSignedIn }) {
  $("#lang-slot").replaceWith(langSwitch());
  await initI18n();
  wireSignIn(api, { other, otherPage, onSignedIn });
  wire();
  const me = await api.me();
  if (me && me.kind === other) {
    location.replace(otherPage);
    return;
  }
  if (me && me.kind === kind) await onSignedIn(me);
  else show($("#login"));
  applyI18n();
  document.body.dataset.ready = "1";
}

/** Swap the sign-in form for the page's `section` and show who is signed in. */
export function showSignedIn(section, who) {
  show($("#login"), false);
  show(section);
  $("#who").textContent = who;
  show($("#who"));
  show($("#logout"));
}
