"""The long-lived objects of one process: database, keys, node pool and services (no aiogram)."""

from __future__ import annotations

import asyncio
import getpass
import logging
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.database_watch import DatabaseWatch
from bot.metrics import MeasuredSshPool
from bot.settings import Settings, SettingsError
from db.cipher import SecretCipher, load_cipher
from db.engine import create_engine, create_session_factory, keep_sqlite_private, safe_url
from db.migrate import upgrade
from nodes import NodeTarget, SshPool, WireGuard
from nodes.xray import Xray
from payments.yookassa import YooKassaProvider
from services.account import AccountService
from services.alerts import AlertGate
from services.audit import AuditService
from services.backups import BackupService
from services.broadcasts import BroadcastService
from services.campaigns import CampaignService
from services.clientconfig import DeviceConfigs
from services.clock import Clock, system_clock
from services.console import ConsoleService
from services.devices import DeviceService
from services.endpoints import EndpointService
from services.fleet import FleetService
from services.foreign import ForeignPeerService
from services.game_pings import GamePingService
from services.games import game_presets, load_games
from services.gifts import GiftService
from services.grace import Grace
from services.health import HealthService
from services.hostkeys import HostKeyService
from services.invites import InviteService
from services.locks import NodeLocks
from services.moves import MoveService
from services.notifier import Notifier
from services.nudges import NudgeDelays, NudgeService
from services.onboarding import OnboardingService
from services.pages import PageService
from services.payments import PaymentService, ReceiptSettings
from services.placement import Placement
from services.plans import Addons
from services.promos import PromoService
from services.qrdrawer import QrDrawer
from services.reclaim import AddressReclaim
from services.reconcile import ReconcileService
from services.reminders import ReminderService
from services.routes import load_presets
from services.sshkeys import SshKeyService
from services.stats import StatsService
from services.subscriptions import SubscriptionService, TrialChannel
from services.support import SupportService
from services.terms import TermsService
from services.traffic import TrafficService
from services.users import UserService
from services.vless import VlessService

log = logging.getLogger(__name__)

SSH_KEY_FILE = "ssh_ed25519"
PRIVATE_DIR = 0o700
SECRET_KEY_FILE = "secret.key"  # noqa: S105 (a file name)
SAVE_ON_CLOSE_TIMEOUT = 30.0


class DatabaseUnreachable(SettingsError):
    """No connection to the database server: it may come back, so the bot waits for it."""


@dataclass
class Services:
    """The long-lived objects of one process."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    pool: SshPool
    wireguard: WireGuard
    users: UserService
    configs: DeviceConfigs
    placement: Placement
    alerts: AlertGate
    reclaim: AddressReclaim
    devices: DeviceService
    fleet: FleetService
    foreign: ForeignPeerService
    reconcile: ReconcileService
    health: HealthService
    host_keys: HostKeyService
    moves: MoveService
    broadcasts: BroadcastService
    console: ConsoleService
    invites: InviteService
    audit: AuditService
    backups: BackupService
    stats: StatsService
    subscriptions: SubscriptionService
    payments: PaymentService
    reminders: ReminderService
    traffic: TrafficService
    endpoints: EndpointService
    sshkeys: SshKeyService
    pages: PageService
    support: SupportService
    vless: VlessService
    game_pings: GamePingService
    nudges: NudgeService
    database: DatabaseWatch
    promos: PromoService
    campaigns: CampaignService
    gifts: GiftService
    notifier: Notifier | None = None
    qr: QrDrawer = field(default_factory=QrDrawer)
    account: AccountService = field(init=False)
    onboarding: OnboardingService = field(init=False)

    def __post_init__(self) -> None:
        self.account = AccountService(self.users, self.devices, self.subscriptions, self.payments)
        self.onboarding = OnboardingService(self.devices)

    def set_notifier(self, notifier: Notifier) -> None:
        """Let the services that tell people something reach them (once a Bot exists)."""
        self.notifier = notifier
        for service in (
            self.users,
            self.alerts,
            self.reclaim,
            self.console,
            self.reconcile,
            self.health,
            self.host_keys,
            self.moves,
            self.backups,
            self.payments,
            self.reminders,
            self.traffic,
            self.endpoints,
            self.subscriptions,
            self.gifts,
            self.nudges,
            self.vless,
        ):
            service.notifier = notifier

    async def close(self) -> None:
        await self.broadcasts.stop()
        await self.database.close()
        try:  # the nodes' configs saved after the last changes, before the connections go
            async with asyncio.timeout(SAVE_ON_CLOSE_TIMEOUT):
                await self.wireguard.saved()
        except TimeoutError:
            log.warning("closing with config saves still running: reconcile redoes them")
        await self.pool.close()
        await self.qr.close()
        await self.engine.dispose()


async def open_services(
    settings: Settings, clock: Clock = system_clock, wireguard: WireGuard | None = None
) -> Services:
    """Create DATA_DIR, the bot's SSH and encryption keys, migrate the database, wire services."""
    prepare_data_dir(settings)
    engine = await _open_database(settings.effective_database_url)
    cipher = cipher_of(settings, create=True)
    assert cipher is not None
    key_path = settings.data_dir / SSH_KEY_FILE
    SshPool.ensure_client_key(key_path)
    sessions = create_session_factory(engine)
    reconcile: ReconcileService | None = None

    async def reconcile_after_connect(target: NodeTarget) -> None:
        if reconcile is not None:
            await reconcile.on_connect(target)

    pool = MeasuredSshPool(
        key_path,
        connect_timeout=settings.node_connect_timeout,
        command_timeout=settings.node_command_timeout,
        on_connect=reconcile_after_connect,
    )
    wireguard = wireguard or WireGuard(pool)
    locks = NodeLocks()
    games = load_games(settings.games_file)
    presets = {**load_presets(settings.route_presets_file), **game_presets(games)}
    configs = DeviceConfigs(cipher, presets)
    alerts = AlertGate(sessions, clock)
    placement = Placement(
        sessions, wireguard, configs, locks, alerts, trial_share=settings.trial_share
    )
    reclaim = AddressReclaim(sessions, placement, configs, days=settings.reclaim_days, clock=clock)
    users = UserService(sessions, settings.admin_ids, clock, support_ids=settings.support_ids)
    await users.settle_roles()
    devices = DeviceService(
        sessions,
        placement,
        configs,
        wireguard,
        locks,
        clock,
        role_of=users.role_of,
        plans=settings.plans,
        default_limit=settings.device_limit,
    )
    grace = Grace(settings.grace_days, settings.grace_ranges, settings.public_url)
    vless = VlessService(sessions, Xray(pool), cipher, locks, devices, clock, grace=grace)
    reconcile = ReconcileService(
        sessions, wireguard, configs, locks, clock=clock, reclaim=reclaim, vless=vless, grace=grace
    )
    host_keys = HostKeyService(sessions, wireguard, clock)
    fleet = FleetService(
        sessions,
        pool,
        wireguard,
        cipher,
        reconcile,
        host_keys,
        default_dns=settings.default_dns,
        clock=clock,
    )
    audit = AuditService(sessions, clock)
    subscriptions = SubscriptionService(
        sessions,
        reconcile,
        cipher,
        settings.plans,
        trial_days=settings.trial_days,
        referral_bonus_days=settings.referral_bonus_days,
        clock=clock,
        placement=placement,
        trials_per_hour=settings.trials_per_hour,
        alerts=alerts,
        addons=Addons(settings.addon_device, settings.addon_traffic),
        trial_channel=(
            TrialChannel(settings.trial_channel, settings.trial_channel_link)
            if settings.trial_channel and settings.trial_channel_link
            else None
        ),
    )
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        pool=pool,
        wireguard=wireguard,
        users=users,
        configs=configs,
        placement=placement,
        alerts=alerts,
        reclaim=reclaim,
        devices=devices,
        fleet=fleet,
        foreign=ForeignPeerService(sessions, reconcile, clock),
        reconcile=reconcile,
        vless=vless,
        health=HealthService(sessions, wireguard, settings.health_failures, host_keys, clock=clock),
        host_keys=host_keys,
        moves=MoveService(sessions, placement, configs, reconcile, locks, clock, vless=vless),
        broadcasts=BroadcastService(sessions, settings.broadcast_rate, clock),
        console=ConsoleService(sessions, users, reconcile),
        invites=InviteService(sessions, reconcile, clock),
        audit=audit,
        backups=backup_service(settings, clock),
        stats=StatsService(sessions, clock),
        subscriptions=subscriptions,
        payments=PaymentService(
            sessions,
            subscriptions,
            _yookassa(settings),
            stars_enabled=settings.stars_enabled,
            receipt=(
                ReceiptSettings(settings.yookassa_receipt_email, settings.yookassa_vat_code)
                if settings.yookassa_receipt_email
                else None
            ),
            return_url_unset=settings.yookassa_return_url is None,
            clock=clock,
            sbp=settings.yookassa_sbp,
            terms=TermsService(sessions, settings.offer_url, settings.privacy_url, clock),
        ),
        reminders=ReminderService(
            sessions, reconcile, clock, grace=grace, stars=settings.stars_enabled
        ),
        traffic=TrafficService(sessions, reconcile, settings.plans, clock),
        endpoints=EndpointService(sessions, configs, clock),
        sshkeys=SshKeyService(
            fleet,
            audit,
            key_path,
            connect_timeout=settings.node_connect_timeout,
            command_timeout=settings.node_command_timeout,
        ),
        pages=PageService(
            sessions,
            users,
            link_key=cipher.derive_key("personal page links"),
            session_key=cipher.derive_key("personal page sessions"),
            bot_token=settings.bot_token.get_secret_value(),
            public_url=settings.public_url,
            session_lifetime=timedelta(hours=settings.page_session_hours),
            init_data_max_age=timedelta(seconds=settings.page_init_data_max_age),
            clock=clock,
        ),
        support=SupportService(sessions, users, settings.support_chat_id, alerts, clock),
        game_pings=GamePingService(
            sessions,
            wireguard,
            placement,
            devices,
            games,
            interval=settings.game_ping_interval,
            clock=clock,
        ),
        nudges=NudgeService(sessions, nudge_delays(settings), clock),
        database=DatabaseWatch(engine, safe_url(settings.effective_database_url)),
        promos=PromoService(sessions, lambda: subscriptions.plans, reconcile, clock),
        campaigns=CampaignService(sessions, clock),
        gifts=GiftService(sessions, reconcile, clock),
    )


def nudge_delays(settings: Settings) -> NudgeDelays:
    """Each nudge's delay, None where its setting is 0; no offer after a trial while nothing
    can be paid with."""
    payments_on = settings.stars_enabled or settings.yookassa_enabled
    return NudgeDelays(
        setup=timedelta(hours=settings.nudge_setup_hours) if settings.nudge_setup_hours else None,
        silent=timedelta(days=settings.nudge_silent_days) if settings.nudge_silent_days else None,
        trial_offer=(
            timedelta(hours=settings.nudge_trial_hours)
            if settings.nudge_trial_hours and payments_on
            else None
        ),
    )


def prepare_data_dir(settings: Settings) -> Path:
    """DATA_DIR, made with mode 0700 when missing (keys, the database and backups are in it);
    SettingsError when this user cannot write there. One made readable by others before is
    left as it is, with a warning: it may be shared on purpose."""
    folder = settings.data_dir
    try:
        if not folder.is_dir():
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
            folder.chmod(PRIVATE_DIR)  # whatever the umask left
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SettingsError(
            f"DATA_DIR: cannot write to {folder.absolute()} ({reason}): make it writable for "
            f"the user the bot runs as ({getpass.getuser()}), or set DATA_DIR to a folder that is"
        ) from None
    if stat.S_IMODE(folder.stat().st_mode) & 0o077:
        log.warning("DATA_DIR %s is open to other users: chmod 700 %s", folder, folder)
    return folder


def cipher_of(settings: Settings, *, create: bool) -> SecretCipher | None:
    """The encryption at rest: ENCRYPTION_KEY, else DATA_DIR/secret.key (made when `create`)."""
    configured = settings.encryption_key.get_secret_value() if settings.encryption_key else None
    return load_cipher(configured, settings.data_dir / SECRET_KEY_FILE, create=create)


def backup_service(settings: Settings, clock: Clock = system_clock) -> BackupService:
    """Backups need no other service: the CLI makes one without opening the database."""
    return BackupService(
        settings.effective_database_url, settings.data_dir, settings.backup_keep, clock
    )


def ssh_public_key(settings: Settings) -> str:
    """The bot's SSH public key for the nodes' authorized_keys, made on first use."""
    return SshPool.ensure_client_key(prepare_data_dir(settings) / SSH_KEY_FILE)


def _yookassa(settings: Settings) -> YooKassaProvider | None:
    if settings.yookassa_shop_id is None or settings.yookassa_secret_key is None:
        return None
    return YooKassaProvider(
        settings.yookassa_shop_id,
        settings.yookassa_secret_key.get_secret_value(),
        settings.yookassa_api_url,
        return_url=settings.yookassa_return_url or "https://t.me/",  # the bot's, once known
        timeout=settings.yookassa_timeout,
    )


async def _open_database(url: str) -> AsyncEngine:
    """Connect and migrate; any failure becomes one line naming DATABASE_URL, and no answer
    from the server is DatabaseUnreachable."""
    parsed = make_url(url)
    folder = Path(parsed.database or "").parent
    if parsed.get_backend_name() == "sqlite" and parsed.database and not folder.is_dir():
        # said before aiosqlite starts its thread, which could outlive a quick exit
        raise SettingsError(f"DATABASE_URL: cannot open {safe_url(url)} (no folder {folder})")
    engine: AsyncEngine | None = None
    try:
        keep_sqlite_private(url)
        engine = create_engine(url)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        await upgrade(engine)
    except Exception as error:
        if engine is not None:
            await engine.dispose()
        reason = (
            f"{type(error).__name__}: {error}"
            if isinstance(error, ImportError)
            else type(error).__name__
        )
        unreachable = isinstance(error, OSError | TimeoutError) and not isinstance(
            error, PermissionError
        )
        problem = DatabaseUnreachable if unreachable else SettingsError
        raise problem(f"DATABASE_URL: cannot open {safe_url(url)} ({reason})") from None
    return engine
