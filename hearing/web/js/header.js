// The page header shared by every page: title, language switcher, who is signed in.
import { h } from "./dom.js";

export function langSwitch() {
  return h("div", { class: "lang-switch" },
    h("label", { for: "lang", "data-i18n": "lang.label" }),
    h("select", { id: "lang", name: "lang" },
      h("option", { value: "kk", lang: "kk" }, "Қазақша"),
      h("option", { value: "ru", lang: "ru" }, "Русский"),
      h("option", { value: "en", lang: "en" }, "English")));
}
