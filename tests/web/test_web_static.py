"""Checks on the page sources that need no browser: every interface string exists in Kazakh,
Russian and English; the pages obey the Content-Security-Policy (no inline script or style);
every form control has a label; the page routes serve the pages and the court's time zone."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from hearing.models import HEARING_KINDS, LANGUAGES, PARTICIPANT_ROLES, STAFF_ROLES

WEB = Path(__file__).resolve().parents[2] / "hearing" / "web"
LANGS = ("kk", "ru", "en")
PAGES = sorted(WEB.glob("*.html"))
SCRIPTS = sorted((WEB / "js").glob("*.js"))


def dicts() -> dict[str, dict[str, str]]:
    return {lang: json.loads((WEB / "i18n" / f"{lang}.json").read_text("utf-8")) for lang in LANGS}


def used_keys() -> set[str]:
    keys = set()
    for page in PAGES:
        keys |= set(re.findall(r'data-i18n(?:-label|-title|-placeholder)?="([^"]+)"',
                               page.read_text("utf-8")))
    namespaces = "|".join(sorted({k.split(".")[0] for k in dicts()["en"]}))
    literal = re.compile(rf'"((?:{namespaces})\.[a-z_+.0-9]+)"')
    for js in SCRIPTS:
        src = js.read_text("utf-8")
        keys |= set(re.findall(r'\bt\("([a-z_.+0-9]+)"', src))
        # Keys passed around as string literals ("hearing.mic_off", ternaries, dataset.i18n).
        keys |= {k for k in literal.findall(src) if not k.endswith(".")}
    # Keys built from server values: every value the server can send must have a text.
    keys |= {f"role.{r}" for r in PARTICIPANT_ROLES} | {f"staffrole.{r}" for r in STAFF_ROLES}
    keys |= {f"kind.{k}" for k in HEARING_KINDS} | {f"language.{x}" for x in LANGUAGES}
    keys |= {f"state.{s}" for s in ("scheduled", "open", "recess", "closed")}
    keys |= {f"presence.{p}" for p in ("invited", "lobby", "admitted", "ejected")}
    keys |= {f"evidence.kind.{k}" for k in ("audio", "video", "image")}
    keys |= {f"evidence.status.{k}" for k in ("pending", "accepted", "rejected")}
    keys |= {f"sign.status.{k}" for k in ("draft", "awaiting_judge", "signed")}
    keys |= {f"ed.kind.{k}" for k in ("original", "edit_text", "set_speaker", "split", "merge",
                                      "restore")}
    return keys


def test_every_interface_string_exists_in_three_languages():
    d = dicts()
    keys = used_keys()
    assert len(keys) > 150
    for lang in LANGS:
        missing = sorted(k for k in keys if not d[lang].get(k, "").strip())
        assert not missing, f"{lang}.json lacks {missing}"
    assert set(d["kk"]) == set(d["ru"]) == set(d["en"])
    # Placeholders survive translation.
    for key in d["en"]:
        want = set(re.findall(r"\{(\w+)\}", d["en"][key]))
        for lang in ("kk", "ru"):
            assert set(re.findall(r"\{(\w+)\}", d[lang][key])) == want, (lang, key)
    # Kazakh really is Kazakh: its own letters appear throughout.
    assert sum(bool(re.search("[әғқңөұүһі]", v)) for v in d["kk"].values()) > 80


class PageAudit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.labels: set[str] = set()
        self.controls: list[tuple[str, dict]] = []
        self._in_script = False
        self._open_labels = 0  # a control inside a <label> is labelled by it

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            if "src" not in a:
                self.problems.append("inline <script>")
            self._in_script = True
        if tag == "style":
            self.problems.append("inline <style>")
        if "style" in a:
            self.problems.append(f"style attribute on <{tag}>")
        for name in a:
            if name.startswith("on"):
                self.problems.append(f"{name} handler on <{tag}>")
        if tag == "label":
            self._open_labels += 1
            if a.get("for"):
                self.labels.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            if self._open_labels and a.get("id"):
                self.labels.add(a["id"])
            self.controls.append((tag, a))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        if tag == "label":
            self._open_labels = max(0, self._open_labels - 1)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_obey_the_csp_and_label_their_controls(page):
    audit = PageAudit()
    audit.feed(page.read_text("utf-8"))
    assert not audit.problems, audit.problems
    for tag, a in audit.controls:
        assert a.get("id") in audit.labels or "aria-label" in a or "data-i18n-label" in a, (
            f"<{tag} id={a.get('id')}> has no label")
    src = page.read_text("utf-8")
    assert 'name="viewport"' in src and "width=device-width" in src
    assert '<script type="module" src="/static/js/' in src


def test_scripts_never_write_html_or_inline_style():
    for js in SCRIPTS:
        src = js.read_text("utf-8")
        # Names and transcripts come from people: text nodes only, never markup.
        assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", src), js.name
        assert not re.search(r"setAttribute\(\s*['\"]style['\"]|\beval\(|new Function\(", src), js.name


def test_page_routes_serve_pages_and_the_court_time_zone(server):
    for path, marker in (("/", "staff.js"), ("/join", "join.js"), ("/judge/12", "judge.js"),
                         ("/secretary/12", "secretary.js")):
        with urlopen(server.base + path) as r:
            assert r.status == 200, path
            assert marker in r.read().decode()
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    with pytest.raises(HTTPError) as e:
        urlopen(server.base + "/judge/abc")
    assert e.value.code == 404
    with urlopen(server.base + "/court.json") as r:
        assert json.load(r)["timezone"] == server.config.timezone == "Asia/Almaty"
    with urlopen(server.base + "/static/i18n/kk.json") as r:
        assert json.load(r)["app.title"] == "Электрондық сот залы"
