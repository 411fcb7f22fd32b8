"""axe-core in a page under test: the pages must have no WCAG 2.0/2.1 A or AA (nor 2.2 AA)
violation that axe can find. The engine is the axe.min.js that the axe-playwright-python
package ships, so the tests need no network; it is injected with Playwright's evaluate, which
the pages' CSP allows."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import pytest

#: The rule sets run: WCAG 2.0 and 2.1, levels A and AA, and 2.2 AA (touch targets of 24 px).
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")


@cache
def axe_source() -> str:
    pytest.importorskip("axe_playwright_python",
                        reason="axe-playwright-python is missing (make bootstrap installs it)")
    return files("axe_playwright_python").joinpath("axe.min.js").read_text("utf-8")


def violations(page) -> list[dict]:
    """axe's violations for the page as it is now (hidden parts are not checked)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']}).then(r => r.violations.map(v => ({"
        " id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => ({target: n.target.join(' '),"
        " summary: n.failureSummary}))})))", list(WCAG_TAGS))


def report(found: list[dict]) -> str:
    """One line per violation, then one per element with what would fix it."""
    lines = []
    for v in found:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for n in v["nodes"]:
            summary = " ".join((n["summary"] or "").split())
            lines.append(f"    {n['target']}: {summary}")
    return "\n".join(lines)


def assert_accessible(page, context: str = "") -> None:
    """Fail with each violation (rule, impact, elements, what to fix); `context` names the
    page and state in the message."""
    found = violations(page)
    assert not found, f"axe violations on {context or page.url}:\n{report(found)}"
