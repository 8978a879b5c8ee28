"""Issue #15.4: a browser session logged in by cookie must send the ``_xsrf`` value to change
anything (a real Jupyter server; the session logs in through ``/login`` as a browser does).

Token-authenticated API clients (``Authorization: token ...``) are exempt from XSRF, as
everywhere in Jupyter; a cookie alone is what a forged cross-site request carries, so it must
not be enough for ``DELETE`` or ``POST``.
"""

from __future__ import annotations

import json
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from persist_ext.storage._store import Store

from ._seed import run_group, store_cell


class _Browser:
    """Cookies and requests like a browser's (no Authorization header, ever)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}

    async def fetch(
        self, path: str, *, method: str = "GET", body=None, headers=None
    ) -> HTTPResponse:
        sent = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        sent.update(headers or {})
        response = await AsyncHTTPClient().fetch(  # the test's loop, where the server runs
            self.base + path,
            method=method,
            body=body,
            headers=sent,
            follow_redirects=False,
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        for header in response.headers.get_list("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    async def log_in(self, token: str) -> None:
        await self.fetch("login")  # the login page sets the _xsrf cookie
        assert "_xsrf" in self.cookies
        form = urllib.parse.urlencode({"password": token, "_xsrf": self.cookies["_xsrf"]})
        response = await self.fetch("login", method="POST", body=form)
        assert response.code == 302, response.code  # logged in: redirected to the app
        assert any(name.startswith("username-") for name in self.cookies)


@pytest.fixture
def browser(jp_serverapp, http_server, jp_http_port: int, jp_base_url: str) -> _Browser:
    """A browser session that has not logged in yet (tests call ``log_in``)."""
    return _Browser(f"http://127.0.0.1:{jp_http_port}{jp_base_url}")


@pytest.fixture
def token(jp_serverapp) -> str:
    return jp_serverapp.identity_provider.token


@pytest.fixture
def seeded(jp_root_dir: Path) -> Path:
    with Store(jp_root_dir / "s") as store:
        store.set("plain", 1)
    store_cell(jp_root_dir / "s", "load")
    run_group(jp_root_dir / "s", "g", ["k0", "k1"])  # nothing failed (replay: 200)
    return jp_root_dir / "s"


def _keys(store_dir: Path) -> list[str]:
    with Store(store_dir) as store:
        return sorted(store.keys())


async def test_a_cookie_session_reads_without_xsrf(
    browser: _Browser, token: str, seeded: Path
) -> None:
    await browser.log_in(token)
    response = await browser.fetch("persist-ext/api/stores")
    assert response.code == 200
    assert [s["path"] for s in json.loads(response.body)["stores"]] == ["s"]


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        ("DELETE", "persist-ext/api/stores/entries?path=s&key=plain", None),
        ("DELETE", "persist-ext/api/stores/cells?path=s&name=load", None),
        ("POST", "persist-ext/api/stores/group/replay?path=s&name=g", "{}"),
    ],
)
async def test_changes_by_cookie_need_the_xsrf_value(
    browser: _Browser, token: str, seeded: Path, method: str, route: str, body
) -> None:
    await browser.log_in(token)
    before = _keys(seeded)
    for headers in ({}, {"X-XSRFToken": "forged-" + browser.cookies["_xsrf"][:8]}):
        refused = await browser.fetch(route, method=method, body=body, headers=headers)
        assert refused.code == 403, (headers, refused.code)
        assert _keys(seeded) == before  # nothing touched
    accepted = await browser.fetch(
        route, method=method, body=body, headers={"X-XSRFToken": browser.cookies["_xsrf"]}
    )
    # Past the XSRF check: deleted, or (replay) nothing failed to mark.
    assert accepted.code == 200, accepted.body
    if method == "DELETE":
        assert _keys(seeded) != before


async def test_without_a_login_cookie_nothing_is_allowed(browser: _Browser, seeded: Path) -> None:
    stranger = browser  # has an _xsrf cookie below, but never logs in
    await stranger.fetch("login")  # has an _xsrf cookie, but never logged in
    response = await stranger.fetch(
        "persist-ext/api/stores/entries?path=s&key=plain",
        method="DELETE",
        headers={"X-XSRFToken": stranger.cookies["_xsrf"]},
    )
    assert response.code in (401, 403)
    assert "plain" in _keys(seeded)
    listing = await stranger.fetch("persist-ext/api/stores")
    assert listing.code in (302, 401, 403)
