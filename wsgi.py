"""Entry point for `flask --app wsgi ...` and for gunicorn (`gunicorn wsgi:app`)."""
from boxoffice import create_app

app = create_app()
