"""Who is calling: the one place a page request's credentials are checked (Telegram's initData,
a personal link, the session cookie), with the rate limits, the CSRF check and the headers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from multidict import MultiDictProxy

from locales import pick_language
from services.pages import Source
from services.users import Visitor
from web.context import CALLER, DEPS, Caller, PageDeps
from web.render import Texts, message, reader_language, render, texts_for

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Form = MultiDictProxy[str | bytes | bytearray | web.FileField]

SESSION_COOKIE = "vpn_session"
PAGE_ROUTES = "page."  # the guard looks after the routes whose names start so
PUBLIC_ROUTES = frozenset({"page.static", "page.missing"})
SIGN_IN_ROUTES = frozenset({"page.auth", "page.link"})
FORM_MAX = 16 * 1024
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self' https://telegram.org",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self' https://t.me",  # a Stars invoice link, where JavaScript is off
        "frame-ancestors https://web.telegram.org",  # Telegram's web clients show Mini Apps
        "base-uri 'none'",
    ]
)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    name = request.match_info.route.name or ""
    if not name.startswith(PAGE_ROUTES):
        return await handler(request)
    try:
        response = await _checked(request, handler, name, request.app[DEPS])
    except web.HTTPException:
        raise
    except Exception:  # the details go to the log (by route name: a path may hold a token)
        log.exception("page request %s failed", name)
        caller = request.get(CALLER)
        texts = caller.texts if caller is not None else texts_for(reader_language(request))
        response = message(texts, texts("page-error-title"), texts("error-generic"), status=500)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _checked(
    request: web.Request, handler: Handler, name: str, deps: PageDeps
) -> web.StreamResponse:
    if name in PUBLIC_ROUTES:
        return await handler(request)
    address = deps.client_address(request)
    reader = texts_for(reader_language(request))
    if not deps.limits.per_address.allow(address):
        return too_many(reader)
    if name in SIGN_IN_ROUTES:
        return await _sign_in(request, handler, name, deps, address, reader)
    cookie = request.cookies.get(SESSION_COOKIE)
    opened = await deps.pages.open_session(cookie) if cookie else None
    if opened is None:
        response = sign_in_page(reader, expired=cookie is not None)
        if cookie is not None:
            forget_session(response)
        return response
    user, session = opened
    texts = texts_for(user.language)
    if not deps.limits.per_user.allow(user.id):
        return too_many(texts)
    if request.method == "POST":
        if not deps.limits.actions_per_user.allow(user.id):
            return too_many(texts)
        form = await read_form(request)
        token = form.get("csrf") if form is not None else None
        if not isinstance(token, str) or not deps.pages.csrf_valid(session, token):
            return message(texts, texts("page-error-title"), texts("page-stale-form"), status=403)
    request[CALLER] = Caller(user, session, texts, deps.pages.csrf_token(session))
    return await handler(request)


async def _sign_in(
    request: web.Request,
    handler: Handler,
    name: str,
    deps: PageDeps,
    address: str,
    reader: Texts,
) -> web.StreamResponse:
    """POST /app/auth (Telegram's initData) or GET /u/{token}: a new session, or 401."""
    failures = deps.limits.failures_per_address
    if failures.exceeded(address):
        return too_many(reader)
    if name == "page.auth":
        source = Source.TELEGRAM
        form = await read_form(request)
        init_data = form.get("init_data") if form is not None else None
        found = deps.pages.telegram_user(init_data) if isinstance(init_data, str) else None
        user = None
        if found is not None:
            visitor = Visitor(
                found.id, found.first_name, found.username, pick_language(found.language_code)
            )
            user = await deps.users.touch(visitor)
    else:
        source = Source.LINK
        user = await deps.pages.user_by_link(request.match_info["token"])
    if user is None:
        failures.allow(address)
        log.info("page sign-in refused (%s)", source.name.lower())
        return message(
            reader, reader("page-refused-title"), reader("page-refused-text"), status=401
        )
    texts = texts_for(user.language)
    if not deps.pages.admits(user):
        return message(texts, texts("page-error-title"), texts("user-banned"), status=403)
    session, cookie = deps.pages.new_session(user, source)
    request[CALLER] = Caller(user, session, texts, deps.pages.csrf_token(session))
    response = await handler(request)
    lifetime = int(deps.pages.session_lifetime.total_seconds())
    response.headers.add("Set-Cookie", session_cookie(cookie, lifetime, source))
    return response


def session_cookie(value: str, max_age: int, source: Source) -> str:
    """The Set-Cookie of a session: Secure (PUBLIC_URL is always https: the settings check it),
    HttpOnly; SameSite=Lax for a link, opened at the top level. Inside Telegram's web client
    the Mini App is a frame of another site, which only gets a cookie with SameSite=None, kept
    apart per top-level site (Partitioned)."""
    same_site = "None; Partitioned" if source is Source.TELEGRAM else "Lax"
    return (
        f"{SESSION_COOKIE}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; "
        f"SameSite={same_site}"
    )


def forget_session(response: web.StreamResponse) -> None:
    """Remove the session cookie, whichever kind (a partitioned one is removed as such)."""
    for source in Source:
        response.headers.add("Set-Cookie", session_cookie("", 0, source))


async def read_form(request: web.Request) -> Form | None:
    """The posted form, or None when it is too large or not a form."""
    if request.content_length is not None and request.content_length > FORM_MAX:
        return None
    try:
        return await request.post()
    except (web.HTTPException, ValueError):
        return None


def sign_in_page(texts: Texts, *, expired: bool) -> web.Response:
    """401 with the way in: inside Telegram its script signs in with initData at once."""
    text = texts("page-expired-text" if expired else "page-signin-text")
    return render(
        "signin.html", texts, status=401, telegram=True, title=texts("page-signin-title"), text=text
    )


def too_many(texts: Texts) -> web.Response:
    return message(texts, texts("page-error-title"), texts("page-too-many"), status=429)
