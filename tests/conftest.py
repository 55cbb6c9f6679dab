"""The one fixture set: a real MariaDB test database, the app, a client, a live server and Chromium.

The test database (BOXOFFICE_DB, default boxoffice_test) is dropped and built from nothing once per run:
users and schema through the migrations; tests that read demo data ask for `demo_summary`, which loads
the tiny deterministic demo data once, committed. Every test
runs inside an outer transaction that is rolled back at its end (SQLAlchemy's "join an external
transaction" recipe): whatever a service commits is only a savepoint. Tests that need other connections
to see their data (concurrency, the read-only reporting user, the browser) read the committed demo data
or commit for real and clean up after themselves.
"""
from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator

import pytest

os.environ.setdefault("BOXOFFICE_DB", "boxoffice_test")
os.environ.setdefault("BOXOFFICE_DB_OWNER_PASSWORD", "owner-test-password")
os.environ.setdefault("BOXOFFICE_DB_APP_PASSWORD", "app-test-password")
os.environ.setdefault("BOXOFFICE_DB_REPORTS_PASSWORD", "reports-test-password")

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session, scoped_session, sessionmaker  # noqa: E402

from boxoffice import create_app, database  # noqa: E402
from boxoffice.config import DatabaseSettings  # noqa: E402
from boxoffice.extensions import db  # noqa: E402

DEMO_SEED = 7
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def settings() -> DatabaseSettings:
    return DatabaseSettings.from_env()


@pytest.fixture(scope="session")
def test_database(settings) -> DatabaseSettings:
    """A fresh, empty test database at the newest schema, with its three users."""
    database.wait_for_server(settings.superuser_url)
    database.drop_database(settings)
    database.set_up(settings)
    return settings


@pytest.fixture(scope="session")
def demo_summary(test_database):
    """The tiny demo data, generated and committed once per run; the generator's summary."""
    from boxoffice import demo_data

    return demo_data.load(test_database, scale="tiny", seed=DEMO_SEED, progress=False)


@pytest.fixture(scope="session")
def app(test_database):
    # Rate limits off: tests click and look up faster than people; tests about the limits turn them on.
    return create_app({"TESTING": True, "HOLD_RATE_LIMITS_ENABLED": False, "ORDER_LOOKUP_LIMITS_ENABLED": False})


@pytest.fixture(scope="session")
def owner_engine(test_database) -> Iterator[sa.Engine]:
    """A connection as the schema owner: for reading raw rows and for tests that commit for real."""
    engine = sa.create_engine(test_database.owner_url, connect_args={"init_command": "SET time_zone = '+00:00'"})
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(app) -> Iterator[Session]:
    """db.session for one test, joined to an outer transaction that is rolled back afterwards."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = scoped_session(sessionmaker(bind=connection, join_transaction_mode="create_savepoint"))
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app, db_session):
    return app.test_client()


# What a browser says with a form posted from one of the site's own pages (boxoffice/csrf.py).
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}


class Forms:
    """Posts forms the way a browser does: fetch the page, take its CSRF token (drawn only once the browser
    has a session), post it with the headers that say it comes from the site's own page."""

    TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]*)"|name="csrf_token" value="([^"]*)"')

    def __init__(self, client):
        self.client = client

    def token(self, page_url: str) -> str:
        html = self.client.get(page_url).get_data(as_text=True)
        match = self.TOKEN.search(html)
        assert match, f"no form with a CSRF token field on {page_url}"
        return match.group(1) or match.group(2) or ""

    def post(self, page_url: str, data: dict, action: str | None = None, headers: dict | None = None, **kwargs):
        return self.client.post(action or page_url, data={**data, "csrf_token": self.token(page_url)},
                                headers={**SAME_ORIGIN, **(headers or {})}, **kwargs)


@pytest.fixture
def forms(client) -> Forms:
    return Forms(client)


@pytest.fixture
def admin_client(client, forms, db_session):
    """A client signed in as a fresh admin."""
    from boxoffice.services.accounts import create_staff

    create_staff("boss@example.test", "Box Office Boss", "correct horse battery")
    response = forms.post("/admin/login", {"email": "boss@example.test", "password": "correct horse battery"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


# ---------------------------------------------------------------- mail

class SmtpServer:
    """A real SMTP server (aiosmtpd) on a free port of this machine: `messages` holds what it was sent
    (envelope recipients and the parsed message); `reply` set to an SMTP reply (e.g. "451 4.3.0 Try again
    later") refuses every message with it; `stop()` takes the server away (connections are refused) and
    `start()` brings it back on the same port. It offers AUTH (over plain SMTP, as a test may): `logins`
    holds the (username, password) pairs tried, and `password`, when set, is the only one it accepts."""

    def __init__(self):
        import socket

        with socket.socket() as probe:  # a free port (aiosmtpd checks its server by connecting to the port)
            probe.bind(("127.0.0.1", 0))
            self.host, self.port = probe.getsockname()
        self.messages: list = []
        self.reply: str | None = None
        self.logins: list[tuple[str, str]] = []
        self.password: str | None = None
        self._controller = None

    async def handle_DATA(self, server, session, envelope) -> str:
        from email import message_from_bytes, policy

        if self.reply:
            return self.reply
        message = message_from_bytes(envelope.content, policy=policy.default)
        message.envelope_to = list(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    def _authenticate(self, server, session, envelope, mechanism, login):
        from aiosmtpd.smtp import AuthResult

        tried = (login.login.decode(), login.password.decode())
        self.logins.append(tried)
        return AuthResult(success=self.password is None or tried[1] == self.password, handled=False)

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        # A new controller each start: a stopped one has closed its event loop.
        self._controller = Controller(self, hostname=self.host, port=self.port, authenticator=self._authenticate,
                                      auth_require_tls=False)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
        self._controller = None


@pytest.fixture
def smtp_server(app, monkeypatch) -> Iterator[SmtpServer]:
    """A local SMTP server, and the app configured to deliver the outbox through it."""
    from boxoffice.config import SmtpSettings

    server = SmtpServer()
    server.start()
    monkeypatch.setitem(app.config, "SMTP", SmtpSettings(host=server.host, port=server.port, timeout=5))
    yield server
    if server._controller is not None:
        server.stop()


# ---------------------------------------------------------------- the payment provider (Stripe)

class LocalStripe:
    """localstripe, the stateful fake Stripe server (PyPI), on a free port of this machine, run by the
    suite itself (tests/localstripe_server.py). `stop()` takes it away (connections are refused) and
    `start()` brings it back on the same port with the state it had; webhooks are registered again."""

    SECRET_KEY = "sk_test_boxoffice"
    PUBLISHABLE_KEY = "pk_test_boxoffice"
    WEBHOOK_SECRET = "whsec_boxoffice_tests"

    def __init__(self, state_file: str):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_file = state_file
        self.webhooks: dict[str, str] = {}
        self._process = None

    def start(self, from_scratch: bool = False) -> None:
        import subprocess
        import sys
        import time
        import urllib.request

        script = os.path.join(os.path.dirname(__file__), "localstripe_server.py")
        args = [sys.executable, script, "--port", str(self.port)] + (["--from-scratch"] if from_scratch else [])
        self._process = subprocess.Popen(args, env={**os.environ, "LOCALSTRIPE_STATE": self.state_file},
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/js.stripe.com/v3/", timeout=1).read()
                break
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("localstripe did not start")
                time.sleep(0.1)
        for webhook_id, url in self.webhooks.items():
            self.register_webhook(url, webhook_id)

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)
        self._process = None

    def register_webhook(self, url: str, webhook_id: str = "boxoffice") -> None:
        """Have localstripe post its events, signed with WEBHOOK_SECRET, to `url` (about a second later)."""
        import urllib.parse
        import urllib.request

        data = urllib.parse.urlencode({"url": url, "secret": self.WEBHOOK_SECRET}).encode()
        urllib.request.urlopen(f"{self.url}/_config/webhooks/{webhook_id}", data=data, timeout=5).read()
        self.webhooks[webhook_id] = url

    def settings(self):
        from boxoffice.config import StripeSettings

        return StripeSettings(self.SECRET_KEY, self.PUBLISHABLE_KEY, self.WEBHOOK_SECRET, api_base=self.url,
                              js_url=f"{self.url}/js.stripe.com/v3/", timeout=5)

    def card(self, number: str, exp_month: int = 12, exp_year: int = 2035, cvc: str = "123") -> str:
        """A token for the card, made as the browser makes it (Stripe.js with the publishable key): only its
        id ever reaches the box office."""
        import json
        import urllib.parse
        import urllib.request

        data = urllib.parse.urlencode({"card[number]": number, "card[exp_month]": exp_month,
                                       "card[exp_year]": exp_year, "card[cvc]": cvc,
                                       "key": self.PUBLISHABLE_KEY}).encode()
        return json.load(urllib.request.urlopen(f"{self.url}/v1/tokens", data=data, timeout=5))["id"]

    def authenticate(self, client_secret: str, success: bool = True) -> None:
        """The buyer answers their bank's 3-D Secure step (what Stripe.js's confirmCardPayment does)."""
        import json
        import urllib.request

        intent = client_secret.split("_secret_")[0]
        request = urllib.request.Request(
            f"{self.url}/v1/payment_intents/{intent}/_authenticate?success={'true' if success else 'false'}",
            data=json.dumps({"key": self.PUBLISHABLE_KEY, "client_secret": client_secret}).encode(), method="POST")
        urllib.request.urlopen(request, timeout=5).read()

    def set_up_card(self, client_secret: str, number: str, exp_month: int = 12, exp_year: int = 2035) -> str:
        """The browser gives the card to a SetupIntent (what Stripe.js's confirmCardSetup does); returns the
        SetupIntent's id, or raises urllib.error.HTTPError for a card localstripe refuses."""
        import json
        import urllib.request

        setup = client_secret.split("_secret_")[0]
        request = urllib.request.Request(f"{self.url}/v1/setup_intents/{setup}/confirm", method="POST", data=json.dumps({
            "key": self.PUBLISHABLE_KEY, "client_secret": client_secret, "use_stripe_sdk": True,
            "payment_method_data": {"type": "card", "card": {"number": number, "exp_month": str(exp_month),
                                                             "exp_year": str(exp_year), "cvc": "123"}}}).encode())
        return json.load(urllib.request.urlopen(request, timeout=5))["id"]

    @classmethod
    def signed(cls, event: dict, secret: str | None = None) -> tuple[bytes, dict]:
        """An event as the provider sends it: its JSON and a Stripe-Signature header (Stripe's scheme)."""
        import hashlib
        import hmac
        import json
        import time

        payload = json.dumps(event).encode()
        timestamp = int(time.time())
        signature = hmac.new((secret or cls.WEBHOOK_SECRET).encode(), f"{timestamp}.".encode() + payload,
                             hashlib.sha256).hexdigest()
        return payload, {"Stripe-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"}


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory) -> Iterator[LocalStripe]:
    """localstripe running for the whole run (started on first use)."""
    server = LocalStripe(str(tmp_path_factory.mktemp("localstripe") / "state.pickle"))
    server.start(from_scratch=True)
    yield server
    if server._process is not None:
        server.stop()


@pytest.fixture
def stripe_provider(app, localstripe, monkeypatch) -> LocalStripe:
    """The app configured for Stripe (BOXOFFICE_PAYMENT_PROVIDER=stripe), pointed at localstripe."""
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDER", "stripe")
    monkeypatch.setitem(app.config, "STRIPE", localstripe.settings())
    if localstripe._process is None:  # a test that took it away failed before bringing it back
        localstripe.start()
    return localstripe


# ---------------------------------------------------------------- the browser

@pytest.fixture(scope="session")
def live_server(app, demo_summary) -> Iterator[str]:
    """The app served over HTTP on a free port of this machine, for the browser."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright. A missing browser fails the run: it is never skipped."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium package).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()
