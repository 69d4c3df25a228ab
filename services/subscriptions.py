"""Access that is bought or tried: trials (on a channel's condition), crediting payments exactly
once (plans, gifts, add-ons, Stars subscriptions), referrals, refunds, history."""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.cipher import SecretCipher
from db.engine import serialize
from db.models import AccessKind, Addon, Payment, PaymentStatus, Purpose, User
from services.addons import new_addon
from services.alerts import AlertGate
from services.audit import AuditAction, record
from services.clock import Clock, system_clock
from services.errors import (
    AlreadyHasAccess,
    NoStarsSubscription,
    PaymentUnavailable,
    TrialCheckUnavailable,
    TrialNeedsChannel,
    TrialsBusy,
    TrialsFull,
    TrialsOff,
    TrialUsed,
    UserNotFound,
)
from services.gifts import cancel_gift, new_gift
from services.notifier import Notifier
from services.placement import Placement
from services.plans import Addons, Plan, find_plan
from services.promos import spend
from services.reconcile import ReconcileService
from services.users import add_free_days, extend_paid

log = logging.getLogger(__name__)

GAVE_UP = "expired"  # why a payment the pending check stopped asking about was closed


def creditable() -> ColumnElement[bool]:
    """A payment that may still be credited: pending, or one the pending check gave up on
    (a user can still pay an old link, and the provider then says it succeeded)."""
    gave_up = and_(Payment.status == PaymentStatus.CANCELED, Payment.failure == GAVE_UP)
    return or_(Payment.status == PaymentStatus.PENDING, gave_up)


PAYMENT_METHOD = "payment-method"
REFERRAL_ALPHABET = string.ascii_lowercase + string.digits
REFERRAL_CODE_LENGTH = 8
HISTORY_LIMIT = 20
SHOWN_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED, PaymentStatus.HELD)
TRIAL_CAP_WINDOW = timedelta(hours=1)
NO_ADDONS = Addons()
STARS_SUBSCRIPTION = "subscription"  # Payment.method of a Telegram Stars subscription's charges


@dataclass(frozen=True, slots=True)
class Credit:
    """What one credited payment changed: the payer's new end and the inviter's bonus."""

    payment_id: int
    user_id: int
    plan_code: str
    access_until: datetime  # of the payer's access; of the add-on for an add-on
    auto_renew: bool
    inviter_id: int | None = None
    inviter_until: datetime | None = None
    purpose: Purpose = Purpose.PLAN
    gift_code: str | None = None
    addon_amount: int = 0  # device slots or GB per 30 days
    stopped_stars_subscription: str | None = None  # card auto-renewal took its place


@dataclass(frozen=True, slots=True)
class Subscription:
    """What /status shows about paying: the plan, the end, auto-renewal."""

    plan: Plan | None
    access_kind: AccessKind
    access_until: datetime | None
    auto_renew: bool
    trial_available: bool
    stars_until: datetime | None = None  # the period a Stars subscription paid, while it runs
    stars_renewing: bool = False


@dataclass(frozen=True, slots=True)
class TrialChannel:
    """The channel a trial needs (TRIAL_CHANNEL: @username or id) and where users join it."""

    chat: str
    url: str


class SubscriptionService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reconcile: ReconcileService,
        cipher: SecretCipher,
        plans: tuple[Plan, ...],
        *,
        trial_days: int,
        referral_bonus_days: int,
        clock: Clock = system_clock,
        placement: Placement | None = None,
        trials_per_hour: int = 0,
        alerts: AlertGate | None = None,
        addons: Addons = NO_ADDONS,
        trial_channel: TrialChannel | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._reconcile = reconcile
        self._cipher = cipher
        self.plans = plans
        self.trial_days = trial_days
        self.referral_bonus_days = referral_bonus_days
        self.clock = clock
        self._placement = placement
        self.trials_per_hour = trials_per_hour
        self._alerts = alerts
        self.addons = addons
        self.trial_channel = trial_channel
        self.notifier = notifier

    def plan(self, code: str | None) -> Plan | None:
        return find_plan(self.plans, code)

    async def subscription(self, user_id: int) -> Subscription:
        async with self._sessions() as session:
            user = await session.get(User, user_id)
        if user is None:
            raise UserNotFound(user_id=user_id)
        stars_until = user.stars_subscription_until
        if user.stars_subscription is None or (stars_until and stars_until <= self.clock()):
            stars_until = None
        return Subscription(
            plan=self.plan(user.plan_code) if user.access_kind is AccessKind.PAID else None,
            access_kind=user.access_kind,
            access_until=user.access_until,
            auto_renew=user.auto_renew and user.payment_method_enc is not None,
            trial_available=self._trial_open(user),
            stars_until=stars_until,
            stars_renewing=not user.stars_subscription_canceled,
        )

    def _trial_open(self, user: User) -> bool:
        return (
            self.trial_days > 0 and user.trial_used_at is None and not user.has_access(self.clock())
        )

    async def start_trial(self, user_id: int) -> datetime:
        """TRIAL_DAYS of access, once per Telegram account, without a card; refused to users
        outside TRIAL_CHANNEL when it is set (TrialNeedsChannel), while the nodes have no room
        for trial devices (TrialsFull) and past TRIALS_PER_HOUR new trials in the last hour
        (TrialsBusy; the admins are told once an hour). A refused trial is not used up."""
        if self.trial_days <= 0:
            raise TrialsOff()
        now = self.clock()
        async with self._sessions() as session:
            self._check_trial(await session.get(User, user_id), user_id, now)
        await self._require_channel(user_id)
        if self._placement is not None and not await self._placement.trial_room():
            raise TrialsFull()
        async with self._sessions.begin() as session:
            await serialize(session, "trials")  # the count below is exact across processes
            user = self._check_trial(await session.get(User, user_id), user_id, now)
            busy = self.trials_per_hour > 0 and (
                await self._trials_since(session, now - TRIAL_CAP_WINDOW) >= self.trials_per_hour
            )
            if not busy:
                user.trial_used_at = now
                user.access_kind = AccessKind.TRIAL
                user.access_until = now + timedelta(days=self.trial_days)
            until = user.access_until
        if busy:
            if self._alerts is not None:
                limit = str(self.trials_per_hour)
                await self._alerts.once_per_hour("trials:cap", "admin-trial-cap", limit=limit)
            raise TrialsBusy()
        assert until is not None
        await self._reconcile.reconcile_user(user_id)
        return until

    async def _require_channel(self, user_id: int) -> None:
        """The trial's condition: membership of TRIAL_CHANNEL, asked of Telegram now; when
        Telegram will not say, the trial waits and the admins are told (once an hour)."""
        channel = self.trial_channel
        if channel is None:
            return
        member = (
            None if self.notifier is None else await self.notifier.is_member(channel.chat, user_id)
        )
        if member is None:
            if self._alerts is not None:
                await self._alerts.once_per_hour(
                    "trials:channel", "admin-trial-channel-unreadable", channel=channel.chat
                )
            raise TrialCheckUnavailable()
        if not member:
            raise TrialNeedsChannel(url=channel.url)

    def _check_trial(self, user: User | None, user_id: int, now: datetime) -> User:
        """The user, if they may start a trial (never had one, no access now)."""
        if user is None:
            raise UserNotFound(user_id=user_id)
        if user.trial_used_at is not None:
            raise TrialUsed()
        if user.has_access(now):
            raise AlreadyHasAccess()
        return user

    @staticmethod
    async def _trials_since(session: AsyncSession, since: datetime) -> int:
        query = select(func.count()).select_from(User).where(User.trial_used_at > since)
        return int(await session.scalar(query) or 0)

    async def cancel_auto_renew(self, user_id: int) -> datetime | None:
        """Stop charging the saved card; returns until when access remains."""
        async with self._sessions.begin() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFound(user_id=user_id)
            user.auto_renew = False
            user.payment_method_enc = None
            return user.access_until

    async def history(self, user_id: int) -> Sequence[Payment]:
        """The user's payments that went through, were refunded or are held, newest first."""
        async with self._sessions() as session:
            query = (
                select(Payment)
                .where(Payment.user_id == user_id)
                .where(Payment.status.in_(SHOWN_STATUSES))
                .order_by(
                    func.coalesce(Payment.credited_at, Payment.created_at).desc(),
                    Payment.id.desc(),
                )
                .limit(HISTORY_LIMIT)
            )
            return (await session.scalars(query)).all()

    async def saved_method(self, user_id: int) -> str | None:
        async with self._sessions() as session:
            user = await session.get(User, user_id)
        return None if user is None else self.method_of(user)

    def method_of(self, user: User) -> str | None:
        """The user's saved YooKassa payment method, decrypted (None when there is none)."""
        if user.payment_method_enc is None:
            return None
        return self._cipher.decrypt(user.payment_method_enc, PAYMENT_METHOD)

    # Referrals

    async def referral_code(self, user_id: int) -> str:
        """The user's own code for `ref_<code>` links, made on first use."""
        for _ in range(5):
            try:
                async with self._sessions.begin() as session:
                    user = await session.get(User, user_id)
                    if user is None:
                        raise UserNotFound(user_id=user_id)
                    if user.referral_code is None:
                        user.referral_code = "".join(
                            secrets.choice(REFERRAL_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH)
                        )
                    return user.referral_code
            except IntegrityError:
                continue
        raise RuntimeError("no free referral code")

    async def referral_count(self, user_id: int) -> tuple[int, int]:
        """(people who came by the user's link, of them who paid)."""
        async with self._sessions() as session:
            invited = (
                await session.scalars(
                    select(User.referral_rewarded).where(User.referred_by_id == user_id)
                )
            ).all()
        return len(invited), sum(1 for paid in invited if paid)

    async def register_referral(self, user_id: int, code: str) -> bool:
        """Remember who invited a new user; refuses self-referral, loops, and late or odd codes."""
        if not (0 < len(code) <= 16 and all(ch in REFERRAL_ALPHABET for ch in code)):
            return False
        async with self._sessions.begin() as session:
            user = await session.get(User, user_id)
            inviter = await session.scalar(select(User).where(User.referral_code == code))
            if user is None or inviter is None or inviter.id == user.id:
                return False
            if user.referred_by_id is not None or await self._has_paid(session, user.id):
                return False
            if await self._invited_by(session, inviter.id, user.id):
                return False  # the inviter came by this user's link: a loop
            user.referred_by_id = inviter.id
            return True

    async def _invited_by(self, session: AsyncSession, start_id: int, ancestor_id: int) -> bool:
        """Whether `ancestor_id` is up the chain of inviters from `start_id`."""
        seen: set[int] = set()
        current: int | None = start_id
        while current is not None and current not in seen:
            seen.add(current)
            current = await session.scalar(select(User.referred_by_id).where(User.id == current))
            if current == ancestor_id:
                return True
        return False

    @staticmethod
    async def _has_paid(session: AsyncSession, user_id: int) -> bool:
        query = (
            select(Payment.id)
            .where(Payment.user_id == user_id)
            .where(Payment.status == PaymentStatus.SUCCEEDED)
        )
        return (await session.scalar(query.limit(1))) is not None

    # Crediting

    async def credit_pending(self, payment_id: int, saved_method_id: str | None) -> Credit | None:
        """Mark a pending payment paid and give what it bought (a plan's days, a gift, an
        add-on), in one transaction; None when it was credited (or cancelled) before, so the
        same payment never counts twice."""
        now = self.clock()
        async with self._sessions.begin() as session:
            claimed = await session.execute(
                update(Payment)
                .where(Payment.id == payment_id, creditable())
                .values(status=PaymentStatus.SUCCEEDED, failure=None, credited_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            payment = await session.get_one(Payment, payment_id)
            if payment.purpose is Purpose.GIFT:
                credit = await self._gift(session, payment, now)
            elif payment.purpose in (Purpose.DEVICE, Purpose.TRAFFIC):
                credit = await self._addon(session, payment, now)
            else:
                credit = await self._extend(session, payment, saved_method_id, now)
        await self._after_credit(credit)
        return credit

    async def _extend(
        self, session: AsyncSession, payment: Payment, saved_method_id: str | None, now: datetime
    ) -> Credit:
        user = await session.get_one(User, payment.user_id, with_for_update=True)
        first_payment = not await self._has_paid_before(session, user.id, payment.id)
        extend_paid(user, payment.days, payment.plan_code, now)
        stopped = None
        if payment.save_method and saved_method_id and not payment.recurring:
            # a renewal charge is no new consent: one the user cancelled stays cancelled
            user.payment_method_enc = self._cipher.encrypt(saved_method_id, PAYMENT_METHOD)
            user.auto_renew = True
            stopped = self._end_stars_subscription(user, now)  # one auto-renewal at a time
        if payment.method == STARS_SUBSCRIPTION:
            if not payment.recurring:  # the first charge starts it; the card stops renewing
                user.stars_subscription = payment.provider_payment_id
                user.stars_subscription_canceled = False
                user.auto_renew, user.payment_method_enc = False, None
            user.stars_subscription_until = user.access_until
        if payment.promo_id is not None and not await spend(
            session, user.id, payment.promo_id, payment.id
        ):
            # paid at a discount another payment holds or spent (it was free when this was
            # priced): credited all the same, the user paid; recorded for the admins
            log.warning("payment %s: credited at a discount another payment took", payment.id)
            details = f"payment={payment.id} promo={payment.promo_id}"
            record(session, self.clock, user.id, AuditAction.PROMO_TWICE, user.id, details)
        payment.access_until = user.access_until
        inviter_id, inviter_until = None, None
        if first_payment and user.referred_by_id and not user.referral_rewarded:
            user.referral_rewarded = True
            if self.referral_bonus_days > 0:
                inviter = await session.get(User, user.referred_by_id, with_for_update=True)
                if inviter is not None and not inviter.banned:
                    add_free_days(inviter, self.referral_bonus_days, now)
                    inviter_id, inviter_until = inviter.id, inviter.access_until
        assert user.access_until is not None or user.access_kind is AccessKind.INVITE
        return Credit(
            payment_id=payment.id,
            user_id=user.id,
            plan_code=payment.plan_code,
            access_until=user.access_until or now,
            auto_renew=user.auto_renew and user.payment_method_enc is not None,
            inviter_id=inviter_id,
            inviter_until=inviter_until,
            stopped_stars_subscription=stopped,
        )

    @staticmethod
    def _end_stars_subscription(user: User, now: datetime) -> str | None:
        """The Stars subscription that is still renewing, marked as not; its charge id."""
        until = user.stars_subscription_until
        if user.stars_subscription is None or user.stars_subscription_canceled:
            return None
        if until is None or until <= now:
            return None
        user.stars_subscription_canceled = True
        return user.stars_subscription

    async def _gift(self, session: AsyncSession, payment: Payment, now: datetime) -> Credit:
        gift = new_gift(payment, now)
        session.add(gift)
        payer = await session.get_one(User, payment.user_id)
        return Credit(
            payment_id=payment.id,
            user_id=payer.id,
            plan_code=payment.plan_code,
            access_until=payer.access_until or now,
            auto_renew=False,
            purpose=Purpose.GIFT,
            gift_code=gift.code,
        )

    async def _addon(self, session: AsyncSession, payment: Payment, now: datetime) -> Credit:
        user = await session.get_one(User, payment.user_id, with_for_update=True)
        traffic = self.addons.traffic
        amount = 1 if payment.purpose is Purpose.DEVICE else (traffic.gb if traffic else 0)
        if amount == 0:
            log.error("payment %s: traffic add-on credited while none is sold", payment.id)
        addon = new_addon(payment, user, amount, now)
        session.add(addon)
        if payment.purpose is Purpose.TRAFFIC:
            user.traffic_blocked_until = None  # the next traffic pass checks the new limit
        payment.access_until = addon.until
        return Credit(
            payment_id=payment.id,
            user_id=user.id,
            plan_code=payment.plan_code,
            access_until=addon.until,
            auto_renew=False,
            purpose=payment.purpose,
            addon_amount=amount,
        )

    @staticmethod
    async def _has_paid_before(session: AsyncSession, user_id: int, payment_id: int) -> bool:
        """Whether the user paid for a plan of their own before this payment."""
        query = (
            select(Payment.id)
            .where(Payment.user_id == user_id, Payment.id != payment_id)
            .where(Payment.purpose == Purpose.PLAN)
            .where(Payment.status.in_([PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED]))
        )
        return (await session.scalar(query.limit(1))) is not None

    async def _after_credit(self, credit: Credit) -> None:
        """Put the peers back on the nodes at once (the scheduled reconcile is the safety net);
        stop a Stars subscription that card auto-renewal replaced."""
        if credit.purpose is not Purpose.GIFT:
            await self._reconcile.reconcile_user(credit.user_id)
        if credit.inviter_id is not None:
            await self._reconcile.reconcile_user(credit.inviter_id)
        if credit.stopped_stars_subscription and self.notifier is not None:
            await self.notifier.set_stars_subscription(
                credit.user_id, credit.stopped_stars_subscription, renewing=False
            )

    async def set_stars_subscription(self, user_id: int, *, renewing: bool) -> datetime:
        """Turn the user's Stars subscription's renewal off or back on (Telegram first, then
        the row); the end of the period paid."""
        async with self._sessions() as session:
            user = await session.get(User, user_id)
        if user is None:
            raise UserNotFound(user_id=user_id)
        charge, until = user.stars_subscription, user.stars_subscription_until
        if charge is None or until is None or until <= self.clock():
            raise NoStarsSubscription()
        if self.notifier is None or not await self.notifier.set_stars_subscription(
            user_id, charge, renewing=renewing
        ):
            raise PaymentUnavailable()
        async with self._sessions.begin() as session:
            await session.execute(
                update(User)
                .where(User.id == user_id, User.stars_subscription == charge)
                .values(stars_subscription_canceled=not renewing)
            )
        return until

    async def refund(self, actor_id: int, payment_id: int) -> datetime | None:
        """Mark a credited or held payment refunded and take back what a credit gave (a plan's
        days, never before now; a gift, from whoever opened it; an add-on); the audit entry
        names the actor. A Stars subscription's charge also stops its renewal. None when it
        was refunded before."""
        now = self.clock()
        async with self._sessions.begin() as session:
            payment = await session.get(Payment, payment_id)
            if payment is None or payment.status not in (
                PaymentStatus.SUCCEEDED,
                PaymentStatus.HELD,
            ):
                return None
            was = payment.status
            claimed = await session.execute(
                update(Payment)
                .where(Payment.id == payment_id, Payment.status == was)
                .values(status=PaymentStatus.REFUNDED)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            user = await session.get_one(User, payment.user_id, with_for_update=True)
            touched = {user.id}
            if was is PaymentStatus.SUCCEEDED:
                touched |= await self._take_back(session, payment, user, now)
            until = user.access_until
            stop = payment.method == STARS_SUBSCRIPTION and user.stars_subscription is not None
            details = f"payment={payment.id}" + ("" if was is PaymentStatus.SUCCEEDED else " held")
            record(session, self.clock, actor_id, AuditAction.REFUND, payment.user_id, details)
        for user_id in touched:
            await self._reconcile.reconcile_user(user_id)
        if stop:
            try:
                await self.set_stars_subscription(payment.user_id, renewing=False)
            except (NoStarsSubscription, PaymentUnavailable):
                log.warning("Stars subscription of user %s not stopped", payment.user_id)
        return until

    @staticmethod
    async def _take_back(
        session: AsyncSession, payment: Payment, payer: User, now: datetime
    ) -> set[int]:
        """Undo a credit in the refund's transaction; the users whose access changed."""
        holder: User | None = payer
        if payment.purpose is Purpose.GIFT:
            gift = await cancel_gift(session, payment.id, now)
            opened_by = gift.redeemed_by if gift is not None else None
            holder = None
            if opened_by is not None:
                holder = await session.get(User, opened_by, with_for_update=True)
        elif payment.purpose in (Purpose.DEVICE, Purpose.TRAFFIC):
            await session.execute(
                update(Addon).where(Addon.payment_id == payment.id).values(until=now)
            )
            return set()
        if holder is None or holder.access_kind is not AccessKind.PAID:
            return set()
        if holder.access_until is not None:
            holder.access_until = max(now, holder.access_until - timedelta(days=payment.days))
        return {holder.id}
