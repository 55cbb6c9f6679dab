"""The Flask extensions, unbound; create_app() binds them. Every module imports them from here."""
from flask_assets import Environment
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from .csrf import CrossOriginProtect


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
# Flask-WTF's CSRFProtect, the browser's Sec-Fetch-Site/Origin asked first (boxoffice/csrf.py).
csrf = CrossOriginProtect()
assets = Environment()
# flask-htmx 0.4.0 (maintained) rather than htmx-flask 0.1.0 (2022, unmaintained, mangles two reswap values).
htmx = HTMX()
