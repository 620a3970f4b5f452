"""Browser-facing security: response headers and protection of the pages' form posts.

* ``SecurityHeaders`` (ASGI middleware, installed once in ``create_app``) sends on every answer
  ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy: same-origin``, a
  ``Permissions-Policy`` that turns off what no page uses, ``Strict-Transport-Security`` when the public
  URL is https, and a Content-Security-Policy: for HTML, ``PAGE_POLICY`` (nothing from another host, no
  inline script or style, no framing, forms post only to this service); for everything else
  ``default-src 'none'``.
* A page widens its own policy, for that response alone, through ``page_policy(request)``; the usual
  case, a form that posts to (or is redirected to) another host such as Stripe's hosted checkout, is
  ``allow_form_action(request, settings.<origin setting>)``. ``form-action`` is enforced by the
  browser on the page that holds the form, including on the redirects that follow its submission.
* CSRF: a signed double-submit cookie. A page renders ``csrf_token(request)`` as a hidden field (the
  templates' ``{{ csrf_field() }}``); ``check_form_post`` (a dependency of the pages router, so every
  POST route on it) refuses, with ``FormPostRefused``, a post marked ``Sec-Fetch-Site: cross-site``, one
  whose ``Origin`` is present and not the service's, and one whose token is missing or not the HMAC of
  the visitor's own cookie. The cookie is HttpOnly, SameSite=Lax, ``Secure`` and ``__Host-`` behind an
  https public URL, and set only on answers that rendered a token.

The HMAC key is derived from ``LICENSING_SECRET_KEY`` (``signing_secret``); in development, when it is
not set, from a random secret kept in ``<keys dir>/secret_key`` (mode 0600), so that every worker
serving the same data agrees.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from licensing.kit.paths import make_private_dirs
from licensing.kit.settings import Settings

log = logging.getLogger("licensing.api")

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_FIELD: Final = "csrf_token"
DEV_SECRET_FILE: Final = "secret_key"  # noqa: S105 (a file name)

# What every HTML page may do. A fetch directive a page adds starts from default-src.
PAGE_POLICY: Final[Mapping[str, tuple[str, ...]]] = {
    "default-src": ("'self'",),
    "base-uri": ("'none'",),
    "object-src": ("'none'",),
    "frame-ancestors": ("'none'",),
    "form-action": ("'self'",),
}
# Anything that is not a page (JSON, files, stylesheets, scripts) loads nothing and is framed nowhere.
OTHER_POLICY: Final = "default-src 'none'; frame-ancestors 'none'"
PERMISSIONS_POLICY: Final = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), midi=(), payment=(), publickey-credentials-get=(), usb=()"
)
HSTS: Final = "max-age=31536000"

_FETCH_DIRECTIVES: Final = frozenset(
    {"script-src", "style-src", "img-src", "font-src", "connect-src", "worker-src", "manifest-src", "media-src"}
)
_DIRECTIVES: Final = _FETCH_DIRECTIVES | PAGE_POLICY.keys()
_SCHEMES: Final = frozenset({"data:", "blob:"})
_ORIGIN: Final = re.compile(
    r"https?://(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?"
)
_NONCE: Final = re.compile(r"'nonce-[A-Za-z0-9_-]{22,}'")
_COOKIE_VALUE: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_STATE_KEY: Final = "licensing.security"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, as browsers send it in ``Origin`` (no default port)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def _checked_origin(origin: str) -> str:
    """The origin itself, refused (ValueError) when it is anything else: a path, a wildcard, a keyword."""
    canonical = origin_of(origin) if "://" in origin else ""
    if not _ORIGIN.fullmatch(canonical) or origin.strip().rstrip("/").lower() != canonical:
        raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], http or https, nothing else)")
    return canonical


class ContentSecurityPolicy:
    """One response's policy: starts from ``PAGE_POLICY``; sources are only added, and never a host
    other than an origin someone named explicitly (``add`` refuses wildcards and bare schemes)."""

    def __init__(self, directives: Mapping[str, Iterable[str]] = PAGE_POLICY) -> None:
        self._directives = {name: list(sources) for name, sources in directives.items()}

    def add(self, directive: str, *sources: str) -> ContentSecurityPolicy:
        if directive not in _DIRECTIVES:
            raise ValueError(f"{directive!r} is not a directive a page may widen")
        checked = [s if s in {"'self'", *_SCHEMES} or _NONCE.fullmatch(s) else _checked_origin(s) for s in sources]
        current = self._directives.get(directive)
        if current is None:
            # A fetch directive given at all replaces default-src for its kind: start from it.
            current = self._directives[directive] = list(self._directives["default-src"])
        if current == ["'none'"] and checked:
            current.clear()
        current.extend(s for s in checked if s not in current)
        return self

    def nonce(self, directive: str) -> str:
        """A fresh nonce allowed by ``directive`` (for this response): for code that inserts elements of
        its own at run time, such as ReDoc's generated ``<style>`` (given the nonce in its options)."""
        value = secrets.token_urlsafe(18)
        self.add(directive, f"'nonce-{value}'")
        return value

    def allow_form_action(self, origin: str) -> ContentSecurityPolicy:
        return self.add("form-action", _checked_origin(origin))

    def header(self) -> str:
        return "; ".join(" ".join([name, *sources]) for name, sources in self._directives.items())


# --- the signing secret ----------------------------------------------------------------------------
def signing_secret(settings: Settings) -> bytes:
    """The service's secret for signing browser-held tokens. ``LICENSING_SECRET_KEY`` when set; in
    development otherwise one generated once into ``<keys dir>/secret_key`` (0600) and shared by
    every worker reading that folder. Production never makes one up (``production_problems`` names it).
    """
    configured = settings.secret_key.get_secret_value().strip() if settings.secret_key else ""
    if configured:
        return configured.encode()
    if settings.is_production:
        raise RuntimeError("LICENSING_SECRET_KEY is not set: production needs the same secret on every worker")
    return _development_secret(settings.keys_dir / DEV_SECRET_FILE)


def _development_secret(path: Path) -> bytes:
    if not path.exists():
        make_private_dirs(path.parent)  # the keys folder and any it sits in, as the keys make them
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # mode 0600
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # another worker got there first: theirs holds
                os.link(temporary, path)  # atomic: the file appears whole or not at all
        finally:
            os.unlink(temporary)
    value = path.read_text(encoding="ascii").strip()
    if len(value) < 32:
        raise RuntimeError(f"{path} does not hold a secret; delete it to make a new one")
    return value.encode()


# --- per request -------------------------------------------------------------------------------------
class _Csrf:
    """The app's CSRF settings; the HMAC key is derived on first use (a request that renders or checks
    a token), so that answers without forms never depend on the secret."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.secure = urlsplit(settings.public_url).scheme.lower() == "https"
        # __Host-: the browser keeps it for this host alone (no Domain), over https only.
        self.cookie_name = "__Host-licensing_csrf" if self.secure else "licensing_csrf"
        self._key: bytes | None = None

    def sign(self, cookie: str) -> str:
        if self._key is None:
            self._key = hmac.new(signing_secret(self.settings), b"licensing csrf token", hashlib.sha256).digest()
        return hmac.new(self._key, cookie.encode(), hashlib.sha256).hexdigest()


@dataclass
class RequestSecurity:
    """What the middleware keeps for one request: the page's policy and the visitor's CSRF cookie."""

    csrf: _Csrf
    cookie: str | None
    policy: ContentSecurityPolicy = field(default_factory=ContentSecurityPolicy)
    new_cookie: bool = False
    token_rendered: bool = False

    def token(self) -> str:
        if self.cookie is None:
            self.cookie = secrets.token_urlsafe(32)
            self.new_cookie = True
        self.token_rendered = True
        return self.csrf.sign(self.cookie)

    def token_matches(self, token: str) -> bool:
        return self.cookie is not None and hmac.compare_digest(self.csrf.sign(self.cookie), token)

    def set_cookie_header(self) -> str:
        assert self.cookie is not None
        secure = "; Secure" if self.csrf.secure else ""
        return f"{self.csrf.cookie_name}={self.cookie}; Path=/; HttpOnly; SameSite=Lax{secure}"


def request_security(request: Request) -> RequestSecurity:
    found = request.scope.get("state", {}).get(_STATE_KEY)
    if not isinstance(found, RequestSecurity):
        raise RuntimeError("SecurityHeaders middleware is not installed")
    return found


def page_policy(request: Request) -> ContentSecurityPolicy:
    """This response's Content-Security-Policy, for a page to widen (``.add(directive, *sources)``)."""
    return request_security(request).policy


def allow_form_action(request: Request, origin: str) -> None:
    """Let this page's forms post to, and be redirected to, ``origin`` (``https://host[:port]``)."""
    page_policy(request).allow_form_action(origin)


def csrf_token(request: Request) -> str:
    """The token a form on this page carries in its ``csrf_token`` field (sets the cookie if needed)."""
    return request_security(request).token()


# --- refusing cross-site posts -----------------------------------------------------------------------
class FormPostRefused(Exception):
    """A form post that may not come from the service's own page; rendered as a 403 page."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


_FROM_ANOTHER_SITE = (
    "The form was sent from another website. For your protection, this site accepts forms only from its own pages."
)
_NO_COOKIE = (
    "Your browser did not send this site's form cookie: the page may have been open for a long time, "
    "or cookies are blocked. Allow cookies for this site, then open the form again and send it."
)
_BAD_TOKEN = "The form's security token is missing or out of date. Open the form again and send it."  # noqa: S105


async def check_form_post(request: Request) -> None:
    """Dependency of every page route: a POST (or any unsafe method) must come from this service's
    own page, in this visitor's browser."""
    if request.method in SAFE_METHODS:
        return
    security = request_security(request)
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        _refuse(request, "cross_site", _FROM_ANOTHER_SITE)
    origin = request.headers.get("origin")
    if origin is not None and origin.strip().lower() not in _own_origins(request):
        _refuse(request, "foreign_origin", _FROM_ANOTHER_SITE)
    if security.cookie is None:
        _refuse(request, "no_cookie", _NO_COOKIE)
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not isinstance(token, str) or not security.token_matches(token):
        _refuse(request, "bad_token", _BAD_TOKEN)


def _own_origins(request: Request) -> set[str]:
    settings: Settings = request.app.state.settings
    return {origin_of(settings.public_url), origin_of(str(request.base_url))}


def _refuse(request: Request, reason: str, message: str) -> None:
    # The route's template (``/confirm/{token}``), not the path: a path may carry a link's secret.
    route = request.scope.get("route")
    log.warning("form_post.refused", extra={"path": getattr(route, "path", "?"), "reason": reason})
    raise FormPostRefused(reason, message)


# --- the middleware ----------------------------------------------------------------------------------
class SecurityHeaders:
    """Adds the security headers to every HTTP answer and keeps each request's ``RequestSecurity``."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.https = urlsplit(settings.public_url).scheme.lower() == "https"
        self.csrf = _Csrf(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = cookie_parser(Headers(scope=scope).get("cookie", "")).get(self.csrf.cookie_name)
        security = RequestSecurity(
            csrf=self.csrf, cookie=cookie if cookie and _COOKIE_VALUE.fullmatch(cookie) else None
        )
        scope.setdefault("state", {})[_STATE_KEY] = security

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add_headers(MutableHeaders(scope=message), security)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add_headers(self, headers: MutableHeaders, security: RequestSecurity) -> None:
        is_page = headers.get("content-type", "").startswith("text/html")
        headers["Content-Security-Policy"] = security.policy.header() if is_page else OTHER_POLICY
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"  # not no-referrer: that sends "Origin: null" on our own posts
        headers["Permissions-Policy"] = PERMISSIONS_POLICY
        if is_page:
            headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if self.https:
            headers["Strict-Transport-Security"] = HSTS
        if security.token_rendered:
            headers["Cache-Control"] = "no-store"  # a page holding a visitor's token is theirs alone
        if security.new_cookie:
            headers.append("Set-Cookie", security.set_cookie_header())
