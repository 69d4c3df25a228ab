"""SQLAlchemy models: users, nodes and their devices (WireGuard peers)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Role(enum.StrEnum):
    USER = "user"
    SUPPORT = "support"
    ADMIN = "admin"


class AccessKind(enum.StrEnum):
    NONE = "none"
    INVITE = "invite"
    TRIAL = "trial"
    PAID = "paid"


class NodeStatus(enum.StrEnum):
    ENABLED = "enabled"
    DRAINING = "draining"
    DOWN = "down"


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        kind,
        name=name,
        native_enum=False,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


# Names and usernames found by a middle substring (services/console.py): on SQLite an FTS5
# trigram table (and its shadow tables) kept in step by triggers, on PostgreSQL pg_trgm GIN
# indexes; migration 0020 makes them, outside these models, which cannot describe either.
USER_SEARCH_TABLE = "users_fts"
FTS5_SHADOWS = ("config", "content", "data", "docsize", "idx")
USER_SEARCH_TABLES = frozenset(
    {USER_SEARCH_TABLE} | {f"{USER_SEARCH_TABLE}_{shadow}" for shadow in FTS5_SHADOWS}
)
USER_SEARCH_INDEXES = frozenset({"ix_users_first_name_trgm", "ix_users_username_trgm"})


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_created_at", "created_at", "id"),)  # /users, newest first

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(128), default="")
    language: Mapped[str] = mapped_column(String(8), default="ru")
    language_chosen: Mapped[bool] = mapped_column(default=False)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.USER)  # given, never
    # copied from ADMIN_IDS or SUPPORT_IDS; it counts only with the actor who gave it (0: the CLI)
    role_granted_by: Mapped[int | None] = mapped_column(BigInteger)
    access_kind: Mapped[AccessKind] = mapped_column(
        _enum(AccessKind, "access_kind"), default=AccessKind.NONE
    )
    access_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    preferred_node_id: Mapped[int | None] = mapped_column(
        ForeignKey("nodes.id", ondelete="SET NULL")
    )
    started: Mapped[bool] = mapped_column(default=False)
    access_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    bot_blocked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    banned: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    trial_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    plan_code: Mapped[str | None] = mapped_column(String(16))
    auto_renew: Mapped[bool] = mapped_column(default=False)
    payment_method_enc: Mapped[str | None] = mapped_column(Text)
    referral_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    referral_rewarded: Mapped[bool] = mapped_column(default=False)
    traffic_period_start: Mapped[datetime | None] = mapped_column(UtcDateTime())
    traffic_base_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    traffic_removed_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # of gone devices
    traffic_blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # the personal page link's nonce: replacing it makes the old link (and its sessions) fail
    link_nonce: Mapped[str | None] = mapped_column(String(32), unique=True)
    # when the reclaim pass first saw the user without access (their devices still addressed)
    no_access_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # the campaign link (start=c_NAME) the user first came by
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    # when the user accepted the offer and the privacy policy (OFFER_URL, PRIVACY_URL)
    terms_accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # a Telegram Stars subscription: its first charge id, the end of the period paid, whether
    # the user (through the bot) turned its renewal off
    stars_subscription: Mapped[str | None] = mapped_column(String(128))
    stars_subscription_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    stars_subscription_canceled: Mapped[bool] = mapped_column(default=False)

    def has_access(self, now: datetime) -> bool:
        if self.banned or self.access_kind is AccessKind.NONE:
            return False
        if self.traffic_blocked_until is not None and self.traffic_blocked_until > now:
            return False
        return self.access_until is None or self.access_until > now

    def access_running(self, now: datetime) -> bool:
        """Access granted and not yet over (a traffic block does not end it)."""
        if self.access_kind is AccessKind.NONE:
            return False
        return self.access_until is None or self.access_until > now

    @property
    def display_name(self) -> str:
        return self.first_name or (f"@{self.username}" if self.username else str(self.id))


class Node(Base):
    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    region: Mapped[str] = mapped_column(String(64), default="")
    ssh_host: Mapped[str] = mapped_column(String(255))
    ssh_port: Mapped[int] = mapped_column(default=22)
    ssh_user: Mapped[str] = mapped_column(String(64), default="root")
    host_key: Mapped[str] = mapped_column(Text)
    # another host key the node presented and was refused for, until an admin accepts it
    offered_host_key: Mapped[str | None] = mapped_column(Text)
    interface: Mapped[str] = mapped_column(String(15), default="wg0")
    endpoint: Mapped[str] = mapped_column(String(255))
    public_key: Mapped[str] = mapped_column(String(44))
    listen_port: Mapped[int]
    server_address4: Mapped[str] = mapped_column(String(18))
    server_address6: Mapped[str | None] = mapped_column(String(43))
    private_key_enc: Mapped[str | None] = mapped_column(Text)
    dns: Mapped[str] = mapped_column(String(255), default="1.1.1.1, 1.0.0.1")
    mtu: Mapped[int] = mapped_column(default=1420)
    status: Mapped[NodeStatus] = mapped_column(
        _enum(NodeStatus, "node_status"), default=NodeStatus.ENABLED
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    protocol: Mapped[str] = mapped_column(String(16), default="wireguard")
    obfuscation: Mapped[str | None] = mapped_column(Text)  # AmneziaWG parameters as JSON
    # VLESS with Reality on the node's Xray next to WireGuard; no port: the node has none
    xray_port: Mapped[int | None] = mapped_column()
    reality_private_key_enc: Mapped[str | None] = mapped_column(Text)
    reality_public_key: Mapped[str | None] = mapped_column(String(43))
    reality_short_ids_enc: Mapped[str | None] = mapped_column(Text)  # comma-separated
    reality_target: Mapped[str | None] = mapped_column(String(261))  # the TLS site HOST:PORT
    reality_server_name: Mapped[str | None] = mapped_column(String(253))

    @property
    def label(self) -> str:
        return f"{self.name} · {self.region}" if self.region else self.name


class NodeHealth(Base):
    """The latest probe of a node and the alert state derived from the probes."""

    __tablename__ = "node_health"

    node_id: Mapped[int] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    up: Mapped[bool] = mapped_column(default=True)
    failures: Mapped[int] = mapped_column(default=0)
    alerted: Mapped[bool] = mapped_column(default=False)
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(String(300))
    interface_up: Mapped[bool] = mapped_column(default=False)
    load1: Mapped[float] = mapped_column(default=0.0)
    cpus: Mapped[int] = mapped_column(default=1)
    mem_total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    mem_available_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    peers: Mapped[int] = mapped_column(default=0)
    recent_handshakes: Mapped[int] = mapped_column(default=0)
    rx_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    tx_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_seconds: Mapped[float] = mapped_column(default=0.0)
    reconcile_changes: Mapped[int] = mapped_column(default=0)

    @property
    def load_percent(self) -> int:
        return round(100 * self.load1 / max(self.cpus, 1))


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("node_id", "address4", name="uq_devices_node_address4"),
        UniqueConstraint("node_id", "address6", name="uq_devices_node_address6"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    public_key: Mapped[str] = mapped_column(String(44), unique=True)
    private_key_enc: Mapped[str] = mapped_column(Text)
    preshared_key_enc: Mapped[str] = mapped_column(Text)
    # None: given back to the node's pool after RECLAIM_DAYS without access (keys kept)
    address4: Mapped[str | None] = mapped_column(String(15))
    address6: Mapped[str | None] = mapped_column(String(39))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    rx_base: Mapped[int] = mapped_column(BigInteger, default=0)
    tx_base: Mapped[int] = mapped_column(BigInteger, default=0)
    rx_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    tx_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    last_handshake_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    route_preset: Mapped[str] = mapped_column(String(32), default="")
    move_notice_due: Mapped[bool] = mapped_column(default=False)  # moved; new config not sent

    user: Mapped[User] = relationship(lazy="raise")
    node: Mapped[Node] = relationship(lazy="raise")

    @property
    def rx_total(self) -> int:
        """Bytes the node received from this device, across node restarts."""
        return self.rx_base + self.rx_seen

    @property
    def tx_total(self) -> int:
        """Bytes the node sent to this device, across node restarts."""
        return self.tx_base + self.tx_seen

    @property
    def total_bytes(self) -> int:
        """Bytes both ways through the node for this device, across restarts and new keys."""
        return self.rx_total + self.tx_total

    def restart_counters(self) -> None:
        """The node counts this device from zero again (a new peer): what it counted is kept."""
        self.rx_base, self.tx_base = self.rx_total, self.tx_total
        self.rx_seen, self.tx_seen = 0, 0


def traffic_bases(
    bases: tuple[int, int], seen: tuple[int, int], counters: tuple[int, int]
) -> tuple[int, int]:
    """A device's (rx, tx) bases once the node reports `counters`: a counter lower than the
    one `seen` last means the node counts from zero again, so what it had counted joins the
    bases."""
    if counters[0] < seen[0] or counters[1] < seen[1]:
        return bases[0] + seen[0], bases[1] + seen[1]
    return bases


class VlessDevice(Base):
    """A device that connects with VLESS + Reality to its node's Xray: its id (a UUID) is what
    the node lets in, kept while access lapses so the same link works again after a renewal."""

    __tablename__ = "vless_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    uplink_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # from the device
    downlink_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # to the device
    move_notice_due: Mapped[bool] = mapped_column(default=False)  # moved; new link not sent

    user: Mapped[User] = relationship(lazy="raise")
    node: Mapped[Node] = relationship(lazy="raise")

    @property
    def email(self) -> str:
        """The name the node's Xray knows this device by (API calls and traffic counters)."""
        return f"v{self.id}"

    @property
    def total_bytes(self) -> int:
        return self.uplink_bytes + self.downlink_bytes


class ForeignPeer(Base):
    """A peer found on a node's interface when it was adopted (made by hand or another panel):
    reconcile leaves it on the node and placement never hands out its addresses."""

    __tablename__ = "foreign_peers"
    __table_args__ = (UniqueConstraint("node_id", "public_key", name="uq_foreign_peers_node_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    public_key: Mapped[str] = mapped_column(String(44))
    allowed_ips: Mapped[str] = mapped_column(Text, default="")  # comma-separated networks
    found_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    @property
    def networks(self) -> tuple[str, ...]:
        return tuple(part for part in self.allowed_ips.split(",") if part)


class AlertMark(Base):
    """When an alert that goes out at most once per period (a node full, the trial cap) was
    last sent, shared by every process."""

    __tablename__ = "alert_marks"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Invite(Base):
    """A deep link that grants access: `days` long (0: without end), up to `max_uses` people."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    days: Mapped[int] = mapped_column(default=30)
    max_uses: Mapped[int] = mapped_column(default=1)
    used: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class InviteUse(Base):
    """Who took access through an invite, and when."""

    __tablename__ = "invite_uses"
    __table_args__ = (UniqueConstraint("invite_id", "user_id", name="uq_invite_uses_invite_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    used_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AuditEntry(Base):
    """One admin or support action: who, what, on whom, when, and a short note (never a secret)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[str] = mapped_column(String(300), default="")


class BroadcastAudience(enum.StrEnum):
    ALL = "all"
    ACCESS = "access"
    NO_ACCESS = "no_access"
    EXPIRED = "expired"  # access ended in the last N days (the audience's value)
    TRIAL = "trial"  # on a trial now
    NEVER_CONNECTED = "never_connected"  # a device, but no handshake ever
    NODE = "node"  # a device on the node whose id is the value
    REGION = "region"  # a device on a node of the region that is the value
    LANGUAGE = "language"  # the bot speaks the value to them


class BroadcastStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"  # stopped by an admin: what was not claimed yet is not sent


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # committed before the request: after a crash it becomes UNKNOWN
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"  # was in flight when the process died: maybe delivered, never resent
    CANCELLED = "cancelled"  # the broadcast was stopped before this row was claimed


class Broadcast(Base):
    """A message from an admin to a group of users: an HTML text, or a photo, video or
    document (a Telegram file id) with the text as its caption, and up to 3 buttons; its
    deliveries are the queue."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    admin_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    media_kind: Mapped[str | None] = mapped_column(String(16))  # photo, video, document
    media_file_id: Mapped[str | None] = mapped_column(String(255))
    # [{"title": …, "kind": "url" | "config" | "renew", "url": …}], in order
    buttons: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    audience: Mapped[BroadcastAudience] = mapped_column(
        _enum(BroadcastAudience, "broadcast_audience")
    )
    audience_value: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[BroadcastStatus] = mapped_column(
        _enum(BroadcastStatus, "broadcast_status"), default=BroadcastStatus.RUNNING, index=True
    )
    total: Mapped[int] = mapped_column(default=0)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class BroadcastDelivery(Base):
    """One recipient of a broadcast and how far their copy got."""

    __tablename__ = "broadcast_deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "user_id", name="uq_broadcast_deliveries_broadcast_user"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[DeliveryState] = mapped_column(
        _enum(DeliveryState, "delivery_state"), default=DeliveryState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    HELD = "held"  # charged (Stars) but not credited: the admins refund it or grant by hand


class Purpose(enum.StrEnum):
    """What a payment buys: a plan for the payer, a plan as a gift, or an add-on."""

    PLAN = "plan"
    GIFT = "gift"
    DEVICE = "dev"  # one more device slot until the plan's end
    TRAFFIC = "gb"  # more traffic per 30 days until the plan's end


class Payment(Base):
    """One attempt to pay for a plan; credited exactly once, keyed by the provider's id."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_payment_id", name="uq_payments_provider_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    provider_payment_id: Mapped[str | None] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    plan_code: Mapped[str] = mapped_column(String(16))
    days: Mapped[int]
    amount: Mapped[int]  # kopecks for RUB, stars for XTR
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PaymentStatus] = mapped_column(
        _enum(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING, index=True
    )
    recurring: Mapped[bool] = mapped_column(default=False)  # an auto-renewal charge
    save_method: Mapped[bool] = mapped_column(default=False)  # the user agreed to auto-renewal
    confirmation_url: Mapped[str | None] = mapped_column(Text)
    failure: Mapped[str | None] = mapped_column(String(64))
    access_until: Mapped[datetime | None] = mapped_column(UtcDateTime())  # set by the credit
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    credited_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    purpose: Mapped[Purpose] = mapped_column(_enum(Purpose, "purpose"), default=Purpose.PLAN)
    # the way asked for: "sbp" (YooKassa's SBP), "subscription" (a Stars subscription);
    # None: a card or a one-off Stars invoice
    method: Mapped[str | None] = mapped_column(String(16))
    promo_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id", ondelete="SET NULL"))


class Reminder(Base):
    """A reminder sent for one period of access: 3 days, 1 day before its end, or at the end;
    or the end of its grace, applied and never sent."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "period_end", name="uq_reminders_user_kind_end"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    period_end: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SupportThread(Base):
    """A user's conversation with support: whether their messages go to the staff now, and
    their topic in the support forum (SUPPORT_CHAT_ID) once one was made."""

    __tablename__ = "support_threads"
    __table_args__ = (UniqueConstraint("chat_id", "topic_id", name="uq_support_threads_topic"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    open: Mapped[bool] = mapped_column(default=False)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)  # the forum the topic is in
    topic_id: Mapped[int | None] = mapped_column(BigInteger)  # its message_thread_id
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_message_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # the user's


class RelayState(enum.StrEnum):
    PENDING = "pending"  # written before the copy is made: retried until it is sent
    SENT = "sent"
    FAILED = "failed"  # refused for good (the message deleted, the bot blocked), or too old


class SupportMessage(Base):
    """One copy the support relay makes: a user's message to the forum or to one staff
    member, or a staff reply to the user. Written before the copy, so a restart retries it;
    the copy's id tells whose conversation a staff member's reply belongs to."""

    __tablename__ = "support_messages"
    __table_args__ = (
        UniqueConstraint("to_chat_id", "to_message_id", name="uq_support_messages_copy"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(BigInteger)  # a reply's author; None: the user's
    from_chat_id: Mapped[int] = mapped_column(BigInteger)
    from_message_id: Mapped[int] = mapped_column(BigInteger)
    to_chat_id: Mapped[int] = mapped_column(BigInteger)
    to_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # a staff member's private chat: a line first saying who writes and how to reply
    with_header: Mapped[bool] = mapped_column(default=False)
    state: Mapped[RelayState] = mapped_column(
        _enum(RelayState, "relay_state"), default=RelayState.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ConversationState(Base):
    """Where one chat stands in a multi-step flow (aiogram's FSM state and its data), kept here
    so that every bot process sees it."""

    __tablename__ = "fsm_states"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class PromoKind(enum.StrEnum):
    PERCENT = "percent"  # off the plan's price
    FIXED = "fixed"  # roubles off (Stars in proportion)
    DAYS = "days"  # free days, given at once


class PromoCode(Base):
    """A code admins made: a discount on some plans or free days, for `max_uses` people until
    `valid_until`, once per user."""

    __tablename__ = "promo_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[PromoKind] = mapped_column(_enum(PromoKind, "promo_kind"))
    value: Mapped[int]  # percent, roubles or days
    plans: Mapped[str] = mapped_column(String(200), default="")  # comma-separated; "": all
    max_uses: Mapped[int]
    used: Mapped[int] = mapped_column(default=0)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    @property
    def plan_codes(self) -> frozenset[str]:
        return frozenset(code for code in self.plans.split(",") if code)


class PromoRedemption(Base):
    """One use of a code by one user; a discount's use is spent by the payment that took it."""

    __tablename__ = "promo_redemptions"
    __table_args__ = (
        UniqueConstraint("promo_id", "user_id", name="uq_promo_redemptions_promo_user"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    promo_id: Mapped[int] = mapped_column(ForeignKey("promo_codes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    redeemed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))


class Campaign(Base):
    """An advertising link (start=c_NAME): who came by it is counted in /stats."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Gift(Base):
    """A plan paid for someone else: a one-time link; the first person to open it gets the days."""

    __tablename__ = "gifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), unique=True
    )
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    plan_code: Mapped[str] = mapped_column(String(16))
    days: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    redeemed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    redeemed_by: Mapped[int | None] = mapped_column(BigInteger)
    canceled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # its payment refunded


class Addon(Base):
    """An add-on bought: `amount` device slots or GB per 30 days, until the plan's end."""

    __tablename__ = "addons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[Purpose] = mapped_column(_enum(Purpose, "purpose"))  # DEVICE or TRAFFIC
    amount: Mapped[int]
    until: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Nudge(Base):
    """A nudge sent to a user once for one period: set-up help after a first config that never
    connected, "is something wrong?" after a paying user's silence, an offer after a trial."""

    __tablename__ = "nudges"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "period", name="uq_nudges_user_kind_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[datetime] = mapped_column(UtcDateTime())  # what the nudge is about began
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class GameRoundTrip(Base):
    """The round trip from a node to a game's nearest probed server, as last measured."""

    __tablename__ = "game_round_trips"

    node_id: Mapped[int] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    game: Mapped[str] = mapped_column(String(24), primary_key=True)
    rtt_ms: Mapped[float | None] = mapped_column()  # None: none of the game's targets answered
    measured_at: Mapped[datetime] = mapped_column(UtcDateTime())


class JobRun(Base):
    """A scheduled job's last run in any bot process on this database: each run claims its
    interval here first, so several processes run the job once per interval between them."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    runs: Mapped[int] = mapped_column(BigInteger, default=0)
