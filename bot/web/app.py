"""The staff web page's shell: the runtime, the Starlette app, login, logout, scope and refusals.

Every page plugs into it (``bot.web.pages.routes()``): a page asks :func:`current_scope` who is
looking (a session cookie whose grants still hold, checked afresh at every request), answers with
:func:`render`, and records what it showed with :func:`audit`. What no page decides is here:

* ``GET /login?t=…`` shows one 登录 button and consumes nothing (chat apps and proxies fetch
  links before people click them); ``POST /login`` uses the link once (``storage.web.use_login``),
  opens the session with its audit row and sets the cookie; refusals are one polite page.
  Attempts are limited per client address (:class:`AttemptLimiter`).
* ``POST /logout``, ``GET /audit`` (admins; anyone else gets the 404 of a missing page),
  ``GET /healthz``, ``/static``.
* Every response carries the security headers (:data:`SECURITY_HEADERS`), HTML is never cached,
  and 404 / 405 / 500 are pages in the reader's language, never a traceback.
* :func:`proxy_file`: a Telegram file fetched server-side, so the token in its URL never reaches
  a browser.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as AsgiScope
from telegram import Bot
from telegram.error import TelegramError

from bot.clock import Clock
from bot.config import Settings
from bot.roles import RoleBook
from bot.texts import Texts
from bot.web import access, tokens
from bot.web.access import Scope
from storage import AuditEntry, Storage
from storage.vocabulary import AuditAction

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

COOKIE = "linlitong_session"
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)
LOGIN_ATTEMPTS = 20  # POST /login per client address …
LOGIN_WINDOW = timedelta(minutes=10)  # … within this long
AUDIT_PAGE = 50  # audit entries per page
MEDIA_CACHE = "private, max-age=3600"  # a proxied photo: this browser only, an hour


class LoginRequired(Exception):
    """No session: no cookie, or one that is unknown, ended or expired."""


class AccessEnded(Exception):
    """The session's grants no longer hold (a role ended): the session was ended."""


# -- the runtime ------------------------------------------------------------------------------


class AttemptLimiter:
    """At most ``limit`` attempts per key within ``window``, counted in memory on the times given
    (the runtime's clock, so tests move it)."""

    def __init__(self, limit: int = LOGIN_ATTEMPTS, window: timedelta = LOGIN_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[datetime]] = {}

    def attempt(self, key: str, now: datetime) -> timedelta | None:
        """Count an attempt: None if it may go ahead, else how long until one may."""
        self._forget_before(now - self.window, key)
        times = self._seen.setdefault(key, deque())
        if len(times) >= self.limit:
            return times[0] + self.window - now
        times.append(now)
        return None

    def _forget_before(self, cutoff: datetime, key: str) -> None:
        times = self._seen.get(key)
        while times and times[0] <= cutoff:
            times.popleft()
        if len(self._seen) > 10_000:  # many addresses once: drop the ones now quiet
            for quiet in [k for k, v in self._seen.items() if not v or v[-1] <= cutoff]:
                del self._seen[quiet]


@dataclass
class WebRuntime:
    """What every page needs; one per process (``request.app.state.web``)."""

    settings: Settings
    storage: Storage
    clock: Clock
    texts: Texts
    bot: Bot
    roles: RoleBook
    templates: Jinja2Templates
    logins: AttemptLimiter = field(default_factory=AttemptLimiter)

    @property
    def base(self) -> str:
        """The path the page lives under behind a proxy ("" at a domain's root)."""
        return base_path(self.settings)

    @property
    def secure(self) -> bool:
        return self.settings.web_url.startswith("https://")


def base_path(settings: Settings) -> str:
    return urlsplit(settings.web_url).path.rstrip("/")


def web_runtime(
    settings: Settings, storage: Storage, bot: Bot, clock: Clock, texts: Texts | None = None
) -> WebRuntime:
    """The runtime of ``linlitong web``: a RoleBook without a cache (Telegram is asked at every
    request, so an ended role ends access at once) and the templates."""
    texts = texts or Texts(settings.default_language)
    roles = RoleBook(bot, storage, frozenset(settings.admin_ids), clock, ttl=timedelta(0))
    return WebRuntime(settings, storage, clock, texts, bot, roles, templates_for(settings, texts))


def templates_for(settings: Settings, texts: Texts) -> Jinja2Templates:
    """Jinja2, autoescaped; ``t(key, **values)`` is the catalogue, ``base`` the path prefix."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["t"] = texts
    env.globals["base"] = base_path(settings)
    return Jinja2Templates(env=env)


def runtime_of(request: Request) -> WebRuntime:
    web: WebRuntime = request.app.state.web
    return web


def client_address(request: Request) -> str:
    """The browser's address (uvicorn takes it from X-Forwarded-For only from the local proxy)."""
    return request.client.host if request.client is not None else ""


# -- pages ------------------------------------------------------------------------------------


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The template as a page; the nav shows the scope :func:`current_scope` found, if any."""
    web = runtime_of(request)
    context.setdefault("scope", getattr(request.state, "scope", None))
    context.setdefault("active", None)
    context.setdefault("status_code", status_code)
    return web.templates.TemplateResponse(request, template, context, status_code=status_code)


def message(
    request: Request,
    status_code: int,
    title_key: str,
    text_key: str,
    *,
    home: bool = False,
    headers: Mapping[str, str] | None = None,
    **values: object,
) -> HTMLResponse:
    """A page saying one thing: a refusal, an error, an empty result."""
    texts = runtime_of(request).texts
    response = render(
        request,
        "message.html",
        status_code,
        title=texts(title_key),
        message=texts(text_key, **values),
        home=home,
        scope=None if status_code >= 400 else getattr(request.state, "scope", None),
    )
    response.headers.update(headers or {})
    return response


async def audit(request: Request, scope: Scope, action: AuditAction, target: str = "") -> None:
    """Record what ``scope``'s person did (a ticket viewed, a ledger downloaded …)."""
    web = runtime_of(request)
    now = web.clock.now()
    address = client_address(request)
    await web.storage.web.audit(now, scope.user_id, scope.user_name, action, target, address)


# -- who is looking -----------------------------------------------------------------------------


async def current_scope(request: Request) -> Scope:
    """The scope of the session cookie, its grants verified now; raises :class:`LoginRequired`
    (answered with the "send /web" page) or :class:`AccessEnded` (the session is ended and
    audited, the answer a polite 403)."""
    known: Scope | None = getattr(request.state, "scope", None)
    if known is not None:
        return known
    web = runtime_of(request)
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise LoginRequired
    token_hash = tokens.token_hash(cookie)
    now = web.clock.now()
    session = await web.storage.web.session(token_hash, now)
    if session is None:
        raise LoginRequired
    grants = access.load_grants(session.grants)
    scope = await access.verify(grants, session.user_id, session.user_name, web.roles, web.storage)
    if scope is None:
        await web.storage.web.end_session(token_hash, now)
        await web.storage.web.audit(
            now,
            session.user_id,
            session.user_name,
            AuditAction.ACCESS_ENDED,
            "",
            client_address(request),
        )
        raise AccessEnded
    request.state.scope = scope
    return scope


# -- login and logout ---------------------------------------------------------------------------


async def login_form(request: Request) -> Response:
    """The link's page: one button. A GET consumes nothing (link previews fetch it)."""
    web = runtime_of(request)
    token = request.query_params.get("t", "")
    if not token or tokens.verify(token, web.settings.web_key()) is None:
        return _refused(request, 400)
    return render(request, "login.html", token=token)


async def login(request: Request) -> Response:
    """Use the link once, open the session (audited in the same transaction), set the cookie."""
    web = runtime_of(request)
    now = web.clock.now()
    address = client_address(request)
    wait = web.logins.attempt(address, now)
    if wait is not None:
        logger.warning("web: too many login attempts from %s", address)
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        retry = {"Retry-After": str(max(1, int(wait.total_seconds())))}
        return message(
            request,
            429,
            "web_shell.too_many_title",
            "web_shell.too_many",
            headers=retry,
            minutes=minutes,
        )
    if cross_site(request, web):
        # login CSRF: another site posting the attacker's own link would log the visitor
        # in as the attacker; the link is left unspent
        await _audit_refusal(web, now, "cross-site", address)
        return _refused(request, 403)
    form = await request.form()
    token = form.get("t")
    login_id = tokens.verify(token, web.settings.web_key()) if isinstance(token, str) else None
    if login_id is None:
        await _audit_refusal(web, now, "signature", address)
        return _refused(request, 400)
    used = await web.storage.web.use_login(login_id, now)
    if used is None:
        await _audit_refusal(web, now, "unusable", address)
        return _refused(request, 410)
    session_token = tokens.new_session_token()
    expires_at = now + tokens.SESSION_TTL
    await web.storage.web.open_session(
        tokens.token_hash(session_token), used, now, expires_at, address
    )
    logger.info("web: user %s logged in from %s", used.user_id, address)
    response = RedirectResponse(f"{web.base}/", status_code=303)
    response.set_cookie(
        COOKIE,
        session_token,
        max_age=int(tokens.SESSION_TTL.total_seconds()),
        path="/",
        secure=web.secure,
        httponly=True,
        samesite="lax",
    )
    return response


async def _audit_refusal(web: WebRuntime, now: datetime, reason: str, address: str) -> None:
    logger.info("web: login refused (%s) from %s", reason, address)
    await web.storage.web.audit(now, None, "", AuditAction.LOGIN_REFUSED, reason, address)


def cross_site(request: Request, web: WebRuntime) -> bool:
    """Whether a form was posted from another site. Browsers say so in Sec-Fetch-Site; older
    ones send an Origin, which must be the page's public address (WEB_BASE_URL) or the address
    the request was made to. A request without either (curl, a script) is not a browser's."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    public = urlsplit(web.settings.web_url)
    asked = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return origin not in (f"{public.scheme}://{public.netloc}", asked)


def _refused(request: Request, status_code: int) -> HTMLResponse:
    return message(request, status_code, "web_shell.refused_title", "web_shell.refused")


async def logout(request: Request) -> Response:
    """End the session (if any), audit it, forget the cookie."""
    web = runtime_of(request)
    cookie = request.cookies.get(COOKIE)
    if cookie:
        now = web.clock.now()
        token_hash = tokens.token_hash(cookie)
        session = await web.storage.web.session(token_hash, now)
        if session is not None:
            await web.storage.web.end_session(token_hash, now)
            await web.storage.web.audit(
                now,
                session.user_id,
                session.user_name,
                AuditAction.LOGOUT,
                "",
                client_address(request),
            )
    response = message(request, 200, "web_shell.logged_out_title", "web_shell.logged_out")
    _forget_cookie(response, web)
    return response


def _forget_cookie(response: Response, web: WebRuntime) -> None:
    response.delete_cookie(COOKIE, path="/", secure=web.secure, httponly=True, samesite="lax")


# -- the audit log -------------------------------------------------------------------------------

_ACTION_KEYS: dict[str, str] = {
    AuditAction.LOGIN: "web_shell.action_login",
    AuditAction.LOGIN_REFUSED: "web_shell.action_login_refused",
    AuditAction.LOGOUT: "web_shell.action_logout",
    AuditAction.VIEW_TICKET: "web_shell.action_view_ticket",
    AuditAction.VIEW_PHOTO: "web_shell.action_view_photo",
    AuditAction.DOWNLOAD: "web_shell.action_download",
    AuditAction.VIEW_AUDIT: "web_shell.action_view_audit",
    AuditAction.ACCESS_ENDED: "web_shell.action_access_ended",
}
_REFUSAL_KEYS: dict[str, str] = {
    "signature": "web_shell.refusal_signature",
    "unusable": "web_shell.refusal_unusable",
}


@dataclass(frozen=True)
class AuditRow:
    """One audit entry as the page shows it."""

    at: str
    user: str
    action: str
    target: str
    address: str


async def audit_log(request: Request) -> Response:
    """Admins read who did what, newest first, a page at a time (``?before=<id>``)."""
    scope = await current_scope(request)
    if not scope.is_admin:
        raise HTTPException(404)  # exactly what a missing page answers
    web = runtime_of(request)
    before = _positive_int(request.query_params.get("before"))
    entries = await web.storage.web.audit_page(AUDIT_PAGE + 1, before)
    await audit(request, scope, AuditAction.VIEW_AUDIT, "" if before is None else str(before))
    shown = entries[:AUDIT_PAGE]
    older = shown[-1].id if len(entries) > AUDIT_PAGE else None
    return render(
        request,
        "audit.html",
        active="audit",
        entries=[_audit_row(entry, web) for entry in shown],
        older=older,
        newer=before is not None,
    )


def _positive_int(text: str | None) -> int | None:
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text) or None


def _audit_row(entry: AuditEntry, web: WebRuntime) -> AuditRow:
    texts = web.texts
    if entry.user_id is None:
        user = texts("web_shell.audit_nobody")
    else:
        user = texts("web_shell.audit_user", name=entry.user_name, user_id=entry.user_id)
    key = _ACTION_KEYS.get(entry.action)
    target = entry.target
    if entry.action == AuditAction.LOGIN_REFUSED and target in _REFUSAL_KEYS:
        target = texts(_REFUSAL_KEYS[target])
    return AuditRow(
        at=f"{entry.at.astimezone(web.settings.tz):%Y-%m-%d %H:%M:%S}",
        user=user,
        action=texts(key) if key else entry.action,
        target=target,
        address=entry.address,
    )


# -- health, photos -----------------------------------------------------------------------------


async def healthz(request: Request) -> Response:
    """200 while the database answers, 503 otherwise (for the proxy's and systemd's checks)."""
    try:
        await runtime_of(request).storage.db.ping()
    except Exception as exc:  # closed, unreachable, locked: all mean "not healthy"
        logger.warning("web healthz: the database does not answer (%s)", type(exc).__name__)
        return PlainTextResponse("unavailable", status_code=503)
    return PlainTextResponse("ok")


_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_image(data: bytes) -> str | None:
    """The image type of ``data`` by its first bytes (jpeg, png, gif, webp), else None."""
    for magic, kind in _IMAGE_MAGIC:
        if data.startswith(magic):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def proxy_file(web: WebRuntime, file_id: str) -> Response:
    """A Telegram file, fetched by the server (getFile, then its bytes) and handed over as ours.

    The file's URL holds the bot token: it is neither answered nor logged. An image goes with
    its sniffed type; anything else as an attachment. Telegram failing (the file gone, too big,
    unreachable) is the 404 page.
    """
    try:
        found = await web.bot.get_file(file_id)
        data = bytes(await found.download_as_bytearray())
    except TelegramError as exc:
        logger.warning("web: a file could not be fetched from Telegram (%s)", type(exc).__name__)
        raise HTTPException(404) from None
    headers = {"Cache-Control": MEDIA_CACHE}
    kind = sniff_image(data)
    if kind is None:
        kind = "application/octet-stream"
        headers["Content-Disposition"] = "attachment"
    return Response(data, media_type=kind, headers=headers)


# -- refusals and errors as pages ------------------------------------------------------------------


async def _login_required(request: Request, exc: Exception) -> Response:
    response = message(request, 401, "web_shell.login_needed_title", "web_shell.login_needed")
    if COOKIE in request.cookies:
        _forget_cookie(response, runtime_of(request))
    return response


async def _access_ended(request: Request, exc: Exception) -> Response:
    response = message(request, 403, "web_shell.access_ended_title", "web_shell.access_ended")
    _forget_cookie(response, runtime_of(request))
    return response


_HTTP_PAGES: dict[int, tuple[str, str]] = {
    404: ("web_shell.not_found_title", "web_shell.not_found"),
    405: ("web_shell.not_allowed_title", "web_shell.not_allowed"),
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title, text = _HTTP_PAGES.get(
        exc.status_code, ("web_shell.bad_request_title", "web_shell.bad_request")
    )
    if exc.status_code >= 500:
        title, text = "web_shell.error_title", "web_shell.error"
    return message(request, exc.status_code, title, text, home=True, headers=exc.headers)


def server_error(request: Request) -> Response:
    """The 500 page; plain text if even the template cannot be rendered."""
    try:
        return message(request, 500, "web_shell.error_title", "web_shell.error", home=True)
    except Exception:
        logger.exception("web: the error page itself failed")
        return PlainTextResponse("500", status_code=500)


class Shell:
    """ASGI middleware around everything (pages, static files, errors): the security headers on
    every response, ``no-store`` on pages, and an exception in a page logged and answered with
    the 500 page instead of a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                _add_headers(MutableHeaders(scope=msg), static=static)
            await send(msg)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("web: %s %s failed", scope.get("method"), scope.get("path"))
            if started:
                raise
            await server_error(Request(scope, receive))(scope, receive, send_with_headers)


def _add_headers(headers: MutableHeaders, *, static: bool) -> None:
    for name, value in SECURITY_HEADERS:
        headers[name] = value
    if headers.get("content-type", "").startswith("text/html"):
        headers["Cache-Control"] = "no-store"
    elif "cache-control" not in headers:
        headers["Cache-Control"] = "no-cache" if static else "no-store"


# -- the app -------------------------------------------------------------------------------------

Handler = Callable[[Request, Exception], Awaitable[Response]]


def shell_routes() -> list[BaseRoute]:
    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/audit", audit_log, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]


def build_web_app(web: WebRuntime) -> Starlette:
    """The whole site on ``web``: the shell's routes, then the pages' (bot.web.pages)."""
    from bot.web import pages  # here: pages import this module's helpers

    routes = [*shell_routes(), *pages.routes()]
    handlers: dict[Any, Handler] = {
        LoginRequired: _login_required,
        AccessEnded: _access_ended,
        HTTPException: _http_error,
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.web = web
    app.add_middleware(Shell)
    return app
