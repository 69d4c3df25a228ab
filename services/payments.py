"""Taking money: YooKassa payments (card, SBP) and auto-renewal charges, Telegram Stars
(one-off and subscriptions), for a plan, a gift or an add-on; pending checks, refunds."""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AccessKind, Payment, PaymentStatus, PromoCode, Purpose, User
from payments import stars
from payments.base import Notification, ProviderError, ProviderPayment, Receipt
from payments.yookassa import SBP, YooKassaProvider
from services.clock import Clock, system_clock
from services.deeplinks import GIFT
from services.errors import (
    PaymentNotFound,
    PaymentsOff,
    PaymentUnavailable,
    RefundRefused,
    ServiceError,
    SubscriptionPlanOnly,
)
from services.notifier import Notifier
from services.plans import Plan
from services.pricing import Pricing, Quote, plan_price
from services.promos import PromoHeld, hold, release
from services.subscriptions import (
    GAVE_UP,
    STARS_SUBSCRIPTION,
    Credit,
    SubscriptionService,
    creditable,
)
from services.terms import TermsService

log = logging.getLogger(__name__)

YOOKASSA = "yookassa"
STARS = "stars"
STARS_CURRENCY = stars.CURRENCY
REUSE_PENDING = timedelta(minutes=50)  # a second tap within this reuses the same payment
PENDING_CHECK_AFTER = timedelta(minutes=2)  # the webhook usually comes before this
PENDING_GIVE_UP = timedelta(days=2)
RENEW_BEFORE = timedelta(hours=24)
UNKNOWN_PLAN = "?"  # a held Stars charge whose payload named no plan of ours
REFUNDABLE = (PaymentStatus.SUCCEEDED, PaymentStatus.HELD)
# What a Stars invoice's kind sells: (purpose, whether it is a subscription), and back.
STARS_KINDS: dict[stars.Kind, tuple[Purpose, bool]] = {
    "plan": (Purpose.PLAN, False),
    "sub": (Purpose.PLAN, True),
    "gift": (Purpose.GIFT, False),
    "dev": (Purpose.DEVICE, False),
    "gb": (Purpose.TRAFFIC, False),
}
KIND_OF = {sold: kind for kind, sold in STARS_KINDS.items()}


class Way(enum.StrEnum):
    """How a YooKassa payment is made: a card (once, or saved for auto-renewal) or SBP."""

    CARD = "card"
    CARD_AUTO = "auto"
    SBP = "sbp"


@dataclass(frozen=True, slots=True)
class Checkout:
    """A YooKassa payment page to send the user to, and what it charges."""

    url: str
    quote: Quote


@dataclass(frozen=True, slots=True)
class StarsInvoice:
    """A Stars invoice to make: what it sells at which price, its payload, and whether it is a
    subscription (renewed by Telegram every 30 days)."""

    quote: Quote
    payload: str
    subscription: bool

    @property
    def stars(self) -> int:
        return self.quote.price.stars

    @property
    def period(self) -> int | None:
        """createInvoiceLink's subscription_period: seconds, for a subscription alone."""
        return stars.SUBSCRIPTION_PERIOD if self.subscription else None


@dataclass(frozen=True, slots=True)
class StarsPaid:
    """What became of a Stars charge: credited now, held for the admins, or (neither) one
    that was stored before."""

    credit: Credit | None = None
    held: bool = False


@dataclass(frozen=True, slots=True)
class ReceiptSettings:
    email: str
    vat_code: int


class PaymentService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        subscriptions: SubscriptionService,
        yookassa: YooKassaProvider | None,
        *,
        stars_enabled: bool,
        receipt: ReceiptSettings | None = None,
        return_url_unset: bool = False,
        clock: Clock = system_clock,
        notifier: Notifier | None = None,
        sbp: bool = False,
        terms: TermsService | None = None,
    ) -> None:
        self._return_url_unset = return_url_unset
        self._checkout_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._sessions = sessions
        self._subscriptions = subscriptions
        self._yookassa = yookassa
        self.stars_enabled = stars_enabled
        self._receipt = receipt
        self._clock = clock
        self.notifier = notifier
        self._sbp = sbp
        self.terms = terms or TermsService(sessions, clock=clock)
        self._pricing = Pricing(sessions, subscriptions, clock)

    def default_return_url(self, url: str) -> None:
        """Where the payment page sends users back when YOOKASSA_RETURN_URL is not set."""
        if self._yookassa is not None and self._return_url_unset:
            self._yookassa.return_url = url

    @property
    def yookassa_enabled(self) -> bool:
        return self._yookassa is not None

    @property
    def sbp_enabled(self) -> bool:
        return self._yookassa is not None and self._sbp

    @property
    def enabled(self) -> bool:
        return self.yookassa_enabled or self.stars_enabled

    @property
    def plans(self) -> tuple[Plan, ...]:
        return self._subscriptions.plans

    # Prices

    async def quote(self, user_id: int, purpose: Purpose, plan_code: str | None) -> Quote:
        """What the user pays for a plan, a gift or an add-on now (services.pricing)."""
        return await self._pricing.quote(user_id, purpose, plan_code)

    async def plan_quotes(self, user_id: int) -> tuple[Quote, ...]:
        return await self._pricing.plan_quotes(user_id)

    async def addons_on_sale(self, user_id: int) -> tuple[Quote, ...]:
        return await self._pricing.addons_on_sale(user_id)

    def renews_with_stars(self, plan: Plan) -> bool:
        """Whether the plan is sold as a Telegram Stars subscription (30 days, Telegram's price
        limit)."""
        return (
            self.stars_enabled
            and plan.days == stars.SUBSCRIPTION_DAYS
            and plan.stars <= stars.MAX_SUBSCRIPTION_STARS
        )

    # YooKassa

    async def yookassa_checkout(
        self, user_id: int, plan_code: str | None, way: Way, *, purpose: Purpose = Purpose.PLAN
    ) -> Checkout:
        """The confirmation link for paying a plan (or a gift, an add-on) at the user's price,
        by card or SBP; only after the user accepted the offer. The payment row and its
        idempotency key are stored before the provider is asked, so a retry after a timeout
        reuses the key and YooKassa never makes a second payment; a second tap reuses the
        link."""
        if self._yookassa is None or (way is Way.SBP and not self._sbp):
            raise PaymentsOff()
        if way is Way.CARD_AUTO and purpose is not Purpose.PLAN:
            raise PaymentsOff()  # only one's own plan renews
        quote = await self._pricing.quote(user_id, purpose, plan_code)
        await self.terms.require(user_id)
        async with self._checkout_locks[user_id]:  # two taps at once make one payment
            url = await self._checkout(self._yookassa, user_id, quote, way)
        return Checkout(url, quote)

    async def _checkout(
        self, provider: YooKassaProvider, user_id: int, quote: Quote, way: Way
    ) -> str:
        auto_renew = way is Way.CARD_AUTO
        method = SBP if way is Way.SBP else None
        payment = await self._reusable(user_id, quote, auto_renew, method)
        if payment is None:
            payment = await self._stored_order(
                user_id, quote, str(uuid.uuid4()), save_method=auto_renew, method=method
            )
        elif payment.confirmation_url:
            return payment.confirmation_url
        assert payment.idempotency_key is not None
        try:
            created = await provider.create(
                amount_minor=payment.amount,
                description=self._description(quote),
                idempotency_key=payment.idempotency_key,
                metadata={"payment": str(payment.id), "user": str(user_id)},
                save_method=auto_renew,
                receipt=self._receipt_for(quote),
                method=method,
            )
        except ProviderError as error:
            log.warning("YooKassa create for payment %s failed: %s", payment.id, error)
            raise PaymentUnavailable() from error
        async with self._sessions.begin() as session:
            stored = await session.get_one(Payment, payment.id)
            stored.provider_payment_id = created.id
            stored.confirmation_url = created.confirmation_url
        if created.confirmation_url is None:
            raise PaymentUnavailable()
        return created.confirmation_url

    async def _stored_order(
        self,
        user_id: int,
        quote: Quote,
        key: str,
        *,
        save_method: bool,
        method: str | None = None,
        recurring: bool = False,
        until: datetime | None = None,
    ) -> Payment:
        """A pending YooKassa payment with its idempotency key, committed before any request;
        one at a discount holds it in the same transaction, or is refused (PromoHeld)."""
        payment = Payment(
            user_id=user_id,
            provider=YOOKASSA,
            idempotency_key=key,
            plan_code=quote.plan.code,
            days=quote.price.days,
            amount=quote.price.kopecks,
            currency="RUB",
            status=PaymentStatus.PENDING,
            recurring=recurring,
            save_method=save_method,
            access_until=until,
            created_at=self._clock(),
            purpose=quote.purpose,
            method=method,
            promo_id=quote.price.promo_id,
        )
        promo_id = quote.price.promo_id
        async with self._sessions.begin() as session:
            session.add(payment)
            await session.flush()
            if promo_id is not None and not await hold(session, user_id, promo_id, payment.id):
                raise PromoHeld()  # another open order took the discount: nothing is stored
        return payment

    async def _reusable(
        self, user_id: int, quote: Quote, auto_renew: bool, method: str | None
    ) -> Payment | None:
        same_method = Payment.method.is_(None) if method is None else Payment.method == method
        held_by = quote.discount.held_by if quote.discount and quote.price.promo_id else None
        holding = Payment.id == held_by  # the order holding the discount, however old
        async with self._sessions() as session:
            query = (
                select(Payment)
                .where(Payment.user_id == user_id, Payment.provider == YOOKASSA)
                .where(Payment.plan_code == quote.plan.code, Payment.purpose == quote.purpose)
                .where(Payment.amount == quote.price.kopecks, Payment.days == quote.price.days)
                .where(Payment.save_method == auto_renew, Payment.recurring.is_(False))
                .where(same_method, Payment.status == PaymentStatus.PENDING)
                .where(or_(Payment.created_at > self._clock() - REUSE_PENDING, holding))
                .order_by(Payment.id.desc())
            )
            return await session.scalar(query.limit(1))

    @staticmethod
    def _description(quote: Quote) -> str:
        days = quote.price.days
        if quote.purpose is Purpose.GIFT:
            return f"VPN gift: {days} days"
        if quote.purpose is Purpose.DEVICE:
            return f"VPN: one more device, {days} days"
        if quote.purpose is Purpose.TRAFFIC:
            return f"VPN: {quote.gb} GB more per 30 days, {days} days"
        return f"VPN: {days} days"

    def _receipt_for(self, quote: Quote) -> Receipt | None:
        if self._receipt is None:
            return None
        return Receipt(
            email=self._receipt.email,
            description=self._description(quote),
            vat_code=self._receipt.vat_code,
        )

    async def on_yookassa_notification(self, notification: Notification) -> bool:
        """Act on a notification by what the API says now, never by the body; False when the
        payment is not one of ours. Raises ProviderError when the API cannot be asked."""
        payment = await self._by_provider_id(YOOKASSA, notification.payment_id)
        if payment is None:
            payment = await self._unbound(notification.payment_id)
        if payment is None:
            log.warning("YooKassa notification for an unknown payment")
            return False
        assert self._yookassa is not None
        await self._apply(payment, await self._yookassa.fetch(notification.payment_id))
        return True

    async def _unbound(self, provider_id: str) -> Payment | None:
        """Our payment whose create or charge answer was lost (a timeout), so its provider id
        was never stored: found by the metadata the API reports for `provider_id`, and bound."""
        async with self._sessions() as session:
            query = select(Payment.id).where(
                Payment.provider == YOOKASSA,
                creditable(),
                Payment.provider_payment_id.is_(None),
            )
            unbound = set((await session.scalars(query)).all())
        if not unbound:
            return None  # nothing of ours is waiting: the API need not be asked
        assert self._yookassa is not None
        metadata = (await self._yookassa.fetch(provider_id)).metadata
        try:
            row, user_id = int(metadata.get("payment", "")), int(metadata.get("user", ""))
        except ValueError:
            return None
        if row not in unbound:
            return None
        async with self._sessions.begin() as session:
            bound = await session.execute(
                update(Payment)
                .where(Payment.id == row, Payment.user_id == user_id)
                .where(Payment.provider_payment_id.is_(None))
                .values(provider_payment_id=provider_id)
            )
        if bound.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return await self._by_provider_id(YOOKASSA, provider_id)

    async def _by_provider_id(self, provider: str, provider_id: str) -> Payment | None:
        async with self._sessions() as session:
            query = select(Payment).where(
                Payment.provider == provider, Payment.provider_payment_id == provider_id
            )
            return await session.scalar(query)

    async def _apply(self, payment: Payment, state: ProviderPayment) -> None:
        """Credit a payment the provider says succeeded, close one it says was cancelled."""
        if state.succeeded and state.amount_minor == payment.amount and state.currency == "RUB":
            credit = await self._subscriptions.credit_pending(payment.id, state.saved_method_id)
            if credit is not None:
                await self._tell_credited(credit)
        elif state.succeeded:
            log.error("payment %s: amount or currency differs from the order", payment.id)
        elif state.status == "canceled":
            reason = (state.cancellation_reason or "canceled")[:64]
            async with self._sessions.begin() as session:
                closed = await session.execute(
                    update(Payment)
                    .where(Payment.id == payment.id, Payment.status == PaymentStatus.PENDING)
                    .values(status=PaymentStatus.CANCELED, failure=reason)
                )
                await release(session, payment.id)
            if closed.rowcount == 1 and payment.recurring:  # type: ignore[attr-defined]
                await self._tell(payment.user_id, "renew-failed", until=payment.access_until)

    async def check_pending(self) -> int:
        """Settle Stars charges stored but never credited (the process stopped in between) and
        ask YooKassa about payments whose notification never came; how many were settled."""
        settled = await self._settle_stored_stars()
        if self._yookassa is None:
            return settled
        now = self._clock()
        async with self._sessions() as session:
            query = (
                select(Payment)
                .where(Payment.provider == YOOKASSA, Payment.status == PaymentStatus.PENDING)
                .where(Payment.created_at < now - PENDING_CHECK_AFTER)
                .order_by(Payment.id)
            )
            pending = (await session.scalars(query)).all()
        for payment in pending:
            if payment.provider_payment_id is None:
                if payment.created_at < now - PENDING_GIVE_UP:
                    await self._give_up(payment)
                continue
            try:
                state = await self._yookassa.fetch(payment.provider_payment_id)
            except ProviderError as error:
                log.warning("pending check of payment %s: %s", payment.id, error)
                continue
            await self._apply(payment, state)
            if state.status in ("succeeded", "canceled"):
                settled += 1
            elif payment.created_at < now - PENDING_GIVE_UP:
                await self._give_up(payment)
        return settled

    async def _settle_stored_stars(self) -> int:
        async with self._sessions() as session:
            query = (
                select(Payment)
                .where(Payment.provider == STARS, Payment.status == PaymentStatus.PENDING)
                .where(Payment.created_at < self._clock() - PENDING_CHECK_AFTER)
                .order_by(Payment.id)
            )
            stored = (await session.scalars(query)).all()
        for payment in stored:
            await self._settle_stars(payment, tell_payer=True)
        return len(stored)

    async def _give_up(self, payment: Payment) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Payment)
                .where(Payment.id == payment.id, Payment.status == PaymentStatus.PENDING)
                .values(status=PaymentStatus.CANCELED, failure=GAVE_UP)
            )
            await release(session, payment.id)

    async def charge_renewals(self) -> int:
        """Charge saved cards of users who agreed to auto-renewal, shortly before the end.
        One attempt per period: its idempotency key is made of the user and the period end."""
        if self._yookassa is None:
            return 0
        now = self._clock()
        async with self._sessions() as session:
            query = (
                select(User)
                .where(User.auto_renew.is_(True), User.payment_method_enc.is_not(None))
                .where(User.access_kind == AccessKind.PAID, User.banned.is_(False))
                .where(User.access_until > now, User.access_until <= now + RENEW_BEFORE)
            )
            due = (await session.scalars(query)).all()
        charged = 0
        for user in due:
            if await self._renew(user):
                charged += 1
        return charged

    async def _renew(self, user: User) -> bool:
        assert self._yookassa is not None and user.access_until is not None
        plan = self._subscriptions.plan(user.plan_code)
        method = self._subscriptions.method_of(user)  # the row read by charge_renewals
        if plan is None or method is None:
            return False
        key = f"renew-{user.id}-{int(user.access_until.timestamp())}"
        async with self._sessions() as session:
            payment = await session.scalar(select(Payment).where(Payment.idempotency_key == key))
        if payment is not None and (
            payment.status is not PaymentStatus.PENDING or payment.provider_payment_id
        ):
            return False  # this period was tried already; the pending check follows it up
        quote = Quote(Purpose.PLAN, plan, plan_price(plan, None))  # renewals: the full price
        if payment is None:
            payment = await self._stored_order(
                user.id, quote, key, save_method=True, recurring=True, until=user.access_until
            )
        try:
            state = await self._yookassa.charge_saved(
                method_id=method,
                amount_minor=plan.kopecks,
                description=self._description(quote),
                idempotency_key=key,
                metadata={"payment": str(payment.id), "user": str(user.id), "renewal": "1"},
                receipt=self._receipt_for(quote),
            )
        except ProviderError as error:
            log.warning("auto-renewal of user %s: %s", user.id, error)
            return False  # the row keeps the key: the next run retries with it
        async with self._sessions.begin() as session:
            stored = await session.get_one(Payment, payment.id)
            stored.provider_payment_id = state.id
        await self._apply(payment, state)
        return state.succeeded

    # Telegram Stars

    async def stars_invoice(
        self,
        user_id: int,
        plan_code: str | None,
        *,
        purpose: Purpose = Purpose.PLAN,
        subscription: bool = False,
    ) -> StarsInvoice:
        """A Stars invoice for a plan (or a gift, an add-on) at the user's price; a
        `subscription` renews a 30-day plan at its full price. Only after the user accepted
        the offer. Its payload says what is sold, so the charge is credited as sold."""
        if not self.stars_enabled:
            raise PaymentsOff()
        quote = await self._pricing.quote(user_id, purpose, plan_code, renewing=subscription)
        if subscription and (purpose is not Purpose.PLAN or not self.renews_with_stars(quote.plan)):
            raise SubscriptionPlanOnly()
        if self._held(quote):
            raise PromoHeld()
        await self.terms.require(user_id)
        payload = stars.invoice_payload(
            quote.plan.code,
            quote.price.days,
            quote.price.stars,
            user_id,
            kind=KIND_OF[quote.purpose, subscription],
            promo_id=quote.price.promo_id,
        )
        return StarsInvoice(quote, payload, subscription)

    @staticmethod
    def _held(quote: Quote) -> bool:
        """Whether the quote's discount waits in an open YooKassa order: Stars cannot take it."""
        discount = quote.discount
        held = discount is not None and discount.held_by is not None
        return held and quote.price.promo_id is not None

    async def stars_checkout(self, payload: str, currency: str, amount: int, user_id: int) -> bool:
        """Whether a pre-checkout matches what the user would be offered now (what is sold,
        days, price, discount, currency, payer) and the user accepted the offer."""
        try:
            if not self.stars_enabled:
                raise stars.CheckoutRefused("plan")
            offer = stars.check_paid(payload, currency, amount, user_id)
            purpose, subscription = STARS_KINDS[offer.kind]
            try:
                quote = await self._pricing.quote(
                    user_id, purpose, offer.plan_code, renewing=subscription
                )
            except ServiceError:
                raise stars.CheckoutRefused("plan") from None
            if quote.plan.code != offer.plan_code or quote.price.promo_id != offer.promo_id:
                raise stars.CheckoutRefused("amount")
            if self._held(quote):  # the discount waits in an open YooKassa order
                raise stars.CheckoutRefused("amount")
            current = {quote.plan.code: (quote.price.days, quote.price.stars)}
            stars.check_checkout(payload, currency, amount, user_id, current)
        except stars.CheckoutRefused as refused:
            log.info("pre-checkout refused: %s", refused.reason)
            return False
        if not await self.terms.accepted(user_id):
            log.info("pre-checkout refused: the offer is not accepted")
            return False
        return True

    async def stars_paid(
        self,
        user_id: int,
        payload: str,
        currency: str,
        amount: int,
        charge_id: str,
        *,
        renewal: bool = False,
    ) -> StarsPaid:
        """Telegram has taken the Stars (a `renewal` of a subscription takes them itself): the
        charge is stored first, whatever happens next, then credited by what its payload says
        was sold, once per charge id. A charge that cannot be credited (the plan is gone, the
        payer is banned, the payload is not ours) is held, and the admins are told, to refund
        or grant by hand."""
        charge = self._stars_charge(user_id, payload, currency, amount, charge_id)
        charge.recurring = renewal
        try:
            payment, new = await self._store_charge(charge)
        except Exception:
            # the one way to lose it: the database refused; this line is what is left of it
            log.critical("Stars charge %s of user %s (%s) not stored", charge_id, user_id, amount)
            raise
        if not new and payment.status is not PaymentStatus.PENDING:
            return StarsPaid()  # Telegram delivered it again: counted before
        if payment.status is PaymentStatus.HELD:
            await self._tell_held(payment)
            return StarsPaid(held=True)
        return await self._settle_stars(payment)

    def _stars_charge(
        self, user_id: int, payload: str, currency: str, amount: int, charge_id: str
    ) -> Payment:
        """The row of a charge as its payload describes it; held already when the payload is
        not ours, not in Stars, another user's or at another price."""
        charge = Payment(
            user_id=user_id,
            provider=STARS,
            provider_payment_id=charge_id,
            plan_code=UNKNOWN_PLAN,
            days=0,
            amount=amount,
            currency=currency[:3],
            status=PaymentStatus.PENDING,
            created_at=self._clock(),
        )
        try:
            offer = stars.check_paid(payload, currency, amount, user_id)
        except stars.CheckoutRefused as refused:
            log.error("Stars charge %s of user %s held: %s", charge_id, user_id, refused.reason)
            charge.status, charge.failure = PaymentStatus.HELD, refused.reason
            return charge
        plan = self._subscriptions.plan(offer.plan_code)
        charge.plan_code = offer.plan_code
        charge.days = offer.days or (plan.days if plan else 0)  # an older payload: today's days
        purpose, subscription = STARS_KINDS[offer.kind]
        charge.purpose, charge.promo_id = purpose, offer.promo_id
        charge.method = STARS_SUBSCRIPTION if subscription else None
        return charge

    async def _store_charge(self, charge: Payment) -> tuple[Payment, bool]:
        """The charge committed (True), or the row stored for its charge id before (False)."""
        try:
            async with self._sessions.begin() as session:
                if charge.promo_id is not None and not await session.get(
                    PromoCode, charge.promo_id
                ):
                    charge.promo_id = None  # the code is gone; the charge is kept all the same
                session.add(charge)
            return charge, True
        except IntegrityError:
            assert charge.provider_payment_id is not None
            stored = await self._by_provider_id(STARS, charge.provider_payment_id)
            assert stored is not None, "the unique charge id was taken"
            return stored, False

    async def _settle_stars(self, payment: Payment, *, tell_payer: bool = False) -> StarsPaid:
        """Credit a stored Stars charge, or hold it when its plan is gone or its payer banned;
        the payer is told here only when no handler answers them (`tell_payer`)."""
        reason = None
        if self._subscriptions.plan(payment.plan_code) is None:
            reason = "plan"
        elif await self._banned(payment.user_id):
            reason = "banned"
        if reason is not None:
            if await self._hold(payment.id, reason):
                log.error("Stars charge of payment %s held: %s", payment.id, reason)
                payment.failure = reason
                await self._tell_held(payment)
                if tell_payer:
                    await self._tell(payment.user_id, "paid-held", until=None)
            return StarsPaid(held=True)
        credit = await self._subscriptions.credit_pending(payment.id, None)
        if credit is None:
            return StarsPaid()
        await self._tell_credited(credit, to_payer=tell_payer)
        return StarsPaid(credit=credit)

    async def _banned(self, user_id: int) -> bool:
        async with self._sessions() as session:
            return bool(await session.scalar(select(User.banned).where(User.id == user_id)))

    async def _hold(self, payment_id: int, reason: str) -> bool:
        """A pending charge held for the admins; False when it was settled meanwhile."""
        async with self._sessions.begin() as session:
            held = await session.execute(
                update(Payment)
                .where(Payment.id == payment_id, Payment.status == PaymentStatus.PENDING)
                .values(status=PaymentStatus.HELD, failure=reason)
            )
        return bool(held.rowcount == 1)  # type: ignore[attr-defined]

    async def stars_payment(self, charge_id: str) -> Payment:
        """A credited or held Stars payment by its Telegram charge id, for a refund."""
        payment = await self._by_provider_id(STARS, charge_id)
        if payment is None or payment.status not in REFUNDABLE:
            raise PaymentNotFound()
        return payment

    async def refund_stars(self, actor_id: int, charge_id: str) -> tuple[Payment, datetime | None]:
        """Give a credited or held Stars payment back (Telegram first), then take back what it
        gave (audited; a subscription's charge also stops its renewal): the payment and the
        payer's access end now."""
        payment = await self.stars_payment(charge_id)
        reason = "no bot" if self.notifier is None else None
        if self.notifier is not None:
            reason = await self.notifier.refund_stars(payment.user_id, charge_id)
        if reason is not None:
            raise RefundRefused(reason=reason)
        return payment, await self._subscriptions.refund(actor_id, payment.id)

    async def recent(self, user_id: int) -> Sequence[Payment]:
        return await self._subscriptions.history(user_id)

    # Telling people

    async def _tell_credited(self, credit: Credit, *, to_payer: bool = True) -> None:
        """The payer hears what they got (a plan's credit from the handler that took a Stars
        payment, when `to_payer` is False), the inviter of their bonus."""
        if credit.purpose is Purpose.GIFT and credit.gift_code and self.notifier is not None:
            link = await self.notifier.start_link(GIFT + credit.gift_code)
            await self._tell(credit.user_id, "gift-paid", link=link)
        elif credit.purpose is Purpose.DEVICE:
            await self._tell(credit.user_id, "addon-paid-device", until=credit.access_until)
        elif credit.purpose is Purpose.TRAFFIC:
            gb = str(credit.addon_amount)
            await self._tell(credit.user_id, "addon-paid-traffic", gb=gb, until=credit.access_until)
        elif to_payer:
            await self._tell(credit.user_id, "paid-credited", until=credit.access_until)
        if credit.inviter_id is not None:
            key = "referral-bonus" if credit.inviter_until else "referral-bonus-forever"
            await self._tell(credit.inviter_id, key, until=credit.inviter_until)

    async def _tell_held(self, payment: Payment) -> None:
        if self.notifier is not None:
            await self.notifier.to_admins(
                "admin-stars-held",
                user=str(payment.user_id),
                stars=str(payment.amount),
                reason=payment.failure or "?",
                charge=payment.provider_payment_id or "?",
            )

    async def _tell(
        self, user_id: int, key: str, *, until: datetime | None = None, **texts: str
    ) -> None:
        if self.notifier is not None:
            await self.notifier.to_user(user_id, key, until=until, **texts)
