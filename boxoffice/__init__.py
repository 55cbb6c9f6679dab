"""The box office: an online ticket office for reserved seats at venues."""
from __future__ import annotations

from flask import Flask

from .config import PROJECT_ROOT, load_config


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings from the environment, then `test_config` on top; extensions, blueprints."""
    app = Flask(
        __name__,
        static_folder=str(PROJECT_ROOT / "static"),
        template_folder=str(PROJECT_ROOT / "templates"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    app.config.update(load_config())
    if test_config:
        app.config.update(test_config)
    # Before any route is added: every <int:...> is a bounded id (boxoffice/converters.py).
    from .converters import BoundedIntConverter

    app.url_map.converters["int"] = BoundedIntConverter

    from . import assets, auth, cli, dbapi, error_pages, jobs, operations, proxy, rate_limits, security, templating
    from .extensions import csrf, db, htmx

    db.init_app(app)
    dbapi.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    auth.init_app(app)
    assets.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    error_pages.init_app(app)
    rate_limits.init_app(app)
    cli.init_app(app)
    jobs.init_app(app)
    operations.init_app(app)
    proxy.init_app(app)

    from admin.views import bp as admin_bp
    from reports.views import bp as reports_bp
    from storefront import bp as storefront_bp
    from webhooks import bp as webhooks_bp

    app.register_blueprint(storefront_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(reports_bp, url_prefix="/admin/reports")
    app.register_blueprint(webhooks_bp, url_prefix="/webhooks")
    return app
