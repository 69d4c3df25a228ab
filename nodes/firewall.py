"""The grace firewall on a node: make its nft table and boot file equal desired sets.

Like the peers' reconcile: read the node in one round trip, plan (pure), and apply only when
something differs. The node gets one file on stdin, checked whole before use, that is at once
the live change and the file loaded at boot (wg-quick's PreUp, written by node-setup.sh): it
declares the table (made if missing, left as it is if present), flushes its chains and sets and
fills them again, all in one `nft -f` transaction, so a packet meets the old rules or the new
ones, never an empty set. See nodes/grace_layout.py for what the rules do."""

from __future__ import annotations

import hashlib
import logging
import shlex
from dataclasses import dataclass
from enum import Enum

from nodes.commands import LOCK_DIR, lock_dir_check
from nodes.errors import NodeError
from nodes.grace_layout import (
    CHAINS,
    PRIORITY,
    SET_DECLS,
    SET_NAMES,
    GraceSets,
    rule_comments,
    rules,
)
from nodes.grace_layout import table_name as layout_table_name
from nodes.grace_listing import ABSENT, MAX_OUTPUT, NFT_MISSING, NodeGrace, parse_grace
from nodes.ssh import SshPool
from nodes.target import NodeTarget

log = logging.getLogger(__name__)

STATE_DIR = "/etc/vpnservice"
END = "# vpnservice-grace end "  # + the sha256 of everything before this line
CHUNK = 512  # elements per `add element` line
APPLY_TIMEOUT = 120.0


def table_name(target: NodeTarget) -> str:
    """The target's table; a NodeError when its interface name cannot name one."""
    try:
        return layout_table_name(target.interface)
    except ValueError as error:
        raise NodeError(target.name, str(error)) from None


def kept_file(interface: str) -> str:
    """Where the node keeps the file it loads at boot."""
    return f"{STATE_DIR}/grace-{interface}.nft"


def render(interface: str, sets: GraceSets) -> str:
    """The nft file for the interface's table holding sets (the same text for equal sets)."""
    table = layout_table_name(interface)
    lines = [
        "#!/usr/sbin/nft -f",
        f"# vpnservice grace firewall for {interface}: written by the vpnservice bot and",
        "# loaded at boot by the interface's PreUp; edits are overwritten.",
        f"table inet {table} {{",
    ]
    for name in SET_NAMES:
        kind, flags = SET_DECLS[name]
        flag_text = f" flags {', '.join(flags)};" if flags else ""
        lines.append(f"\tset {name} {{ type {kind};{flag_text} }}")
    hook = f"type filter hook forward priority {PRIORITY}; policy accept;"
    lines += [f"\tchain forward {{ {hook} }}", "\tchain limit4 { }", "\tchain limit6 { }", "}"]
    lines += [f"flush chain inet {table} {chain}" for chain in CHAINS]
    lines += [f"flush set inet {table} {name}" for name in SET_NAMES]
    for name, values in sets.items():
        for start in range(0, len(values), CHUNK):
            chunk = ", ".join(str(value) for value in values[start : start + CHUNK])
            lines.append(f"add element inet {table} {name} {{ {chunk} }}")
    comments = rule_comments(interface)
    numbered = {chain: iter(chain_comments) for chain, chain_comments in comments.items()}
    for chain, rule in rules(interface):
        lines.append(f'add rule inet {table} {chain} {rule} comment "{next(numbered[chain])}"')
    body = "\n".join(lines) + "\n"
    return body + END + hashlib.sha256(body.encode()).hexdigest() + "\n"


def read_command(interface: str) -> str:
    """`nft missing`; or `persisted <sha256>|none`, then `table absent` or the table as JSON."""
    table = layout_table_name(interface)
    path = shlex.quote(kept_file(interface))
    return (
        "export LC_ALL=C\n"
        f"command -v nft >/dev/null 2>&1 || {{ echo '{NFT_MISSING}'; exit 0; }}\n"
        f"if [ -f {path} ]; then d=$(sha256sum <{path}) || exit 4; "
        'echo "persisted ${d%% *}"; '
        "else echo 'persisted none'; fi\n"
        "tables=$(nft list tables inet) || exit 4\n"
        f"if printf '%s\\n' \"$tables\" | grep -qxF 'table inet {table}'; then\n"
        f"  nft -j list table inet {table} || exit 4\n"
        f"else echo '{ABSENT}'; fi\n"
    )


def apply_command(interface: str, text: str, *, recreate: bool = False) -> tuple[str, str]:
    """(command, stdin): keep stdin in a temporary file, refuse it unless its last line is the
    end line (a stdin cut short would otherwise load a flush without its refill), load it in
    one transaction, and only then make it the kept file; under a lock in LOCK_DIR, so two bot
    processes never interleave. With recreate, the same transaction first deletes the table:
    for one whose sets or chains were changed into shapes the file cannot update."""
    table = layout_table_name(interface)
    end_line = text.rstrip("\n").rsplit("\n", 1)[-1]
    if not end_line.startswith(END):
        raise ValueError("the grace file has no end line")
    lock = shlex.quote(f"{LOCK_DIR}/grace-{interface}.lock")
    pattern = shlex.quote(f"{STATE_DIR}/.grace-{interface}.XXXXXX")
    load = (
        f"{{ printf 'add table inet {table}\\ndelete table inet {table}\\n'; cat \"$tmp\"; }} "
        "| nft -f -"
        if recreate
        else 'nft -f "$tmp"'
    )
    command = (
        "export LC_ALL=C\n"
        "command -v nft >/dev/null 2>&1 || { echo 'nft is not installed' >&2; exit 3; }\n"
        + lock_dir_check()
        + "\nset -e\n"
        f"mkdir -p -m 700 {STATE_DIR}\n"
        f"exec 9>{lock}\n"
        "flock -w 20 9 || { echo 'timed out waiting for the grace firewall lock' >&2; exit 9; }\n"
        f"tmp=$(mktemp {pattern})\n"
        "trap 'rm -f \"$tmp\"' EXIT\n"
        'cat >"$tmp"\n'
        f'[ "$(tail -n 1 "$tmp")" = {shlex.quote(end_line)} ] '
        "|| { echo 'grace rules did not arrive whole on stdin' >&2; exit 5; }\n"
        f"{load}\n"
        f'mv -f "$tmp" {shlex.quote(kept_file(interface))}\n'
        "trap - EXIT\n"
    )
    return command, text


class Action(Enum):
    NONE = "none"
    UPDATE = "update"  # load the file: makes what is missing, refills chains and sets
    RECREATE = "recreate"  # the same, after deleting the table in the same transaction


@dataclass(frozen=True, slots=True)
class GracePlan:
    action: Action
    reasons: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.action is not Action.NONE

    def summary(self) -> str:
        """Counts and names only, safe to log: 'update (grace4 +1 -0)'."""
        return self.action.value + (f" ({'; '.join(self.reasons)})" if self.reasons else "")


def plan_grace(sets: GraceSets, digest: str, node: NodeGrace) -> GracePlan:
    """What makes the node's table equal sets and its kept file's digest `digest` (pure).
    A node without nft needs nothing while no address is in grace."""
    if not node.installed:
        return GracePlan(Action.NONE)
    if not node.present:
        return GracePlan(Action.UPDATE, ("table absent",))
    if node.problems:
        return GracePlan(Action.RECREATE, node.problems)
    reasons = list(sets.diff(node.sets))
    if not reasons and node.persisted != digest:
        reasons.append("kept file missing" if node.persisted is None else "kept file stale")
    return GracePlan(Action.UPDATE if reasons else Action.NONE, tuple(reasons))


async def reconcile_grace(pool: SshPool, target: NodeTarget, sets: GraceSets) -> GracePlan:
    """Make the node's grace firewall limit exactly sets, live and for the next boot; returns
    what was done. A NodeError when it cannot: then the addresses in grace are not limited."""
    table_name(target)
    read = read_command(target.interface)
    out = await pool.run(target, read, limit=MAX_OUTPUT, even_if_down=True)
    try:
        node = parse_grace(out, target.interface)
    except ValueError as error:
        raise NodeError(target.name, str(error)) from None
    if not node.installed and sets.in_grace:
        raise NodeError(target.name, "nft is not installed: addresses in grace cannot be limited")
    text = render(target.interface, sets)
    plan = plan_grace(sets, hashlib.sha256(text.encode()).hexdigest(), node)
    if plan.changed:
        command, stdin = apply_command(
            target.interface, text, recreate=plan.action is Action.RECREATE
        )
        await pool.run(target, command, stdin=stdin, timeout=APPLY_TIMEOUT, even_if_down=True)
        log.info("node %s: grace firewall %s", target.name, plan.summary())
    return plan
