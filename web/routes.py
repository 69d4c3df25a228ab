"""The page's routes: parse the request, call one service, render. The guard has already found
the caller (and checked the form's CSRF token) before any of these runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web

from db.models import Purpose
from locales import LANGUAGES
from locales.format import format_discount, invoice_texts, plan_title
from services.account import Account
from services.devices import DeviceNotFound
from services.errors import (
    InvalidInput,
    NoAccess,
    NodeUnavailable,
    PaymentsOff,
    PaymentUnavailable,
    PlanNotFound,
    ServiceError,
    TermsNotAccepted,
)
from services.onboarding import PLATFORMS, Platform
from services.payments import Way
from services.promos import PromoUnknown
from web.context import CALLER, DEPS, Caller
from web.guard import Form, forget_session, read_form, sign_in_page
from web.render import ASSETS, message, reader_language, render, texts_for

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]

# What a redirect after an action may say (?done=…): nothing else is shown.
DONE = {
    "device-added": "page-done-device-added",
    "renamed": "page-done-renamed",
    "rekeyed": "page-done-rekeyed",
    "removed": "page-done-removed",
    "removed-later": "page-done-removed-later",
    "renew-cancelled": "page-done-renew-cancelled",
    "trial": "page-done-trial",
    "language": "page-done-language",
    "paid": "page-done-paid",
    "terms": "page-done-terms",
    "promo": "page-done-promo",
}
# The page's words for refusals whose chat text speaks of chat buttons.
PAGE_ERRORS = {
    "error-device-name": "page-error-device-name",
    "error-device-not-found": "page-error-device-not-found",
    "error-device-limit": "page-error-device-limit",
    "error-no-access": "page-error-no-access",
    "error-no-device": "page-error-no-access",
    "error-node-unavailable": "page-error-node-unavailable",
    "error-node-full": "page-error-node-full",
    "error-node-not-found": "page-error-node-not-found",
    "error-plan-not-found": "page-error-plan-not-found",
    "error-trial-used": "page-error-trial-used",
    "error-invalid-input": "page-error-bad-field",
    "error-terms-not-accepted": "page-error-terms",
    "error-trial-channel": "page-error-trial-channel",
}
# The status of a refusal; any other (a limit reached, a trial used, a full node) is 409.
STATUS: tuple[tuple[type[ServiceError], HTTPStatus], ...] = (
    (InvalidInput, HTTPStatus.BAD_REQUEST),
    (DeviceNotFound, HTTPStatus.NOT_FOUND),
    (PlanNotFound, HTTPStatus.NOT_FOUND),
    (PromoUnknown, HTTPStatus.NOT_FOUND),
    (TermsNotAccepted, HTTPStatus.FORBIDDEN),
    (NoAccess, HTTPStatus.FORBIDDEN),
    (PaymentsOff, HTTPStatus.FORBIDDEN),
    (NodeUnavailable, HTTPStatus.SERVICE_UNAVAILABLE),
    (PaymentUnavailable, HTTPStatus.SERVICE_UNAVAILABLE),
)


class BadField(InvalidInput):
    """A form field that is missing or not one of the values the page offers."""


def field(form: Form | None, name: str, allowed: frozenset[str] | None = None) -> str:
    """A text field of the posted form (the guard has read it), one of `allowed` if given."""
    value = form.get(name) if form is not None else None
    if not isinstance(value, str) or (allowed is not None and value not in allowed):
        raise BadField()
    return value


def redirect(done: str, device_id: int | None = None) -> web.Response:
    """See the page again after an action (so a reload does not repeat it), with its notice."""
    location = f"/app?done={done}"
    if device_id is not None:
        location += f"&device={device_id}#device-{device_id}"
    return web.Response(status=HTTPStatus.SEE_OTHER, headers={"Location": location})


async def home_page(
    request: web.Request,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = HTTPStatus.OK,
    open_device: int | None = None,
) -> web.Response:
    caller = request[CALLER]
    deps = request.app[DEPS]
    account = await deps.account.account(caller.user.id)
    return render(
        "home.html",
        caller.texts,
        status=status,
        telegram=caller.in_telegram,
        title=caller.texts("page-title"),
        account=account,
        csrf=caller.csrf,
        in_telegram=caller.in_telegram,
        notice=notice,
        error=error,
        open_device=open_device,
        trial_days=deps.subscriptions.trial_days,
        chosen_plan=_chosen_plan(account),
        plan_titles={plan.code: plan_title(caller.texts, plan) for plan in account.plans},
        discount=_discount(caller, account),
        platforms=[_platform(caller, platform, account) for platform in PLATFORMS],
    )


def _chosen_plan(account: Account) -> str:
    """The plan ticked at first: the user's own, else the first."""
    codes = [plan.code for plan in account.plans]
    current = account.subscription.plan
    return current.code if current is not None and current.code in codes else codes[0]


def _discount(caller: Caller, account: Account) -> str | None:
    """The promo discount the prices carry, in words, or None."""
    discount = account.discount
    if discount is None:
        return None
    amount = format_discount(caller.texts, discount.kind, discount.value)
    return caller.texts("page-promo-active", code=discount.code, discount=amount)


def _platform(caller: Caller, platform: Platform, account: Account) -> dict[str, object]:
    node = account.devices[0].node.name if account.devices else "vpn"
    steps = caller.texts(f"page-setup-{platform.key}", file=f"{node}.conf", name=node)
    return {"name": platform.name, "link": platform.wireguard.url, "steps": steps.splitlines()}


def refusals(route: Route) -> Route:
    """The route, with a refusal from a service shown on the page in the user's words."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await route(request)
        except ServiceError as error:
            texts = request[CALLER].texts
            args = {name: str(value) for name, value in error.args_for_text.items()}
            text = texts(PAGE_ERRORS.get(error.key, error.key), **args)
            status = next(
                (code for kind, code in STATUS if isinstance(error, kind)), HTTPStatus.CONFLICT
            )
            return await home_page(request, error=text, status=status)

    return wrapped


def device_id(request: web.Request) -> int:
    return int(request.match_info["device_id"])  # the route allows 1-10 digits only


# --- reading --------------------------------------------------------------------------------


async def home(request: web.Request) -> web.StreamResponse:
    texts = request[CALLER].texts
    done = DONE.get(request.query.get("done", ""))
    opened = request.query.get("device", "")
    open_device = (
        int(opened) if opened.isascii() and opened.isdigit() and len(opened) < 10 else None
    )
    return await home_page(request, notice=texts(done) if done else None, open_device=open_device)


async def signed_in(request: web.Request) -> web.StreamResponse:
    """POST /app/auth and GET /u/{token}: the guard opened a session; show the page."""
    return web.Response(status=HTTPStatus.SEE_OTHER, headers={"Location": "/app?signed-in"})


async def config_file(request: web.Request) -> web.StreamResponse:
    caller = request[CALLER]
    item = await request.app[DEPS].devices.config(caller.user.id, device_id(request))
    return web.Response(
        body=item.config.text.encode(),
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{item.config.filename}"'},
    )


async def config_qr(request: web.Request) -> web.StreamResponse:
    caller = request[CALLER]
    item = await request.app[DEPS].devices.config(caller.user.id, device_id(request))
    png = await request.app[DEPS].qr.png(item.config.text)
    return web.Response(body=png, content_type="image/png")


# --- acting (POST, CSRF checked by the guard) -------------------------------------------------


async def add_device(request: web.Request) -> web.StreamResponse:
    item = await request.app[DEPS].devices.add(request[CALLER].user.id)
    return redirect("device-added", item.device.id)


async def rename_device(request: web.Request) -> web.StreamResponse:
    name = field(await read_form(request), "name")
    device = await request.app[DEPS].devices.rename(
        request[CALLER].user.id, device_id(request), name
    )
    return redirect("renamed", device.id)


async def rekey_device(request: web.Request) -> web.StreamResponse:
    item = await request.app[DEPS].devices.rekey(request[CALLER].user.id, device_id(request))
    return redirect("rekeyed", item.device.id)


async def remove_device(request: web.Request) -> web.StreamResponse:
    removed = await request.app[DEPS].devices.remove(request[CALLER].user.id, device_id(request))
    return redirect("removed" if removed else "removed-later")


async def cancel_renewal(request: web.Request) -> web.StreamResponse:
    await request.app[DEPS].subscriptions.cancel_auto_renew(request[CALLER].user.id)
    return redirect("renew-cancelled")


async def trial(request: web.Request) -> web.StreamResponse:
    await request.app[DEPS].subscriptions.start_trial(request[CALLER].user.id)
    return redirect("trial")


async def language(request: web.Request) -> web.StreamResponse:
    chosen = field(await read_form(request), "language", frozenset(LANGUAGES))
    await request.app[DEPS].users.set_language(request[CALLER].user.id, chosen)
    return redirect("language")


async def pay_by_card(request: web.Request) -> web.StreamResponse:
    """The YooKassa payment link, on a page of its own (the chat shows it as a button)."""
    form = await read_form(request)
    auto = field(form, "auto", frozenset({"0", "1"})) == "1"
    return await _yookassa_page(request, field(form, "plan"), Way.CARD_AUTO if auto else Way.CARD)


async def pay_by_sbp(request: web.Request) -> web.StreamResponse:
    """SBP through YooKassa: its page lets the user pick their bank's app."""
    return await _yookassa_page(request, field(await read_form(request), "plan"), Way.SBP)


async def _yookassa_page(request: web.Request, plan_code: str, way: Way) -> web.StreamResponse:
    caller, deps = request[CALLER], request.app[DEPS]
    checkout = await deps.payments.yookassa_checkout(caller.user.id, plan_code, way)
    return render(
        "pay.html",
        caller.texts,
        telegram=caller.in_telegram,
        title=caller.texts("page-pay-title"),
        back="/app",
        plan=checkout.quote.plan,
        rub=checkout.quote.price.rub,
        full_rub=checkout.quote.price.full_rub,
        way=way.value,
        url=checkout.url,
    )


async def pay_by_stars(request: web.Request) -> web.StreamResponse:
    """A Stars invoice link (inside Telegram only), once or as a subscription: JSON for
    Telegram.WebApp.openInvoice, or a redirect to it."""
    caller, deps = request[CALLER], request.app[DEPS]
    if not caller.in_telegram:
        texts = caller.texts
        return await home_page(
            request, error=texts("page-error-stars-outside"), status=HTTPStatus.FORBIDDEN
        )
    form = await read_form(request)
    renewing = form is not None and form.get("subscription") == "1"
    invoice = await deps.payments.stars_invoice(
        caller.user.id, field(form, "plan"), subscription=renewing
    )
    quote = invoice.quote
    title, description = invoice_texts(
        caller.texts,
        sold=Purpose.PLAN.value,
        title=plan_title(caller.texts, quote.plan),
        devices=quote.plan.devices,
        gb=quote.gb,
        days=quote.price.days,
        stars=invoice.stars,
        subscription=invoice.subscription,
    )
    url = await deps.stars.link(
        title=title,
        description=description,
        payload=invoice.payload,
        stars=invoice.stars,
        period=invoice.period,
    )
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response({"url": url})
    return web.Response(status=HTTPStatus.SEE_OTHER, headers={"Location": url})


async def accept_terms(request: web.Request) -> web.StreamResponse:
    """One tap: the offer and the privacy policy accepted, with the time recorded."""
    await request.app[DEPS].payments.terms.accept(request[CALLER].user.id)
    return redirect("terms")


async def promo(request: web.Request) -> web.StreamResponse:
    """A promo code typed on the page, taken as /promo takes it."""
    code = field(await read_form(request), "code")
    await request.app[DEPS].promos.redeem(request[CALLER].user.id, code[:64])
    return redirect("promo")


async def sign_out(request: web.Request) -> web.StreamResponse:
    response = sign_in_page(request[CALLER].texts, expired=False)
    forget_session(response)
    return response


# --- without a caller -------------------------------------------------------------------------


async def static(request: web.Request) -> web.StreamResponse:
    asset = ASSETS.get(request.match_info["name"])
    if asset is None:
        return await missing(request)
    return web.Response(
        body=asset.body,
        content_type=asset.content_type,
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )


async def missing(request: web.Request) -> web.StreamResponse:
    texts = texts_for(reader_language(request))
    return message(texts, texts("page-error-title"), texts("page-not-found"), status=404)


def register(app: web.Application) -> None:
    """The page's routes, each named "page.…" so the guard looks after it."""
    device = "/app/devices/{device_id:[0-9]{1,10}}"
    table: list[tuple[str, str, Route, str]] = [
        ("GET", "/app", home, "home"),
        ("POST", "/app/auth", signed_in, "auth"),
        ("GET", "/u/{token}", signed_in, "link"),
        ("GET", f"{device}/config", config_file, "config"),
        ("GET", f"{device}/qr.png", config_qr, "qr"),
        ("POST", "/app/devices", add_device, "add"),
        ("POST", f"{device}/rename", rename_device, "rename"),
        ("POST", f"{device}/rekey", rekey_device, "rekey"),
        ("POST", f"{device}/remove", remove_device, "remove"),
        ("POST", "/app/renewal/cancel", cancel_renewal, "cancel_renewal"),
        ("POST", "/app/trial", trial, "trial"),
        ("POST", "/app/language", language, "language"),
        ("POST", "/app/pay/card", pay_by_card, "pay_card"),
        ("POST", "/app/pay/sbp", pay_by_sbp, "pay_sbp"),
        ("POST", "/app/pay/stars", pay_by_stars, "pay_stars"),
        ("POST", "/app/terms", accept_terms, "terms"),
        ("POST", "/app/promo", promo, "promo"),
        ("POST", "/app/signout", sign_out, "sign_out"),
        ("GET", "/app/static/{name}", static, "static"),
        ("*", "/app/{tail:.*}", missing, "missing"),
    ]
    for method, path, route, name in table:
        app.router.add_route(method, path, refusals(route), name=f"page.{name}")
