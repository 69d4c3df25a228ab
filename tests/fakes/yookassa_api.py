"""A loopback YooKassa API for tests: the real SDK talks to it over HTTP, tests drive payments."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

JsonDict = dict[str, Any]

_AMOUNT = re.compile(r"\d{1,10}\.\d{2}")
_MAX_KEY = 64
# Method types a payment may ask for in payment_method_data (the API's list, shortened to what
# a VPN shop could use); "sbp" is the Faster Payments System, confirmed by redirect.
_METHOD_TYPES = frozenset({"bank_card", "sbp", "yoo_money", "sberbank", "tinkoff_bank"})


class ApiError(Exception):
    """An error answer in YooKassa's shape."""

    def __init__(self, status: int, code: str, description: str, parameter: str | None = None):
        super().__init__(description)
        self.status = status
        self.body: JsonDict = {
            "type": "error",
            "id": str(uuid.uuid4()),
            "code": code,
            "description": description,
        }
        if parameter is not None:
            self.body["parameter"] = parameter


def _invalid(description: str, parameter: str) -> ApiError:
    return ApiError(400, "invalid_request", description, parameter)


@dataclass
class Request:
    """One request the fake received; headers without Authorization."""

    method: str
    path: str
    headers: CIMultiDict[str]
    json: Any
    authorized: bool


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_amount(amount: Any, parameter: str) -> Decimal:
    if not isinstance(amount, dict):
        raise _invalid("amount is required", parameter)
    value = amount.get("value")
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value) or Decimal(value) <= 0:
        message = f"amount value must be a positive string like 199.00: {value!r}"
        raise _invalid(message, f"{parameter}.value")
    if amount.get("currency") != "RUB":
        message = f"currency not supported: {amount.get('currency')!r}"
        raise _invalid(message, f"{parameter}.currency")
    return Decimal(value)


def _check_receipt(receipt: Any, total: Decimal) -> None:
    if not isinstance(receipt, dict):
        raise _invalid("receipt must be an object", "receipt")
    customer = receipt.get("customer")
    email = customer.get("email") if isinstance(customer, dict) else None
    if not isinstance(email, str) or "@" not in email:
        raise _invalid("receipt customer email is required", "receipt.customer.email")
    items = receipt.get("items")
    if not isinstance(items, list) or not items:
        raise _invalid("receipt items are required", "receipt.items")
    items_total = Decimal(0)
    for index, item in enumerate(items):
        where = f"receipt.items[{index}]"
        if not isinstance(item, dict):
            raise _invalid("receipt item must be an object", where)
        description = item.get("description")
        if not isinstance(description, str) or not 0 < len(description) <= 128:
            raise _invalid("item description must be 1-128 characters", f"{where}.description")
        try:
            quantity = Decimal(str(item.get("quantity")))
        except InvalidOperation:
            quantity = Decimal(0)
        if isinstance(item.get("quantity"), bool) or not quantity > 0:
            raise _invalid("item quantity must be a positive number", f"{where}.quantity")
        vat_code = item.get("vat_code")
        if isinstance(vat_code, bool) or not isinstance(vat_code, int) or not 1 <= vat_code <= 12:
            raise _invalid("item vat_code must be 1-12", f"{where}.vat_code")
        items_total += _check_amount(item.get("amount"), f"{where}.amount") * quantity
    if items_total != total:
        raise _invalid("receipt items total differs from the payment amount", "receipt.items")


class FakeYooKassa:
    """A loopback YooKassa API: POST /v3/payments and GET /v3/payments/{id}, auth and idempotency.

    Tests drive the payments (`succeed`, `cancel`) and the failures (`fail_next`, `hang_next`,
    `decline_saved_charges`), read `requests` and `payments`, and build webhook bodies with
    `notification`.
    """

    def __init__(self, shop_id: str = "506070", secret_key: str = "test_S3cr3t-key") -> None:
        self.shop_id = shop_id
        self.secret_key = secret_key
        self.base_url = ""
        self.requests: list[Request] = []
        self.payments: dict[str, JsonDict] = {}
        self.saved_methods: set[str] = set()
        self._save_requested: set[str] = set()  # payments created with save_payment_method
        self._idempotent: dict[str, tuple[str, JsonDict]] = {}  # key -> (body, answer)
        self._fail: list[int] = []  # HTTP statuses for the next requests
        self._hang = 0
        self.hung_up = 0  # held requests whose client gave up and closed the connection
        self._decline_reason: str | None = None
        self._closed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on a random loopback port; returns the API base URL (".../v3")."""
        app = web.Application()
        app.router.add_post("/v3/payments", self._create)
        app.router.add_get("/v3/payments/{payment_id}", self._get)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}/v3"
        return self.base_url

    async def close(self) -> None:
        self._closed.set()  # hanging requests end now
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeYooKassa:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- what tests drive ---------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """The next `count` requests get HTTP `status` and change nothing."""
        self._fail.extend([status] * count)

    def hang_next(self, count: int = 1) -> None:
        """The next `count` requests are carried out but never answered (until close).

        `hung_up` counts those whose client closed the connection while waiting.
        """
        self._hang += count

    def decline_saved_charges(self, reason: str | None = "insufficient_funds") -> None:
        """Charges of saved methods end canceled with `reason` from now on; None: they succeed."""
        self._decline_reason = reason

    def succeed(self, payment_id: str, *, save_method: bool = False) -> JsonDict:
        """The user paid: the pending payment succeeds, its method saved if asked and allowed.
        A payment created for SBP is paid by SBP (from a bank's app), anything else by card."""
        payment = self._pending(payment_id)
        if save_method and payment_id not in self._save_requested:
            raise AssertionError(f"payment {payment_id} was created without save_payment_method")
        method_id = str(uuid.uuid4())
        if save_method:
            self.saved_methods.add(method_id)
        asked = payment.get("payment_method", {}).get("type")
        method = self._sbp(method_id, paid=True) if asked == "sbp" else None
        payment.update(
            status="succeeded",
            paid=True,
            captured_at=_now(),
            refundable=True,
            payment_method=method or self._card(method_id, saved=save_method),
        )
        return copy.deepcopy(payment)

    def cancel(self, payment_id: str, reason: str = "insufficient_funds") -> JsonDict:
        """The payment failed or expired: the pending payment is canceled with `reason`."""
        payment = self._pending(payment_id)
        payment.update(
            status="canceled",
            paid=False,
            cancellation_details={"party": "payment_network", "reason": reason},
        )
        return copy.deepcopy(payment)

    def notification(self, payment_id: str, event: str = "payment.succeeded") -> JsonDict:
        """The webhook body YooKassa sends about the payment as it is now."""
        return {"type": "notification", "event": event, "object": self._public(payment_id)}

    # --- HTTP ---------------------------------------------------------------------------------

    def _record(self, request: web.Request, body: Any) -> Request:
        headers = CIMultiDict(request.headers)
        auth = headers.pop("Authorization", "")
        token = base64.b64encode(f"{self.shop_id}:{self.secret_key}".encode()).decode()
        seen = Request(request.method, request.path, headers, body, auth == f"Basic {token}")
        self.requests.append(seen)
        return seen

    async def _answer(self, request: web.Request, handle: Callable[[], JsonDict]) -> web.Response:
        try:
            status, body = 200, handle()
        except ApiError as error:
            status, body = error.status, error.body
        if self._hang:
            self._hang -= 1
            await self._hold(request)
        return web.json_response(body, status=status)

    async def _hold(self, request: web.Request) -> None:
        """Carried out, but the answer never arrives: wait for close or for the client to leave."""
        while not self._closed.is_set():
            if request.transport is None:
                self.hung_up += 1
                return
            await asyncio.sleep(0.02)

    async def _create(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        seen = self._record(request, body)
        return await self._answer(request, lambda: self._create_payment(seen))

    async def _get(self, request: web.Request) -> web.Response:
        seen = self._record(request, None)
        payment_id = request.match_info["payment_id"]
        return await self._answer(request, lambda: self._get_payment(seen, payment_id))

    def _check_request(self, seen: Request) -> None:
        if self._fail:
            status = self._fail.pop(0)
            raise ApiError(status, "internal_server_error", "Internal server error")
        if not seen.authorized:
            raise ApiError(401, "invalid_credentials", "Login or password is incorrect")

    def _get_payment(self, seen: Request, payment_id: str) -> JsonDict:
        self._check_request(seen)
        if payment_id not in self.payments:
            raise ApiError(404, "not_found", "Payment doesn't exist or access denied")
        return self._public(payment_id)

    def _create_payment(self, seen: Request) -> JsonDict:
        self._check_request(seen)
        key = seen.headers.get("Idempotence-Key", "")
        if not 0 < len(key) <= _MAX_KEY:
            raise _invalid(
                "Idempotence-Key header is required (1-64 characters)", "Idempotence-Key"
            )
        if not isinstance(seen.json, dict):
            raise _invalid("body must be a JSON object", "body")
        canonical = json.dumps(seen.json, sort_keys=True)
        if key in self._idempotent:
            first_body, answer = self._idempotent[key]
            if first_body != canonical:
                raise _invalid(
                    "Idempotence key duplicated with other parameters", "Idempotence-Key"
                )
            return copy.deepcopy(answer)
        payment = self._new_payment(seen.json)
        self.payments[payment["id"]] = payment
        answer = self._public(payment["id"])
        self._idempotent[key] = (canonical, answer)
        return copy.deepcopy(answer)

    # --- payments -----------------------------------------------------------------------------

    def _new_payment(self, body: JsonDict) -> JsonDict:
        total = _check_amount(body.get("amount"), "amount")
        if body.get("capture") is not True:
            raise _invalid("only payments with capture=true are expected here", "capture")
        description = body.get("description", "")
        if not isinstance(description, str) or len(description) > 128:
            raise _invalid("description must be at most 128 characters", "description")
        metadata = body.get("metadata", {})
        if not isinstance(metadata, dict) or len(metadata) > 16:
            raise _invalid("metadata must be an object of at most 16 keys", "metadata")
        for name, value in metadata.items():
            if len(name) > 32 or not isinstance(value, str) or len(value) > 512:
                raise _invalid(f"bad metadata entry {name!r}", "metadata")
        if "receipt" in body:
            _check_receipt(body["receipt"], total)
        save = body.get("save_payment_method", False)
        if not isinstance(save, bool):
            raise _invalid("save_payment_method must be a boolean", "save_payment_method")
        payment: JsonDict = {
            "id": str(uuid.uuid4()),
            "status": "pending",
            "paid": False,
            "amount": dict(body["amount"]),
            "created_at": _now(),
            "description": description,
            "metadata": dict(metadata),
            "recipient": {"account_id": self.shop_id, "gateway_id": "1000001"},
            "refundable": False,
            "test": True,
        }
        method_id = body.get("payment_method_id")
        if method_id is not None:
            return self._charge_saved(payment, method_id)
        confirmation = body.get("confirmation")
        return_url = confirmation.get("return_url") if isinstance(confirmation, dict) else None
        if confirmation is None or confirmation.get("type") != "redirect":
            raise _invalid("confirmation of type redirect is required", "confirmation")
        if not isinstance(return_url, str) or not return_url.startswith(("https://", "http://")):
            raise _invalid("confirmation return_url is required", "confirmation.return_url")
        page = "https://yoomoney.ru/checkout/payments/v2/contract"
        method_data = body.get("payment_method_data")
        if method_data is not None:
            kind = method_data.get("type") if isinstance(method_data, dict) else None
            if kind not in _METHOD_TYPES:
                raise _invalid(f"unknown payment method type {kind!r}", "payment_method_data.type")
            if kind == "sbp" and save:
                # SBP autopayments are a separate agreement with YooKassa; this shop has none
                raise _invalid(
                    "saving an SBP account is not available for this shop", "save_payment_method"
                )
            payment["payment_method"] = (
                self._sbp(str(uuid.uuid4()), paid=False)
                if kind == "sbp"
                else {"type": kind, "id": str(uuid.uuid4()), "saved": False}
            )
            page += f"/{kind}"
        payment["confirmation"] = {
            "type": "redirect",
            "return_url": return_url,
            "confirmation_url": f"{page}?orderId={payment['id']}",
        }
        if save:
            self._save_requested.add(payment["id"])
        return payment

    def _charge_saved(self, payment: JsonDict, method_id: Any) -> JsonDict:
        if method_id not in self.saved_methods:
            raise _invalid("payment method not found or not saved", "payment_method_id")
        payment["payment_method"] = self._card(method_id, saved=True)
        if self._decline_reason is None:
            payment.update(status="succeeded", paid=True, captured_at=_now(), refundable=True)
        else:
            details = {"party": "payment_network", "reason": self._decline_reason}
            payment.update(status="canceled", cancellation_details=details)
        return payment

    @staticmethod
    def _card(method_id: str, *, saved: bool) -> JsonDict:
        return {
            "type": "bank_card",
            "id": method_id,
            "saved": saved,
            "title": "Bank card *4477",
            "card": {"first6": "555555", "last4": "4477", "card_type": "MasterCard"},
        }

    @staticmethod
    def _sbp(method_id: str, *, paid: bool) -> JsonDict:
        """An SBP method as the API shows it: before the payment, and after (with the NSPK
        operation id and the payer's bank)."""
        method: JsonDict = {"type": "sbp", "id": method_id, "saved": False, "status": "inactive"}
        if paid:
            method.update(
                title="СБП",
                sbp_operation_id=f"A{uuid.uuid4().hex[:27].upper()}",
                payer_bank_details={"bank_id": "100000000111", "bic": "044525225"},
            )
        return method

    def _pending(self, payment_id: str) -> JsonDict:
        payment = self.payments[payment_id]
        if payment["status"] != "pending":
            raise AssertionError(f"payment {payment_id} is {payment['status']}, not pending")
        return payment

    def _public(self, payment_id: str) -> JsonDict:
        return copy.deepcopy(self.payments[payment_id])
