"""Admin commands for nodes: /add_node with live progress, /reconcile, /restore_node,
/migrate and /drain."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.settings import Settings
from db.models import User
from handlers.common import esc
from handlers.filters import IsAdmin
from locales import Translator
from services.audit import AuditAction, AuditService
from services.endpoints import EndpointService, valid_endpoint
from services.errors import (
    InvalidInput,
    NodeFull,
    NodeKeyUnknown,
    NodeNotFound,
    NodeSetupFailed,
    NodeUnavailable,
    ServiceError,
)
from services.moves import MoveReport, MoveService
from services.nodes import (
    PROTOCOL_NAMES,
    SETUP_STEPS,
    NewNode,
    NodeService,
    default_mtu,
    parse_ssh_address,
)
from services.reconcile import ReconcileResult, ReconcileService

router = Router(name=__name__)
router.message.filter(IsAdmin())

MAX_ARGUMENT = 200


def arguments(command: CommandObject, least: int, most: int) -> list[str]:
    text = command.args or ""
    parts = text.split()
    if len(text) > MAX_ARGUMENT or not least <= len(parts) <= most:
        raise InvalidInput()
    return parts


class Progress:
    """One message edited step by step while a node is set up."""

    def __init__(self, bot: Bot, message: Message, t: Translator, title: str) -> None:
        self._bot, self._message, self._t, self._title = bot, message, t, title
        self._done: list[str] = []

    async def step(self, step: str) -> None:
        lines = [self._title, *(f"✅ {self._t('node-step', step=s)}" for s in self._done)]
        lines.append(f"⏳ {self._t('node-step', step=step)}")
        self._done.append(step)
        await self._bot.edit_message_text(
            "\n".join(lines), chat_id=self._message.chat.id, message_id=self._message.message_id
        )

    async def finish(self, text: str) -> None:
        await self._bot.edit_message_text(
            text, chat_id=self._message.chat.id, message_id=self._message.message_id
        )


NODE_OPTIONS = {"iface", "port", "subnet", "subnet6", "endpoint", "mtu", "proto", "awg"}


def parse_new_node(parts: list[str], dns: str) -> NewNode:
    """`NAME ssh://… [region words] [iface= port= subnet= subnet6= endpoint= mtu= proto= awg=]`."""
    name, address, *rest = parts
    options = dict(part.split("=", 1) for part in rest if "=" in part)
    region = " ".join(part for part in rest if "=" not in part)
    if not set(options) <= NODE_OPTIONS:
        raise InvalidInput()
    user, host, port = parse_ssh_address(address)
    protocol = PROTOCOL_NAMES.get(options.get("proto", "wg"))
    if protocol is None or ("awg" in options and protocol != "amneziawg"):
        raise InvalidInput()
    new = NewNode(
        name=name,
        ssh_host=host,
        ssh_port=port,
        ssh_user=user,
        region=region,
        dns=dns,
        interface=options.get("iface", "wg0"),
        listen_port=int(options.get("port", "51820")),
        subnet4=options.get("subnet", "10.8.0.1/24"),
        subnet6=options.get("subnet6"),
        endpoint=options.get("endpoint"),
        mtu=int(options.get("mtu", default_mtu(protocol))),
        protocol=protocol,
        amnezia_version=options.get("awg", "2.0"),
    )
    new.validate()
    return new


@router.message(Command("add_node"))
async def add_node(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    nodes: NodeService,
    settings: Settings,
    audit: AuditService,
    bot: Bot,
) -> None:
    try:
        new = parse_new_node(arguments(command, 2, 10), settings.default_dns)
    except (InvalidInput, ValueError):
        await message.answer(t("add-node-usage", steps=", ".join(SETUP_STEPS)))
        return
    if await nodes.named(new.name) is not None:
        await message.answer(t("admin-node-exists", node=esc(new.name)))
        return
    title = t("node-adding", node=esc(new.name))
    progress = Progress(bot, await message.answer(title), t, title)
    name = new.name
    try:
        node = await nodes.add(new, progress=progress.step)
    except NodeSetupFailed as error:
        await audit.write(user.id, AuditAction.ADD_NODE, name, f"failed: {error.reason}")
        await progress.finish(t("node-add-failed", node=esc(name), reason=esc(error.reason)))
        return
    except ServiceError as error:
        await progress.finish(admin_error(t, error, name))
        return
    await audit.write(user.id, AuditAction.ADD_NODE, name, f"endpoint={node.endpoint}")
    await progress.finish(
        t(
            "node-added",
            node=esc(node.name),
            endpoint=esc(node.endpoint),
            subnet=esc(node.server_address4),
            key=esc(node.public_key),
        )
    )


@router.message(Command("reconcile"))
async def reconcile_command(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    reconcile: ReconcileService,
    audit: AuditService,
) -> None:
    try:
        (name,) = arguments(command, 1, 1)
    except InvalidInput:
        await message.answer(t("reconcile-usage"))
        return
    try:
        result = await reconcile.reconcile_named(name, report=False)
    except ServiceError as error:
        await message.answer(admin_error(t, error, name))
        return
    await audit.write(user.id, AuditAction.RECONCILE, name, reconcile_details(result))
    await message.answer(reconcile_text(t, result))


@router.message(Command("set_endpoint"))
async def set_endpoint_command(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    endpoints: EndpointService,
    audit: AuditService,
) -> None:
    """A node's address is blocked and the node has a new one: users get configs that use it."""
    try:
        name, endpoint = arguments(command, 2, 2)
        if not valid_endpoint(endpoint):
            raise InvalidInput()
    except InvalidInput:
        await message.answer(t("set-endpoint-usage"))
        return
    try:
        report = await endpoints.change(name, endpoint)
    except ServiceError as error:
        await message.answer(admin_error(t, error, name))
        return
    await audit.write(user.id, AuditAction.SET_ENDPOINT, name, f"{report.old} -> {report.new}")
    await message.answer(
        t(
            "set-endpoint-done",
            node=esc(report.node),
            old=esc(report.old),
            new=esc(report.new),
            delivered=str(report.delivered),
            undelivered=str(report.undelivered),
        )
    )


def reconcile_details(result: ReconcileResult) -> str:
    if result.error is not None or result.plan is None:
        return f"failed: {result.error}"
    plan = result.plan
    return f"added={len(plan.add)} removed={len(plan.remove)} fixed={len(plan.update)}"


def reconcile_text(t: Translator, result: ReconcileResult) -> str:
    if result.error is not None or result.plan is None:
        return t("reconcile-failed", node=esc(result.node), reason=esc(result.error or "?"))
    if not result.plan.changed:
        return t("reconcile-clean", node=esc(result.node))
    return t(
        "admin-reconcile-changed",
        node=esc(result.node),
        added=str(len(result.plan.add)),
        removed=str(len(result.plan.remove)),
        fixed=str(len(result.plan.update)),
    )


@router.message(Command("restore_node"))
async def restore_node(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    nodes: NodeService,
    reconcile: ReconcileService,
    audit: AuditService,
    bot: Bot,
) -> None:
    try:
        name, *rest = arguments(command, 1, 2)
        address = parse_ssh_address(rest[0]) if rest else None
    except InvalidInput:
        await message.answer(t("restore-usage"))
        return
    title = t("node-restoring", node=esc(name))
    progress = Progress(bot, await message.answer(title), t, title)
    try:
        node = await nodes.restore(name, address, progress=progress.step)
    except NodeSetupFailed as error:
        await audit.write(user.id, AuditAction.RESTORE_NODE, name, f"failed: {error.reason}")
        await progress.finish(t("node-add-failed", node=esc(name), reason=esc(error.reason)))
        return
    except ServiceError as error:
        await progress.finish(admin_error(t, error, name))
        return
    result = await reconcile.reconcile(node, report=False)
    await audit.write(user.id, AuditAction.RESTORE_NODE, name, reconcile_details(result))
    if result.error is not None or result.plan is None:
        await progress.finish(reconcile_text(t, result))
        return
    await progress.finish(
        t(
            "node-restored",
            node=esc(node.name),
            endpoint=esc(node.endpoint),
            peers=str(len(result.plan.add)),
        )
    )


@router.message(Command("migrate"))
async def migrate(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    moves: MoveService,
    audit: AuditService,
) -> None:
    try:
        source, target = arguments(command, 2, 2)
    except InvalidInput:
        await message.answer(t("migrate-usage"))
        return
    await message.answer(t("moving", source=esc(source), target=esc(target)))
    try:
        report = await moves.migrate(source, target)
    except ServiceError as error:
        await message.answer(admin_error(t, error, target))
        return
    await audit.write(user.id, AuditAction.MIGRATE, source, move_details(report))
    await message.answer(move_text(t, report))


@router.message(Command("drain"))
async def drain(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    moves: MoveService,
    audit: AuditService,
) -> None:
    try:
        (name,) = arguments(command, 1, 1)
    except InvalidInput:
        await message.answer(t("drain-usage"))
        return
    try:
        report = await moves.drain(name)
    except ServiceError as error:
        await message.answer(admin_error(t, error, name))
        return
    await audit.write(user.id, AuditAction.DRAIN, name, move_details(report))
    await message.answer(move_text(t, report))


def move_details(report: MoveReport) -> str:
    return f"to={report.target} moved={report.moved} delivered={report.delivered}"


ADMIN_ERRORS: dict[type[ServiceError], str] = {
    NodeNotFound: "admin-node-unknown",
    InvalidInput: "admin-move-invalid",
    NodeUnavailable: "admin-node-unreachable",
    NodeFull: "admin-target-full",
    NodeKeyUnknown: "error-node-key-unknown",
}


def admin_error(t: Translator, error: ServiceError, node: str) -> str:
    """An admin's command refused: which node, and why, in words an operator acts on."""
    key = ADMIN_ERRORS.get(type(error), error.key)
    return t(key, node=esc(error.args_for_text.get("node", node)))


def move_text(t: Translator, report: MoveReport) -> str:
    lines = [
        t(
            "moved-report",
            source=esc(report.source),
            target=esc(report.target),
            moved=str(report.moved),
            delivered=str(report.delivered),
            undelivered=str(report.undelivered),
        )
    ]
    if not report.old_peers_removed:
        lines.append(t("moved-old-peers-left", source=esc(report.source)))
    return "\n".join(lines)
