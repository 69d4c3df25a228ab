"""What every payment provider gives back: payments, receipts, notifications and errors."""

from __future__ import annotations

from dataclasses import dataclass


class ProviderError(Exception):
    """The provider's API failed or answered with an error; the message never holds a secret."""


class ProviderTimeout(ProviderError):
    """The call did not finish in time: the payment may exist or not; retry with the same key."""


class BadNotification(ValueError):
    """A webhook body that is not a well-formed payment notification."""


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """A payment as the provider's API reports it right now."""

    id: str
    status: str  # "pending" | "waiting_for_capture" | "succeeded" | "canceled"
    paid: bool
    amount_minor: int  # kopecks
    currency: str  # "RUB"
    confirmation_url: str | None
    saved_method_id: str | None  # set when the provider saved the payment method for reuse
    metadata: dict[str, str]
    cancellation_reason: str | None

    @property
    def succeeded(self) -> bool:
        """The money is taken: the only state that may extend access."""
        return self.status == "succeeded" and self.paid


@dataclass(frozen=True, slots=True)
class Receipt:
    """Data for a 54-FZ receipt: where to send it, what was sold, the VAT code."""

    email: str
    description: str
    vat_code: int  # 1..6


@dataclass(frozen=True, slots=True)
class Notification:
    """A webhook event: what happened to which payment (to be re-fetched before acting)."""

    event: str  # e.g. "payment.succeeded"
    payment_id: str
