"""Page routes of the web interface: the participant's join page, the judge's console, the
secretary's editor and the parties' workplace (static HTML that loads ES modules from /static/), plus /court.json with the
court settings the pages need (time zone) before they can show a time."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from hearing.api.context import STATE

WEB = Path(__file__).parents[1] / "web"
PAGES = {
    "/join": "join.html",
    r"/judge/{hearing_id:\d+}": "judge.html",
    r"/secretary/{hearing_id:\d+}": "secretary.html",
    "/workplace": "workplace.html",
    "/calendar": "calendar.html",
}
LANGUAGES = ("kk", "ru", "en")


def _page(name: str):
    path = WEB / name

    async def handler(request: web.Request) -> web.FileResponse:
        # Pages are small and change with releases: revalidate rather than cache stale code.
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})
    handler.__name__ = f"page_{path.stem}"
    return handler


async def court_json(request: web.Request) -> web.Response:
    cfg = request.app[STATE].config
    return web.json_response({"timezone": cfg.timezone, "languages": list(LANGUAGES)},
                             headers={"Cache-Control": "no-cache"})


def add_page_routes(app: web.Application) -> None:
    """Register the page routes; call once from make_app, next to the static route."""
    for route, name in PAGES.items():
        app.router.add_get(route, _page(name))
    app.router.add_get("/court.json", court_json)
