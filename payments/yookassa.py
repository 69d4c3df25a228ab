"""YooKassa payments through the official synchronous SDK, off the event loop, with a timeout."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from yookassa import Configuration
from yookassa.client import ApiClient
from yookassa.domain.common import HttpVerb
from yookassa.domain.exceptions import ApiError
from yookassa.domain.request import PaymentRequest

from payments.base import (
    BadNotification,
    Notification,
    ProviderError,
    ProviderPayment,
    ProviderTimeout,
    Receipt,
)

STATUSES = frozenset({"pending", "waiting_for_capture", "succeeded", "canceled"})
# Payment ids are UUID-like ("2f2b4c3e-000f-5000-9000-1b2c3d4e5f60"); anything else is refused
# before it reaches a URL path or the database.
_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_EVENT = re.compile(r"payment\.[a-z_]{1,40}")
_MAX_NOTIFICATION = 64 * 1024
_KEY = re.compile(r"[!-~]{1,64}")  # Idempotence-Key: up to 64 printable ASCII characters
_MAX_DESCRIPTION = 128  # the API's limit for payment and receipt item descriptions
SBP = "sbp"  # the Faster Payments System: its own method type, confirmed by redirect
METHODS = frozenset({"bank_card", SBP})  # what a payment may ask for; None: YooKassa's choice

# The SDK keeps its settings in class attributes; a client copies them when it is made.
_CONFIGURE = threading.Lock()


class _TimedSession(requests.Session):
    """A session whose every request has a timeout: the SDK passes none and would wait forever."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["timeout"] = self._timeout
        return super().request(*args, **kwargs)


class _Client(ApiClient):  # type: ignore[misc]  # the SDK has no type hints
    """The SDK's API client with a request timeout and without the SDK's retries.

    Over https the SDK retries up to 3 times on its own (backing off 1.8 s and more), which would
    let one call run far past our timeout; a caller retries instead, with the same idempotency key.
    """

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._request_timeout = timeout

    def get_session(self) -> requests.Session:
        return _TimedSession(self._request_timeout)


class YooKassaProvider:
    """Creates, charges and fetches YooKassa payments; every call ends within `timeout` seconds."""

    def __init__(
        self,
        shop_id: str,
        secret_key: str,
        api_url: str = "https://api.yookassa.ru/v3",
        *,
        return_url: str,
        timeout: float = 15.0,
    ) -> None:
        if not shop_id or not secret_key:
            raise ValueError("YooKassa needs a shop id and a secret key")
        if not api_url.startswith(("https://", "http://")):
            raise ValueError(f"YooKassa API URL must start with https:// or http://: {api_url!r}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._secrets = (secret_key, ApiClient.basic_auth(shop_id, secret_key))
        self.return_url = return_url
        self._timeout = timeout
        with _CONFIGURE:
            # The client builds its URLs as Configuration.api_url + "/payments...".
            Configuration.configure(shop_id, secret_key, api_url=api_url.rstrip("/"))
            self._client = _Client(timeout)

    async def create(
        self,
        *,
        amount_minor: int,
        description: str,
        idempotency_key: str,
        metadata: dict[str, str],
        save_method: bool,
        receipt: Receipt | None,
        method: str | None = None,
    ) -> ProviderPayment:
        """A new payment the user confirms by following `confirmation_url`; captured at once.
        `method` "sbp" asks for the Faster Payments System (the bank's app confirms it)."""
        if method is not None and method not in METHODS:
            raise ValueError(f"not a payment method this shop asks for: {method!r}")
        body = self._body(amount_minor, description, metadata, receipt)
        body["confirmation"] = {"type": "redirect", "return_url": self.return_url}
        body["save_payment_method"] = save_method
        if method == SBP:
            body["payment_method_data"] = {"type": SBP}
        return await self._post(body, idempotency_key)

    async def charge_saved(
        self,
        *,
        method_id: str,
        amount_minor: int,
        description: str,
        idempotency_key: str,
        metadata: dict[str, str],
        receipt: Receipt | None,
    ) -> ProviderPayment:
        """A recurring charge of a saved payment method, with no action from the user."""
        if not _ID.fullmatch(method_id):
            raise ValueError(f"not a YooKassa payment method id: {method_id!r}")
        body = self._body(amount_minor, description, metadata, receipt)
        body["payment_method_id"] = method_id
        return await self._post(body, idempotency_key)

    async def fetch(self, payment_id: str) -> ProviderPayment:
        """The payment's current state, straight from the API."""
        if not _ID.fullmatch(payment_id):
            raise ValueError(f"not a YooKassa payment id: {payment_id!r}")
        path = f"/payments/{payment_id}"
        data = await self._call(lambda: self._client.request(HttpVerb.GET, path))
        return self._payment(data)

    # --- the request ------------------------------------------------------------------------

    def _body(
        self,
        amount_minor: int,
        description: str,
        metadata: dict[str, str],
        receipt: Receipt | None,
    ) -> dict[str, Any]:
        if amount_minor <= 0:
            raise ValueError(f"amount must be positive: {amount_minor}")
        if not 0 < len(description) <= _MAX_DESCRIPTION:
            raise ValueError(f"description must be 1-{_MAX_DESCRIPTION} characters")
        amount = {"value": _rubles(amount_minor), "currency": "RUB"}
        body: dict[str, Any] = {
            "amount": amount,
            "capture": True,
            "description": description,
            "metadata": dict(metadata),
        }
        if receipt is not None:
            if not 0 < len(receipt.description) <= _MAX_DESCRIPTION:
                raise ValueError(f"receipt description must be 1-{_MAX_DESCRIPTION} characters")
            body["receipt"] = {
                "customer": {"email": receipt.email},
                "items": [
                    {
                        "description": receipt.description,
                        "quantity": "1.00",
                        "amount": amount,
                        "vat_code": receipt.vat_code,
                        "payment_mode": "full_payment",
                        "payment_subject": "service",
                    }
                ],
            }
        return body

    async def _post(self, body: dict[str, Any], idempotency_key: str) -> ProviderPayment:
        if not _KEY.fullmatch(idempotency_key):
            raise ValueError(
                f"idempotency key must be 1-64 printable ASCII characters: {idempotency_key!r}"
            )
        headers = {"Idempotence-Key": idempotency_key}
        # The SDK's model checks the body (the receipt's email, say): ValueError before sending.
        request = PaymentRequest(body)
        request.validate()

        def send() -> Any:
            return self._client.request(HttpVerb.POST, "/payments", None, headers, request)

        return self._payment(await self._call(send))

    async def _call(self, call: Callable[[], Any]) -> Any:
        """Run one SDK call in a thread; its errors become ProviderError without secrets."""
        try:
            return await asyncio.wait_for(asyncio.to_thread(call), self._timeout)
        except TimeoutError:
            raise ProviderTimeout(f"YooKassa did not answer within {self._timeout:g} s") from None
        except Exception as error:  # the SDK raises anything from requests, json and itself
            message = self._scrub(f"YooKassa request failed: {_describe(error)}")
            if _timed_out(error):
                raise ProviderTimeout(message) from None
            raise ProviderError(message) from None

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _payment(self, data: Any) -> ProviderPayment:
        try:
            return _payment(data)
        except (AttributeError, KeyError, TypeError, ValueError, InvalidOperation) as error:
            message = self._scrub(f"unexpected answer from YooKassa: {error!r}")
            raise ProviderError(message) from None


def parse_notification(body: bytes) -> Notification:
    """The event and payment id of a YooKassa webhook body; BadNotification for anything else."""
    if len(body) > _MAX_NOTIFICATION:
        raise BadNotification("notification body too large")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise BadNotification("notification body is not JSON") from None
    if not isinstance(data, dict) or data.get("type") != "notification":
        raise BadNotification('not an object of type "notification"')
    event = data.get("event")
    if not isinstance(event, str) or not _EVENT.fullmatch(event):
        raise BadNotification("not a payment event")
    payment = data.get("object")
    payment_id = payment.get("id") if isinstance(payment, dict) else None
    if not isinstance(payment_id, str) or not _ID.fullmatch(payment_id):
        raise BadNotification("no valid object.id")
    return Notification(event=event, payment_id=payment_id)


# --- helpers ----------------------------------------------------------------------------------


def _rubles(amount_minor: int) -> str:
    """Kopecks as the API's amount string: 19900 -> "199.00"."""
    return f"{amount_minor // 100}.{amount_minor % 100:02d}"


def _minor(value: Any) -> int:
    """The API's amount string as kopecks: "199.00" -> 19900."""
    if not isinstance(value, str):
        raise TypeError(f"amount value is not a string: {value!r}")
    kopecks = Decimal(value) * 100
    if not kopecks.is_finite() or kopecks != kopecks.to_integral_value():
        raise ValueError(f"amount value is not in kopecks: {value!r}")
    return int(kopecks)


def _payment(data: Any) -> ProviderPayment:
    if not isinstance(data, dict):
        raise TypeError("payment is not an object")
    payment_id, status, paid = data["id"], data["status"], data["paid"]
    if not isinstance(payment_id, str) or not _ID.fullmatch(payment_id):
        raise ValueError(f"bad payment id: {payment_id!r}")
    if status not in STATUSES:
        raise ValueError(f"unknown payment status: {status!r}")
    if not isinstance(paid, bool):
        raise TypeError(f"paid is not a boolean: {paid!r}")
    amount = data["amount"]
    confirmation = data.get("confirmation") or {}
    method = data.get("payment_method") or {}
    cancellation = data.get("cancellation_details") or {}
    url = confirmation.get("confirmation_url")
    method_id = method.get("id") if method.get("saved") is True else None
    reason = cancellation.get("reason")
    metadata = data.get("metadata") or {}
    return ProviderPayment(
        id=payment_id,
        status=status,
        paid=paid,
        amount_minor=_minor(amount["value"]),
        currency=str(amount["currency"]),
        confirmation_url=url if isinstance(url, str) else None,
        saved_method_id=method_id if isinstance(method_id, str) else None,
        metadata={str(key): str(value) for key, value in metadata.items()},
        cancellation_reason=reason if isinstance(reason, str) else None,
    )


def _describe(error: BaseException) -> str:
    """A short, secret-free account of what went wrong in the SDK."""
    if isinstance(error, ApiError):
        content = error.content if isinstance(error.content, dict) else {}
        parts = [f"HTTP {error.HTTP_CODE}" if error.HTTP_CODE else "unexpected HTTP status"]
        keys = ("code", "description", "parameter")
        parts += [str(content[key]) for key in keys if key in content]
        return ": ".join(parts)
    # On a network error the SDK fails with AttributeError (it reads .response of None); the
    # network error is what happened.
    cause = error.__context__ if isinstance(error, AttributeError) else None
    shown = cause if isinstance(cause, requests.RequestException) else error
    return f"{type(shown).__name__}: {shown}"


def _timed_out(error: BaseException) -> bool:
    return isinstance(error, requests.Timeout) or isinstance(error.__context__, requests.Timeout)
