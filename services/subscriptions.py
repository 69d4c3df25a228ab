"""Access that is bought or tried: trials, crediting payments exactly once, referrals, history."""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.cipher import SecretCipher
from db.engine import serialize
from db.models import AccessKind, Payment, PaymentStatus, User
from services.alerts import AlertGate
from services.audit import AuditAction, record
from services.clock import Clock, system_clock
from services.errors import (
    AlreadyHasAccess,
    TrialsBusy,
    TrialsFull,
    TrialsOff,
    TrialUsed,
    UserNotFound,
)
from services.placement import Placement
from services.plans import Plan, find_plan
from services.reconcile import ReconcileService
from services.users import extend_access

log = logging.getLogger(__name__)

PAYMENT_METHOD = "payment-method"
REFERRAL_ALPHABET = string.ascii_lowercase + string.digits
REFERRAL_CODE_LENGTH = 8
HISTORY_LIMIT = 20
SHOWN_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED, PaymentStatus.HELD)
TRIAL_CAP_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Credit:
    """What one credited payment changed: the payer's new end and the inviter's bonus."""

    payment_id: int
    user_id: int
    plan_code: str
    access_until: datetime
    auto_renew: bool
    inviter_id: int | None = None
    inviter_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """What /status shows about paying: the plan, the end, auto-renewal."""

    plan: Plan | None
    access_kind: AccessKind
    access_until: datetime | None
    auto_renew: bool
    trial_available: bool


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

    def plan(self, code: str | None) -> Plan | None:
        return find_plan(self.plans, code)

    async def subscription(self, user_id: int) -> Subscription:
        async with self._sessions() as session:
            user = await session.get(User, user_id)
        if user is None:
            raise UserNotFound(user_id=user_id)
        return Subscription(
            plan=self.plan(user.plan_code) if user.access_kind is AccessKind.PAID else None,
            access_kind=user.access_kind,
            access_until=user.access_until,
            auto_renew=user.auto_renew and user.payment_method_enc is not None,
            trial_available=self._trial_open(user),
        )

    def _trial_open(self, user: User) -> bool:
        return (
            self.trial_days > 0 and user.trial_used_at is None and not user.has_access(self.clock())
        )

    async def start_trial(self, user_id: int) -> datetime:
        """TRIAL_DAYS of access, once per Telegram account, without a card; refused while the
        nodes have no room for trial devices (TrialsFull) and past TRIALS_PER_HOUR new trials
        in the last hour (TrialsBusy; the admins are told once an hour). A refused trial is
        not used up."""
        if self.trial_days <= 0:
            raise TrialsOff()
        now = self.clock()
        async with self._sessions() as session:
            self._check_trial(await session.get(User, user_id), user_id, now)
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
        """Mark a pending payment paid and extend access, in one transaction; None when it was
        credited (or cancelled) before, so the same payment never counts twice."""
        now = self.clock()
        async with self._sessions.begin() as session:
            claimed = await session.execute(
                update(Payment)
                .where(Payment.id == payment_id, Payment.status == PaymentStatus.PENDING)
                .values(status=PaymentStatus.SUCCEEDED, credited_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            payment = await session.get_one(Payment, payment_id)
            credit = await self._extend(session, payment, saved_method_id, now)
        await self._after_credit(credit)
        return credit

    async def _extend(
        self, session: AsyncSession, payment: Payment, saved_method_id: str | None, now: datetime
    ) -> Credit:
        user = await session.get_one(User, payment.user_id, with_for_update=True)
        first_payment = not await self._has_paid_before(session, user.id, payment.id)
        if user.access_kind is AccessKind.INVITE and user.access_until is None:
            pass  # access without end stays so; the payment is recorded all the same
        else:
            running = user.access_running(now) and user.access_until is not None
            start = user.access_until if running and user.access_until else now
            user.access_until = max(start, now) + timedelta(days=payment.days)
            user.access_kind = AccessKind.PAID
        # a payment starts a fresh traffic period (the traffic service sets its base)
        user.traffic_period_start, user.traffic_blocked_until = None, None
        user.plan_code = payment.plan_code
        if payment.save_method and saved_method_id and not payment.recurring:
            # a renewal charge is no new consent: one the user cancelled stays cancelled
            user.payment_method_enc = self._cipher.encrypt(saved_method_id, PAYMENT_METHOD)
            user.auto_renew = True
        payment.access_until = user.access_until
        inviter_id, inviter_until = None, None
        if first_payment and user.referred_by_id and not user.referral_rewarded:
            user.referral_rewarded = True
            if self.referral_bonus_days > 0:
                inviter = await session.get(User, user.referred_by_id, with_for_update=True)
                if inviter is not None and not inviter.banned:
                    if inviter.access_kind is AccessKind.PAID and inviter.access_running(now):
                        base = inviter.access_until or now
                        inviter.access_until = base + timedelta(days=self.referral_bonus_days)
                    else:
                        extend_access(inviter, self.referral_bonus_days, now)
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
        )

    @staticmethod
    async def _has_paid_before(session: AsyncSession, user_id: int, payment_id: int) -> bool:
        query = (
            select(Payment.id)
            .where(Payment.user_id == user_id, Payment.id != payment_id)
            .where(Payment.status.in_([PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED]))
        )
        return (await session.scalar(query.limit(1))) is not None

    async def _after_credit(self, credit: Credit) -> None:
        """Put the peers back on the nodes at once (the scheduled reconcile is the safety net)."""
        await self._reconcile.reconcile_user(credit.user_id)
        if credit.inviter_id is not None:
            await self._reconcile.reconcile_user(credit.inviter_id)

    async def refund(self, actor_id: int, payment_id: int) -> datetime | None:
        """Mark a credited or held payment refunded and take the days a credit gave back (never
        before now); the audit entry names the actor. None when it was refunded before."""
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
            credited = was is PaymentStatus.SUCCEEDED
            if credited and user.access_kind is AccessKind.PAID and user.access_until is not None:
                user.access_until = max(now, user.access_until - timedelta(days=payment.days))
            until = user.access_until
            details = f"payment={payment.id}" + ("" if credited else " held")
            record(session, self.clock, actor_id, AuditAction.REFUND, payment.user_id, details)
        await self._reconcile.reconcile_user(payment.user_id)
        return until
