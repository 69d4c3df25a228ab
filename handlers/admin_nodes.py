"""Admin commands for nodes: /add_node (after the host key is confirmed) and /restore_node with
live progress, /accept_host_key, /reconcile, /set_endpoint, /migrate, /drain and /foreign. The
services audit each action."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from db.models import ForeignPeer, User
from handlers.common import parsed, replace
from handlers.filters import IsAdmin
from keyboards.callbacks import AddNodeAction, AddNodeCD, ForeignAction, ForeignCD, HostKeyCD
from keyboards.nodes import accept_host_key, confirm_new_node, foreign_confirm, foreign_peers
from locales import Translator
from locales.format import esc, format_date
from services.endpoints import EndpointService
from services.errors import (
    InvalidInput,
    NodeFull,
    NodeKeyUnknown,
    NodeNotFound,
    NodeUnavailable,
    ServiceError,
)
from services.fleet import (
    DEFAULT_SUBNET4,
    PROTOCOL_NAMES,
    SETUP_STEPS,
    FleetService,
    NewNode,
    ScannedKey,
    SshAddress,
    default_mtu,
    parse_ssh_address,
    valid_endpoint,
)
from services.foreign import ForeignList, ForeignPeerService
from services.hostkeys import HostKeyOffer
from services.moves import MoveReport, MoveService
from services.reconcile import ReconcileResult, ReconcileService

router = Router(name=__name__)
router.message.filter(IsAdmin())

MAX_ARGUMENT = 200
NODE_OPTIONS = {"iface", "port", "subnet", "subnet6", "endpoint", "mtu", "proto", "awg"}
ADMIN_ERRORS: dict[type[ServiceError], str] = {
    NodeNotFound: "admin-node-unknown",
    InvalidInput: "admin-move-invalid",
    NodeUnavailable: "admin-node-unreachable",
    NodeFull: "admin-target-full",
    NodeKeyUnknown: "error-node-key-unknown",
}
PENDING_ARGS = "add_node_args"  # FSM data: the /add_node waiting for its host key's check
PENDING_KEY = "add_node_key"

Result = TypeVar("Result")


def words(text: str, least: int, most: int) -> list[str]:
    """A command's arguments split into `least` to `most` words; InvalidInput otherwise."""
    parts = text.split()
    if len(text) > MAX_ARGUMENT or not least <= len(parts) <= most:
        raise InvalidInput()
    return parts


def endpoint_change(text: str) -> tuple[str, str]:
    name, endpoint = words(text, 2, 2)
    if not valid_endpoint(endpoint):
        raise InvalidInput()
    return name, endpoint


def restore_request(text: str) -> tuple[str, SshAddress | None]:
    name, *rest = words(text, 1, 2)
    return name, parse_ssh_address(rest[0]) if rest else None


def admin_error(t: Translator, error: ServiceError, node: str) -> str:
    """An admin's command refused: which node, and why, in words an operator acts on."""
    key = ADMIN_ERRORS.get(type(error), error.key)
    args = {name: esc(value) for name, value in error.args_for_text.items()}
    args.setdefault("node", esc(node))
    return t(key, **args)


async def outcome(
    message: Message, t: Translator, node: str, work: Awaitable[Result]
) -> Result | None:
    """What a node action returned, or None once the admin was told why it was refused."""
    try:
        return await work
    except ServiceError as error:
        await message.answer(admin_error(t, error, node))
        return None


class Progress:
    """One message edited step by step while a node is set up."""

    def __init__(self, bot: Bot, message: Message, t: Translator, title: str) -> None:
        self._bot, self._message, self._t, self._title = bot, message, t, title
        self._done: list[str] = []

    async def step(self, step: str) -> None:
        lines = [self._title, *(f"✅ {self._t('node-step', step=s)}" for s in self._done)]
        lines.append(f"⏳ {self._t('node-step', step=step)}")
        self._done.append(step)
        await self._edit("\n".join(lines))

    async def finish(self, text: str) -> None:
        await self._edit(text)

    async def _edit(self, text: str) -> None:
        await self._bot.edit_message_text(
            text, chat_id=self._message.chat.id, message_id=self._message.message_id
        )


def parse_new_node(text: str) -> NewNode:
    """`NAME ssh://… [region words] [iface= port= subnet= subnet6= endpoint= mtu= proto= awg=]`."""
    name, address, *rest = words(text, 2, 10)
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
        interface=options.get("iface", "wg0"),
        listen_port=int(options.get("port", "51820")),
        subnet4=options.get("subnet", DEFAULT_SUBNET4),
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
    t: Translator,
    fleet: FleetService,
    state: FSMContext,
) -> None:
    """First the node's host key, for the admin to check: nothing changes on the node until
    they confirm it with the button."""
    steps = ", ".join(SETUP_STEPS)
    new = parsed(parse_new_node, command.args, "add-node-usage", steps=steps)
    if await fleet.named(new.name) is not None:
        await message.answer(t("admin-node-exists", node=esc(new.name)))
        return
    key = await outcome(message, t, new.name, fleet.scan(new))
    if key is None:
        return
    await state.update_data({PENDING_ARGS: command.args, PENDING_KEY: key.line})
    await message.answer(
        t(
            "node-add-check-key",
            node=esc(new.name),
            address=esc(f"{new.ssh_host}:{new.ssh_port}"),
            fingerprint=esc(key.fingerprint),
        ),
        reply_markup=confirm_new_node(t, key.token),
    )


@router.callback_query(AddNodeCD.filter(), ~IsAdmin())
@router.callback_query(HostKeyCD.filter(), ~IsAdmin())
async def refuse_button(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t("admin-only"), show_alert=True)


@router.callback_query(AddNodeCD.filter())
async def confirm_add_node(
    query: CallbackQuery,
    callback_data: AddNodeCD,
    user: User,
    t: Translator,
    fleet: FleetService,
    state: FSMContext,
    bot: Bot,
) -> None:
    """The admin checked the key shown: add the node, which must still present exactly it."""
    data = await state.get_data()
    args, key = data.get(PENDING_ARGS), data.get(PENDING_KEY)
    new = parse_new_node(args) if isinstance(args, str) else None
    if (
        new is None
        or not isinstance(key, str)
        or ScannedKey.of(key).token != callback_data.fingerprint
    ):
        await query.answer(t("error-stale-button"), show_alert=True)
        return
    await state.update_data({PENDING_ARGS: None, PENDING_KEY: None})
    await query.answer()
    if callback_data.action is AddNodeAction.CANCEL or not isinstance(query.message, Message):
        await replace(bot, query, t("node-add-cancelled", node=esc(new.name)))
        return
    title = t("node-adding", node=esc(new.name))
    progress = Progress(bot, query.message, t, title)
    await progress.finish(title)
    try:
        node = await fleet.add(user.id, new, progress=progress.step, host_key=key)
    except ServiceError as error:
        await progress.finish(admin_error(t, error, new.name))
        return
    lines = [
        t(
            "node-added",
            node=esc(node.name),
            endpoint=esc(node.endpoint),
            subnet=esc(node.server_address4),
            key=esc(node.public_key),
        )
    ]
    kept = await fleet.foreign_count(node.id)
    if kept:
        lines.append(t("node-added-foreign", count=str(kept), node=esc(node.name)))
    await progress.finish("\n".join(lines))


@router.message(Command("accept_host_key"))
async def accept_host_key_command(
    message: Message, command: CommandObject, user: User, t: Translator, fleet: FleetService
) -> None:
    """`/accept_host_key NAME` shows the key the node offers, with the button that accepts it;
    `/accept_host_key NAME SHA256:…` accepts it when the fingerprint is exactly that one."""
    name, *given = parsed(lambda text: words(text, 1, 2), command.args, "accept-host-key-usage")
    if given:
        offer = await outcome(message, t, name, fleet.host_keys.accept(user.id, name, given[0]))
        if offer is not None:
            await message.answer(host_key_accepted(t, offer))
        return
    offer = await outcome(message, t, name, fleet.host_keys.offer(name))
    if offer is not None:
        await message.answer(
            t(
                "host-key-offer",
                node=esc(offer.node),
                pinned=esc(offer.pinned),
                offered=esc(offer.offered),
            ),
            reply_markup=accept_host_key(t, offer.node_id, offer.token),
        )


@router.callback_query(HostKeyCD.filter())
async def accept_host_key_button(
    query: CallbackQuery,
    callback_data: HostKeyCD,
    user: User,
    t: Translator,
    fleet: FleetService,
    bot: Bot,
) -> None:
    """The button under a host key alert: accepts exactly the key it names."""
    await query.answer()
    try:
        offer = await fleet.host_keys.accept(
            user.id, callback_data.node_id, callback_data.fingerprint
        )
    except ServiceError as error:
        await replace(bot, query, admin_error(t, error, str(callback_data.node_id)))
        return
    await replace(bot, query, host_key_accepted(t, offer))


def host_key_accepted(t: Translator, offer: HostKeyOffer) -> str:
    return t("host-key-accepted", node=esc(offer.node), offered=esc(offer.offered))


@router.message(Command("restore_node"))
async def restore_node(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    fleet: FleetService,
    bot: Bot,
) -> None:
    name, address = parsed(restore_request, command.args, "restore-usage")
    title = t("node-restoring", node=esc(name))
    progress = Progress(bot, await message.answer(title), t, title)
    try:
        restored = await fleet.restore(user.id, name, address, progress=progress.step)
    except ServiceError as error:
        await progress.finish(admin_error(t, error, name))
        return
    result, node = restored.reconcile, restored.node
    if result.error is not None or result.plan is None:
        await progress.finish(reconcile_text(t, result))
        return
    peers = str(len(result.plan.add))
    lines = [t("node-restored", node=esc(node.name), endpoint=esc(node.endpoint), peers=peers)]
    if result.vless_added is not None:
        lines.append(t("node-restored-vless", users=str(result.vless_added)))
    await progress.finish("\n".join([*lines, *vless_failure(t, result)]))


@router.message(Command("reconcile"))
async def reconcile_command(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    reconcile: ReconcileService,
) -> None:
    (name,) = parsed(lambda text: words(text, 1, 1), command.args, "reconcile-usage")
    result = await outcome(message, t, name, reconcile.reconcile_named(name, actor_id=user.id))
    if result is not None:
        await message.answer(reconcile_text(t, result))


def reconcile_text(t: Translator, result: ReconcileResult) -> str:
    if result.error is not None or result.plan is None:
        text = t("reconcile-failed", node=esc(result.node), reason=esc(result.error or "?"))
    elif not result.plan.changed:
        text = t("reconcile-clean", node=esc(result.node))
    else:
        text = t(
            "admin-reconcile-changed",
            node=esc(result.node),
            added=str(len(result.plan.add)),
            removed=str(len(result.plan.remove)),
            fixed=str(len(result.plan.update)),
        )
    return "\n".join([text, *vless_failure(t, result)])


def vless_failure(t: Translator, result: ReconcileResult) -> list[str]:
    """The line saying the node's VLESS is not working, when it is not."""
    if result.vless_error is None:
        return []
    return [t("vless-node-down", node=esc(result.node), reason=esc(result.vless_error))]


@router.message(Command("set_endpoint"))
async def set_endpoint_command(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    endpoints: EndpointService,
) -> None:
    """A node's address is blocked and the node has a new one: users get configs that use it."""
    name, endpoint = parsed(endpoint_change, command.args, "set-endpoint-usage")
    report = await outcome(message, t, name, endpoints.change(user.id, name, endpoint))
    if report is None:
        return
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


@router.message(Command("migrate"))
async def migrate(
    message: Message, command: CommandObject, user: User, t: Translator, moves: MoveService
) -> None:
    source, target = parsed(lambda text: words(text, 2, 2), command.args, "migrate-usage")
    await message.answer(t("moving", source=esc(source), target=esc(target)))
    report = await outcome(message, t, target, moves.migrate(user.id, source, target))
    if report is not None:
        await message.answer(move_text(t, report))


@router.message(Command("drain"))
async def drain(
    message: Message, command: CommandObject, user: User, t: Translator, moves: MoveService
) -> None:
    (name,) = parsed(lambda text: words(text, 1, 1), command.args, "drain-usage")
    report = await outcome(message, t, name, moves.drain(user.id, name))
    if report is not None:
        await message.answer(move_text(t, report))


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
    vless = report.vless
    if vless.moved and vless.target is not None:
        moved, delivered = str(vless.moved), str(vless.delivered)
        target = esc(vless.target)
        lines.append(t("vless-moved-report", target=target, moved=moved, delivered=delivered))
    if vless.stayed:
        key = "vless-moved-none" if vless.target is None else "vless-moved-unreachable"
        target = esc(vless.target or "")
        lines.append(t(key, source=esc(report.source), target=target, stayed=str(vless.stayed)))
    return "\n".join(lines)


@router.message(Command("foreign"))
async def foreign_command(
    message: Message, command: CommandObject, t: Translator, foreign: ForeignPeerService
) -> None:
    """The peers a node had before the bot adopted it, with a remove button for each."""
    (name,) = parsed(lambda text: words(text, 1, 1), command.args, "foreign-usage")
    listing = await outcome(message, t, name, foreign.listing(name))
    if listing is None:
        return
    if not listing.total:
        await message.answer(t("foreign-none", node=esc(listing.node.name)))
        return
    buttons = foreign_peers(t, listing.node.id, [peer.id for peer in listing.peers])
    await message.answer(foreign_text(t, listing), reply_markup=buttons)


def foreign_text(t: Translator, listing: ForeignList) -> str:
    node = esc(listing.node.name)
    lines = [t("foreign-header", node=node, count=str(listing.total)), ""]
    for number, peer in enumerate(listing.peers, start=1):
        found = format_date(peer.found_at)
        lines.append(
            t(
                "foreign-line",
                number=str(number),
                key=esc(peer.public_key),
                ips=ips(t, peer),
                found=found,
            )
        )
    if listing.total > len(listing.peers):
        lines.append(t("foreign-more", more=str(listing.total - len(listing.peers))))
    return "\n".join(lines)


def ips(t: Translator, peer: ForeignPeer) -> str:
    return esc(", ".join(peer.networks)) if peer.networks else t("foreign-no-ips")


@router.callback_query(ForeignCD.filter(), ~IsAdmin())
async def refuse_foreign(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t("admin-only"), show_alert=True)


@router.callback_query(ForeignCD.filter(), IsAdmin())
async def foreign_button(
    query: CallbackQuery,
    callback_data: ForeignCD,
    user: User,
    t: Translator,
    foreign: ForeignPeerService,
    bot: Bot,
) -> None:
    """Remove buttons ask first; "yes" takes the peers off the node (audited)."""
    await query.answer()
    node_id, peer_id = callback_data.node_id, callback_data.peer_id
    if callback_data.action is ForeignAction.CANCEL:
        await replace(bot, query, t("foreign-cancelled"))
        return
    try:
        if callback_data.action is ForeignAction.ASK:
            chosen = await foreign.chosen(node_id, peer_id)
            await replace(
                bot, query, confirm_text(t, chosen, peer_id), foreign_confirm(t, node_id, peer_id)
            )
            return
        removed = await foreign.remove(user.id, node_id, peer_id)
    except (InvalidInput, NodeNotFound):  # a stale or forged button
        await replace(bot, query, t("error-stale-button"))
        return
    except ServiceError as error:
        await replace(bot, query, admin_error(t, error, ""))
        return
    await replace(
        bot, query, t("foreign-removed", node=esc(removed.node.name), count=str(removed.total))
    )


def confirm_text(t: Translator, chosen: ForeignList, peer_id: int) -> str:
    node = esc(chosen.node.name)
    if not peer_id:
        return t("foreign-confirm-all", node=node, count=str(chosen.total))
    (peer,) = chosen.peers
    return t("foreign-confirm-one", node=node, key=esc(peer.public_key), ips=ips(t, peer))
