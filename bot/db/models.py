"""SQLAlchemy models: users, nodes and their devices (WireGuard peers)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
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


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(128), default="")
    language: Mapped[str] = mapped_column(String(8), default="ru")
    language_chosen: Mapped[bool] = mapped_column(default=False)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.USER)
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

    def has_access(self, now: datetime) -> bool:
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
    address4: Mapped[str] = mapped_column(String(15))
    address6: Mapped[str | None] = mapped_column(String(39))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    rx_base: Mapped[int] = mapped_column(BigInteger, default=0)
    tx_base: Mapped[int] = mapped_column(BigInteger, default=0)
    rx_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    tx_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    last_handshake_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

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

    def count_traffic(self, rx: int, tx: int) -> None:
        """Take the node's counters; a counter that went down means the node restarted."""
        self.rx_base, self.tx_base = self.traffic_bases(rx, tx)
        self.rx_seen, self.tx_seen = rx, tx

    def traffic_bases(self, rx: int, tx: int) -> tuple[int, int]:
        if rx < self.rx_seen or tx < self.tx_seen:
            return self.rx_base + self.rx_seen, self.tx_base + self.tx_seen
        return self.rx_base, self.tx_base

    def traffic_with(self, rx: int, tx: int) -> tuple[int, int]:
        """Total (received, sent) by the node for this device, given its live counters."""
        rx_base, tx_base = self.traffic_bases(rx, tx)
        return rx_base + rx, tx_base + tx
