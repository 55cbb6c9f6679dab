"""Front-end bundles. The sources are npm packages (package.json, pinned by package-lock.json) and our own
files in static/; Flask-Assets joins and minifies them into static/gen/, so nothing is fetched at run time."""
from __future__ import annotations

from flask import Flask
from flask_assets import Bundle
from webassets.exceptions import BundleError

from .config import PROJECT_ROOT
from .extensions import assets

NODE_MODULES = PROJECT_ROOT / "node_modules"

BUNDLES = {
    "css_all": Bundle(
        "modern-normalize/modern-normalize.css",
        "css/boxoffice.css",
        filters="rcssmin",
        output="gen/boxoffice.%(version)s.css",
    ),
    "js_site": Bundle(
        "htmx.org/dist/htmx.min.js",
        "js/boxoffice.js",
        "js/seatmap.js",
        filters="rjsmin",
        output="gen/site.%(version)s.js",
    ),
    "js_charts": Bundle(
        "chart.js/dist/chart.umd.min.js",
        "js/charts.js",
        filters="rjsmin",
        output="gen/charts.%(version)s.js",
    ),
}


def init_app(app: Flask) -> None:
    if not NODE_MODULES.is_dir():
        raise RuntimeError("node_modules/ is missing: run `make setup` (it runs `npm ci`).")
    app.config.setdefault("ASSETS_LOAD_PATH", [app.static_folder, str(NODE_MODULES)])
    app.config.setdefault("ASSETS_URL_EXPIRE", False)
    assets.init_app(app)
    for name, bundle in BUNDLES.items():
        if name not in assets:
            assets.register(name, bundle)
    built: dict[str, str] = {}

    def asset_url(name: str) -> str:
        """The URL of a bundle's built file. Unless the app rebuilds bundles as their sources change, it is
        fixed for the life of the process: worked out once, instead of on every page (about 1 ms of CPU)."""
        if app.config["ASSETS_AUTO_BUILD"]:
            return assets[name].urls()[0]
        if name not in built:
            try:
                built[name] = assets[name].urls()[0]
            except BundleError:
                # Never built (a server started without `flask assets build`, which make run and make test
                # run first): built now, once.
                assets[name].build()
                built[name] = assets[name].urls()[0]
        return built[name]

    app.jinja_env.globals["asset_url"] = asset_url
