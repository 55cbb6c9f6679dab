"""A small HTTP client for the fault tests: keeps cookies (so a hold stays this client's), takes the page's
CSRF token for posts, and times every answer. Errors are answers too (a 503 is what the tests look for)."""
from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

CSRF_TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    text: str
    seconds: float


class HttpClient:
    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url = base_url
        self.timeout = timeout
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf_token: str | None = None

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None,
                timeout: float | None = None) -> Answer:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers or {})
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=timeout or self.timeout) as response:
                status, answer_headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, raw = error.code, error.headers, error.read()
        text = raw.decode("utf-8", "replace")
        token = CSRF_TOKEN.search(text)
        if token:
            self.csrf_token = token.group(1)
        return Answer(status, {k.lower(): v for k, v in answer_headers.items()}, text, time.monotonic() - started)

    def get(self, path: str, **options) -> Answer:
        return self.request("GET", path, **options)

    def post(self, path: str, data: dict, headers: dict | None = None, **options) -> Answer:
        """A form post as a browser sends it from one of the site's pages: saying so (Sec-Fetch-Site), with the
        CSRF token of the last page read, if it drew one (only once there is a session)."""
        return self.request("POST", path, {**data, "csrf_token": self.csrf_token or ""},
                            headers={"Sec-Fetch-Site": "same-origin", **(headers or {})}, **options)
